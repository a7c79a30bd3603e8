#include "core/child.hpp"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include <string>

#include "sys/syscalls.hpp"

namespace nslab::core {

sys::Result<std::optional<int>> Child::wait_for(std::chrono::milliseconds timeout) {
    if (status_) return status_;
    if (pid_ <= 0) return sys::Error::message("wait_for: no child");
    // A pidfd becomes readable when the process exits (pidfd_open(2)).
    NSLAB_ASSIGN_OR_RETURN(bool exited, sys::poll_readable(pidfd_.get(), static_cast<int>(timeout.count())));
    if (!exited) return std::optional<int>{};
    NSLAB_ASSIGN_OR_RETURN(int st, sys::wait_pidfd(pidfd_.get()));
    status_ = st;
    return status_;
}

void Child::kill_and_reap() {
    if (pid_ <= 0 || status_) return;
    if (pidfd_.valid()) {
        (void)sys::pidfd_send_signal(pidfd_.get(), SIGKILL);
        auto st = sys::wait_pidfd(pidfd_.get());
        if (st.ok()) status_ = *st;
    } else {
        (void)sys::kill(pid_, SIGKILL);
        auto st = sys::waitpid(pid_);
        if (st.ok()) status_ = *st;
    }
    if (!status_) status_ = -1;
}

std::string describe_wait_status(int status) {
    if (status < 0) return "lost (could not be reaped)";
    if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        const char* n = sigabbrev_np(WTERMSIG(status));
        return std::string("killed by SIG") + (n ? n : std::to_string(WTERMSIG(status)));
    }
    return "status " + std::to_string(status);
}

}  // namespace nslab::core
