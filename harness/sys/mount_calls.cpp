#include "sys/mount_calls.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "sys/syscalls.hpp"

namespace nslab::sys {

std::string mount_attr_name(uint64_t attr) {
    struct {
        uint64_t bit;
        const char* name;
    } const names[] = {{MOUNT_ATTR_RDONLY, "MOUNT_ATTR_RDONLY"},
                       {MOUNT_ATTR_NOSUID, "MOUNT_ATTR_NOSUID"},
                       {MOUNT_ATTR_NODEV, "MOUNT_ATTR_NODEV"},
                       {MOUNT_ATTR_NOEXEC, "MOUNT_ATTR_NOEXEC"},
                       {MOUNT_ATTR_NODIRATIME, "MOUNT_ATTR_NODIRATIME"}};
    std::string s;
    for (auto& n : names) {
        if (attr & n.bit) {
            if (!s.empty()) s += "|";
            s += n.name;
        }
    }
    return s.empty() ? "0" : s;
}

Status mount_setattr(const std::string& path, unsigned flags, const MountAttr& attr) {
    struct mount_attr a {};
    a.attr_set = attr.attr_set;
    a.attr_clr = attr.attr_clr;
    a.propagation = attr.propagation;
    // Through syscall(2), so that a libc without the wrapper still builds; ENOSYS before 5.12.
    if (::syscall(SYS_mount_setattr, AT_FDCWD, path.c_str(), flags, &a, sizeof a) < 0)
        return Error(errno, "mount_setattr(" + path + ", " +
                                std::string((flags & AT_RECURSIVE) ? "AT_RECURSIVE" : "0") +
                                ", {set=" + mount_attr_name(attr.attr_set) +
                                ", clr=" + mount_attr_name(attr.attr_clr) +
                                ", propagation=" + mount_flags_name(attr.propagation) + "})");
    return {};
}

Status chdir(const std::string& path) {
    if (::chdir(path.c_str()) < 0) return Error(errno, "chdir(" + path + ")");
    return {};
}

Result<std::string> getcwd() {
    char buf[PATH_MAX];
    if (!::getcwd(buf, sizeof buf)) return Error(errno, "getcwd()");
    return std::string(buf);
}

Result<std::string> readlink(const std::string& path) {
    char buf[PATH_MAX];
    ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
    if (n < 0) return Error(errno, "readlink(" + path + ")");
    return std::string(buf, static_cast<size_t>(n));
}

Status create_file(const std::string& path, std::string_view data, mode_t mode) {
    NSLAB_ASSIGN_OR_RETURN(int fd, open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
    auto written = write_all(fd, data);
    ::close(fd);
    return written;
}

}  // namespace nslab::sys
