// PID namespace ops (pid_namespaces(7)): a process has one pid in each PID namespace from its own
// up to the initial one; the first process of a namespace is its init (PID 1); /proc shows the
// PID namespace of the procfs mount, not of the reader. Scenarios that end an init, exhaust a
// namespace or nest 32 of them run in a throwaway child of the agent (sys::run_in_child).
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <optional>
#include <sstream>

#include "agent/registry.hpp"
#include "core/unique_fd.hpp"
#include "sys/mount_calls.hpp"
#include "sys/pid_calls.hpp"
#include "sys/syscalls.hpp"

namespace nslab::agent {
namespace {

constexpr int kScenarioTimeoutMs = 5000;

bool all_digits(const std::string& s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char ch) {
        return std::isdigit(static_cast<unsigned char>(ch)) != 0;
    });
}

std::string signal_name(int sig) {
    const char* abbrev = sigabbrev_np(sig);
    return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

// "TERM", "SIGTERM", "term", "15" or "0" (kill -0: existence check).
sys::Result<int> signal_from(const std::string& text) {
    if (auto sig = parse_signal(text)) return *sig;
    return sys::Error::message("unknown signal '" + text + "' (e.g. TERM, KILL, USR1)");
}

sys::Result<int> signal_arg(const json& args, const std::string& name) {
    NSLAB_ASSIGN_OR_RETURN(std::string text, arg_string(args, name));
    return signal_from(text);
}

bool flag(const json& args, const std::string& name) {
    auto it = args.find(name);
    return it != args.end() && it->is_boolean() && it->get<bool>();
}

// Scenario probes make a new PID namespace unless `new_pid_ns: false` asks for the negative
// control: the same processes, without CLONE_NEWPID.
bool wants_new_pid_ns(const json& args) {
    auto it = args.find("new_pid_ns");
    return it == args.end() || !it->is_boolean() || it->get<bool>();
}

uint64_t clone_flags_for(bool new_ns) {
    return (new_ns ? CLONE_NEWPID : 0) | CLONE_PIDFD;
}

std::string describe_status(int status) {
    if (WIFSIGNALED(status)) return "killed by " + signal_name(WTERMSIG(status));
    if (WIFEXITED(status)) return "exited with " + std::to_string(WEXITSTATUS(status));
    return "status " + std::to_string(status);
}

sys::Result<std::string> read_to_eof(int fd) {
    std::string out;
    char buf[4096];
    for (;;) {
        NSLAB_ASSIGN_OR_RETURN(size_t n, sys::read(fd, buf, sizeof buf));
        if (n == 0) return out;
        out.append(buf, n);
    }
}

// Blocks forever (until a signal ends the process): a member that only exists to be counted.
[[noreturn]] void idle_forever() {
    for (;;) (void)sys::sleep_ms(60000);
}

// ---- processes and their visibility --------------------------------------------------------

std::string new_marker() {
    unsigned v = 0;
    if (::getrandom(&v, sizeof v, 0) != static_cast<ssize_t>(sizeof v))
        v = static_cast<unsigned>(sys::getpid()) * 2654435761u;
    char buf[32];
    std::snprintf(buf, sizeof buf, "nslab_%08x", v);
    return buf;
}

// The variable that marks a spawned process and everything it execs or forks: the environment is
// inherited across fork and kept by execve, where argv is not (a shell that execs its last command,
// as bash does for `sh -c CMD`, drops its own argv and the marker with it).
constexpr const char* kMarkerVariable = "NSLAB_SPAWN=";

// The command line of /proc/PID, words joined by spaces; "" for a zombie, a process gone, or one
// in the middle of an execve (the new mm has no argv yet for a few ms).
std::string cmdline_of(const std::string& proc_dir) {
    auto text = sys::read_file(proc_dir + "/cmdline");
    if (!text.ok()) return "";
    std::replace(text->begin(), text->end(), '\0', ' ');
    return *text;
}

// proc(5): whether /proc/PID's environment holds NSLAB_SPAWN=marker; nullopt when it cannot be
// read (environ needs ptrace read access: same ids, or CAP_SYS_PTRACE over the process's user
// namespace — a sibling user namespace has neither).
std::optional<bool> environ_has(const std::string& proc_dir, const std::string& entry) {
    auto text = sys::read_file(proc_dir + "/environ");
    if (!text.ok()) return std::nullopt;
    for (size_t at = 0; at < text->size();) {
        size_t end = text->find('\0', at);
        if (end == std::string::npos) end = text->size();
        if (text->compare(at, end - at, entry) == 0) return true;
        at = end + 1;
    }
    return false;
}

// proc(5): field 22 of /proc/PID/stat, the start time in clock ticks after boot (world-readable;
// shifted by the reader's boottime offset, the same for readers in one time namespace).
std::string start_time_of(const std::string& proc_dir) {
    auto stat = sys::read_file(proc_dir + "/stat");
    if (!stat.ok()) return "";
    size_t close = stat->rfind(')');
    if (close == std::string::npos) return "";
    std::istringstream f(stat->substr(close + 2));
    std::string field;
    for (int i = 3; i <= 22 && (f >> field); ++i) {
    }
    return field;
}

// pid_namespaces(7): /proc lists the processes of the PID namespace its procfs was mounted in,
// so this answers what `ps -e` would show from here. A process is the spawned one when its
// environment holds the marker; where the environment cannot be read, when its start time and
// command line are the ones the spawner recorded (both world-readable, as ps reads them).
sys::Result<bool> process_visible(const json& object) {
    NSLAB_ASSIGN_OR_RETURN(std::string marker, arg_string(object, "marker"));
    const std::string entry = kMarkerVariable + marker;
    const std::string start = object.value("start", std::string()), cmdline = object.value("cmdline", std::string());
    NSLAB_ASSIGN_OR_RETURN(auto entries, sys::list_dir("/proc"));
    for (auto& name : entries) {
        if (!all_digits(name)) continue;
        std::string dir = "/proc/" + name;
        std::string own = cmdline_of(dir);
        if (own.find(marker) != std::string::npos) return true;  // the shell of a `sh -c` spawn
        std::optional<bool> marked = environ_has(dir, entry);
        if (marked) {
            if (*marked) return true;
        } else if (!start.empty() && own == cmdline && start_time_of(dir) == start) {
            return true;
        }
    }
    return false;
}

// A command the agent can exec itself, without a shell: plain words, none of them shell syntax.
bool plain_words(const std::string& command) {
    if (command.find_first_not_of(' ') == std::string::npos) return false;
    return std::all_of(command.begin(), command.end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) != 0 || std::strchr(" _./:=,+@%-", ch) != nullptr;
    });
}

