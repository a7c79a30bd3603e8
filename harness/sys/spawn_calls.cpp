#include "sys/spawn_calls.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "sys/syscalls.hpp"

namespace nslab::sys {
namespace {

// What the child sends back through the CLOEXEC error pipe when a step before exec fails.
struct ChildFailure {
    int err;
    char call[120];
};

[[noreturn]] void fail_in_child(int pipe_fd, const char* call) {
    ChildFailure f{errno, {}};
    std::strncpy(f.call, call, sizeof f.call - 1);
    (void)!::write(pipe_fd, &f, sizeof f);
    ::_exit(127);
}

std::string lookup(const std::string& prog, const std::vector<std::string>& env) {
    if (prog.find('/') != std::string::npos) return prog;
    std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for (auto& e : env)
        if (e.rfind("PATH=", 0) == 0) path = e.substr(5);
    size_t start = 0;
    while (start <= path.size()) {
        size_t end = path.find(':', start);
        if (end == std::string::npos) end = path.size();
        std::string candidate = path.substr(start, end - start) + "/" + prog;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
        start = end + 1;
    }
    return prog;  // execve fails with ENOENT and says so
}

}  // namespace

Result<Spawned> spawn_process(const SpawnSpec& spec) {
    if (spec.argv.empty()) return Error::message("spawn_process: empty argv");
    std::string path = lookup(spec.argv[0], spec.env);
    std::vector<char*> argv, envp;
    for (auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    int devnull = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0) return Error(errno, "open(/dev/null)");
    int errpipe[2];
    if (::pipe2(errpipe, O_CLOEXEC) < 0) {
        int e = errno;
        ::close(devnull);
        return Error(e, "pipe2()");
    }
    int pidfd = -1;
    struct clone_args args {};
    args.flags = CLONE_PIDFD;
    args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
    args.exit_signal = 0;  // clone(2): no signal at exit, and only __WALL waits see it
    long pid = ::syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0) {
        int e = errno;
        ::close(devnull), ::close(errpipe[0]), ::close(errpipe[1]);
        return Error(e, "clone3(CLONE_PIDFD) for " + spec.argv[0]);
    }
    if (pid == 0) {
        // The child: only async-signal-safe calls from here to execve.
        int ep = errpipe[1];
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        if (::setsid() < 0) fail_in_child(ep, "setsid()");
        // Move every fd to be inherited above all target numbers first, so that dup2 into a
        // target never overwrites a source that is still needed.
        int high = 1000;
        for (auto [from, to] : spec.fds) high = std::max(high, to + 1);
        int io[3] = {spec.stdin_fd >= 0 ? spec.stdin_fd : devnull, spec.stdout_fd >= 0 ? spec.stdout_fd : devnull,
                     spec.stderr_fd >= 0 ? spec.stderr_fd : devnull};
        int moved_io[3];
        for (int i = 0; i < 3; ++i)
            if ((moved_io[i] = ::fcntl(io[i], F_DUPFD_CLOEXEC, high)) < 0) fail_in_child(ep, "fcntl(F_DUPFD) for stdio");
        std::vector<int> moved;  // allocation after clone3 is safe: the caller is single-threaded
        for (auto [from, to] : spec.fds) {
            int m = ::fcntl(from, F_DUPFD_CLOEXEC, high);
            if (m < 0) fail_in_child(ep, "fcntl(F_DUPFD) for an inherited fd");
            moved.push_back(m);
        }
        int ep_high = ::fcntl(ep, F_DUPFD_CLOEXEC, high);
        if (ep_high < 0) fail_in_child(ep, "fcntl(F_DUPFD) for the error pipe");
        ep = ep_high;
        for (int i = 0; i < 3; ++i)
            if (::dup2(moved_io[i], i) < 0) fail_in_child(ep, "dup2() for stdio");
        for (size_t i = 0; i < spec.fds.size(); ++i)
            if (::dup2(moved[i], spec.fds[i].second) < 0) fail_in_child(ep, "dup2() for an inherited fd");
        // Close everything else but the error pipe (CLOEXEC: it closes at a successful exec):
        // close_range over the gaps between the target numbers, then above them.
        std::vector<int> keep{2};
        for (auto& p : spec.fds) keep.push_back(p.second);
        keep.push_back(ep);
        std::sort(keep.begin(), keep.end());
        for (size_t i = 0; i + 1 < keep.size(); ++i)
            if (keep[i + 1] > keep[i] + 1)
                sys::close_fd_range(static_cast<unsigned>(keep[i] + 1), static_cast<unsigned>(keep[i + 1] - 1));
        sys::close_fd_range(static_cast<unsigned>(ep + 1), ~0U);
        for (auto [resource, value] : spec.limits) {
            struct rlimit rl {value, value};
            if (::setrlimit(resource, &rl) < 0) fail_in_child(ep, "setrlimit()");
        }
        if (spec.gid) {
            if (::setgroups(0, nullptr) < 0) fail_in_child(ep, "setgroups(0, NULL)");
            if (::setresgid(*spec.gid, *spec.gid, *spec.gid) < 0) fail_in_child(ep, "setresgid()");
        }
        if (spec.uid && ::setresuid(*spec.uid, *spec.uid, *spec.uid) < 0) fail_in_child(ep, "setresuid()");
        if (!spec.cwd.empty() && ::chdir(spec.cwd.c_str()) < 0) fail_in_child(ep, "chdir()");
        ::execve(path.c_str(), argv.data(), envp.data());
        fail_in_child(ep, "execve()");
    }
    ::close(errpipe[1]);
    ::close(devnull);
    ChildFailure f{};
    ssize_t n;
    do n = ::read(errpipe[0], &f, sizeof f);
    while (n < 0 && errno == EINTR);
    ::close(errpipe[0]);
    if (n == static_cast<ssize_t>(sizeof f)) {
        // The child failed before exec and has exited: reap it here.
        siginfo_t info;
        (void)::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info, WEXITED | __WALL);
        ::close(pidfd);
        std::string call = f.call;
        if (call == "execve()") call = "execve(" + path + ")";
        return Error(f.err, call + " for launcher " + spec.argv[0]);
    }
    return Spawned{static_cast<pid_t>(pid), pidfd};
}

