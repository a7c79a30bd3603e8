// Runs a shell command from the agent, in the agent's namespaces, capturing its output.
#pragma once

#include <string>

#include "sys/result.hpp"

namespace nslab::agent {

struct CommandResult {
    int exit_code = -1;      // -1 when killed by a signal
    int signal = 0;
    std::string out, err;    // capped at kMaxOutput each, with a note when cut
};
inline constexpr size_t kMaxOutput = 64 * 1024;

// /bin/sh -c COMMAND with stdin from /dev/null, LC_ALL=C (the lab's tools print in the caller's
// language otherwise) and a fixed PATH.
sys::Result<CommandResult> run_shell(const std::string& command);

}  // namespace nslab::agent