std::vector<std::string> words_of(const std::string& command) {
    std::istringstream in(command);
    std::vector<std::string> words;
    for (std::string w; in >> w;) words.push_back(w);
    return words;
}


// The pid that /proc (as mounted here) gives the process behind pidfd: the agent's /proc may be
// of another PID namespace than the agent (a realm without a fresh /proc). "" if it has none.
std::string proc_pid_of(int pidfd) {
    auto pid = sys::pid_of_pidfd(pidfd);
    return pid.ok() ? std::to_string(*pid) : "";
}

// For a command run through `sh -c`: returns once the command has started, i.e. the shell has
// exec'd it in place (its cmdline is no longer the shell's) or a child of the shell runs a program
// of its own, so that the next step finds `sleep 100` in `ps`, not a copy of the shell still
// forking. An empty cmdline is a process mid-execve, not an exited one: the shell's exit is
// learnt from its pidfd. Bounded at 5 s for a shell that never starts a program (a builtin loop).
void wait_until_command_runs(pid_t pid, const std::string& shell_cmdline) {
    auto fd = sys::pidfd_open(pid);
    if (!fd.ok()) return;
    core::UniqueFd pidfd(*fd);
    std::string proc_pid = proc_pid_of(pidfd.get());
    if (proc_pid.empty()) return;
    std::string dir = "/proc/" + proc_pid;
    for (int waited = 0; waited < 5000; ++waited) {
        std::string own = cmdline_of(dir);
        if (!own.empty() && own != shell_cmdline) return;  // the shell exec'd the command
        if (!own.empty()) {
            auto children = sys::read_file(dir + "/task/" + proc_pid + "/children");
            if (!children.ok()) return;  // no CONFIG_PROC_CHILDREN: do not wait
            std::istringstream kids(*children);
            for (std::string kid; kids >> kid;) {
                std::string theirs = cmdline_of("/proc/" + kid);
                if (!theirs.empty() && theirs != own) return;
            }
        }
        // A pidfd turns readable once its process has exited: then there is nothing to wait for.
        auto ended = sys::poll_readable(pidfd.get(), 1);
        if (!ended.ok() || *ended) return;
    }
}

