// Whether the process that said hello through an external launcher is the agent nslab gave it.
// A launcher under test (a student's program) could otherwise answer the probes itself: whatever
// writes a hello on the agent's socket would be trusted.
#pragma once

#include <optional>
#include <string>

#include "agent/client.hpp"

namespace nslab::launch {

// nullopt when hello's pidfd names a live process whose executable is agent_path's file (same
// device and inode) and whose namespaces are those the hello sent; otherwise what is wrong. When
// this runner may not inspect that process (an unprivileged runner, EACCES on /proc/PID/exe), the
// check cannot be made and nullopt is returned: grading runs as root, where it always can.
std::optional<std::string> not_the_agent(const agent::Hello& hello, const std::string& agent_path);

}  // namespace nslab::launch
