// Wrappers for the PID-namespace experiments: fork, sessions, signal handlers, background
// processes, and running a scenario in a throwaway child process. Like syscalls.hpp, each returns
// Result<T> whose error spells out the call; this layer is the only code that reads errno.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "sys/result.hpp"

namespace nslab::sys {

// fork(2). Callers are single-threaded (the agent and the scenario children it forks).
Result<pid_t> fork();
pid_t getppid();
Result<pid_t> getsid(pid_t pid);
// The pid of the process behind pidfd as this process's /proc numbers it: the "Pid:" line of
// /proc/self/fdinfo/PIDFD (pidfd_open(2)). ESRCH once it has been reaped (-1) or when it is in no
// PID namespace that /proc shows (0).
Result<pid_t> pid_of_pidfd(int pidfd);
Result<pid_t> getpgid(pid_t pid);
Result<pid_t> setsid();

using SigInfoHandler = void (*)(int, siginfo_t*, void*);
// sigaction(sig, {SA_SIGINFO, handler}).
Status sigaction_info(int sig, SigInfoHandler handler);
// sigprocmask(SIG_BLOCK or SIG_UNBLOCK, {sig}).
Status block_signal(int sig, bool block);
// sigtimedwait(2) for one (blocked) signal, up to timeout_ms; EAGAIN when none came in time.
Result<siginfo_t> wait_signal(int sig, int timeout_ms);
// fcntl(2): F_SETOWN owner (a pid as the caller's PID namespace numbers it), F_SETSIG sig, and
// O_ASYNC on fd, so that I/O readiness on fd sends sig to owner with si_code/si_fd set.
Status set_async_signal(int fd, pid_t owner, int sig);
// fcntl(F_GETOWN): the owner's pid in the caller's PID namespace (0 when it has none there).
Result<pid_t> get_owner(int fd);

// One nanosleep(2) of ms milliseconds; an interrupting signal is reported as EINTR, not retried,
// so that a caller waiting for a handler sees it run.
Status sleep_ms(int ms);

// Starts `program` (an absolute path; "" = argv[0]) with argv in the background: stdin, stdout and stderr on /dev/null,
// every other fd closed, SIGKILL when the caller dies, `extra_env` ("NAME=value") added to a
// fixed environment. Returns its pid once its execve has succeeded (a close-on-exec pipe closes
// then), so the caller's next look at /proc finds the program, never a copy of the caller; an
// execve that fails is the error (ENOENT, EACCES, ...). The caller reaps the child.
Result<pid_t> spawn_background(const std::vector<std::string>& argv,
                               const std::vector<std::string>& extra_env = {}, const std::string& program = "");

// posix_spawn(3) of argv[0] (an absolute path) with stdout on a pipe; returns what it printed once
// it exited 0. glibc (2.24 and later) spawns with clone(CLONE_VM|CLONE_VFORK): the vfork-then-exec
// path, where the child shares the caller's memory until its execve.
Result<std::string> vfork_exec_capture(const std::vector<std::string>& argv);

// Runs body in a forked child and returns its result, value or error (errno and description
// travel back). The child never comes back to the caller's code: it _exits after body.
// timeout_ms bounds the wait: on expiry the child is SIGKILLed and reaped and ETIMEDOUT is
// returned. Scenarios that create namespaces, end a PID 1 or exhaust a namespace run here, never
// in the caller itself.
Result<std::string> run_in_child(const std::function<Result<std::string>()>& body, int timeout_ms = 5000);

}  // namespace nslab::sys
