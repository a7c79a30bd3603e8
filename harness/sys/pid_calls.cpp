#include "sys/pid_calls.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "sys/syscalls.hpp"

namespace nslab::sys {

Result<pid_t> fork() {
    pid_t pid = ::fork();
    if (pid < 0) return Error(errno, "fork()");
    return pid;
}

pid_t getppid() {
    return ::getppid();
}

Result<pid_t> pid_of_pidfd(int pidfd) {
    std::string what = "Pid: of pidfd " + std::to_string(pidfd);
    NSLAB_ASSIGN_OR_RETURN(std::string info, read_file("/proc/self/fdinfo/" + std::to_string(pidfd)));
    for (size_t at = 0; at < info.size();) {
        size_t end = std::min(info.find('\n', at), info.size());
        if (info.compare(at, 4, "Pid:") == 0) {
            long pid = std::strtol(info.c_str() + at + 4, nullptr, 10);
            if (pid <= 0) return Error(ESRCH, what + " (" + std::to_string(pid) + ": reaped, or not in this /proc)");
            return static_cast<pid_t>(pid);
        }
        at = end + 1;
    }
    return Error(ENOENT, what + " (no such line in its fdinfo)");
}

Result<pid_t> getsid(pid_t pid) {
    pid_t sid = ::getsid(pid);
    if (sid < 0) return Error(errno, "getsid(" + std::to_string(pid) + ")");
    return sid;
}

Result<pid_t> getpgid(pid_t pid) {
    pid_t pgid = ::getpgid(pid);
    if (pgid < 0) return Error(errno, "getpgid(" + std::to_string(pid) + ")");
    return pgid;
}

Result<pid_t> setsid() {
    pid_t sid = ::setsid();
    if (sid < 0) return Error(errno, "setsid()");
    return sid;
}

Status sigaction_info(int sig, SigInfoHandler handler) {
    struct sigaction sa {};
    sa.sa_flags = SA_SIGINFO;
    sa.sa_sigaction = handler;
    sigemptyset(&sa.sa_mask);
    if (::sigaction(sig, &sa, nullptr) < 0)
        return Error(errno, "sigaction(" +
                                std::string(sigabbrev_np(sig) ? sigabbrev_np(sig) : "?") +
                                ", SA_SIGINFO)");
    return {};
}

Status block_signal(int sig, bool block) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    if (::sigprocmask(block ? SIG_BLOCK : SIG_UNBLOCK, &set, nullptr) < 0)
        return Error(errno, std::string("sigprocmask(") + (block ? "SIG_BLOCK" : "SIG_UNBLOCK") +
                                ", " + (sigabbrev_np(sig) ? sigabbrev_np(sig) : "?") + ")");
    return {};
}

Result<siginfo_t> wait_signal(int sig, int timeout_ms) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    struct timespec ts {
        timeout_ms / 1000, (timeout_ms % 1000) * 1000000L
    };
    siginfo_t info{};
    for (;;) {
        if (::sigtimedwait(&set, &info, &ts) == sig) return info;
        if (errno != EINTR)
            return Error(errno, std::string("sigtimedwait(") + (sigabbrev_np(sig) ? sigabbrev_np(sig) : "?") + ", " +
                                    std::to_string(timeout_ms) + " ms)");
    }
}

Status set_async_signal(int fd, pid_t owner, int sig) {
    std::string f = "fcntl(fd=" + std::to_string(fd);
    if (::fcntl(fd, F_SETOWN, owner) < 0) return Error(errno, f + ", F_SETOWN, " + std::to_string(owner) + ")");
    if (::fcntl(fd, F_SETSIG, sig) < 0) return Error(errno, f + ", F_SETSIG, " + std::to_string(sig) + ")");
    int fl = ::fcntl(fd, F_GETFL);
    if (fl < 0) return Error(errno, f + ", F_GETFL)");
    if (::fcntl(fd, F_SETFL, fl | O_ASYNC) < 0) return Error(errno, f + ", F_SETFL, O_ASYNC)");
    return {};
}

Result<pid_t> get_owner(int fd) {
    // fcntl(2): F_GETOWN returns a process group as a negative value, so -1 is an error only
    // when errno says so.
    errno = 0;
    int owner = ::fcntl(fd, F_GETOWN);
    if (owner == -1 && errno != 0) return Error(errno, "fcntl(fd=" + std::to_string(fd) + ", F_GETOWN)");
    return static_cast<pid_t>(owner);
}

Status sleep_ms(int ms) {
    struct timespec ts {
        ms / 1000, (ms % 1000) * 1000000L
    };
    if (::nanosleep(&ts, nullptr) < 0)
        return Error(errno, "nanosleep(" + std::to_string(ms) + " ms)");
    return {};
}

