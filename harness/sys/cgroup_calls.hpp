// Wrappers for the cgroup namespace catalogue (cgroup_namespaces(7), cgroups(7)): the directory
// and locking calls that manage an experiment's own cgroup. Same rules as sys/syscalls.hpp.
#pragma once

#include <string>

#include "sys/result.hpp"

namespace nslab::sys {

// mkdir(2) of one directory (EEXIST is an error).
Status cgroup_mkdir(const std::string& path, mode_t mode = 0755);
// rmdir(2): on cgroupfs, EBUSY while the cgroup has processes or children.
Status cgroup_rmdir(const std::string& path);
// getxattr(2) of a short text value (systemd marks a delegated cgroup "trusted.delegate" = "1").
Result<std::string> get_xattr(const std::string& path, const std::string& name);
// flock(2) on an open fd (LOCK_EX, LOCK_SH, LOCK_UN).
Status flock_fd(int fd, int operation);

}  // namespace nslab::sys