Result<std::optional<int>> try_reap_pidfd(int pidfd) {
    siginfo_t info{};
    if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info, WEXITED | WNOHANG | __WALL) < 0)
        return Error(errno, "waitid(P_PIDFD, fd=" + std::to_string(pidfd) + ", WNOHANG)");
    if (info.si_pid == 0) return std::optional<int>{};
    int status = info.si_code == CLD_EXITED ? (info.si_status & 0xff) << 8 : (info.si_status & 0x7f);
    return std::optional<int>{status};
}

Result<int> listen_seqpacket(const std::string& path) {
    struct sockaddr_un addr {};
    if (path.size() >= sizeof addr.sun_path) return Error(ENAMETOOLONG, "bind(" + path + ")");
    int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) return Error(errno, "socket(AF_UNIX, SOCK_SEQPACKET)");
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    auto fail = [&](const std::string& call) {
        int e = errno;
        ::close(fd);
        return Error(e, call);
    };
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) return fail("bind(" + path + ")");
    // unix(7): connecting to a pathname socket needs write permission on it.
    if (::chmod(path.c_str(), 0666) < 0) return fail("chmod(" + path + ", 0666)");
    if (::listen(fd, 4) < 0) return fail("listen(" + path + ")");
    return fd;
}

Result<int> accept_before(int listen_fd, int timeout_ms) {
    struct pollfd p {listen_fd, POLLIN, 0};
    int r;
    do r = ::poll(&p, 1, timeout_ms);
    while (r < 0 && errno == EINTR);
    if (r < 0) return Error(errno, "poll(listening socket)");
    if (r == 0) return Error(ETIMEDOUT, "accept(): no agent connected before the time limit");
    int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return Error(errno, "accept4()");
    return fd;
}

Result<std::string> mkdtemp(const std::string& templ) {
    std::string buf = templ;
    if (!::mkdtemp(buf.data())) return Error(errno, "mkdtemp(" + templ + ")");
    return buf;
}

Status chmod(const std::string& path, mode_t mode) {
    if (::chmod(path.c_str(), mode) < 0) return Error(errno, "chmod(" + path + ")");
    return {};
}

Status lchown(const std::string& path, uid_t uid, gid_t gid) {
    if (::lchown(path.c_str(), uid, gid) < 0)
        return Error(errno, "lchown(" + path + ", " + std::to_string(uid) + ", " + std::to_string(gid) + ")");
    return {};
}

}  // namespace nslab::sys
