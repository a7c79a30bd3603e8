#include "sys/cgroup_calls.hpp"

#include <sys/file.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

namespace nslab::sys {

Status cgroup_mkdir(const std::string& path, mode_t mode) {
    if (::mkdir(path.c_str(), mode) < 0) return Error(errno, "mkdir(" + path + ")");
    return {};
}

Status cgroup_rmdir(const std::string& path) {
    if (::rmdir(path.c_str()) < 0) return Error(errno, "rmdir(" + path + ")");
    return {};
}

Result<std::string> get_xattr(const std::string& path, const std::string& name) {
    char buf[256];
    ssize_t n = ::getxattr(path.c_str(), name.c_str(), buf, sizeof buf);
    if (n < 0) return Error(errno, "getxattr(" + path + ", " + name + ")");
    return std::string(buf, static_cast<size_t>(n));
}

Status flock_fd(int fd, int operation) {
    int r;
    while ((r = ::flock(fd, operation)) < 0 && errno == EINTR) {
    }
    if (r < 0) {
        const char* op = (operation & LOCK_EX)   ? "LOCK_EX"
                         : (operation & LOCK_SH) ? "LOCK_SH"
                                                 : "LOCK_UN";
        return Error(errno, "flock(fd=" + std::to_string(fd) + ", " + op + ((operation & LOCK_NB) ? "|LOCK_NB" : "") + ")");
    }
    return {};
}

}  // namespace nslab::sys
