#include "agent/command.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/unique_fd.hpp"
#include "sys/syscalls.hpp"

namespace nslab::agent {
namespace {

void append_capped(std::string& s, const char* data, size_t n, bool& cut) {
    if (s.size() >= kMaxOutput) {
        cut = true;
        return;
    }
    size_t take = std::min(n, kMaxOutput - s.size());
    s.append(data, take);
    if (take < n) cut = true;
}

}  // namespace

sys::Result<CommandResult> run_shell(const std::string& command) {
    NSLAB_ASSIGN_OR_RETURN(auto out_pipe, sys::pipe2(O_CLOEXEC));
    core::UniqueFd out_r(out_pipe.first), out_w(out_pipe.second);
    NSLAB_ASSIGN_OR_RETURN(auto err_pipe, sys::pipe2(O_CLOEXEC));
    core::UniqueFd err_r(err_pipe.first), err_w(err_pipe.second);
    NSLAB_ASSIGN_OR_RETURN(int devnull, sys::open("/dev/null", O_RDONLY | O_CLOEXEC));
    core::UniqueFd in(devnull);

    // The agent is single-threaded, so fork() followed by ordinary code is safe here.
    pid_t pid = ::fork();
    if (pid < 0) return sys::Error(errno, "fork() for `" + command + "`");
    if (pid == 0) {
        ::dup2(in.get(), 0);
        ::dup2(out_w.get(), 1);
        ::dup2(err_w.get(), 2);
        sys::close_fd_range(3, ~0U);
        const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
        const char* envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                              "LC_ALL=C", "HOME=/root", "TERM=dumb", nullptr};
        ::execve("/bin/sh", const_cast<char* const*>(argv), const_cast<char* const*>(envp));
        ::_exit(127);
    }
    out_w.reset();
    err_w.reset();
    // A command may leave a background process holding the pipes open (`sleep 100 &`), so the
    // shell's own exit, seen through its pidfd, ends the capture, not end-of-file.
    auto pidfd_r = sys::pidfd_open(pid);
    core::UniqueFd pidfd(pidfd_r.ok() ? *pidfd_r : -1);
    CommandResult result;
    bool cut_out = false, cut_err = false;
    struct pollfd p[3] = {{out_r.get(), POLLIN, 0}, {err_r.get(), POLLIN, 0}, {pidfd.get(), POLLIN, 0}};
    char buf[8192];
    auto drain = [&](int i, bool once) {
        for (;;) {
            ssize_t n = ::read(p[i].fd, buf, sizeof buf);
            if (n <= 0) {
                if (n == 0 || (errno != EINTR && errno != EAGAIN)) p[i].fd = -1;
                return;
            }
            if (i == 0) append_capped(result.out, buf, static_cast<size_t>(n), cut_out);
            else append_capped(result.err, buf, static_cast<size_t>(n), cut_err);
            if (once) return;
        }
    };
    while (p[0].fd >= 0 || p[1].fd >= 0) {
        int r = ::poll(p, 3, -1);
        if (r < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (p[2].fd >= 0 && (p[2].revents & POLLIN)) {
            for (int i = 0; i < 2; ++i) {
                if (p[i].fd < 0) continue;
                ::fcntl(p[i].fd, F_SETFL, O_NONBLOCK);
                drain(i, false);
            }
            break;
        }
        for (int i = 0; i < 2; ++i)
            if (p[i].fd >= 0 && (p[i].revents & (POLLIN | POLLHUP | POLLERR))) drain(i, true);
    }
    NSLAB_ASSIGN_OR_RETURN(int status, sys::waitpid(pid));
    if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
    if (cut_out) result.out += "\n[nslab: output cut at 64 KiB]";
    if (cut_err) result.err += "\n[nslab: output cut at 64 KiB]";
    return result;
}

}  // namespace nslab::agent
