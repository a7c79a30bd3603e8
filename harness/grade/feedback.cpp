#include "grade/feedback.hpp"

#include <signal.h>
#include <string.h>

#include <cctype>
#include <map>

#include "agent/agent.hpp"
#include "core/namespace_kind.hpp"

namespace nslab::grade {
namespace {

std::string signal_text(int sig) {
    const char* abbrev = ::sigabbrev_np(sig);
    return abbrev ? "SIG" + std::string(abbrev) + " (" + std::to_string(sig) + ")" : "signal " + std::to_string(sig);
}

// The launcher's last message: from the last line that starts like one (a program name or a word,
// not a continuation such as the rest of a quoted map) to the end, on one line.
std::string last_line(const std::string& output) {
    size_t end = output.find_last_not_of(" \n\t");
    if (end == std::string::npos) return "";
    // Line starts, from the last one back, until one starts like a message.
    size_t start = output.rfind('\n', end);
    start = start == std::string::npos ? 0 : start + 1;
    while (start > 0 && !std::isalnum(static_cast<unsigned char>(output[start]))) {
        size_t nl = start >= 2 ? output.rfind('\n', start - 2) : std::string::npos;
        start = nl == std::string::npos ? 0 : nl + 1;
    }
    std::string text = output.substr(start, end - start + 1);
    for (auto& c : text)
        if (c == '\n') c = ' ';
    if (text.size() > 200) text = text.substr(0, 200) + "…";
    return text;
}

Diagnosis launcher_start(const runner::FailureDetail& f) {
    Diagnosis d{.cause = Cause::launcher_start};
    std::string realm = f.realm.empty() ? "" : " (realm " + f.realm + ")";
    if (!f.launcher_output.empty()) d.detail = "Its output ends with:\n\n```\n" + f.launcher_output + "\n```";
    std::string said = last_line(f.launcher_output);
    auto with_words = [&](std::string headline) { return said.empty() ? headline : headline + " It said: `" + said + "`"; };
    if (f.launcher_signal) {
        int sig = *f.launcher_signal;
        d.key = "start:signal " + std::to_string(sig);
        d.headline = with_words("Your launcher was killed by " + signal_text(sig) + " before COMMAND started" + realm + ".");
        if (sig == SIGSEGV || sig == SIGBUS || sig == SIGABRT || sig == SIGFPE || sig == SIGILL)
            d.hint = "It crashed. Check its argument parsing (argv past argc, an option without its value) and every "
                     "buffer and stack it uses; run it under gdb or with -fsanitize=address.";
        else if (sig == SIGKILL || sig == SIGXCPU)
            d.hint = "A limit stopped it (the time limit, CPU time or memory): does it loop or wait forever?";
        else d.hint = "Nothing should kill it while it starts COMMAND; check the signals it sends and the ones it blocks.";
        return d;
    }
    if (f.launcher_exec_errno) {
        d.key = "start:exec " + std::to_string(f.launcher_exec_errno);
        d.headline = "Your launcher could not be executed" + realm + ": execve failed with " + sys::errno_name(f.launcher_exec_errno) + ".";
        d.hint = f.launcher_exec_errno == ENOENT
                     ? "Check that your build makes the launcher where the assignment's command names it, under that name."
                     : "Check that the launcher your build makes is an executable for this machine (chmod +x, a #! line that exists).";
        return d;
    }
    if (f.launcher_running || (!f.launcher_exit && !f.launcher_signal)) {
        d.key = "start:running";
        d.headline = with_words("COMMAND never started" + realm + ": your launcher was still running at the time limit.");
        d.hint = "Make sure the child execs COMMAND (the argv after `--`) once the namespaces are ready, and that "
                 "neither side waits for a pipe the other never writes or closes.";
        return d;
    }
    int code = *f.launcher_exit;
    d.key = "start:exit " + std::to_string(code);
    if (code == agent::kExitInheritedFdClosed) {
        d.headline = with_words("Your launcher closes the file descriptors it inherits" + realm + ": COMMAND found fd 3 closed.");
        d.hint = "The grader reaches COMMAND through an inherited fd. Do not close inherited fds (no close_range, "
                 "no closing loop); open your own with O_CLOEXEC so that COMMAND does not inherit them.";
    } else if (code == 126 || code == 127) {
        d.headline = with_words("Your launcher could not execute COMMAND" + realm + " (it exited with status " + std::to_string(code) + ").");
        d.hint = "Exec the argv after `--` unchanged with execvp(argv[i], &argv[i]), after parsing your own options.";
    } else if (code == 0) {
        d.headline = with_words("Your launcher exited with status 0 before COMMAND started" + realm + ".");
        d.hint = "It must run COMMAND and wait for it (waitpid) before it exits.";
    } else {
        d.headline = with_words("Your launcher exited with status " + std::to_string(code) + " before COMMAND started" + realm + ".");
        d.hint = "Its last output names the call that failed. Usually: EPERM on a namespace call or on writing "
                 "uid_map/gid_map (unprivileged, the user namespace must come first, and setgroups must be "
                 "\"deny\" before gid_map — user_namespaces(7)); or its options were misread (a usage error).";
    }
    return d;
}

Diagnosis topology(const runner::FailureDetail& f, const std::string& reason) {
    Diagnosis d{.cause = Cause::topology};
    std::string flag = clone_flag_name(f.ns_kind);
    d.key = "topology:" + f.ns_kind + (f.missing_new ? ":missing" : ":extra");
    auto ns = core::ns_from_name(f.ns_kind);
    std::string manpage = ns ? std::string(core::kind_of(*ns).manpage) : "namespaces(7)";
    if (f.missing_new) {
        d.headline = "COMMAND has no " + f.ns_kind + " namespace of its own (" + flag + " is missing).";
        d.hint = "Add " + flag + " to the flags your launcher creates namespaces with (clone or unshare); see " + manpage + ".";
    } else {
        d.headline = "COMMAND's " + f.ns_kind + " namespace is not the one it should be.";
        d.hint = "Create a new " + f.ns_kind + " namespace (" + flag + ") only once, for COMMAND; see " + manpage + ".";
    }
    d.detail = reason;
    return d;
}

}  // namespace

std::string clone_flag_name(const std::string& kind) {
    if (kind == "mnt") return "CLONE_NEWNS";
    std::string up = kind;
    for (auto& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return "CLONE_NEW" + up;
}

Diagnosis diagnose(const runner::ExperimentResult& r, const std::string& test_hint, const std::string& contract_hint,
                   bool root_inside) {
    using runner::Outcome;
    if (r.outcome == Outcome::pass) return {};
    if (r.outcome == Outcome::skip) return {.cause = Cause::not_run, .headline = "Not run here: " + r.reason + "."};
    if (r.time_limit)
        return {.cause = Cause::time_limit,
                .headline = "The test did not finish within its time limit.",
                .detail = r.reason,
                .hint = "Something COMMAND or your launcher does blocks: does your launcher wait for COMMAND only once, "
                        "and does it pass signals and fds through?",
                .key = "time_limit"};
    if (r.outcome == Outcome::broken) return {.cause = Cause::not_run, .headline = "The test could not run: " + r.reason + "."};
    if (!contract_hint.empty() || r.suite == "contract")
        return {.cause = Cause::contract, .headline = r.reason, .hint = test_hint.empty() ? contract_hint : test_hint};
    switch (r.failure.kind) {
        case runner::FailureKind::launcher_start: return launcher_start(r.failure);
        case runner::FailureKind::launcher_twice:
            return {.cause = Cause::launcher_twice,
                    .headline = "Your launcher ran COMMAND more than once for one container.",
                    .detail = r.reason,
                    .hint = "Exec COMMAND exactly once, in the child that is in the new namespaces; the parent only waits.",
                    .key = "twice"};
        case runner::FailureKind::topology: return topology(r.failure, r.reason);
        case runner::FailureKind::step:
            // user_namespaces(7): a process has capabilities in its user namespace only as root
            // there (or by file capabilities); an unmapped or non-root COMMAND gets EPERM.
            if (root_inside && r.failure.realm_uid && *r.failure.realm_uid != 0)
                return {.cause = Cause::not_root,
                        .headline = "COMMAND runs as uid " + std::to_string(*r.failure.realm_uid) +
                                    " in its user namespace, not as root, so the step `" + r.failure.step + "` failed.",
                        .detail = r.reason,
                        .hint = "Map root inside to your own ids: write \"0 <your uid> 1\" to the child's uid_map, \"deny\" to "
                                "setgroups, then \"0 <your gid> 1\" to gid_map, and check that each write succeeded; an "
                                "unprivileged process may map only its own ids (user_namespaces(7)). 65534 is the "
                                "overflow uid of an unmapped process.",
                        .key = "not_root"};
            return {.cause = Cause::expectation, .headline = r.reason, .hint = test_hint};
        default: return {.cause = Cause::expectation, .headline = r.reason, .hint = test_hint};
    }
}

std::optional<Diagnosis> common_cause(const std::vector<Diagnosis>& lost) {
    std::map<std::string, size_t> count;
    for (auto& d : lost)
        if (!d.key.empty()) ++count[d.key];
    const Diagnosis* best = nullptr;
    size_t most = 0;
    for (auto& d : lost)
        if (!d.key.empty() && count[d.key] > most) most = count[d.key], best = &d;
    if (!best || most < 2 || 2 * most < lost.size()) return std::nullopt;
    return *best;
}

}  // namespace nslab::grade
