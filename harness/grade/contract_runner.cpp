#include "grade/contract_runner.hpp"

#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "launch/external_launcher.hpp"
#include "launch/lab.hpp"
#include "runner/interrupt.hpp"
#include "sys/pid_calls.hpp"
#include "sys/syscalls.hpp"

namespace nslab::grade {
namespace {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;
using runner::Outcome;

// The grader's own waits — a lab's start, an answer from its agent — are generous: a slow one is
// the machine's load, never the submission's doing (and the launcher's time runs separately).
constexpr auto kLabStart = std::chrono::seconds(30);
constexpr auto kAgentCall = std::chrono::seconds(30);
// After the launcher has gone, how long to wait for the last words of what it left running.
constexpr auto kSettle = std::chrono::seconds(1);
constexpr size_t kReadPerDrain = 1 << 20;  // then the clock is looked at again (an output flood)
constexpr size_t kTail = 2048;             // how much of the output is kept to quote

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string fmt_seconds(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f s", s);
    return buf;
}

std::string signal_text(int sig) {
    const char* abbrev = sigabbrev_np(sig);
    return std::to_string(sig) + (abbrev ? std::string(" (SIG") + abbrev + ")" : "");
}

// How a launcher ended, from launch_status.
struct Fate {
    bool running = false;
    int exit = -1;
    int signal = 0;
    bool exited() const { return !running && signal == 0; }
    bool exited_with(int code) const { return exited() && exit == code; }
    std::string text() const {
        if (running) return "was still running";
        if (signal) return "was killed by signal " + signal_text(signal);
        return "exited with status " + std::to_string(exit);
    }
};

// Every /proc read goes through sys: a process that exits meanwhile makes read(2) fail with
// ESRCH, which libstdc++'s filebuf turns into an exception (it aborted the grader).
std::vector<std::string> cmdline_of(pid_t pid) {
    auto text = sys::read_file("/proc/" + std::to_string(pid) + "/cmdline");
    if (!text.ok()) return {};  // it has exited
    const std::string& all = *text;
    std::vector<std::string> argv;
    for (size_t at = 0; at < all.size();) {
        size_t end = all.find('\0', at);
        if (end == std::string::npos) end = all.size();
        argv.push_back(all.substr(at, end - at));
        at = end + 1;
    }
    return argv;
}

// root and every process below it, from each process's parent in /proc/PID/stat. The grader's
// PID namespace is an ancestor of every lab's, so it sees them all.
std::vector<pid_t> self_and_descendants(pid_t root) {
    std::map<pid_t, std::vector<pid_t>> children;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator("/proc", ec); !ec && it != std::filesystem::directory_iterator();
         it.increment(ec)) {
        std::string name = it->path().filename();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
        auto read = sys::read_file(it->path() / "stat");
        if (!read.ok()) continue;  // it has exited since the listing
        const std::string& stat = *read;
        size_t close = stat.rfind(')');  // the command name may hold spaces and parentheses
        if (close == std::string::npos) continue;
        std::istringstream rest(stat.substr(close + 1));
        std::string state;
        long ppid = 0;
        if (rest >> state >> ppid) children[static_cast<pid_t>(ppid)].push_back(static_cast<pid_t>(std::stol(name)));
    }
    std::vector<pid_t> out{root};
    for (size_t i = 0; i < out.size(); ++i)
        for (pid_t c : children[out[i]]) out.push_back(c);
    return out;
}

// A launcher started in the lab by its agent: its pidfd, the socket it got as fd 3, its output.
class Launched {
public:
    Launched() = default;
    Launched(launch::Lab& lab, std::vector<std::string> markers) : lab_(&lab), markers_(std::move(markers)) {}

