// The agent: a request/response loop that runs inside a namespace set and executes actions and
// probes from the registry on the runner's behalf.
#pragma once

#include <sys/types.h>

#include <optional>

#include <string>
#include <string_view>

#include "agent/lab_root.hpp"
#include "agent/protocol.hpp"
#include "sys/result.hpp"

namespace nslab::agent {

// Sends the hello: role, pid as this process sees it, and as fds a pidfd of itself followed by one
// fd per namespace kind the kernel has (the runner's view of this realm's identity).
// A lab's hello also carries lab_json, what it made of its root ({"copy_on_write": ..., ...}).
sys::Status send_hello(int sock, std::string_view role, std::string_view lab_json = {});
// Sends a failed hello: the realm could not be set up; the runner reports this error.
void send_setup_error(int sock, const sys::Error& e);
// Serves requests until the peer closes the socket; returns the process exit code.
int serve(int sock);

// Launchers this agent started (op `launch`): the agent reaps every child between requests (it may
// be a PID 1), so it keeps the wait status of these for `launch_status` to report.
void watch_launcher(pid_t pid);
std::optional<int> launcher_exit_status(pid_t pid);

// Lab init (pid 1 of the lab): makes the mount tree private, enters a copy-on-write root when asked
// and able (agent/lab_root.hpp), and mounts a fresh /proc, /sys and scratch tmpfs over /tmp and
// /dev/shm, so nothing the lab does reaches the real machine.
// write_through: machine directories bound in read-write, whatever the root.
sys::Result<LabRoot> setup_lab(bool copy_on_write, const std::vector<std::string>& write_through = {});

// The agent's exit status when the fd it was told to use is not open: a launcher that passes
// COMMAND's status on shows with it that it closed its inherited fds (feedback names that).
inline constexpr int kExitInheritedFdClosed = 121;

// `nslab-agent` / `nslab agent`: parses argv, connects, says hello, serves.
int agent_main(int argc, char** argv);

}  // namespace nslab::agent
