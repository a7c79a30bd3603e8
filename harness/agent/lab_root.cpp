// The lab's copy-on-write root, put together the way a container runtime does: a tmpfs skeleton,
// an overlay over each of the machine's directories, and pivot_root into it.
//
// overlayfs does not cross mounts in a lower layer, and in a user namespace it refuses a lower
// layer with mounts below it (fs/namespace.c clone_private_mount: "locked" children would be
// revealed). So a directory with no mount below it becomes one overlay (lower: the machine's
// directory, upper: the lab's tmpfs), and one with mounts below it is "split": re-created on the
// skeleton entry by entry, each subdirectory handled the same way. `/` is always split.
#include "agent/lab_root.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

#include "core/mountinfo.hpp"
#include "core/unique_fd.hpp"
#include "sys/mount_calls.hpp"
#include "sys/spawn_calls.hpp"
#include "sys/syscalls.hpp"

namespace nslab::agent {
namespace {

// Regular files of a split directory are copied up to this size (Docker's /etc/hosts and
// /etc/resolv.conf are such files, bind-mounted); bigger ones are bound read-only.
constexpr off_t kCopyLimit = 1 << 20;

std::string join(const std::string& dir, const std::string& name) { return dir == "/" ? "/" + name : dir + "/" + name; }

class RootBuilder {
public:
    RootBuilder(std::string layers, std::vector<core::MountEntry> mounts, bool in_user_namespace, std::vector<std::string>& caveats)
        : layers_(std::move(layers)), mounts_(std::move(mounts)), userns_(in_user_namespace), caveats_(caveats) {}

    // Makes dst (an existing directory of the skeleton) show src copy-on-write.
    sys::Status populate(const std::string& src, const std::string& dst) {
        if (!has_mount_below(src)) {
            const core::MountEntry* m = mount_at(src);
            // A read-only mount cannot be written on the machine either: bind it as it is.
            if (m && m->read_only()) return keep(sys::mount(src, dst, "", MS_BIND, ""), src);
            auto o = overlay(src, dst);
            if (o.ok()) return o;
            // The first overlay is the test of overlayfs itself: if it fails, no root is built.
            if (overlays_ == 0) return o;
            caveats_.push_back(src + ": read-only (" + o.error().describe() + ")");
            return keep(bind_read_only(src, dst), src);
        }
        // Outside a user namespace overlayfs takes a lower layer with mounts below it (they just
        // do not show through): one overlay, then each mount below it in its place. Far cheaper
        // than a split: each overlay mount costs its own checks of the upper layer's features.
        if (!userns_) {
            auto o = overlay(src, dst);
            if (o.ok()) return mounts_below(src, dst);
            if (overlays_ == 0) return o;
        }
        return split(src, dst);
    }

private:
    // The lab mounts its own /proc, /sys and /tmp, and binds the machine's /dev.
    static bool lab_made(const std::string& path) {
        for (const char* t : {"/proc", "/sys", "/dev", "/tmp"})
            if (path == t || path.rfind(std::string(t) + "/", 0) == 0) return true;
        return false;
    }

    // Each mount just below src (not below another mount below src), at its place under dst.
    sys::Status mounts_below(const std::string& src, const std::string& dst) {
        const std::string prefix = src == "/" ? "/" : src + "/";
        std::vector<std::string> points;
        for (auto& m : mounts_) {
            if (m.point.size() <= prefix.size() || m.point.rfind(prefix, 0) != 0 || lab_made(m.point)) continue;
            if (std::find(points.begin(), points.end(), m.point) == points.end()) points.push_back(m.point);
        }
        for (auto& p : points) {
            bool nested = std::any_of(points.begin(), points.end(),
                                      [&](const std::string& q) { return p.size() > q.size() && p.rfind(q + "/", 0) == 0; });
            if (nested) continue;  // handled by populate() of the mount it is below
            const std::string d = dst + p.substr(src == "/" ? 0 : src.size());
            auto st = sys::stat_path(p);
            if (!st.ok()) {
                (void)keep(std::move(st).error(), p);
                continue;
            }
            if (S_ISDIR(st->st_mode)) {
                NSLAB_TRY(populate(p, d));
            } else {
                // A file bind-mounted on the machine (Docker's /etc/hosts): its content, writable.
                auto copied = S_ISREG(st->st_mode) ? write_copy(p, d) : sys::Status(sys::Error(EINVAL, p + ": not a regular file"));
                if (!copied.ok()) (void)keep(bind_read_only(p, d), p);
            }
        }
        return {};
    }

    // Replaces dst's content (a file of an overlay: copied up) with src's.
    sys::Status write_copy(const std::string& src, const std::string& dst) {
        NSLAB_ASSIGN_OR_RETURN(struct ::stat st, sys::stat_path(src));
        if (st.st_size > kCopyLimit) return sys::Error(EFBIG, "copy of " + src);
        NSLAB_ASSIGN_OR_RETURN(std::string content, sys::read_file(src));
        return sys::create_file(dst, content, st.st_mode & 07777);
    }