    // Takes the launch reply's fds: pidfd, the socket (fd 3 in the launcher), the output pipe;
    // from now on the launcher has until deadline.
    void take(agent::Reply& reply, Deadline deadline) {
        deadline_ = deadline;
        pid_ = reply.value.value("pid", -1LL);
        pidfd_ = std::move(reply.fds[0]);
        sock_ = std::move(reply.fds[1]);
        out_ = std::move(reply.fds[2]);
        auto pid = sys::pid_of_pidfd(pidfd_.get());
        host_pid_ = pid.ok() ? *pid : -1;
    }
    void failed_to_start(std::string why) { start_error_ = std::move(why); }
    bool started() const { return start_error_.empty(); }
    const std::string& start_error() const { return start_error_; }
    int pidfd() const { return pidfd_.get(); }
    pid_t host_pid() const { return host_pid_; }
    bool seen(const std::string& marker) const { return seen_.count(marker) > 0; }
    size_t bytes() const { return bytes_; }

    // The end of its output, on one line, for a message ("" when it printed nothing).
    std::string tail() const {
        std::string t = tail_.size() > 300 ? "…" + tail_.substr(tail_.size() - 300) : tail_;
        while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
        for (auto& ch : t)
            if (ch == '\n' || ch == '\r') ch = '/';
        return t;
    }

    // pidfd_open(2): a pidfd polls readable once its process has ended.
    bool ended() {
        if (!ended_ && pidfd_.valid()) {
            auto r = sys::poll_readable(pidfd_.get(), 0);
            ended_ = r.ok() && *r;
        }
        return ended_;
    }

    // Reads its output until done() holds, its deadline passes, or the launcher has ended (with
    // stop_on_exit; else once its output has also reached end of file, every writer gone).
    // Whatever it (or COMMAND) wrote before it ended is read before its end is acted on: pipe(7)
    // data written before a process exits is in the pipe before its pidfd polls readable.
    void wait(const std::function<bool()>& done, bool stop_on_exit) { wait(done, deadline_, stop_on_exit); }
    void wait_for_end() {
        wait([] { return false; }, true);
    }
    // After the launcher has ended: what it left running may still print, for a moment.
    void settle(const std::function<bool()>& done = [] { return false; }) {
        wait(done, std::min(deadline_, Clock::now() + kSettle), false);
    }

    // Its wait status, from the agent that started it (its parent, the only one that may reap it).
    sys::Result<Fate> fate() {
        if (fate_) return *fate_;
        int fd = pidfd_.get();
        auto st = lab_->client.call("launch_status", agent::json{{"pid", pid_}}, Clock::now() + kAgentCall,
                                    std::span<const int>(&fd, 1));
        if (!st.ok()) return std::move(st).error().context("asking the lab's agent how the launcher ended");
        if (!st->ok) return std::move(st->error).context("asking the lab's agent how the launcher ended");
        Fate f;
        auto& v = st->value;
        f.running = v.value("running", false);
        if (f.running) return f;
        if (v.contains("signal")) f.signal = v["signal"].get<int>();
        else f.exit = v.value("exit", -1);
        fate_ = f;
        return f;
    }

private:
    void wait(const std::function<bool()>& done, Deadline deadline, bool stop_on_exit) {
        for (;;) {
            bool gone = ended();
            drain();
            if (done()) return;
            if (gone && (stop_on_exit || eof_)) return;
            int left = agent::remaining_ms(deadline);
            if (left == 0) return;
            struct pollfd p[2] = {{eof_ ? -1 : out_.get(), POLLIN, 0}, {gone ? -1 : pidfd_.get(), POLLIN, 0}};
            if (!sys::poll_fds(p, 2, left).ok()) return;
        }
    }

    void drain() {
        if (eof_ || !out_.valid()) return;
        char buf[65536];
        for (size_t got = 0; got < kReadPerDrain;) {
            auto ready = sys::poll_readable(out_.get(), 0);
            if (!ready.ok() || !*ready) return;
            auto n = sys::read(out_.get(), buf, sizeof buf);
            if (!n.ok() || *n == 0) {
                eof_ = true;  // every writer is gone
                return;
            }
            append(buf, *n);
            got += *n;
        }
    }
    // Markers are looked for as they arrive (across reads), so that only a tail need be kept.
    void append(const char* data, size_t n) {
        bytes_ += n;
        std::string window = carry_ + std::string(data, n);
        size_t longest = 0;
        for (auto& m : markers_) {
            longest = std::max(longest, m.size());
            if (!seen(m) && window.find(m) != std::string::npos) seen_.insert(m);
        }
        carry_ = window.size() > longest ? window.substr(window.size() - longest) : window;
        tail_.append(data, n);
        if (tail_.size() > 2 * kTail) tail_.erase(0, tail_.size() - kTail);
    }

