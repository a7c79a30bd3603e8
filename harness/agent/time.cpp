// Time namespace ops (time_namespaces(7)): CLOCK_MONOTONIC and CLOCK_BOOTTIME, and all that derives
// from them (/proc/uptime, btime in /proc/stat, absolute timers), read with the offsets of the
// reader's time namespace; CLOCK_REALTIME is the same everywhere. A time namespace's clocks can
// only be read from inside it, so comparisons enter it with setns(2) in a throwaway child.
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <time.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <sstream>

#include "agent/registry.hpp"
#include "core/namespace_kind.hpp"
#include "sys/syscalls.hpp"
#include "sys/time_calls.hpp"
#include "sys/pid_calls.hpp"
#include "sys/user_calls.hpp"

namespace nslab::agent {
namespace {

// The machine's initial time namespace (PROC_TIME_INIT_INO): never written to, even to be refused.
constexpr ino_t kInitialTimeNsInode = 0xEFFFFFFAU;

// /proc/PID of the process an op looks at: `pid`, else the `realm` argument's process (found by its
// namespaces, see user.cpp), else the caller.
sys::Result<std::string> proc_dir(const OpCall& c) {
    if (c.args.contains("pid")) {
        NSLAB_ASSIGN_OR_RETURN(long long pid, arg_int(c.args, "pid"));
        return "/proc/" + std::to_string(pid);
    }
    if (c.args.contains("realm")) {
        NSLAB_ASSIGN_OR_RETURN(RealmNamespaces ns, realm_namespaces(c, 0));
        std::vector<std::pair<std::string, int>> kind_fds;
        for (auto& k : core::namespace_kinds())
            if (ns.of(k.ns) >= 0) kind_fds.emplace_back(std::string(k.name), ns.of(k.ns));
        NSLAB_ASSIGN_OR_RETURN(pid_t pid, sys::find_process_in_namespaces(kind_fds));
        return "/proc/" + std::to_string(pid);
    }
    return std::string("/proc/self");
}

// Lines of timens_offsets with their columns joined by one space: "monotonic 3600 0".
json offset_lines(const std::string& text) {
    json lines = json::array();
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream f(line);
        std::string w, joined;
        while (f >> w) joined += (joined.empty() ? "" : " ") + w;
        if (!joined.empty()) lines.push_back(joined);
    }
    return lines;
}

struct NamedClock {
    const char* name;
    clockid_t id;
};
constexpr NamedClock kClocks[] = {
    {"monotonic", CLOCK_MONOTONIC},
    {"boottime", CLOCK_BOOTTIME},
    {"realtime", CLOCK_REALTIME},
    {"tai", CLOCK_TAI},
    {"monotonic_coarse", CLOCK_MONOTONIC_COARSE},
    {"monotonic_raw", CLOCK_MONOTONIC_RAW},
};

sys::Result<clockid_t> clock_named(const std::string& name) {
    for (auto& c : kClocks)
        if (name == c.name) return c.id;
    return sys::Error::message(
        "unknown clock '" + name +
        "' (monotonic, boottime, realtime, tai, monotonic_coarse, monotonic_raw)");
}

double seconds_of(const struct timespec& ts) {
    return static_cast<double>(ts.tv_sec) + ts.tv_nsec / 1e9;
}

// A clock, or a file the kernel fills from one, in seconds, as the caller's time namespace sees it.
sys::Result<double> read_source(const std::string& source) {
    if (source == "uptime") {  // proc(5): seconds since boot, i.e. CLOCK_BOOTTIME
        NSLAB_ASSIGN_OR_RETURN(std::string text, sys::read_file("/proc/uptime"));
        return std::stod(text);
    }
    if (source == "btime") {  // proc(5): boot time in seconds since the Epoch, in /proc/stat
        NSLAB_ASSIGN_OR_RETURN(std::string text, sys::read_file("/proc/stat"));
        size_t at = text.find("\nbtime ");
        if (at == std::string::npos) return sys::Error::message("no btime line in /proc/stat");
        return std::stod(text.substr(at + 7));
    }
    // "<clock>_syscall": the same clock through the system call rather than glibc's vDSO, which
    // in a time namespace reads the namespace's vvar page (selftests timens/timens.c reads both).
    const std::string suffix = "_syscall";
    if (source.size() > suffix.size() && source.compare(source.size() - suffix.size(), suffix.size(), suffix) == 0) {
        NSLAB_ASSIGN_OR_RETURN(clockid_t id, clock_named(source.substr(0, source.size() - suffix.size())));
        NSLAB_ASSIGN_OR_RETURN(struct timespec ts, sys::clock_gettime_syscall(id));
        return seconds_of(ts);
    }
    NSLAB_ASSIGN_OR_RETURN(clockid_t id, clock_named(source));
    NSLAB_ASSIGN_OR_RETURN(struct timespec ts, sys::clock_gettime(id));
    return seconds_of(ts);
}

std::string seconds_text(double s) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9f", s);
    return buf;
}

