// Contract tests: what a launcher (a student's mini-container) must do as a program, beside the
// namespaces it makes — pass COMMAND's exit status on, forward signals, wait for COMMAND, keep
// inherited fds, run unprivileged, refuse bad usage. An assignment lists them as tests
// (`- contract: exit_status`) with points, like experiments.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace nslab::grade {

struct ContractInfo {
    const char* name;     // as written in an assignment: `contract: exit_status`
    const char* summary;  // what it checks, one line
    const char* hint;     // shown when it fails and the assignment gives no hint of its own
};

// Every contract test, in the order an assignment usually lists them.
const std::vector<ContractInfo>& contract_tests();
const ContractInfo* find_contract(const std::string& name);
std::string contract_names();  // "exit_status, signal_status, …"

}  // namespace nslab::grade
