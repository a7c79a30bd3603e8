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
// ioctl(PIDFD_GET_<KIND>_NAMESPACE) (Linux 6.11+, linux/pidfd.h): a new fd of the namespace of that
// kind (clone_flag: its CLONE_NEW* bit) that the pidfd's process is in, without a walk of /proc.
// The fd is O_CLOEXEC (open_namespace() in fs/nsfs.c). ENOTTY on older kernels.
Result<int> pidfd_get_namespace(int pidfd, int clone_flag);

}  // namespace nslab::sys