    launch::Lab* lab_ = nullptr;
    std::vector<std::string> markers_;
    std::set<std::string> seen_;
    core::UniqueFd pidfd_, sock_, out_;
    Deadline deadline_ = Clock::now();
    long long pid_ = -1;    // in the lab's PID namespace, for launch_status
    pid_t host_pid_ = -1;   // in ours
    bool ended_ = false, eof_ = false;
    size_t bytes_ = 0;
    std::string carry_, tail_, start_error_;
    std::optional<Fate> fate_;
};

struct Observation {
    bool pass = false;
    std::string observed;
};

// A lab of the test's own, bounded like the experiments' (a cgroup), killed with everything in it
// when the test ends.
struct TestLab {
    runner::LabCgroup cgroup;                // removed last, once the lab is gone
    std::optional<launch::Lab> lab;          // its end kills the lab's init, and so every process in it
    std::optional<runner::LiveLab> live;     // destroyed first, while the lab's pidfd is still open
};

// One contract test. Each launcher run gets a lab of its own, so that two runs of one test cannot
// reach each other (kill(-1) reaches every process of the uid in its PID namespace). Errors are
// the grader's (BROKEN); what the launcher did is an Observation.
class Test {
public:
    Test(const ContractSetup& setup, const runner::LabCgroupPlan& plan) : setup_(setup), plan_(plan) {
        std::random_device rd;
        char buf[32];
        std::snprintf(buf, sizeof buf, "nslab-%08x%04x", rd(), rd() & 0xffff);
        token_ = buf;
    }

    sys::Result<Observation> run(const std::string& name) {
        if (name == "exit_status") return exit_status();
        if (name == "signal_status") return signal_status();
        if (name == "forwards_sigterm") return forwards(SIGTERM, "TERM");
        if (name == "forwards_sigint") return forwards(SIGINT, "INT");
        if (name == "waits_for_command") return waits_for_command();
        if (name == "keeps_fds") return keeps_fds();
        if (name == "unprivileged") return unprivileged();
        if (name == "usage_error") return usage_error();
        return sys::Error::message("no way to run the contract test '" + name + "'");
    }
    double lab_ms() const { return lab_ms_; }
    // Kills every lab and removes its cgroup.
    void end() { labs_.clear(); }

private:
    // COMMAND: a shell script whose lines to the grader go through m, "m ready" printing
    // "<token>:ready". The marker never appears as such in the argv, so a launcher that echoes its
    // command line cannot print it by accident.
    std::vector<std::string> script(const std::string& body) const {
        return {"sh", "-c", "m() { echo \"" + token_ + ":$1\"; }; " + body};
    }
    std::string mark(const std::string& word) const { return token_ + ":" + word; }
    std::string limit() const { return fmt_seconds(setup_.timeout_s); }

    // The launcher's argv with command in place of ${agent}, as a realm would get it (offsets 0).
    sys::Result<std::vector<std::string>> launcher_argv(const std::vector<std::string>& command) const {
        launch::RealmPlan plan;
        plan.name = "contract";
        plan.new_mask = setup_.launcher.creates;
        plan.mount_proc = setup_.launcher.mounts_proc;
        auto argv = launch::expand_command_template(setup_.launcher, plan, command);
        if (!argv.ok()) return std::move(argv).error().context("the assignment's launcher command");
        return argv;
    }