    bool has_mount_below(const std::string& dir) const {
        const std::string prefix = dir == "/" ? "/" : dir + "/";
        return std::any_of(mounts_.begin(), mounts_.end(),
                           [&](const core::MountEntry& m) { return m.point.size() > prefix.size() && m.point.rfind(prefix, 0) == 0; });
    }
    const core::MountEntry* mount_at(const std::string& path) const {
        const core::MountEntry* top = nullptr;
        for (auto& m : mounts_)
            if (m.point == path) top = &m;  // the last listed at a point is the one on top
        return top;
    }
    // A part that could not be made writable is kept visible read-only, or left out, and said.
    sys::Status keep(sys::Status s, const std::string& src) {
        if (!s.ok()) caveats_.push_back(src + ": left out (" + s.error().describe() + ")");
        return {};
    }

    sys::Status overlay(const std::string& src, const std::string& dst) {
        NSLAB_ASSIGN_OR_RETURN(struct ::stat st, sys::stat_path(src));
        const std::string layer = layers_ + "/" + std::to_string(overlays_ + failures_);
        NSLAB_TRY(sys::mkdir(layer, 0700));
        NSLAB_TRY(sys::mkdir(layer + "/upper", st.st_mode & 07777));
        NSLAB_TRY(sys::mkdir(layer + "/work", 0700));
        // overlayfs: the merged root directory takes its owner and mode from the upper one.
        (void)sys::lchown(layer + "/upper", st.st_uid, st.st_gid);
        (void)sys::chmod(layer + "/upper", st.st_mode & 07777);
        // A path through our own fd: no escaping of ',' or ':' in names, no length limit.
        NSLAB_ASSIGN_OR_RETURN(int fd, sys::open(src, O_PATH | O_DIRECTORY | O_CLOEXEC));
        core::UniqueFd lower(fd);
        const std::string options = "lowerdir=/proc/self/fd/" + std::to_string(fd) + ",upperdir=" + layer + "/upper,workdir=" + layer + "/work";
        // overlayfs in a user namespace cannot set trusted.* xattrs: "userxattr" keeps its
        // metadata in user.* (Linux 5.11); tmpfs takes user.* xattrs from 6.6, so older kernels
        // mount without it (no redirects or metacopy, which the lab does not need).
        sys::Status mounted = sys::Error(EINVAL, "overlay");
        if (userns_ && userxattr_ != false) {
            mounted = sys::mount("nslab-root", dst, "overlay", 0, options + ",userxattr");
            if (!userxattr_) userxattr_ = mounted.ok();
        }
        if (!mounted.ok() || !userns_) mounted = sys::mount("nslab-root", dst, "overlay", 0, options);
        if (!mounted.ok()) {
            ++failures_;
            return std::move(mounted).error().context("overlay of " + src);
        }
        ++overlays_;
        return {};
    }

    sys::Status bind_read_only(const std::string& src, const std::string& dst) {
        NSLAB_TRY(sys::mount(src, dst, "", MS_BIND | MS_REC, ""));
        // mount(2): a bind mount is made read-only by a remount; mount_setattr does the subtree.
        if (sys::mount_setattr(dst, AT_RECURSIVE, {.attr_set = MOUNT_ATTR_RDONLY}).ok()) return {};
        return sys::mount("none", dst, "", MS_BIND | MS_REMOUNT | MS_RDONLY, "");
    }

    sys::Status split(const std::string& src, const std::string& dst) {
        auto names = sys::list_dir(src);
        if (!names.ok()) return keep(std::move(names).error(), src);
        std::sort(names->begin(), names->end());
        for (auto& name : *names) {
            const std::string s = join(src, name), d = join(dst, name);
            if (lab_made(s)) {
                auto st = sys::lstat_path(s);
                if (st.ok() && S_ISDIR(st->st_mode)) NSLAB_TRY(sys::mkdir(d, st->st_mode & 07777));
                continue;
            }
            auto st = sys::lstat_path(s);
            if (!st.ok()) {
                (void)keep(std::move(st).error(), s);
                continue;
            }
            const mode_t mode = st->st_mode & 07777;
            if (S_ISDIR(st->st_mode)) {
                NSLAB_TRY(sys::mkdir(d, mode));
                (void)sys::lchown(d, st->st_uid, st->st_gid);
                (void)sys::chmod(d, mode);  // mkdir(2) applies the umask
                NSLAB_TRY(populate(s, d));
            } else if (S_ISLNK(st->st_mode)) {
                auto target = sys::readlink(s);
                if (!target.ok()) {
                    (void)keep(std::move(target).error(), s);
                    continue;
                }
                NSLAB_TRY(sys::symlink(*target, d));
                (void)sys::lchown(d, st->st_uid, st->st_gid);
            } else if (S_ISREG(st->st_mode) && sys::copy_file(s, d, mode, kCopyLimit).ok()) {
                (void)sys::lchown(d, st->st_uid, st->st_gid);
                (void)sys::chmod(d, mode);
            } else {
                // Too big, unreadable (it must stay so), a socket, fifo or device: the machine's
                // own, read-only.
                (void)::unlink(d.c_str());
                NSLAB_TRY(sys::create_file(d, "", 0600));
                (void)keep(bind_read_only(s, d), s);
            }
        }
        return {};
    }

