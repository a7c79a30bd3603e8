// The lab's init prepares a throwaway "host": everything it mounts lives in its own mount namespace.
#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include "agent/agent.hpp"
#include "core/unique_fd.hpp"
#include "sys/mount_calls.hpp"
#include "sys/syscalls.hpp"

namespace nslab::agent {

sys::Status setup_lab() {
    // mount_namespaces(7): a new mount namespace copies the parent's propagation; on a host whose
    // `/` is shared, our mounts would propagate to the real machine until we make the tree private.
    NSLAB_TRY(sys::mount("none", "/", "", MS_REC | MS_PRIVATE));
    // pid_namespaces(7): /proc shows the PID namespace of the procfs mount, not of the reader.
    NSLAB_TRY(sys::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC));
    // sysfs shows the network namespace of its mounter (/sys/class/net): mount the lab's own.
    const unsigned long sysfs_flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
    if (auto rw = sys::mount("sysfs", "/sys", "sysfs", sysfs_flags); !rw.ok()) {
        // In a user namespace a new sysfs may not be less restricted than the one visible
        // (fs/namespace.c mount_too_revealing: a read-only /sys is locked read-only), as in a
        // container whose /sys is read-only: the lab's own sysfs is then read-only too.
        if (rw.error().err() != EPERM) return rw;
        auto ro = sys::mount("sysfs", "/sys", "sysfs", sysfs_flags | MS_RDONLY);
        if (!ro.ok()) return std::move(rw).error().context("mounting the lab's sysfs (read-only too: " + ro.error().describe() + ")");
    }
    // External launchers exec nslab-agent by path inside the lab: when it was built under /tmp, keep
    // its directory reachable through the lab's own /tmp (a bind of the directory as it was).
    core::UniqueFd agent_dir;
    std::string agent_dir_path;
    if (auto exe = sys::readlink("/proc/self/exe"); exe.ok() && exe->rfind("/tmp/", 0) == 0) {
        agent_dir_path = exe->substr(0, exe->rfind('/'));
        if (auto fd = sys::open(agent_dir_path, O_PATH | O_DIRECTORY | O_CLOEXEC); fd.ok()) agent_dir = core::UniqueFd(*fd);
    }
    // Scratch space: experiments write under /tmp, which is the lab's own tmpfs.
    NSLAB_TRY(sys::mount("nslab-tmp", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"));
    if (agent_dir) {
        NSLAB_TRY(sys::mkdir_p(agent_dir_path));
        NSLAB_TRY(sys::mount("/proc/self/fd/" + std::to_string(agent_dir.get()), agent_dir_path, "", MS_BIND | MS_REC));
    }
    // POSIX shm lives in /dev/shm, which no namespace isolates: give the lab its own.
    if (::access("/dev/shm", F_OK) == 0)
        NSLAB_TRY(sys::mount("nslab-shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"));
    // An mqueue mount shows the IPC namespace of its mounter (mq_overview(7)): the lab's own.
    if (::access("/dev/mqueue", F_OK) == 0)
        NSLAB_TRY(sys::mount("mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC));
    return {};
}

}  // namespace nslab::agent