Result<pid_t> spawn_background(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env,
                               const std::string& program) {
    if (argv.empty()) return Error::message("spawn_background: empty argv");
    const std::string& path = program.empty() ? argv[0] : program;
    // Everything the child needs is built before fork: it only calls async-signal-safe functions.
    std::vector<char*> a;
    for (auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    std::vector<const char*> envp = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                     "LC_ALL=C", "HOME=/root", "TERM=dumb"};
    for (auto& e : extra_env) envp.push_back(e.c_str());
    envp.push_back(nullptr);
    // execve(2) closes a close-on-exec fd only once it can no longer fail: EOF on this pipe means
    // the program runs; four bytes mean the child's errno from a failed execve.
    NSLAB_ASSIGN_OR_RETURN(auto sync, pipe2(O_CLOEXEC));
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) {
        int err = errno;
        ::close(sync.first);
        ::close(sync.second);
        return Error(err, "fork() for " + path);
    }
    if (pid == 0) {
        // The sync pipe becomes fd 3 (close-on-exec again: dup2 clears the flag); 4 and up close.
        if (sync.second != 3) {
            ::dup2(sync.second, 3);
            ::fcntl(3, F_SETFD, FD_CLOEXEC);
        }
        int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null_fd >= 0) {
            ::dup2(null_fd, 0);
            ::dup2(null_fd, 1);
            ::dup2(null_fd, 2);
        }
        sys::close_fd_range(4, ~0U);
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
        ::execve(path.c_str(), a.data(), const_cast<char* const*>(envp.data()));
        int err = errno;
        (void)!::write(3, &err, sizeof err);
        ::_exit(127);
    }
    ::close(sync.second);
    int err = 0;
    ssize_t n;
    do {
        n = ::read(sync.first, &err, sizeof err);
    } while (n < 0 && errno == EINTR);
    ::close(sync.first);
    if (n == static_cast<ssize_t>(sizeof err)) {
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        return Error(err, "execve(" + path + ") in a background child");
    }
    return pid;
}

Result<std::string> vfork_exec_capture(const std::vector<std::string>& argv) {
    if (argv.empty()) return Error::message("vfork_exec_capture: empty argv");
    NSLAB_ASSIGN_OR_RETURN(auto out, pipe2(O_CLOEXEC));
    posix_spawn_file_actions_t actions;
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawn_file_actions_adddup2(&actions, out.second, 1);  // the dup survives exec; the pipe does not
    std::vector<char*> a;
    for (auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    const char* envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", nullptr};
    pid_t pid = 0;
    // posix_spawn(3) returns the error number instead of setting errno.
    int rc = ::posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, a.data(), const_cast<char* const*>(envp));
    ::posix_spawn_file_actions_destroy(&actions);
    ::close(out.second);
    if (rc != 0) {
        ::close(out.first);
        return Error(rc, "posix_spawn(" + argv[0] + ")");
    }
    std::string printed;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(out.first, buf, sizeof buf);
        if (n > 0) {
            printed.append(buf, static_cast<size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        break;
    }
    ::close(out.first);
    NSLAB_ASSIGN_OR_RETURN(int status, waitpid(pid));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return Error::message(argv[0] + " did not exit 0 (wait status " + std::to_string(status) + ")");
    return printed;
}

Result<std::string> run_in_child(const std::function<Result<std::string>()>& body, int timeout_ms) {
    NSLAB_ASSIGN_OR_RETURN(auto fds, pipe2(O_CLOEXEC));
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) {
        int err = errno;
        ::close(fds.first);
        ::close(fds.second);
        return Error(err, "fork() for a scenario child");
    }
    if (pid == 0) {
        ::close(fds.first);
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
        // One record: "V" and the value, or "E", the errno, a newline and the error's description.
        std::string out;
        try {
            auto r = body();
            if (r.ok()) {
                out = "V" + *r;
            } else {
                // The caller's Error describes errno again: send the description without it.
                std::string what = r.error().describe();
                int err = r.error().err();
                if (err != 0) {
                    const char* desc = strerrordesc_np(err);
                    std::string suffix =
                        ": " + errno_name(err) + " (" + (desc ? desc : "unknown error") + ")";
                    if (what.size() >= suffix.size() &&
                        what.compare(what.size() - suffix.size(), suffix.size(), suffix) == 0)
                        what.resize(what.size() - suffix.size());
                }
                out = "E" + std::to_string(err) + "\n" + what;
            }
        } catch (const std::exception& e) {
            out = std::string("E0\n") + e.what();
        }
        (void)write_all(fds.second, out);
        ::_exit(0);
    }
    ::close(fds.second);
    int rfd = fds.first;
    std::string out;
    bool timed_out = false;
    int poll_error = 0;
    struct timespec start {};
    ::clock_gettime(CLOCK_MONOTONIC, &start);
    char buf[4096];
    for (;;) {
        struct timespec now {};
        ::clock_gettime(CLOCK_MONOTONIC, &now);
        long elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (elapsed >= timeout_ms) {
            timed_out = true;
            break;
        }
        struct pollfd p {
            rfd, POLLIN, 0
        };
        int r = ::poll(&p, 1, static_cast<int>(timeout_ms - elapsed));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) poll_error = errno;
        if (r <= 0) {
            timed_out = r == 0;
            break;
        }
        ssize_t n = ::read(rfd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // EOF: the child has written everything
        out.append(buf, static_cast<size_t>(n));
    }
    ::close(rfd);
    // A child we stopped listening to is killed before the wait, or waitpid could block forever.
    if (timed_out || poll_error) ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (poll_error) return Error(poll_error, "poll() on a scenario child's report (pid " + std::to_string(pid) + ")");
    if (timed_out)
        return Error(ETIMEDOUT, "a scenario child (pid " + std::to_string(pid) +
                                    ") did not finish within " + std::to_string(timeout_ms) +
                                    " ms");
    if (WIFSIGNALED(status))
        return Error::message(
            "a scenario child (pid " + std::to_string(pid) + ") was killed by " +
            std::string(sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?"));
    if (out.empty())
        return Error::message("a scenario child (pid " + std::to_string(pid) +
                              ") reported nothing");
    if (out[0] == 'V') return out.substr(1);
    size_t nl = out.find('\n');
    int err = 0;
    try {
        err = std::stoi(out.substr(1, nl - 1));
    } catch (const std::exception&) {
        err = 0;
    }
    return Error(err, nl == std::string::npos ? out.substr(1) : out.substr(nl + 1));
}

}  // namespace nslab::sys
