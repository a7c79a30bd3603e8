#include "grade/contract.hpp"

namespace nslab::grade {

const std::vector<ContractInfo>& contract_tests() {
    static const std::vector<ContractInfo> table{
        {"exit_status", "the launcher exits with COMMAND's exit status",
         "Wait for COMMAND (waitpid) and exit with WEXITSTATUS of its status."},
        {"signal_status", "when COMMAND is killed by signal N, the launcher exits with 128+N",
         "When WIFSIGNALED(status), exit with 128 + WTERMSIG(status), as a shell does."},
        {"forwards_sigterm", "SIGTERM sent to the launcher reaches COMMAND",
         "Catch SIGTERM in the launcher and send it on to COMMAND with kill(child, sig); keep waiting for it."},
        {"forwards_sigint", "SIGINT sent to the launcher reaches COMMAND",
         "Catch SIGINT in the launcher and send it on to COMMAND with kill(child, sig); keep waiting for it."},
        {"waits_for_command", "the launcher runs while COMMAND runs, and exits soon after it ends",
         "The parent must waitpid() for the child that runs COMMAND before it exits, and exit once it has."},
        {"keeps_fds", "file descriptors the launcher inherits are still open in COMMAND",
         "Do not close inherited file descriptors (no close_range, no closing loop); open your own with O_CLOEXEC."},
        {"unprivileged", "an unprivileged user (the sandbox uid) can run a command with it",
         "Create the user namespace first (or in the same clone call), so that it owns the others: "
         "an unprivileged caller may create the rest only from inside it (user_namespaces(7))."},
        {"usage_error", "a bad command line gets a message on stderr and a non-zero exit status, not a crash",
         "Check argc and every option before using them; print a usage line on stderr and exit 2."},
    };
    return table;
}

const ContractInfo* find_contract(const std::string& name) {
    for (auto& c : contract_tests())
        if (name == c.name) return &c;
    return nullptr;
}

std::string contract_names() {
    std::string s;
    for (auto& c : contract_tests()) s += (s.empty() ? "" : ", ") + std::string(c.name);
    return s;
}

}  // namespace nslab::grade