// How far a clock read elsewhere (`read_there`, in a child) is ahead of `source` here. The reading
// is bracketed by two local ones and compared with their midpoint, so its error is at most half
// the bracket: a bracket wider than kWidestBracketS (a loaded machine) is tried again, and the
// narrowest of kAttempts kept. The result, in seconds to the millisecond, is judged within
// kShiftToleranceS (OpSpec::tolerance): far below any offset the experiments tell apart (10 s).
constexpr double kShiftToleranceS = 2.0;
constexpr double kWidestBracketS = 1.0;
constexpr int kAttempts = 10;

sys::Result<json> bracketed_shift(const std::string& source,
                                  const std::function<sys::Result<std::string>()>& read_there) {
    double best_width = 0, best_shift = 0;
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
        NSLAB_ASSIGN_OR_RETURN(double before, read_source(source));
        NSLAB_ASSIGN_OR_RETURN(std::string there_text, read_there());
        NSLAB_ASSIGN_OR_RETURN(double after, read_source(source));
        double width = after - before, shift = std::stod(there_text) - (before + after) / 2;
        if (attempt == 0 || width < best_width) best_width = width, best_shift = shift;
        if (width < kWidestBracketS) break;
    }
    return json(std::round(best_shift * 1000) / 1000);
}

sys::Result<json> clock_ahead_op(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string source, arg_string(c.args, "clock"));
    NSLAB_ASSIGN_OR_RETURN(RealmNamespaces target, realm_namespaces(c, 0));
    int fd = target.of(core::Ns::time);
    if (fd < 0) return sys::Error::message("this kernel has no time namespaces");
    auto read_there = [&]() -> sys::Result<std::string> {
        return sys::run_in_child([&]() -> sys::Result<std::string> {
            // time_namespaces(7): setns(2), unlike unshare(2), moves the caller itself.
            NSLAB_TRY(sys::setns(fd, CLONE_NEWTIME));
            NSLAB_ASSIGN_OR_RETURN(double there, read_source(source));
            return seconds_text(there);
        });
    };
    return bracketed_shift(source, read_there);
}

sys::Result<ino_t> time_for_children_inode() {
    NSLAB_ASSIGN_OR_RETURN(struct stat st, sys::stat_path("/proc/self/ns/time_for_children"));
    return st.st_ino;
}