sys::Result<json> spawn_op(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string command, arg_string(c.args, "command"));
    std::string marker = new_marker();
    std::vector<std::string> env = {kMarkerVariable + marker};
    std::vector<std::string> words = words_of(command);
    // The PATH search is done before fork: the child only execs.
    std::string program = plain_words(command) ? sys::find_on_lab_path(words[0]).value_or("") : "";
    pid_t pid = 0;
    std::string start, cmdline;
    if (!program.empty()) {
        // `sleep 100 &` in the lab's shell: a child that execs sleep. spawn_background returns once
        // the execve has succeeded, so the program is in /proc before the next step looks.
        NSLAB_ASSIGN_OR_RETURN(pid, sys::spawn_background(words, env, program));
        // What another vantage that cannot read its environment identifies it by (process_visible).
        if (auto fd = sys::pidfd_open(pid); fd.ok()) {
            core::UniqueFd pidfd(*fd);
            if (std::string proc_pid = proc_pid_of(pidfd.get()); !proc_pid.empty()) {
                start = start_time_of("/proc/" + proc_pid);
                cmdline = cmdline_of("/proc/" + proc_pid);
            }
        }
    } else {
        // Shell syntax: the marker is also the shell's $0, so `ps -ef` shows it above COMMAND.
        std::vector<std::string> argv = {"/bin/sh", "-c", command, marker};
        NSLAB_ASSIGN_OR_RETURN(pid, sys::spawn_background(argv, env));
        std::string shell_cmdline;
        for (auto& a : argv) shell_cmdline += a + " ";
        wait_until_command_runs(pid, shell_cmdline);
    }
    json object{{"kind", "process"}, {"marker", marker}, {"pid", pid}, {"command", command}};
    if (!start.empty()) object["start"] = start, object["cmdline"] = cmdline;
    return object;
}

sys::Result<json> kill_op(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(long long pid, arg_int(c.args, "pid"));
    NSLAB_ASSIGN_OR_RETURN(int sig, signal_arg(c.args, "signal"));
    bool wait = flag(c.args, "wait") && pid > 0;
    core::UniqueFd pidfd;
    if (wait) {
        if (auto fd = sys::pidfd_open(static_cast<pid_t>(pid)); fd.ok()) pidfd.reset(*fd);
    }
    // pid_namespaces(7): pid numbers are looked up in the caller's PID namespace; a process of an
    // ancestor namespace has no number here, so kill(2) gives ESRCH.
    NSLAB_TRY(sys::kill(static_cast<pid_t>(pid), sig));
    if (pidfd) {
        // A pidfd turns readable when its process has terminated (zombie or reaped).
        NSLAB_ASSIGN_OR_RETURN(bool ended, sys::poll_readable(pidfd.get(), 2000));
        return json(ended ? "terminated" : "still running after 2 s");
    }
    return json(signal_name(sig));
}

sys::Result<json> nspid_op(OpCall&) {
    NSLAB_ASSIGN_OR_RETURN(std::string status, sys::read_file("/proc/self/status"));
    std::istringstream in(status);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("NSpid:", 0) != 0) continue;
        std::istringstream f(line.substr(6));
        json pids = json::array();
        long long p = 0;
        while (f >> p) pids.push_back(p);
        return pids;
    }
    return sys::Error::message("/proc/self/status has no NSpid: line (Linux 4.1 or later)");
}

// ---- scenarios in a throwaway child --------------------------------------------------------

volatile sig_atomic_t g_handled = 0;
volatile sig_atomic_t g_si_pid = -1;

void record_signal(int, siginfo_t* info, void*) {
    g_si_pid = info->si_pid;
    g_handled = 1;
}

// The init side of pid_ns_init_signal: PID 1 of a fresh namespace (or, for the negative control,
// an ordinary child).
struct SignalPlan {
    int sig = 0;
    bool from_inside = false;  // a member sends, else the namespace's creator
    bool handler = false;      // init installs a SA_SIGINFO handler
    bool blocked = false;      // init blocks the signal first, installs the handler (if any) once
                               // the signal is pending, then unblocks it
    bool new_ns = true;
};

std::string init_side(const SignalPlan& plan, int ready_fd, int go_fd) {
    int sig = plan.sig;
    if (plan.blocked) {
        auto s = sys::block_signal(sig, true);
        if (!s.ok()) return "error: " + s.error().describe();
    }
    if (plan.handler && !plan.blocked) {
        auto s = sys::sigaction_info(sig, record_signal);
        if (!s.ok()) return "error: " + s.error().describe();
    }
    if (plan.from_inside) {
        auto g = sys::fork();
        if (!g.ok()) return "error: " + g.error().describe();
        if (*g == 0) {
            // A member signals its init: kill(1, SIG) when both are in the new namespace.
            auto k = sys::kill(sys::getppid(), sig);
            sys::exit_now(k.ok() ? 0 : k.error().err());
        }
        auto st = sys::waitpid(*g);
        if (!st.ok()) return "error: " + st.error().describe();
        if (WIFEXITED(*st) && WEXITSTATUS(*st) != 0)
            return "error: kill(init) from inside failed with " + sys::errno_name(WEXITSTATUS(*st));
    }
    char byte = 1;
    (void)sys::write(ready_fd, &byte, 1);
    (void)sys::read(go_fd, &byte, 1);  // the parent's signal, if any, was sent before this byte
    if (plan.blocked) {
        // pid_namespaces(7): a blocked signal is queued whatever init's disposition; what happens
        // on unblocking depends on the disposition then.
        if (plan.handler) {
            auto s = sys::sigaction_info(sig, record_signal);
            if (!s.ok()) return "error: " + s.error().describe();
        }
        auto s = sys::block_signal(sig, false);
        if (!s.ok()) return "error: " + s.error().describe();
    }
    if (g_handled) return "handled (si_pid " + std::to_string(g_si_pid) + ")";
    return "survived";
}

