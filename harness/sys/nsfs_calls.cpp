#include "sys/nsfs_calls.hpp"

#include <linux/nsfs.h>
#include <linux/types.h>
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

}  // namespace nslab::sys