// time_namespaces(7): /proc/PID/timens_offsets belongs to PID's time_for_children namespace and may
// be written only until a process enters it; the text is "<clock> <secs> <nanosecs>" lines.
sys::Result<json> write_timens_offsets_op(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string offsets, arg_string(c.args, "offsets"));
    bool fresh = c.args.value("fresh", true);
    bool after_fork = c.args.value("after_fork", false);
    bool drop_caps = c.args.value("drop_caps", false);
    auto nothing = []() -> sys::Result<std::string> { return std::string(); };
    auto body = [&]() -> sys::Result<std::string> {
        if (fresh) NSLAB_TRY(sys::unshare(CLONE_NEWTIME));
        NSLAB_ASSIGN_OR_RETURN(ino_t ino, time_for_children_inode());
        if (ino == kInitialTimeNsInode)
            return sys::Error::message("refusing to write the machine's initial time namespace");
        if (after_fork) NSLAB_TRY(sys::run_in_child(nothing));  // the child enters time_for_children
        if (drop_caps) NSLAB_TRY(sys::drop_all_capabilities());
        NSLAB_TRY(sys::write_file("/proc/self/timens_offsets", offsets));
        return sys::read_file("/proc/self/timens_offsets");
    };
    NSLAB_ASSIGN_OR_RETURN(std::string back, sys::run_in_child(body));
    // {"monotonic": "3600 0", "boottime": "0 0"}, so that steps can check ${w.monotonic}.
    json by_clock = json::object();
    for (auto& line : offset_lines(back)) {
        std::string text = line.get<std::string>();
        size_t space = text.find(' ');
        if (space != std::string::npos) by_clock[text.substr(0, space)] = text.substr(space + 1);
    }
    return by_clock;
}

// The unsharer, a child it forks, and a program it execs without forking: which of them see the
// offsets of the time namespace it unshared (time_namespaces(7): not the unsharer itself).
sys::Result<json> unshare_time_shift_op(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(long long offset, arg_int(c.args, "boottime"));
    NSLAB_ASSIGN_OR_RETURN(std::string seen_by, arg_string(c.args, "seen_by"));
    std::string line = "boottime " + std::to_string(offset) + " 0";
    auto enter_new = [&]() -> sys::Status {
        NSLAB_TRY(sys::unshare(CLONE_NEWTIME));
        return sys::write_file("/proc/self/timens_offsets", line);
    };
    std::function<sys::Result<std::string>()> read_seen;
    if (seen_by == "caller" || seen_by == "forked") {
        bool fork_first = seen_by == "forked";
        auto read_here = []() -> sys::Result<std::string> {
            NSLAB_ASSIGN_OR_RETURN(double t, read_source("boottime"));
            return seconds_text(t);
        };
        read_seen = [=]() -> sys::Result<std::string> {
            return sys::run_in_child([&]() -> sys::Result<std::string> {
                NSLAB_TRY(enter_new());
                return fork_first ? sys::run_in_child(read_here) : read_here();
            });
        };
    } else if (seen_by == "exec") {
        read_seen = [=]() { return sys::exec_capture(enter_new, "/bin/cat", {"cat", "/proc/uptime"}); };
    } else if (seen_by == "vfork_exec" || seen_by == "caller_after_vfork_exec") {
        // selftests timens/vfork_exec.c: a vfork child shares the unsharer's memory (and vvar
        // page) until it execs, then enters time_for_children; the unsharer stays where it was.
        bool program = seen_by == "vfork_exec";
        read_seen = [=]() -> sys::Result<std::string> {
            return sys::run_in_child([&]() -> sys::Result<std::string> {
                NSLAB_TRY(enter_new());
                NSLAB_ASSIGN_OR_RETURN(std::string printed, sys::vfork_exec_capture({"/bin/cat", "/proc/uptime"}));
                if (program) return printed;
                NSLAB_ASSIGN_OR_RETURN(double t, read_source("boottime"));
                return seconds_text(t);
            });
        };
    } else {
        return sys::Error::message("seen_by must be caller, forked, exec, vfork_exec or caller_after_vfork_exec, not '" +
                                   seen_by + "'");
    }
    return bracketed_shift("boottime", read_seen);
}

