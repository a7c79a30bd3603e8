// Signals that the kernel sends on a process's behalf, and what their siginfo says across PID
// namespaces (pid_namespaces(7)): SIGIO-style signals from F_SETOWN/O_ASYNC (LTP pidns13) and
// mq_notify(3) notifications (LTP pidns30, pidns31). Each scenario runs in a throwaway child of
// the agent (sys::run_in_child), whose children are the processes of the scenario.
#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <string>

#include "agent/registry.hpp"
#include "core/child.hpp"
#include "core/scope_guard.hpp"
#include "core/unique_fd.hpp"
#include "sys/ipc_calls.hpp"
#include "sys/pid_calls.hpp"
#include "sys/syscalls.hpp"

namespace nslab::agent {
namespace {

constexpr int kScenarioTimeoutMs = 8000;
constexpr int kSignalWaitMs = 3000;

bool new_pid_ns(const json& args) {
    auto it = args.find("new_pid_ns");
    return it == args.end() || !it->is_boolean() || it->get<bool>();
}

uint64_t flags_for(bool new_ns) { return (new_ns ? CLONE_NEWPID : 0) | CLONE_PIDFD; }

struct Pipe {
    core::UniqueFd r, w;
};
sys::Result<Pipe> make_pipe() {
    NSLAB_ASSIGN_OR_RETURN(auto p, sys::pipe2(O_CLOEXEC));
    return Pipe{core::UniqueFd(p.first), core::UniqueFd(p.second)};
}

// A child of the scenario: runs body, writes what it returns (or "error: ...") to report, exits.
template <typename F>
sys::Result<core::Child> start(bool new_ns, int report_fd, F body) {
    NSLAB_ASSIGN_OR_RETURN(sys::CloneResult cr, sys::clone3(flags_for(new_ns)));
    if (cr.pid == 0) {
        (void)sys::prctl_set_pdeathsig(SIGKILL);
        sys::Result<std::string> r = body();
        std::string text = r.ok() ? *r : "error: " + r.error().describe();
        (void)sys::write_all(report_fd, text);
        sys::exit_now(0);
    }
    return core::Child(cr.pid, core::UniqueFd(cr.pidfd));
}

sys::Result<std::string> read_all(int fd) {
    std::string out;
    char buf[512];
    for (;;) {
        NSLAB_ASSIGN_OR_RETURN(size_t n, sys::read(fd, buf, sizeof buf));
        if (n == 0) return out;
        out.append(buf, n);
    }
}

// Reads a child's report once it closed its end, then reaps it.
sys::Result<std::string> collect(core::Child& child, Pipe& report) {
    report.w.reset();
    NSLAB_ASSIGN_OR_RETURN(std::string text, read_all(report.r.get()));
    NSLAB_TRY(child.wait_for(std::chrono::milliseconds(kSignalWaitMs)));
    if (text.rfind("error: ", 0) == 0) return sys::Error::message(text.substr(7));
    return text;
}

std::string code_name(int code) {
    switch (code) {
        case POLL_IN: return "POLL_IN";
        case POLL_OUT: return "POLL_OUT";
        case SI_MESGQ: return "SI_MESGQ";
        case SI_USER: return "SI_USER";
        default: return "si_code " + std::to_string(code);
    }
}

// ---- LTP pidns13: I/O readiness signal to an owner set with F_SETOWN -------------------------

// The receiver (an init when new_ns) owns the pipe's read end; a sibling (another new namespace)
// writes; fcntl(2) F_SETOWN numbers the owner in the setter's namespace and F_GETOWN translates it
// into the reader's (0 when the owner has no pid there).
sys::Result<std::string> async_io_scenario(bool new_ns) {
    NSLAB_ASSIGN_OR_RETURN(Pipe data, make_pipe());
    NSLAB_ASSIGN_OR_RETURN(Pipe ready, make_pipe());
    NSLAB_ASSIGN_OR_RETURN(Pipe r_report, make_pipe());
    NSLAB_ASSIGN_OR_RETURN(Pipe w_report, make_pipe());
    int data_r = data.r.get();
    NSLAB_ASSIGN_OR_RETURN(core::Child receiver, start(new_ns, r_report.w.get(), [&]() -> sys::Result<std::string> {
        NSLAB_TRY(sys::block_signal(SIGUSR1, true));  // sigtimedwait takes it, no handler runs
        NSLAB_TRY(sys::set_async_signal(data_r, sys::getpid(), SIGUSR1));
        NSLAB_ASSIGN_OR_RETURN(pid_t owner, sys::get_owner(data_r));
        char byte = 1;
        NSLAB_TRY(sys::write(ready.w.get(), &byte, 1));
        NSLAB_ASSIGN_OR_RETURN(siginfo_t info, sys::wait_signal(SIGUSR1, kSignalWaitMs));
        std::string fd = info.si_fd == data_r ? "the read end" : "fd " + std::to_string(info.si_fd);
        return code_name(info.si_code) + " on " + fd + "; owner: receiver " + std::to_string(owner);
    }));
    ready.w.reset();
    char byte = 0;
    NSLAB_ASSIGN_OR_RETURN(size_t got, sys::read(ready.r.get(), &byte, 1));
    if (got != 1) return collect(receiver, r_report);  // it failed before arming: its error
    int data_w = data.w.get();
    NSLAB_ASSIGN_OR_RETURN(core::Child writer, start(new_ns, w_report.w.get(), [&]() -> sys::Result<std::string> {
        NSLAB_ASSIGN_OR_RETURN(pid_t owner, sys::get_owner(data_r));
        NSLAB_TRY(sys::write(data_w, "x", 1));
        return std::to_string(owner);
    }));
    NSLAB_ASSIGN_OR_RETURN(pid_t parent_view, sys::get_owner(data_r));
    NSLAB_ASSIGN_OR_RETURN(std::string writer_view, collect(writer, w_report));
    NSLAB_ASSIGN_OR_RETURN(std::string received, collect(receiver, r_report));
    std::string parent = parent_view == receiver.pid() ? "its pid" : std::to_string(parent_view);
    return received + ", writer " + writer_view + ", parent " + parent;
}

// ---- LTP pidns30 / pidns31: si_pid of an mq_notify(3) signal ---------------------------------

// mq_notify(3): the notification's si_pid is the sender's pid in the PID namespace of the process
// that registered (0 when the sender has none there).
sys::Result<std::string> mq_notify_scenario(bool registered_inside, bool new_ns) {
    std::string name = "/nslab_notify_" + std::to_string(sys::getpid());
    NSLAB_ASSIGN_OR_RETURN(int q, sys::mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0600));
    core::UniqueFd queue(q);  // mqd_t is a file descriptor on Linux
    core::ScopeGuard unlink([&] { (void)sys::mq_unlink(name); });
    NSLAB_ASSIGN_OR_RETURN(Pipe go, make_pipe());
    NSLAB_ASSIGN_OR_RETURN(Pipe report, make_pipe());
    if (registered_inside) {  // pidns30: a member registers, the parent sends
        NSLAB_ASSIGN_OR_RETURN(core::Child member, start(new_ns, report.w.get(), [&]() -> sys::Result<std::string> {
            NSLAB_TRY(sys::block_signal(SIGUSR1, true));
            NSLAB_TRY(sys::mq_notify_signal(q, SIGUSR1));
            char byte = 1;
            NSLAB_TRY(sys::write(go.w.get(), &byte, 1));
            NSLAB_ASSIGN_OR_RETURN(siginfo_t info, sys::wait_signal(SIGUSR1, kSignalWaitMs));
            // The sender is this process's parent: getppid() is its pid here (0 from a new init).
            pid_t sender = sys::getppid();
            std::string who = info.si_pid == 0               ? "0"
                              : info.si_pid == sender ? "the sender's pid"
                                                      : std::to_string(info.si_pid);
            return code_name(info.si_code) + ", si_pid " + who;
        }));
        go.w.reset();
        char byte = 0;
        NSLAB_ASSIGN_OR_RETURN(size_t got, sys::read(go.r.get(), &byte, 1));
        if (got == 1) NSLAB_TRY(sys::mq_send_text(q, "bonjour"));
        return collect(member, report);
    }
    // pidns31: the parent registers, a member sends and reports its own pid.
    NSLAB_TRY(sys::block_signal(SIGUSR1, true));
    NSLAB_TRY(sys::mq_notify_signal(q, SIGUSR1));
    NSLAB_ASSIGN_OR_RETURN(core::Child member, start(new_ns, report.w.get(), [&]() -> sys::Result<std::string> {
        NSLAB_TRY(sys::mq_send_text(q, "bonjour"));
        return std::to_string(sys::getpid());
    }));
    auto info = sys::wait_signal(SIGUSR1, kSignalWaitMs);
    NSLAB_ASSIGN_OR_RETURN(std::string self, collect(member, report));
    if (!info.ok()) return std::move(info).error();
    std::string who = info->si_pid == 0                 ? "0"
                      : info->si_pid == member.pid() ? "the sender's pid"
                                                      : std::to_string(info->si_pid);
    return code_name(info->si_code) + ", si_pid " + who + " (the sender calls itself " + self + ")";
}

}  // namespace

