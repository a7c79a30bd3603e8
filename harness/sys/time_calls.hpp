// Wrappers for the time namespace catalogue (time_namespaces(7)): absolute sleeps and timers, whose
// deadlines a time namespace must translate. Same rules as sys/syscalls.hpp.
#pragma once

#include <time.h>

#include "sys/result.hpp"

namespace nslab::sys {

// clock_nanosleep(clock, TIMER_ABSTIME, at): sleeps until the clock reads `at`.
Status clock_nanosleep_abs(clockid_t clock, const struct timespec& at);
// timerfd_create(clock, TFD_CLOEXEC): a new fd.
Result<int> timerfd_create(clockid_t clock);
// timerfd_settime(fd, TFD_TIMER_ABSTIME, {at, no interval}).
Status timerfd_settime_abs(int fd, const struct timespec& at);

}  // namespace nslab::sys
