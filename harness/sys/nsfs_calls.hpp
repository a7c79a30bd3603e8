// Wrappers for the namespace-file catalogue (nsfs, ioctl_ns(2)): the ioctls that newer kernels
// added, and readlink(2) of /proc/PID/ns links. Same rules as sys/syscalls.hpp.
#pragma once

#include <cstdint>
#include <string>

#include "sys/result.hpp"

namespace nslab::sys {

// readlink(2): the link's text ("uts:[4026532278]" for /proc/self/ns/uts).
Result<std::string> read_symlink(const std::string& path);
// ioctl(NS_GET_ID) (Linux 6.18): the namespace's 64-bit id, never reused while the system runs.
// ENOTTY on older kernels.
Result<uint64_t> ns_get_id(int nsfd);

}  // namespace nslab::sys
