// The lab's init prepares a throwaway "host": everything it mounts lives in its own mount namespace.
#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstdio>

#include "agent/agent.hpp"
#include "agent/lab_root.hpp"
#include "core/unique_fd.hpp"
#include "sys/mount_calls.hpp"
#include "sys/syscalls.hpp"

namespace nslab::agent {
namespace {

// The lab's own /proc, /sys, /tmp, /dev/shm and /dev/mqueue, under root ("" for the machine's `/`).
struct Bind {
    core::UniqueFd dir;  // O_PATH, opened in the machine's tree before anything was mounted
    std::string path;
};

sys::Status mount_pseudo_filesystems(const std::string& root, const core::UniqueFd& agent_dir, const std::string& agent_dir_path,
                                     const std::vector<Bind>& write_through) {
    // pid_namespaces(7): /proc shows the PID namespace of the procfs mount, not of the reader.
    NSLAB_TRY(sys::mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC));
    // sysfs shows the network namespace of its mounter (/sys/class/net): mount the lab's own.
    const unsigned long sysfs_flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
    if (auto rw = sys::mount("sysfs", root + "/sys", "sysfs", sysfs_flags); !rw.ok()) {
        // In a user namespace a new sysfs may not be less restricted than the one visible
        // (fs/namespace.c mount_too_revealing: a read-only /sys is locked read-only), as in a
        // container whose /sys is read-only: the lab's own sysfs is then read-only too.
        if (rw.error().err() != EPERM) return rw;
        auto ro = sys::mount("sysfs", root + "/sys", "sysfs", sysfs_flags | MS_RDONLY);
        if (!ro.ok()) return std::move(rw).error().context("mounting the lab's sysfs (read-only too: " + ro.error().describe() + ")");
    }
    // Scratch space: experiments write under /tmp, which is the lab's own tmpfs.
    NSLAB_TRY(sys::mount("nslab-tmp", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"));
    if (agent_dir) {
        NSLAB_TRY(sys::mkdir_p(root + agent_dir_path));
        NSLAB_TRY(sys::mount("/proc/self/fd/" + std::to_string(agent_dir.get()), root + agent_dir_path, "", MS_BIND | MS_REC));
    }
    for (auto& b : write_through) {
        const std::string at = root + b.path;
        NSLAB_TRY(sys::mkdir_p(at));
        NSLAB_TRY(sys::mount("/proc/self/fd/" + std::to_string(b.dir.get()), at, "", MS_BIND | MS_REC));
        // A bind keeps its source's flags: where the machine was made read-only, undo it here.
        if (auto rw = sys::mount_setattr(at, AT_RECURSIVE, {.attr_clr = MOUNT_ATTR_RDONLY}); !rw.ok() && rw.error().err() != ENOSYS)
            return std::move(rw).error().context("making " + b.path + " writable in the lab");
    }
    // POSIX shm lives in /dev/shm, which no namespace isolates: give the lab its own.
    if (::access((root + "/dev/shm").c_str(), F_OK) == 0)
        NSLAB_TRY(sys::mount("nslab-shm", root + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"));
    // An mqueue mount shows the IPC namespace of its mounter (mq_overview(7)): the lab's own.
    if (::access((root + "/dev/mqueue").c_str(), F_OK) == 0)
        NSLAB_TRY(sys::mount("mqueue", root + "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC));
    return {};
}

// Who the lab's root is on the machine: user_namespaces(7), /proc/self/uid_map's "0 OUTER n".
// nullopt outside any user namespace (the identity map of the initial one).
std::optional<unsigned long> root_outside() {
    auto map = sys::read_file("/proc/self/uid_map");
    if (!map.ok()) return std::nullopt;
    unsigned long inside = 0, outside = 0, count = 0;
    if (std::sscanf(map->c_str(), "%lu %lu %lu", &inside, &outside, &count) != 3) return std::nullopt;
    if (inside == 0 && outside == 0 && count == 4294967295UL) return std::nullopt;
    return inside == 0 ? outside : 65534UL;
}

}  // namespace

sys::Result<LabRoot> setup_lab(bool copy_on_write, const std::vector<std::string>& write_through) {
    // mount_namespaces(7): a new mount namespace copies the parent's propagation; on a host whose
    // `/` is shared, our mounts would propagate to the real machine until we make the tree private.
    NSLAB_TRY(sys::mount("none", "/", "", MS_REC | MS_PRIVATE));
    // External launchers exec nslab-agent by path inside the lab: when it was built under /tmp, keep
    // its directory reachable through the lab's own /tmp (a bind of the directory as it was).
    core::UniqueFd agent_dir;
    std::string agent_dir_path;
    if (auto exe = sys::readlink("/proc/self/exe"); exe.ok() && exe->rfind("/tmp/", 0) == 0) {
        agent_dir_path = exe->substr(0, exe->rfind('/'));
        if (auto fd = sys::open(agent_dir_path, O_PATH | O_DIRECTORY | O_CLOEXEC); fd.ok()) agent_dir = core::UniqueFd(*fd);
    }
    std::vector<Bind> binds;
    for (auto& path : write_through) {
        NSLAB_ASSIGN_OR_RETURN(int fd, sys::open(path, O_PATH | O_DIRECTORY | O_CLOEXEC));
        binds.push_back({core::UniqueFd(fd), path});
    }
    auto pseudo = [&](const std::string& root) { return mount_pseudo_filesystems(root, agent_dir, agent_dir_path, binds); };
    LabRoot result;
    if (!copy_on_write) {
        result.why_not = "the run keeps the machine's / in its labs (--lab-root host)";
    } else if (auto outside = root_outside(); outside && *outside != 0) {
        // user_namespaces(7): capabilities act on an inode only when its owner is mapped, so the
        // machine's root-owned files stay read-only to this lab with or without an overlay.
        result.why_not = "the lab's root is uid " + std::to_string(*outside) +
                         " on the machine, to which the machine's own files (/etc, /run) stay read-only: run as root";
    } else {
        auto entered = enter_copy_on_write_root(outside.has_value(), pseudo, result.caveats);
        if (entered.ok()) {
            result.copy_on_write = true;
            return result;
        }
        result.why_not = "no copy-on-write root: " + entered.error().describe();
        result.caveats.clear();
    }
    if (auto ro = make_machine_read_only(); !ro.ok())
        result.caveats.push_back("the machine's / stays writable in this lab: " + ro.error().describe());
    NSLAB_TRY(pseudo(""));
    return result;
}

}  // namespace nslab::agent