void register_pid_signal_ops(Registry& r) {
    const ArgSpec new_ns_arg{"new_pid_ns", ArgType::boolean, false,
                             "false for the negative control: the same processes without CLONE_NEWPID", {}, false, "!new "};
    r.add({.name = "pid_ns_async_io_signal",
           .kind = OpKind::probe,
           .ns = "pid",
           .doc = "In a throwaway child: a receiver in a new PID namespace makes itself (F_SETOWN "
                  "getpid(), i.e. 1) the owner of a pipe's read end with F_SETSIG SIGUSR1 and "
                  "O_ASYNC; a process of a sibling namespace writes. Reports the signal's si_code "
                  "and si_fd, and the owner F_GETOWN reads in the receiver, the writer and the "
                  "parent.",
           .lab = "# in a child: a process of a [new ]PID namespace owns a pipe (F_SETOWN, SIGUSR1); a sibling namespace writes to it",
           .args = {new_ns_arg},
           .handler = [](OpCall& c) -> sys::Result<json> {
               bool ns = new_pid_ns(c.args);
               NSLAB_ASSIGN_OR_RETURN(std::string answer,
                                      sys::run_in_child([&] { return async_io_scenario(ns); }, kScenarioTimeoutMs));
               return json(answer);
           }});
    r.add({.name = "pid_ns_mq_notify_signal",
           .kind = OpKind::probe,
           .ns = "pid",
           .doc = "In a throwaway child: one process registers with mq_notify(3) for SIGUSR1 on an "
                  "empty POSIX queue and another sends a message; one of them is the first process "
                  "of a new PID namespace. Reports the signal's si_code and its si_pid (0, or the "
                  "sender's pid as the receiver numbers it).",
           .lab = "# in a child: mq_notify(3) for SIGUSR1 across a [new ]PID namespace, registered by REGISTERED_BY; the si_pid it carries",
           .args = {{"registered_by", ArgType::string, true,
                     "inside (the new namespace's process registers, the parent sends) or parent "
                     "(the parent registers, the new namespace's process sends)",
                     one_of({"inside", "parent"})},
                    new_ns_arg},
           .handler = [](OpCall& c) -> sys::Result<json> {
               NSLAB_ASSIGN_OR_RETURN(std::string by, arg_string(c.args, "registered_by"));
               if (by != "inside" && by != "parent")
                   return sys::Error::message("registered_by must be inside or parent, not '" + by + "'");
               bool ns = new_pid_ns(c.args);
               NSLAB_ASSIGN_OR_RETURN(std::string answer,
                                      sys::run_in_child([&] { return mq_notify_scenario(by == "inside", ns); },
                                                        kScenarioTimeoutMs));
               return json(answer);
           }});
}

}  // namespace nslab::agent
