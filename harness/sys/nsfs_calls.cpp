#include "sys/nsfs_calls.hpp"

#include <linux/nsfs.h>
#include <linux/types.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <unistd.h>

namespace nslab::sys {

// Older uapi headers (Debian 12 ships 6.1's) lack it: _IOR(NSIO, 13, __u64), as in 6.18's nsfs.h.
#ifndef NS_GET_ID
#define NS_GET_ID _IOR(NSIO, 13, __u64)
#endif

Result<std::string> read_symlink(const std::string& path) {
    char buf[4096];
    ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
    if (n < 0) return Error(errno, "readlink(" + path + ")");
    return std::string(buf, static_cast<size_t>(n));
}

Result<uint64_t> ns_get_id(int nsfd) {
    __u64 id = 0;
    if (::ioctl(nsfd, NS_GET_ID, &id) < 0)
        return Error(errno, "ioctl(fd=" + std::to_string(nsfd) + ", NS_GET_ID)");
    return static_cast<uint64_t>(id);
}

Result<int> pidfd_get_namespace(int pidfd, int clone_flag) {
    // linux/pidfd.h of 6.11 (PIDFS_IOCTL_MAGIC 0xFF); Debian 12's headers predate it.
    unsigned nr = 0;
    const char* name = "";
    switch (clone_flag) {
        case CLONE_NEWCGROUP: nr = 1, name = "PIDFD_GET_CGROUP_NAMESPACE"; break;
        case CLONE_NEWIPC: nr = 2, name = "PIDFD_GET_IPC_NAMESPACE"; break;
        case CLONE_NEWNS: nr = 3, name = "PIDFD_GET_MNT_NAMESPACE"; break;
        case CLONE_NEWNET: nr = 4, name = "PIDFD_GET_NET_NAMESPACE"; break;
        case CLONE_NEWPID: nr = 5, name = "PIDFD_GET_PID_NAMESPACE"; break;
        case CLONE_NEWTIME: nr = 7, name = "PIDFD_GET_TIME_NAMESPACE"; break;
        case CLONE_NEWUSER: nr = 9, name = "PIDFD_GET_USER_NAMESPACE"; break;
        case CLONE_NEWUTS: nr = 10, name = "PIDFD_GET_UTS_NAMESPACE"; break;
        default: return Error(EINVAL, "pidfd_get_namespace: not a single CLONE_NEW* flag");
    }
    int fd = ::ioctl(pidfd, _IO(0xFF, nr), 0);
    if (fd < 0) return Error(errno, "ioctl(fd=" + std::to_string(pidfd) + ", " + name + ")");
    return fd;
}

}  // namespace nslab::sys