sys::Result<std::string> init_signal_scenario(const SignalPlan& plan) {
    NSLAB_ASSIGN_OR_RETURN(auto ready, sys::pipe2(O_CLOEXEC));
    core::UniqueFd ready_r(ready.first), ready_w(ready.second);
    NSLAB_ASSIGN_OR_RETURN(auto go, sys::pipe2(O_CLOEXEC));
    core::UniqueFd go_r(go.first), go_w(go.second);
    NSLAB_ASSIGN_OR_RETURN(auto report, sys::pipe2(O_CLOEXEC));
    core::UniqueFd report_r(report.first), report_w(report.second);
    NSLAB_ASSIGN_OR_RETURN(sys::CloneResult init, sys::clone3(clone_flags_for(plan.new_ns)));
    if (init.pid == 0) {
        (void)sys::prctl_set_pdeathsig(SIGKILL);
        std::string answer = init_side(plan, ready_w.get(), go_r.get());
        (void)sys::write_all(report_w.get(), answer);
        sys::exit_now(0);
    }
    core::UniqueFd pidfd(init.pidfd);
    ready_w.reset();
    go_r.reset();
    report_w.reset();
    char byte = 0;
    NSLAB_TRY(sys::read(ready_r.get(), &byte, 1));
    // pid_namespaces(7): from an ancestor namespace only SIGKILL and SIGSTOP are forced on init;
    // any other signal reaches it only if it has a handler for it.
    if (!plan.from_inside) NSLAB_TRY(sys::pidfd_send_signal(pidfd.get(), plan.sig));
    (void)sys::write(go_w.get(), &byte, 1);
    NSLAB_ASSIGN_OR_RETURN(std::string answer, read_to_eof(report_r.get()));
    NSLAB_ASSIGN_OR_RETURN(int status, sys::wait_pidfd(pidfd.get()));
    if (WIFSIGNALED(status)) return describe_status(status);
    return answer;
}

sys::Result<json> pid_ns_init_signal_op(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(int sig, signal_arg(c.args, "signal"));
    NSLAB_ASSIGN_OR_RETURN(std::string from, arg_string(c.args, "from"));
    if (from != "inside" && from != "parent")
        return sys::Error::message("from must be inside or parent, not '" + from + "'");
    if (sig == 0 || sig == SIGSTOP)
        return sys::Error::message("pid_ns_init_signal: use a signal that can end a process, not " +
                                   signal_name(sig));
    SignalPlan plan{.sig = sig,
                    .from_inside = from == "inside",
                    .handler = flag(c.args, "handler"),
                    .blocked = flag(c.args, "blocked"),
                    .new_ns = wants_new_pid_ns(c.args)};
    NSLAB_ASSIGN_OR_RETURN(
        std::string answer,
        sys::run_in_child([&] { return init_signal_scenario(plan); }, kScenarioTimeoutMs));
    return json(answer);
}

// Waits, without a fixed delay, until the child behind `first_pidfd` has finished exiting, reaping
// our other child `member` if it ends meanwhile; returns the member's status if it ended by then.
// kernel/pid_namespace.c (zap_pid_ns_processes): a namespace's init finishes exiting, and its pidfd
// turns readable, only once every other process of the namespace is killed and reaped.
sys::Result<std::optional<int>> member_status_once_exited(int first_pidfd, pid_t member) {
    NSLAB_ASSIGN_OR_RETURN(int fd, sys::pidfd_open(member));
    core::UniqueFd member_fd(fd);
    std::optional<int> status;
    for (;;) {
        struct pollfd fds[2] = {{first_pidfd, POLLIN, 0}, {member_fd.get(), POLLIN, 0}};
        size_t n = status ? 1 : 2;
        NSLAB_ASSIGN_OR_RETURN(int ready, sys::poll_fds(fds, n, kScenarioTimeoutMs));
        if (ready == 0)
            return sys::Error::message("the first child had not exited after " +
                                       std::to_string(kScenarioTimeoutMs / 1000) + " s");
        if (n == 2 && (fds[1].revents & POLLIN)) {
            NSLAB_ASSIGN_OR_RETURN(int st, sys::waitpid(member));
            status = st;
        }
        if (fds[0].revents & POLLIN) return status;
    }
}

