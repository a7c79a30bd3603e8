// Wrappers for the user namespace catalogue (user_namespaces(7)): throwaway children in which
// credentials and namespaces may change without touching the agent, capabilities, supplementary
// groups, and finding a process by the namespaces it is in. Same rules as sys/syscalls.hpp: each
// returns Result<T> whose error names the call, and this layer alone reads errno.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "sys/result.hpp"

namespace nslab::sys {

// Forks a child that runs before_exec() and then execve(path, argv) with stdout on a pipe; returns
// what the program printed once it exits, or the error of before_exec/execve, or a message naming
// the exit status when the program failed.
Result<std::string> exec_capture(const std::function<Status()>& before_exec,
                                 const std::string& path, const std::vector<std::string>& argv);

// setgroups(0, NULL): drops every supplementary group.
Status setgroups_clear();
// capset(2) with empty effective, permitted and inheritable sets: the caller keeps its ids but
// loses every capability (in its own user namespace).
Status drop_all_capabilities();

// prctl(PR_SET_DUMPABLE, 1): a process whose ids changed is made non-dumpable, which hands its
// /proc/PID files to the global root; this gives them back to the process.
Status set_dumpable();

// The lowest pid, in the caller's /proc, whose /proc/PID/ns/<kind> is the namespace of every given
// fd (pairs of kind name and namespace fd). ESRCH when no process is in all of them.
Result<pid_t> find_process_in_namespaces(const std::vector<std::pair<std::string, int>>& kind_fds);

}  // namespace nslab::sys
