// Starting another program (a launcher under test) with a chosen set of inherited fds, dropped
// privileges and resource limits; and listening unix sockets for agents that connect by path.
// Like syscalls.hpp, errors name the call; this layer alone reads errno.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sys/result.hpp"

namespace nslab::sys {

struct SpawnSpec {
    std::vector<std::string> argv;        // argv[0] is looked up in PATH (from env) if it has no '/'
    std::vector<std::string> env;         // the whole environment, "K=V"
    std::vector<std::pair<int, int>> fds; // (fd here, fd number in the child); every other fd >= 3 is closed
    int stdin_fd = -1;                    // -1: /dev/null
    int stdout_fd = -1, stderr_fd = -1;   // -1: /dev/null
    std::optional<uid_t> uid;             // setresuid after setresgid/setgroups, before exec
    std::optional<gid_t> gid;
    std::vector<std::pair<int, rlim_t>> limits;  // setrlimit(resource, {v, v}) before exec
    std::string cwd;                      // "" = stay
};

struct Spawned {
    pid_t pid = -1;
    int pidfd = -1;  // the caller owns it
};

// clone3(CLONE_PIDFD) with exit signal 0 — so waitpid(-1) loops of the caller never reap it; only
// waitid(P_PIDFD, __WALL) does — then a new session (so its process group can be killed as one),
// the fds, ids and limits of spec, and execve. An exec failure comes back as this call's error.
Result<Spawned> spawn_process(const SpawnSpec& spec);

// waitid(P_PIDFD, fd, WEXITED|WNOHANG|__WALL): the wait status if the process has ended (and is
// reaped now), nullopt while it runs.
Result<std::optional<int>> try_reap_pidfd(int pidfd);

// socket(AF_UNIX, SOCK_SEQPACKET) bound to path (chmod 0666 so that an agent of any uid may
// connect) and listening. accept_before waits up to timeout_ms for one connection.
Result<int> listen_seqpacket(const std::string& path);
Result<int> accept_before(int listen_fd, int timeout_ms);

// mkdtemp(3) on a template ending in XXXXXX; returns the directory made (mode 0700).
Result<std::string> mkdtemp(const std::string& templ);
Status chmod(const std::string& path, mode_t mode);
Status lchown(const std::string& path, uid_t uid, gid_t gid);

}  // namespace nslab::sys