// pid_namespaces(7): when the init of a namespace ends, the kernel SIGKILLs every other process
// in it, and a later fork(2) into it fails with ENOMEM.
sys::Result<std::string> after_init_exit_scenario(bool new_ns) {
    NSLAB_ASSIGN_OR_RETURN(auto quit, sys::pipe2(O_CLOEXEC));
    core::UniqueFd quit_r(quit.first), quit_w(quit.second);
    NSLAB_ASSIGN_OR_RETURN(sys::CloneResult init, sys::clone3(clone_flags_for(new_ns)));
    if (init.pid == 0) {
        (void)sys::prctl_set_pdeathsig(SIGKILL);
        quit_w.reset();
        char byte = 0;
        (void)sys::read(quit_r.get(), &byte, 1);
        sys::exit_now(0);
    }
    core::UniqueFd pidfd(init.pidfd);
    quit_r.reset();
    // setns(2) with a pidfd: our next children are born in the new namespace (as its PID 2, ...).
    if (new_ns) NSLAB_TRY(sys::setns(pidfd.get(), CLONE_NEWPID));
    NSLAB_ASSIGN_OR_RETURN(pid_t member, sys::fork());
    if (member == 0) {
        quit_w.reset();  // only the parent's copy may keep init waiting
        (void)sys::prctl_set_pdeathsig(SIGKILL);
        idle_forever();
    }
    quit_w.reset();  // init reads EOF and exits
    NSLAB_ASSIGN_OR_RETURN(auto member_status, member_status_once_exited(pidfd.get(), member));
    std::string member_fate = member_status ? describe_status(*member_status)
                                            : "still running after the first child's exit";
    if (!member_status) {
        (void)sys::kill(member, SIGKILL);
        (void)sys::waitpid(member);
    }
    NSLAB_TRY(sys::wait_pidfd(pidfd.get()));
    std::string next_fork = "succeeded";
    auto again = sys::fork();
    if (!again.ok())
        next_fork = sys::errno_name(again.error().err());
    else if (*again == 0)
        sys::exit_now(0);
    else
        (void)sys::waitpid(*again);
    return json{{"member", member_fate}, {"fork", next_fork}}.dump();
}

Handler after_init_exit_probe(std::string field) {
    return [field](OpCall& c) -> sys::Result<json> {
        bool new_ns = wants_new_pid_ns(c.args);
        NSLAB_ASSIGN_OR_RETURN(std::string text,
                               sys::run_in_child([&] { return after_init_exit_scenario(new_ns); },
                                                 kScenarioTimeoutMs));
        json facts = json::parse(text, nullptr, false);
        if (!facts.is_object() || !facts.contains(field))
            return sys::Error::message("bad scenario report: " + text);
        return facts[field];
    };
}

// kill(2): pid -1 reaches every process the caller may signal except itself and its namespace's
// init; with none left it fails with ESRCH.
sys::Result<std::string> kill_all_scenario(int members, int sig) {
    NSLAB_ASSIGN_OR_RETURN(auto report, sys::pipe2(O_CLOEXEC));
    core::UniqueFd report_r(report.first), report_w(report.second);
    NSLAB_ASSIGN_OR_RETURN(sys::CloneResult init, sys::clone3(CLONE_NEWPID | CLONE_PIDFD));
    if (init.pid == 0) {
        (void)sys::prctl_set_pdeathsig(SIGKILL);
        report_r.reset();
        std::vector<pid_t> pids;
        std::string answer;
        for (int i = 0; i < members && answer.empty(); ++i) {
            auto m = sys::fork();
            if (!m.ok())
                answer = "error: " + m.error().describe();
            else if (*m == 0)
                idle_forever();
            else
                pids.push_back(*m);
        }
        if (answer.empty()) {
            auto k = sys::kill(-1, sig);
            if (!k.ok()) {
                answer = sys::errno_name(k.error().err());
            } else {
                int killed = 0;
                for (pid_t p : pids) {
                    auto st = sys::waitpid(p);
                    if (st.ok() && WIFSIGNALED(*st) && WTERMSIG(*st) == sig) ++killed;
                }
                answer = std::to_string(killed) + " of " + std::to_string(pids.size()) +
                         " killed by " + signal_name(sig);
            }
        }
        (void)sys::write_all(report_w.get(), answer);
        sys::exit_now(0);
    }
    core::UniqueFd pidfd(init.pidfd);
    report_w.reset();
    NSLAB_ASSIGN_OR_RETURN(std::string answer, read_to_eof(report_r.get()));
    NSLAB_ASSIGN_OR_RETURN(int status, sys::wait_pidfd(pidfd.get()));
    if (WIFSIGNALED(status)) return "init " + describe_status(status);
    return answer;
}

sys::Result<json> kill_all_from_pid_ns_init_op(OpCall& c) {
    long long members = arg_int_opt(c.args, "members").value_or(0);  // 0..64: the registry's domain
    NSLAB_ASSIGN_OR_RETURN(int sig, signal_arg(c.args, "signal"));
    NSLAB_ASSIGN_OR_RETURN(
        std::string answer,
        sys::run_in_child([&] { return kill_all_scenario(static_cast<int>(members), sig); },
                          kScenarioTimeoutMs));
    return json(answer);
}