    std::string layers_;
    std::vector<core::MountEntry> mounts_;
    bool userns_;
    std::vector<std::string>& caveats_;
    int overlays_ = 0, failures_ = 0;
    std::optional<bool> userxattr_;
};

}  // namespace

sys::Status make_machine_read_only() {
    // mount_setattr(2), AT_RECURSIVE (Linux 5.12): the whole tree at once. Setting read-only is
    // allowed on mounts locked by a user namespace; only clearing it is not.
    auto all = sys::mount_setattr("/", AT_RECURSIVE, {.attr_set = MOUNT_ATTR_RDONLY});
    if (all.ok() || all.error().err() != ENOSYS) return all;
    // Older kernels: each mount by a bind remount, keeping the flags it has (a locked flag may
    // not be cleared: mount(2) EPERM).
    NSLAB_ASSIGN_OR_RETURN(auto mounts, core::read_mountinfo());
    for (auto& m : mounts) {
        struct ::statvfs vfs {};
        if (::statvfs(m.point.c_str(), &vfs) != 0) continue;
        unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY;
        if (vfs.f_flag & ST_NOSUID) flags |= MS_NOSUID;
        if (vfs.f_flag & ST_NODEV) flags |= MS_NODEV;
        if (vfs.f_flag & ST_NOEXEC) flags |= MS_NOEXEC;
        if (vfs.f_flag & ST_NOATIME) flags |= MS_NOATIME;
        if (vfs.f_flag & ST_NODIRATIME) flags |= MS_NODIRATIME;
        if (vfs.f_flag & ST_RELATIME) flags |= MS_RELATIME;
        NSLAB_TRY(sys::mount("none", m.point, "", flags, ""));
    }
    return {};
}

sys::Status enter_copy_on_write_root(bool in_user_namespace, const std::function<sys::Status(const std::string&)>& mount_pseudo,
                                     std::vector<std::string>& caveats) {
    NSLAB_ASSIGN_OR_RETURN(auto mounts, core::read_mountinfo());
    const std::string staging = kLabRootStaging, root = staging + "/root", layers = staging + "/layers";
    // The staging tmpfs holds the upper layers; the root is a tmpfs of its own, so that it is a
    // mount point (pivot_root(2): new_root must be one) and the layers stay out of the lab's sight.
    NSLAB_TRY(sys::mount("nslab-layers", staging, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700"));
    auto built = [&]() -> sys::Status {
        NSLAB_TRY(sys::mkdir(root, 0755));
        NSLAB_TRY(sys::mkdir(layers, 0700));
        NSLAB_TRY(sys::mount("nslab-root", root, "tmpfs", 0, "mode=0755"));
        NSLAB_TRY(RootBuilder(layers, std::move(mounts), in_user_namespace, caveats).populate("/", root));
        // The machine's devices, as today: an overlay made in a user namespace is nodev
        // (SB_I_NODEV), so /dev must stay the machine's mount. mount_pseudo covers /dev/shm.
        if (::access("/dev", F_OK) == 0) {
            NSLAB_TRY(sys::mount("/dev", root + "/dev", "", MS_BIND | MS_REC, ""));
            // Read-only, so that no file is made in the machine's /dev: device files stay usable
            // (a read-only mount refuses changes to the tree, not writes to a device).
            if (auto ro = sys::mount_setattr(root + "/dev", AT_RECURSIVE, {.attr_set = MOUNT_ATTR_RDONLY}); !ro.ok())
                caveats.push_back("/dev: the machine's, writable (" + ro.error().describe() + ")");
        }
        // Before pivot_root: in a user namespace a new proc or sysfs needs one fully visible
        // already (fs/namespace.c mount_too_revealing), which the machine's old ones are.
        NSLAB_TRY(mount_pseudo(root));
        // pivot_root(2): "pivot_root(".", ".")" stacks the old root on the new one; unmounting
        // it (MNT_DETACH: with everything below it) leaves the new root alone.
        NSLAB_TRY(sys::chdir(root));
        NSLAB_TRY(sys::pivot_root(".", "."));
        NSLAB_TRY(sys::umount2(".", MNT_DETACH));
        return sys::chdir("/");
    }();
    // Undo on error: the staging tmpfs holds all that was mounted; detaching it removes it all.
    if (!built.ok()) (void)sys::umount2(staging, MNT_DETACH);
    return built;
}

}  // namespace nslab::agent
