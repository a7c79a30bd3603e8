// Wrappers for the mount-namespace experiments: mount_setattr(2), the working directory, links and
// file creation. Like syscalls.hpp, each returns Result<T> whose error spells out the call.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "sys/result.hpp"

namespace nslab::sys {

// What mount_setattr(2) changes (struct mount_attr without the idmap part).
struct MountAttr {
    uint64_t attr_set = 0;     // MOUNT_ATTR_* to set
    uint64_t attr_clr = 0;     // MOUNT_ATTR_* to clear
    uint64_t propagation = 0;  // 0, MS_PRIVATE, MS_SHARED, MS_SLAVE or MS_UNBINDABLE
};
// mount_setattr(AT_FDCWD, path, flags, attr) (Linux 5.12); flags may hold AT_RECURSIVE.
Status mount_setattr(const std::string& path, unsigned flags, const MountAttr& attr);
// Spells MOUNT_ATTR_* bits ("MOUNT_ATTR_RDONLY|MOUNT_ATTR_NOSUID"), for error messages.
std::string mount_attr_name(uint64_t attr);

Status chdir(const std::string& path);
Result<std::string> getcwd();
Result<std::string> readlink(const std::string& path);
// Creates (or truncates) a regular file and writes data into it.
Status create_file(const std::string& path, std::string_view data, mode_t mode = 0644);

// pivot_root(2): moves the caller's mount namespace's root to put_old and makes new_root the root.
Status pivot_root(const std::string& new_root, const std::string& put_old);
Status mkdir(const std::string& path, mode_t mode);
Status symlink(const std::string& target, const std::string& link_path);
// Copies a regular file's bytes into a new file dst (mode), with copy_file_range(2) where the
// filesystems allow it, else read/write. Fails rather than copying more than max_bytes.
Status copy_file(const std::string& src, const std::string& dst, mode_t mode, off_t max_bytes);

}  // namespace nslab::sys
