#include "sys/time_calls.hpp"

#include <sys/timerfd.h>

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

}  // namespace nslab::sys