sys::Result<ino_t> ns_inode(const std::string& which) {
    NSLAB_ASSIGN_OR_RETURN(struct stat st, sys::stat_path("/proc/self/ns/" + which));
    return st.st_ino;
}

// unshare(2): CLONE_NEWPID moves the caller's future children, not the caller, into a new PID
// namespace; the first of them is its init (PID 1, parent 0); once it exits, fork gives ENOMEM.
// pid_namespaces(7): /proc/PID/ns/pid_for_children cannot be opened until that init exists.
sys::Result<std::string> unshare_newpid_scenario(bool new_ns) {
    pid_t before = sys::getpid();
    NSLAB_ASSIGN_OR_RETURN(ino_t pid_ns_before, ns_inode("pid"));
    if (new_ns) NSLAB_TRY(sys::unshare(CLONE_NEWPID));
    pid_t after = sys::getpid();
    NSLAB_ASSIGN_OR_RETURN(ino_t pid_ns_after, ns_inode("pid"));
    auto early = ns_inode("pid_for_children");
    std::string children_before_init =
        early.ok() ? "readable" : sys::errno_name(early.error().err());
    NSLAB_ASSIGN_OR_RETURN(auto report, sys::pipe2(O_CLOEXEC));
    core::UniqueFd report_r(report.first), report_w(report.second);
    NSLAB_ASSIGN_OR_RETURN(auto quit, sys::pipe2(O_CLOEXEC));
    core::UniqueFd quit_r(quit.first), quit_w(quit.second);
    NSLAB_ASSIGN_OR_RETURN(pid_t first, sys::fork());
    if (first == 0) {
        quit_w.reset();
        std::string ids = std::to_string(sys::getpid()) + " " + std::to_string(sys::getppid());
        (void)sys::write_all(report_w.get(), ids);
        report_w.reset();
        char byte = 0;
        (void)sys::read(quit_r.get(), &byte, 1);
        sys::exit_now(0);
    }
    report_w.reset();
    quit_r.reset();
    NSLAB_ASSIGN_OR_RETURN(std::string ids, read_to_eof(report_r.get()));
    auto children = ns_inode("pid_for_children");  // now that the namespace has its init
    quit_w.reset();
    NSLAB_TRY(sys::waitpid(first));
    NSLAB_TRY(children);
    std::string next_fork = "succeeded";
    auto again = sys::fork();
    if (!again.ok())
        next_fork = sys::errno_name(again.error().err());
    else if (*again == 0)
        sys::exit_now(0);
    else
        (void)sys::waitpid(*again);
    std::istringstream in(ids);
    long long child_pid = -1, child_ppid = -1;
    in >> child_pid >> child_ppid;
    return json{{"pid_before", before},
                {"pid_after", after},
                {"own_pid_ns_changed", pid_ns_before != pid_ns_after},
                {"pid_for_children_before_init", children_before_init},
                {"pid_for_children_is_new", *children != pid_ns_after},
                {"first_child_pid", child_pid},
                {"first_child_ppid", child_ppid},
                {"next_fork", next_fork}}
        .dump();
}

sys::Result<json> unshare_newpid_and_fork_op(OpCall& c) {
    bool new_ns = wants_new_pid_ns(c.args);
    NSLAB_ASSIGN_OR_RETURN(
        std::string text,
        sys::run_in_child([&] { return unshare_newpid_scenario(new_ns); }, kScenarioTimeoutMs));
    json facts = json::parse(text, nullptr, false);
    if (!facts.is_object()) return sys::Error::message("bad scenario report: " + text);
    return facts;
}

// pid_namespaces(7): PID namespaces nest to 32 levels (MAX_PID_NS_LEVEL); clone(CLONE_NEWPID)
// below the 32nd fails with ENOSPC.
sys::Result<std::string> nest_scenario(int cap) {
    NSLAB_ASSIGN_OR_RETURN(auto report, sys::pipe2(O_CLOEXEC));
    core::UniqueFd report_r(report.first), report_w(report.second);
    int depth = 0;
    for (;;) {
        std::string failure;
        if (depth >= cap) failure = "none (stopped at " + std::to_string(cap) + ")";
        std::optional<sys::CloneResult> child;
        if (failure.empty()) {
            auto c = sys::clone3(CLONE_NEWPID);
            if (c.ok())
                child = *c;
            else
                failure = sys::errno_name(c.error().err());
        }
        if (!failure.empty()) {
            std::string facts = json{{"created", depth}, {"error", failure}}.dump();
            if (depth == 0) return facts;
            (void)sys::write_all(report_w.get(), facts);
            sys::exit_now(0);
        }
        if (child->pid == 0) {
            (void)sys::prctl_set_pdeathsig(SIGKILL);
            ++depth;
            continue;
        }
        (void)sys::waitpid(child->pid);
        if (depth > 0) sys::exit_now(0);
        report_w.reset();
        return read_to_eof(report_r.get());
    }
}