    sys::Result<launch::Lab*> new_lab() {
        auto t0 = Clock::now();
        auto l = std::make_unique<TestLab>();
        launch::LabOptions lab_options;
        auto cgroup = runner::LabCgroup::create(setup_.limits, plan_, lab_options);
        if (!cgroup.ok()) return std::move(cgroup).error().context("making a lab's cgroup");
        l->cgroup = std::move(cgroup).value();
        auto lab = launch::start_lab(lab_options, Clock::now() + kLabStart);
        if (!lab.ok()) return std::move(lab).error().context("starting a lab");
        l->lab.emplace(std::move(lab).value());
        l->live.emplace(l->lab->init.pidfd());  // a SIGINT to the grader kills it at once
        labs_.push_back(std::move(l));
        lab_ms_ += seconds_since(t0) * 1000;
        return &*labs_.back()->lab;
    }

    // Starts argv in a new lab; its time limit starts now.
    sys::Result<Launched> start(const std::vector<std::string>& argv, const std::vector<std::string>& markers,
                                const std::string& output = "both") {
        NSLAB_ASSIGN_OR_RETURN(launch::Lab * lab, new_lab());
        agent::json args{{"argv", argv}, {"agent_fd", 3}, {"output", output}};  // the socket at fd 3
        if (setup_.launcher.uid) args["uid"] = *setup_.launcher.uid;
        if (setup_.launcher.gid) args["gid"] = *setup_.launcher.gid;
        if (!setup_.launcher.limits.empty()) args["limits"] = setup_.launcher.limits;
        std::vector<std::string> full;
        for (auto& m : markers) full.push_back(mark(m));
        Launched l(*lab, full);
        auto reply = lab->client.call("launch", args, Clock::now() + kAgentCall);
        if (!reply.ok()) return std::move(reply).error().context("the lab's agent did not answer `launch`");
        // The agent could not start it (typically: execve failed): the launcher's, like an experiment's.
        if (!reply->ok) l.failed_to_start(reply->error.describe());
        else if (reply->fds.size() != 3) return sys::Error::message("launch returned " + std::to_string(reply->fds.size()) + " fds, not 3");
        else l.take(*reply, Clock::now() + std::chrono::microseconds(static_cast<long long>(setup_.timeout_s * 1e6)));
        return l;
    }
    sys::Result<Launched> start_with(const std::vector<std::string>& command, const std::vector<std::string>& markers) {
        NSLAB_ASSIGN_OR_RETURN(auto argv, launcher_argv(command));
        return start(argv, markers);
    }

    // The launcher ended or stalled before COMMAND printed `first`: what became of it.
    sys::Result<Observation> never_ran(Launched& l, const std::string& first) {
        if (!l.started()) return Observation{false, "the launcher could not be started: " + l.start_error()};
        NSLAB_ASSIGN_OR_RETURN(Fate f, l.fate());
        std::string s = f.running ? "COMMAND did not print its first line (" + first + ") within " + limit() +
                                        " while the launcher kept running"
                                  : "COMMAND never ran: the launcher " + f.text() + " before it printed anything";
        std::string tail = l.tail();
        return Observation{false, s + (tail.empty() ? "" : "; the launcher's output ends with: " + tail)};
    }

    sys::Result<Observation> exit_status() {
        NSLAB_ASSIGN_OR_RETURN(Launched l, start_with(script("m started; exit 7"), {"started"}));
        if (!l.started()) return never_ran(l, "started");
        l.wait_for_end();
        NSLAB_ASSIGN_OR_RETURN(Fate f, l.fate());
        if (!l.seen(mark("started"))) l.settle([&] { return l.seen(mark("started")); });
        if (!l.seen(mark("started"))) return never_ran(l, "started");
        if (f.running) return Observation{false, "COMMAND ran and exits with status 7; the launcher was still running " + limit() + " after it started"};
        return Observation{f.exited_with(7), "COMMAND ran and exits with status 7; the launcher " + f.text()};
    }

