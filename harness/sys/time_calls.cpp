#include "sys/time_calls.hpp"

#include <linux/futex.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace nslab::sys {
namespace {

std::string at_text(clockid_t clock, const struct timespec& at) {
    return "clock " + std::to_string(clock) + ", " + std::to_string(at.tv_sec) + "." +
           std::to_string(at.tv_nsec / 1000000) + " s";
}

}  // namespace

Status clock_nanosleep_abs(clockid_t clock, const struct timespec& at) {
    for (;;) {
        // clock_nanosleep(2) returns the error number instead of setting errno.
        int r = ::clock_nanosleep(clock, TIMER_ABSTIME, &at, nullptr);
        if (r == 0) return {};
        if (r != EINTR)
            return Error(r, "clock_nanosleep(" + at_text(clock, at) + ", TIMER_ABSTIME)");
    }
}

Result<int> timerfd_create(clockid_t clock) {
    int fd = ::timerfd_create(clock, TFD_CLOEXEC);
    if (fd < 0) return Error(errno, "timerfd_create(clock " + std::to_string(clock) + ")");
    return fd;
}

Status timerfd_settime_abs(int fd, const struct timespec& at) {
    struct itimerspec spec {};
    spec.it_value = at;
    if (::timerfd_settime(fd, TFD_TIMER_ABSTIME, &spec, nullptr) < 0)
        return Error(errno, "timerfd_settime(fd=" + std::to_string(fd) + ", TFD_TIMER_ABSTIME, " +
                                std::to_string(at.tv_sec) + " s)");
    return {};
}

Result<struct timespec> clock_gettime_syscall(clockid_t clock) {
    struct timespec ts {};
    if (::syscall(SYS_clock_gettime, clock, &ts) < 0)
        return Error(errno, "syscall(SYS_clock_gettime, clock " + std::to_string(clock) + ")");
    return ts;
}

Status posix_timer_wait_abs(clockid_t clock, const struct timespec& at, int timeout_ms) {
    struct sigevent ev {};
    ev.sigev_notify = SIGEV_NONE;  // timer_create(2): no signal; progress is read with timer_gettime
    timer_t timer{};
    if (::timer_create(clock, &ev, &timer) < 0)
        return Error(errno, "timer_create(clock " + std::to_string(clock) + ", SIGEV_NONE)");
    struct itimerspec spec {};
    spec.it_value = at;
    Status result;
    if (::timer_settime(timer, TIMER_ABSTIME, &spec, nullptr) < 0) {
        result = Error(errno, "timer_settime(" + at_text(clock, at) + ", TIMER_ABSTIME)");
    } else {
        for (int waited = 0;; waited += 2) {
            struct itimerspec left {};
            if (::timer_gettime(timer, &left) < 0) {
                result = Error(errno, "timer_gettime()");
                break;
            }
            if (left.it_value.tv_sec == 0 && left.it_value.tv_nsec == 0) break;  // expired, no interval
            if (waited >= timeout_ms) {
                result = Error(ETIMEDOUT, "timer armed for " + at_text(clock, at) + " still pending after " +
                                              std::to_string(timeout_ms) + " ms");
                break;
            }
            struct timespec two_ms {0, 2000000};
            ::nanosleep(&two_ms, nullptr);
        }
    }
    ::timer_delete(timer);
    return result;
}

Status futex_wait_abs_monotonic(const struct timespec& at) {
    static_assert(sizeof(int) == 4, "futex words are 32 bits");
    int word = 0;
    for (;;) {
        long r = ::syscall(SYS_futex, &word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, 0, &at, nullptr,
                           FUTEX_BITSET_MATCH_ANY);
        if (r < 0 && errno == ETIMEDOUT) return {};
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return Error(errno, "futex(FUTEX_WAIT_BITSET, " + at_text(CLOCK_MONOTONIC, at) + ")");
        // Nobody wakes this private word: a return of 0 is a spurious wake-up; wait again.
    }
}

}  // namespace nslab::sys
