// Child: a process we started, held by pid and pidfd. Destruction SIGKILLs and reaps it, so no
// child outlives its owner, also on an early return or an exception.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <utility>

#include "core/unique_fd.hpp"
#include "sys/result.hpp"

namespace nslab::core {

class Child {
public:
    Child() = default;
    Child(pid_t pid, UniqueFd pidfd) : pid_(pid), pidfd_(std::move(pidfd)) {}
    Child(Child&& o) noexcept
        : pid_(std::exchange(o.pid_, -1)), pidfd_(std::move(o.pidfd_)), status_(o.status_) {}
    Child& operator=(Child&& o) noexcept {
        if (this != &o) {
            kill_and_reap();
            pid_ = o.pid_;
            pidfd_ = std::move(o.pidfd_);
            status_ = o.status_;
            o.pid_ = -1;
        }
        return *this;
    }
    ~Child() { kill_and_reap(); }

    pid_t pid() const { return pid_; }
    int pidfd() const { return pidfd_.get(); }
    bool running() const { return pid_ > 0 && !status_; }

    // Waits up to timeout for the child to exit on its own; returns its wait status if it did.
    sys::Result<std::optional<int>> wait_for(std::chrono::milliseconds timeout);
    // Sends SIGKILL through the pidfd (no pid-reuse race) and reaps. Idempotent.
    void kill_and_reap();
    // The wait status once reaped.
    std::optional<int> status() const { return status_; }

private:
    pid_t pid_ = -1;
    UniqueFd pidfd_;
    std::optional<int> status_;
};

// "exited with status 3", "killed by SIGKILL".
std::string describe_wait_status(int status);

}  // namespace nslab::core