    sys::Result<Observation> signal_status() {
        auto command = script("m ready; while :; do sleep 1; done");
        NSLAB_ASSIGN_OR_RETURN(Launched l, start_with(command, {"ready"}));
        if (!l.started()) return never_ran(l, "ready");
        // Not stopping at the launcher's end: COMMAND may run on without it (and say so below).
        l.wait([&] { return l.seen(mark("ready")); }, false);
        if (!l.seen(mark("ready"))) return never_ran(l, "ready");
        // COMMAND is the process below the launcher (or the launcher itself, had it exec'd COMMAND)
        // whose argv is exactly COMMAND's.
        int killed = 0;
        if (l.host_pid() > 0 && !l.ended())
            for (pid_t p : self_and_descendants(l.host_pid())) {
                if (cmdline_of(p) != command) continue;
                auto fd = sys::pidfd_open(p);
                if (!fd.ok()) continue;  // gone meanwhile
                core::UniqueFd pidfd(*fd);
                if (cmdline_of(p) != command) continue;  // its pid was reused before we held it
                // pid_namespaces(7): SIGKILL from an ancestor PID namespace kills even a namespace's
                // init (COMMAND is PID 1 of its own); it could not kill itself with it from inside.
                if (sys::pidfd_send_signal(pidfd.get(), SIGKILL).ok()) ++killed;
            }
        if (killed == 0) {
            NSLAB_ASSIGN_OR_RETURN(Fate f, l.fate());
            return Observation{false, "the launcher " + f.text() + " while COMMAND was still running, before COMMAND could be killed"};
        }
        l.wait_for_end();
        NSLAB_ASSIGN_OR_RETURN(Fate f, l.fate());
        return Observation{f.exited_with(128 + SIGKILL), "COMMAND was killed by signal " + signal_text(SIGKILL) +
                                                             "; the launcher " + f.text() + " (128 + 9 = 137 expected)"};
    }

    sys::Result<Observation> forwards(int sig, const std::string& name) {
        // COMMAND is PID 1 of its PID namespace: it receives only signals it has a handler for
        // (pid_namespaces(7)), hence the trap, set before it says it is ready.
        NSLAB_ASSIGN_OR_RETURN(Launched l, start_with(script("trap 'm got; exit 42' " + name + "; m ready; sleep 600 & wait"),
                                                     {"ready", "got"}));
        if (!l.started()) return never_ran(l, "ready");
        l.wait([&] { return l.seen(mark("ready")); }, false);
        if (!l.seen(mark("ready"))) return never_ran(l, "ready");
        auto already_gone = [&]() -> sys::Result<Observation> {
            NSLAB_ASSIGN_OR_RETURN(Fate f, l.fate());
            return Observation{false, "the launcher " + f.text() + " while COMMAND was still running: no launcher was left for SIG" +
                                          name + " to be sent to"};
        };
        if (l.ended()) return already_gone();
        // pidfd_send_signal(2): to the launcher process alone, not its process group.
        if (auto s = sys::pidfd_send_signal(l.pidfd(), sig); !s.ok()) {
            if (s.error().err() == ESRCH) return already_gone();
            return std::move(s).error().context("signalling the launcher");
        }
        l.wait([&] { return l.seen(mark("got")); }, false);
        bool got = l.seen(mark("got"));
        if (got) l.wait_for_end();
        NSLAB_ASSIGN_OR_RETURN(Fate f, l.fate());
        if (!got) return Observation{false, "COMMAND never got the SIG" + name + " sent to the launcher; the launcher " + f.text()};
        return Observation{f.exited(), "COMMAND got the SIG" + name + " sent to the launcher (its trap ran; it exits with status 42); the launcher " +
                                           f.text() + (f.running ? " " + limit() + " after it started" : "")};
    }

