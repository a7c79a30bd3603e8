#include "sys/mount_calls.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
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

Status pivot_root(const std::string& new_root, const std::string& put_old) {
    if (::syscall(SYS_pivot_root, new_root.c_str(), put_old.c_str()) < 0)
        return Error(errno, "pivot_root(" + new_root + ", " + put_old + ")");
    return {};
}

Status mkdir(const std::string& path, mode_t mode) {
    if (::mkdir(path.c_str(), mode) < 0) return Error(errno, "mkdir(" + path + ")");
    return {};
}

Status symlink(const std::string& target, const std::string& link_path) {
    if (::symlink(target.c_str(), link_path.c_str()) < 0) return Error(errno, "symlink(" + target + ", " + link_path + ")");
    return {};
}

Status copy_file(const std::string& src, const std::string& dst, mode_t mode, off_t max_bytes) {
    NSLAB_ASSIGN_OR_RETURN(int in, open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } close_in{in};
    NSLAB_ASSIGN_OR_RETURN(struct ::stat st, fstat(in));
    if (!S_ISREG(st.st_mode)) return Error(EINVAL, "copy_file(" + src + "): not a regular file");
    if (st.st_size > max_bytes) return Error(EFBIG, "copy_file(" + src + "): " + std::to_string(st.st_size) + " bytes");
    NSLAB_ASSIGN_OR_RETURN(int out, open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
    struct Closer close_out{out};
    off_t copied = 0;
    bool plain = false;
    char buf[16384];
    while (copied <= max_bytes) {
        ssize_t n;
        if (!plain) {
            n = ::copy_file_range(in, nullptr, out, nullptr, static_cast<size_t>(max_bytes - copied + 1), 0);
            // copy_file_range(2): EXDEV/EINVAL/EOPNOTSUPP where the filesystems cannot; then copy by hand.
            if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP || errno == ENOSYS)) {
                plain = true;
                continue;
            }
        } else {
            n = ::read(in, buf, sizeof buf);
            if (n > 0) NSLAB_TRY(write_all(out, std::string_view(buf, static_cast<size_t>(n))));
        }
        if (n < 0) {
            if (errno == EINTR) continue;
            return Error(errno, std::string(plain ? "read" : "copy_file_range") + "(" + src + " -> " + dst + ")");
        }
        if (n == 0) return {};
        copied += n;
    }
    return Error(EFBIG, "copy_file(" + src + "): grew past " + std::to_string(max_bytes) + " bytes");
}

}  // namespace nslab::sys