sys::Result<json> nest_pid_namespaces_op(OpCall& c) {
    long long cap = arg_int_opt(c.args, "max").value_or(64);  // 1..128: the registry's domain
    NSLAB_ASSIGN_OR_RETURN(std::string text,
                           sys::run_in_child([&] { return nest_scenario(static_cast<int>(cap)); },
                                             kScenarioTimeoutMs));
    json facts = json::parse(text, nullptr, false);
    if (!facts.is_object()) return sys::Error::message("bad scenario report: " + text);
    return facts;
}

}  // namespace

void register_pid_ops(Registry& r) {
    const ArgSpec new_ns_arg{
        "new_pid_ns", ArgType::boolean, false,
        "false runs the same processes without CLONE_NEWPID: the negative control (default true)", {}, false, "!new "};
    r.add({.name = "spawn",
           .kind = OpKind::action,
           .ns = "pid",
           .doc = "Starts a command in the background as a child of the realm's agent, output to "
                  "/dev/null: plain words are exec'd directly (the step returns once the program "
                  "runs), anything else through /bin/sh -c COMMAND MARKER (the step returns once the "
                  "shell has started a program). Returns a `process` object {marker, pid}: pid as "
                  "the realm numbers it; the object is visible where /proc lists a process whose "
                  "environment holds NSLAB_SPAWN=MARKER, or whose command line holds the marker "
                  "(what `ps -e` shows).",
           .lab = "COMMAND &",
           .args = {{"command", ArgType::string, true, "the command, e.g. sleep 100"}},
           .creates_object = true,
           .lab_see = "pgrep -f 'COMMAND'",
           .handler = spawn_op});
    r.add({.name = "kill",
           .kind = OpKind::action,
           .ns = "pid",
           .doc =
               "Sends a signal to a pid, as the caller's PID namespace numbers it (kill(2)); with "
               "wait, returns \"terminated\" once it has ended (through a pidfd).",
           .lab = "kill -SIGNAL PID",
           .args = {{"pid", ArgType::integer, true,
                     "the pid (e.g. ${p.pid}); -1 is every process the caller may signal"},
                    {"signal", ArgType::string, true, "TERM, KILL, USR1, ... or 0", signal_value()},
                    {"wait", ArgType::boolean, false,
                     "then wait (up to 2 s) for the process to terminate"}},
           .handler = kill_op});
    r.add({.name = "setsid",
           .kind = OpKind::action,
           .ns = "pid",
           .doc = "Makes the realm's agent leader of a new session and process group (setsid(2)); "
                  "returns the session id.",
           .lab = "setsid",
           .handler = [](OpCall&) -> sys::Result<json> {
               NSLAB_ASSIGN_OR_RETURN(pid_t sid, sys::setsid());
               return json(sid);
           }});
    r.add({.name = "getpid",
           .kind = OpKind::probe,
           .ns = "pid",
           .doc = "The realm agent's pid in its own PID namespace (getpid(2)).",
           .lab = "echo $$",
           .handler = [](OpCall&) -> sys::Result<json> { return json(sys::getpid()); }});
    r.add({.name = "getppid",
           .kind = OpKind::probe,
           .ns = "pid",
           .doc = "The realm agent's parent pid (getppid(2)); 0 when the parent is in another PID "
                  "namespace.",
           .lab = "echo $PPID",
           .handler = [](OpCall&) -> sys::Result<json> { return json(sys::getppid()); }});
    r.add({.name = "getsid",
           .kind = OpKind::probe,
           .ns = "pid",
           .doc =
               "The session id of the realm's agent (getsid(0)); 0 when the session leader is in "
               "another PID namespace.",
           .lab = "ps -o sid= -p $$",
           .handler = [](OpCall&) -> sys::Result<json> {
               NSLAB_ASSIGN_OR_RETURN(pid_t sid, sys::getsid(0));
               return json(sid);
           }});
    r.add({.name = "getpgid",
           .kind = OpKind::probe,
           .ns = "pid",
           .doc = "The process group id of the realm's agent (getpgid(0)); 0 when the group leader "
                  "is in another PID namespace.",
           .lab = "ps -o pgid= -p $$",
           .handler = [](OpCall&) -> sys::Result<json> {
               NSLAB_ASSIGN_OR_RETURN(pid_t pgid, sys::getpgid(0));
               return json(pgid);
           }});
    r.add({.name = "nspid",
           .kind = OpKind::probe,
           .ns = "pid",
           .doc =
               "The agent's pid in each PID namespace, from the one of the /proc mount down to its "
               "own (the NSpid line of /proc/self/status).",
           .lab = "grep NSpid /proc/self/status",
           .handler = nspid_op});
    r.add({.name = "proc_self",
           .kind = OpKind::probe,
           .ns = "pid",
           .doc =
               "What /proc/self points to for the agent: its pid in the PID namespace of the /proc "
               "mount.",
           .lab = "readlink /proc/self",
           .handler = [](OpCall&) -> sys::Result<json> {
               NSLAB_ASSIGN_OR_RETURN(std::string target, sys::readlink("/proc/self"));
               return json(target);
           }});
    r.add({.name = "pid_ns_init_signal",
           .kind = OpKind::probe,
           .ns = "pid",
           .doc =
               "In a throwaway child: clone a new PID namespace whose init optionally installs a "
               "SA_SIGINFO handler, signal that init from its parent or from a member, and report "
               "\"killed by SIGx\", \"survived\" or \"handled (si_pid N)\". A member signals with "
               "kill(getppid()), i.e. kill(1, SIG) in the new namespace.",
           .lab = "kill -SIGNAL 1",
           .args = {{"signal", ArgType::string, true, "TERM, KILL, USR1, ...", signal_value()},
                    {"from", ArgType::string, true,
                     "inside (a member, pid 2) or parent (the namespace's creator)", one_of({"inside", "parent"})},
                    {"handler", ArgType::boolean, false, "init installs a handler for the signal"},
                    {"blocked", ArgType::boolean, false,
                     "init blocks the signal first and installs the handler (if any) only once it "
                     "is pending, then unblocks it"},
                    new_ns_arg},
           .handler = pid_ns_init_signal_op});
    r.add({.name = "pid_ns_member_after_init_exit",
           .kind = OpKind::probe,
           .ns = "pid",
           .doc =
               "In a throwaway child: a member joins a new PID namespace (setns(2) on the init's "
               "pidfd, then fork), the init exits, and the member's fate is reported "
               "(\"killed by SIGKILL\").",
           .lab = "# in a child: a member joins a [new ]PID namespace, its init exits; what becomes of the member",
           .args = {new_ns_arg},
           .handler = after_init_exit_probe("member")});
    r.add({.name = "fork_into_pid_ns_after_init_exit",
           .kind = OpKind::probe,
           .ns = "pid",
           .doc =
               "In a throwaway child: after the init of a PID namespace has exited, fork(2) into "
               "that namespace once more; reports the errno (ENOMEM) or \"succeeded\".",
           .lab = "# in a child: after the init of a [new ]PID namespace has exited, fork(2) into it once more",
           .args = {new_ns_arg},
           .handler = after_init_exit_probe("fork")});
    r.add({.name = "kill_all_from_pid_ns_init",
           .kind = OpKind::probe,
           .ns = "pid",
           .doc = "In a throwaway child: the init of a new PID namespace forks MEMBERS idle "
                  "processes and calls kill(-1, SIGNAL); reports \"N of M killed by SIGx\" or the "
                  "errno.",
           .lab = "kill -SIGNAL -1",
           .args = {{"signal", ArgType::string, true, "e.g. USR1", signal_value()},
                    {"members", ArgType::integer, false, "processes besides init, 0 to 64 (default 0)", int_range(0, 64)}},
           .handler = kill_all_from_pid_ns_init_op});
    r.add({.name = "unshare_newpid_and_fork",
           .kind = OpKind::action,
           .ns = "pid",
           .doc =
               "In a throwaway child: unshare(CLONE_NEWPID), fork a first child, then fork again "
               "after it exited. Returns {pid_before, pid_after, own_pid_ns_changed, "
               "pid_for_children_before_init (ENOENT or readable), pid_for_children_is_new, "
               "first_child_pid, first_child_ppid, next_fork}.",
           .lab = "[unshare --pid ]sh -c 'echo $$; sh -c \"echo \\$\\$\"; sh -c \"echo \\$\\$\"'",
           .args = {{"new_pid_ns", ArgType::boolean, false,
                     "false skips the unshare: the negative control (default true)", {}, false, "!unshare --pid "}},
           .handler = unshare_newpid_and_fork_op});
    r.add({.name = "nest_pid_namespaces",
           .kind = OpKind::action,
           .ns = "pid",
           .doc =
               "In a throwaway child: clone(CLONE_NEWPID) inside the previous one until it fails. "
               "Returns {created, error}: how many nested namespaces were made and the errno that "
               "stopped it.",
           .lab = "# in a child: clone(CLONE_NEWPID) inside the last new PID namespace until it fails[, at most MAX times]",
           .args = {{"max", ArgType::integer, false, "stop after this many, 1 to 128 (default 64)", int_range(1, 128)}},
           .handler = nest_pid_namespaces_op});
    r.add_visibility("process", process_visible);
}

}  // namespace nslab::agent