    sys::Result<Observation> waits_for_command() {
        NSLAB_ASSIGN_OR_RETURN(Launched l, start_with(script("m first; sleep 1; m second"), {"first", "second"}));
        if (!l.started()) return never_ran(l, "first");
        l.wait([&] { return l.seen(mark("first")); }, false);
        if (!l.seen(mark("first"))) return never_ran(l, "first");
        if (l.ended()) {
            NSLAB_ASSIGN_OR_RETURN(Fate f, l.fate());
            return Observation{false, "the launcher had already ended (it " + f.text() +
                                          ") when COMMAND printed its first line; COMMAND ran on without it"};
        }
        l.wait([&] { return l.seen(mark("second")); }, true);
        if (!l.seen(mark("second"))) {
            NSLAB_ASSIGN_OR_RETURN(Fate f, l.fate());
            if (f.running) return Observation{false, "COMMAND did not print its second line (1 s after its first) within " + limit()};
            return Observation{false, "the launcher " + f.text() + " while COMMAND was still running (between its first line and its second, 1 s later)"};
        }
        auto last_line = Clock::now();
        l.wait_for_end();
        NSLAB_ASSIGN_OR_RETURN(Fate f, l.fate());
        if (f.running) return Observation{false, "COMMAND ended, but the launcher was still running " + fmt_seconds(seconds_since(last_line)) + " after"};
        return Observation{true, "the launcher ran while COMMAND ran, and " + f.text() + " within " +
                                     fmt_seconds(seconds_since(last_line)) + " of COMMAND's last line"};
    }

    sys::Result<Observation> keeps_fds() {
        // `true >&3` only dup2()s fd 3 onto stdout for `true`, which writes nothing: it fails iff
        // fd 3 is closed, and it can neither block nor raise SIGPIPE nor send anything anywhere.
        NSLAB_ASSIGN_OR_RETURN(Launched l, start_with(script("if { true >&3; } 2>/dev/null; then m open; else m closed; fi"),
                                                     {"open", "closed"}));
        if (!l.started()) return never_ran(l, "open");
        l.wait([&] { return l.seen(mark("open")) || l.seen(mark("closed")); }, false);
        if (l.seen(mark("open"))) return Observation{true, "fd 3, a socket the launcher inherited, was open in COMMAND"};
        if (l.seen(mark("closed"))) return Observation{false, "fd 3, a socket the launcher inherited, was closed in COMMAND"};
        return never_ran(l, "open");
    }

    sys::Result<Observation> unprivileged() {
        NSLAB_ASSIGN_OR_RETURN(auto argv, launcher_argv({"true"}));
        std::string uid = std::to_string(setup_.launcher.uid.value_or(::geteuid()));
        NSLAB_ASSIGN_OR_RETURN(Launched user, start(argv, {}));
        // "As root" the same launcher runs as root of a user namespace of its own (uid 0, every
        // capability there), never as the machine's root: the submission is untrusted code.
        std::optional<Launched> root;
        if (launch::on_path("unshare")) {
            std::vector<std::string> as_root{"unshare", "--user", "--map-root-user", "--"};
            as_root.insert(as_root.end(), argv.begin(), argv.end());
            NSLAB_ASSIGN_OR_RETURN(Launched r, start(as_root, {}));
            root.emplace(std::move(r));
        }
        auto describe = [&](Launched& l, const std::string& who) -> sys::Result<std::pair<bool, std::string>> {
            if (!l.started()) return std::make_pair(false, who + " the launcher could not be started: " + l.start_error());
            l.wait_for_end();
            NSLAB_ASSIGN_OR_RETURN(Fate f, l.fate());
            std::string s = who + " the launcher running `true` " + f.text();
            if (!f.exited_with(0) && !f.running) {
                l.settle();
                if (!l.tail().empty()) s += " (its output ends with: " + l.tail() + ")";
            }
            return std::make_pair(f.exited_with(0), s);
        };
        NSLAB_ASSIGN_OR_RETURN(auto u, describe(user, "as uid " + uid));
        if (!root) return Observation{u.first, u.second + "; the run as root was left out (unshare(1) is not installed)"};
        NSLAB_ASSIGN_OR_RETURN(auto r, describe(*root, "as root of a user namespace of its own"));
        return Observation{u.first && r.first, u.second + "; " + r.second};
    }