sys::Result<json> sleep_until_op(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string clock, arg_string(c.args, "clock"));
    NSLAB_ASSIGN_OR_RETURN(clockid_t id, clock_named(clock));
    long long ms = arg_int_opt(c.args, "ms").value_or(100);
    std::string method = arg_string_opt(c.args, "method").value_or("clock_nanosleep");
    // ms within 0..2000 and method among the four: the registry's domains, checked before this runs.
    NSLAB_ASSIGN_OR_RETURN(struct timespec start, sys::clock_gettime(CLOCK_MONOTONIC));
    NSLAB_ASSIGN_OR_RETURN(struct timespec at, sys::clock_gettime(id));
    at.tv_sec += ms / 1000;
    at.tv_nsec += (ms % 1000) * 1000000;
    if (at.tv_nsec >= 1000000000) at.tv_sec += 1, at.tv_nsec -= 1000000000;
    if (method == "clock_nanosleep") {
        NSLAB_TRY(sys::clock_nanosleep_abs(id, at));
    } else if (method == "timerfd") {
        NSLAB_ASSIGN_OR_RETURN(int tfd, sys::timerfd_create(id));
        core::UniqueFd timer(tfd);
        NSLAB_TRY(sys::timerfd_settime_abs(timer.get(), at));
        NSLAB_ASSIGN_OR_RETURN(bool fired, sys::poll_readable(timer.get(), 5000));
        if (!fired)
            return sys::Error::message("the timerfd set " + std::to_string(ms) +
                                       " ms ahead did not fire within 5 s");
        unsigned long long expirations = 0;
        NSLAB_TRY(sys::read(timer.get(), &expirations, sizeof expirations));
    } else if (method == "timer_create") {
        NSLAB_TRY(sys::posix_timer_wait_abs(id, at, 5000));
    } else if (method == "futex") {
        if (id != CLOCK_MONOTONIC) return sys::Error::message("sleep_until: the futex method waits on CLOCK_MONOTONIC only");
        // A deadline the kernel failed to convert would be hours away: bound the wait in a child.
        auto wait = [&]() -> sys::Result<std::string> {
            NSLAB_TRY(sys::futex_wait_abs_monotonic(at));
            return std::string();
        };
        NSLAB_TRY(sys::run_in_child(wait, 5000));
    } else {
        return sys::Error::message("method must be clock_nanosleep, timerfd, timer_create or futex, not '" + method +
                                   "'");
    }
    NSLAB_ASSIGN_OR_RETURN(struct timespec end, sys::clock_gettime(CLOCK_MONOTONIC));
    return json{{"elapsed_ms", std::llround((seconds_of(end) - seconds_of(start)) * 1000)}};
}

}  // namespace

