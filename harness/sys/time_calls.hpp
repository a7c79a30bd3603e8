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

// syscall(SYS_clock_gettime): the kernel's own answer, where glibc's clock_gettime reads the vDSO.
Result<struct timespec> clock_gettime_syscall(clockid_t clock);
// timer_create(clock, SIGEV_NONE) armed with TIMER_ABSTIME at `at`; polls timer_gettime until the
// timer has expired (it_value 0), or fails with ETIMEDOUT after timeout_ms. The timer is deleted.
Status posix_timer_wait_abs(clockid_t clock, const struct timespec& at, int timeout_ms);
// futex(FUTEX_WAIT_BITSET) on a private word with the absolute CLOCK_MONOTONIC deadline `at`
// (futex(2): without FUTEX_CLOCK_REALTIME the bitset wait's timeout is on CLOCK_MONOTONIC);
// returns once the kernel reports ETIMEDOUT.
Status futex_wait_abs_monotonic(const struct timespec& at);

}  // namespace nslab::sys