    sys::Result<Observation> usage_error() {
        NSLAB_ASSIGN_OR_RETURN(auto argv, launcher_argv({"true"}));
        std::string program = argv.front();
        std::vector<std::pair<std::string, std::vector<std::string>>> runs{
            {"with no arguments", {program}},
            {"with an unknown option (`--no-such-option -- true`)", {program, "--no-such-option", "--", "true"}}};
        std::vector<Launched> launched;
        for (auto& [what, args] : runs) {
            NSLAB_ASSIGN_OR_RETURN(Launched l, start(args, {}, "stderr"));  // its stderr alone
            launched.push_back(std::move(l));
        }
        bool pass = true;
        std::string observed;
        for (size_t i = 0; i < runs.size(); ++i) {
            Launched& l = launched[i];
            std::string s = runs[i].first + ", ";
            bool ok = false;
            if (!l.started()) s += "the launcher could not be started: " + l.start_error();
            else {
                l.wait_for_end();
                NSLAB_ASSIGN_OR_RETURN(Fate f, l.fate());
                if (!f.running) l.settle();
                s += "it " + f.text();
                if (f.running) s += " " + limit() + " later";
                else s += l.bytes() ? " and printed " + std::to_string(l.bytes()) + " bytes on stderr" : " and printed nothing on stderr";
                ok = f.exited() && f.exit != 0 && l.bytes() > 0;
            }
            pass = pass && ok;
            observed += (observed.empty() ? "" : "; ") + s;
        }
        return Observation{pass, observed};
    }

    const ContractSetup& setup_;
    const runner::LabCgroupPlan& plan_;
    std::vector<std::unique_ptr<TestLab>> labs_;
    double lab_ms_ = 0;
    std::string token_;
};

runner::ExperimentResult run_one(const ContractInfo& c, const ContractSetup& setup, int line,
                                 const runner::LabCgroupPlan& plan) {
    runner::ExperimentResult r;
    r.suite = "contract";
    r.name = c.name;
    r.summary = c.summary;
    r.file = setup.file;
    r.line = line;
    auto t0 = Clock::now();
    auto broken = [&](std::string why) {
        r.outcome = Outcome::broken;
        r.reason = std::move(why);
        r.duration_ms = seconds_since(t0) * 1000;
        return r;
    };
    if (int sig = runner::stop_signal())
        return broken(std::string("not run: the run was interrupted by SIG") + (sigabbrev_np(sig) ? sigabbrev_np(sig) : "?"));
    Test test(setup, plan);
    auto seen = test.run(c.name);
    auto t1 = Clock::now();
    test.end();
    r.phases.teardown = seconds_since(t1) * 1000;
    r.phases.lab = test.lab_ms();
    r.phases.steps = std::max(0.0, seconds_since(t0) * 1000 - r.phases.lab - r.phases.teardown);
    if (int sig = runner::stop_signal())
        return broken(std::string("interrupted by SIG") + (sigabbrev_np(sig) ? sigabbrev_np(sig) : "?"));
    if (!seen.ok()) return broken("contract test " + r.name + ": " + seen.error().describe());
    r.outcome = seen->pass ? Outcome::pass : Outcome::fail;
    r.reason = seen->observed;
    r.duration_ms = seconds_since(t0) * 1000;
    return r;
}

}  // namespace

runner::ExperimentResult run_contract(const ContractInfo& contract, const ContractSetup& setup, int line) {
    return run_one(contract, setup, line, *runner::plan_lab_cgroups(setup.limits, false));
}

std::vector<runner::ExperimentResult> run_contracts(const std::vector<const ContractInfo*>& contracts,
                                                    const std::vector<int>& lines, const ContractSetup& setup) {
    std::vector<runner::ExperimentResult> results(contracts.size());
    if (contracts.empty()) return results;
    auto plan = runner::plan_lab_cgroups(setup.limits, false);
    std::atomic<size_t> next{0};
    auto work = [&] {
        for (size_t i; (i = next++) < contracts.size();)
            results[i] = run_one(*contracts[i], setup, i < lines.size() ? lines[i] : 0, *plan);
    };
    // Each lab dies with the thread that made it (PR_SET_PDEATHSIG): every worker ends its own.
    int jobs = std::max(1, std::min<int>(setup.jobs, static_cast<int>(contracts.size())));
    std::vector<std::thread> workers;
    for (int j = 1; j < jobs; ++j) workers.emplace_back(work);
    work();
    for (auto& w : workers) w.join();
    return results;
}

}  // namespace nslab::grade