void register_time_ops(Registry& r) {
    r.add(
        {.name = "clock_ahead",
         .kind = OpKind::probe,
         .ns = "time",
         .doc =
             "By how many seconds (to the ms, judged within 2 s) a realm's clock is ahead of the caller's: a throwaway "
             "child enters the realm's time namespace (setns) to read it. Clocks: monotonic, "
             "boottime, realtime, tai, monotonic_coarse, monotonic_raw (read through the vDSO), "
             "each also as <clock>_syscall (read with syscall(SYS_clock_gettime)); also uptime "
             "(/proc/uptime) and btime (/proc/stat).",
         .lab = "nsenter --target REALM --time cat /proc/uptime; cat /proc/uptime   # CLOCK",
         .args = {{"realm", ArgType::realm, true,
                   "the realm (or host) whose clock to compare with the caller's"},
                  {"clock", ArgType::string, true,
                   "which clock or file, e.g. monotonic or uptime"}},
         .tolerance = kShiftToleranceS,
         .handler = clock_ahead_op});
    r.add({.name = "timens_offsets",
           .kind = OpKind::probe,
           .ns = "time",
           .doc =
               "The lines of /proc/PID/timens_offsets (caller by default), columns joined by one "
               "space: the offsets of that process's time_for_children namespace.",
           .lab = "cat /proc/[PID|REALM|self]/timens_offsets",
           .args = {{"realm", ArgType::realm, false,
                     "look at that realm's process instead of the caller"},
                    {"pid", ArgType::integer, false,
                     "look at this pid of the caller's PID namespace"}},
           .handler = [](OpCall& c) -> sys::Result<json> {
               NSLAB_ASSIGN_OR_RETURN(std::string dir, proc_dir(c));
               NSLAB_ASSIGN_OR_RETURN(std::string text, sys::read_file(dir + "/timens_offsets"));
               return offset_lines(text);
           }});
    r.add(
        {.name = "unshare_time_shift",
         .kind = OpKind::probe,
         .ns = "time",
         .doc =
             "A throwaway child unshares a time namespace and writes a boottime offset; returns "
             "how many seconds CLOCK_BOOTTIME moved for the unsharer itself (caller), for a child "
             "it forks (forked), for a program it execs without forking (exec, /proc/uptime), for "
             "a program it starts with vfork and exec (vfork_exec, posix_spawn), or for itself "
             "after that vfork (caller_after_vfork_exec).",
         .lab = "unshare --time --boottime BOOTTIME cat /proc/uptime   # as SEEN_BY sees it",
         .args = {{"boottime", ArgType::integer, true, "the boottime offset to write, in seconds"},
                  {"seen_by", ArgType::string, true, "caller, forked, exec, vfork_exec or caller_after_vfork_exec",
                   one_of({"caller", "forked", "exec", "vfork_exec", "caller_after_vfork_exec"})}},
         .tolerance = kShiftToleranceS,
         .handler = unshare_time_shift_op});
    r.add(
        {.name = "write_timens_offsets",
         .kind = OpKind::action,
         .ns = "time",
         .doc =
             "Writes raw text to /proc/self/timens_offsets from a throwaway child, by default of a "
             "time namespace it has just unshared; returns the offsets read back, by clock "
             "({monotonic: \"3600 0\", boottime: \"0 0\"}).",
         .lab = "[unshare --time ]sh -c 'echo OFFSETS > /proc/self/timens_offsets'",
         .args = {{"offsets", ArgType::string, true,
                   "the text, e.g. \"monotonic 3600 0\" or \"1 3600 0\""},
                  {"fresh", ArgType::boolean, false,
                   "unshare(CLONE_NEWTIME) first (default true); false writes the caller's own "
                   "namespace", {}, false, "!unshare --time "},
                  {"after_fork", ArgType::boolean, false,
                   "let a forked child enter the namespace first"},
                  {"drop_caps", ArgType::boolean, false, "drop every capability before writing"}},
         .handler = write_timens_offsets_op});
    r.add({.name = "sleep_until",
           .kind = OpKind::action,
           .ns = "time",
           .doc = "Sleeps until a clock reads `ms` ms more than now, with an absolute deadline "
                  "(clock_nanosleep TIMER_ABSTIME, a timerfd with TFD_TIMER_ABSTIME, a POSIX timer "
                  "with TIMER_ABSTIME, or a FUTEX_WAIT_BITSET timeout); returns {elapsed_ms} as "
                  "CLOCK_MONOTONIC measured it.",
           .lab = "# [METHOD|clock_nanosleep] until the CLOCK clock reads now + [MS|100] ms (TIMER_ABSTIME)",
           .args = {{"clock", ArgType::string, true, "monotonic, boottime or realtime",
                     one_of({"monotonic", "boottime", "realtime"})},
                    {"ms", ArgType::integer, false, "how far ahead, 0 to 2000 ms (default 100)", int_range(0, 2000)},
                    {"method", ArgType::string, false,
                     "clock_nanosleep (default), timerfd, timer_create (SIGEV_NONE, polled with "
                     "timer_gettime) or futex (monotonic only)",
                     one_of({"clock_nanosleep", "timerfd", "timer_create", "futex"})}},
           .handler = sleep_until_op});
}

}  // namespace nslab::agent
