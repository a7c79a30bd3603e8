// The lab's init prepares a throwaway "host": everything it mounts lives in its own mount namespace.
#include <sys/mount.h>
#include <unistd.h>

#include "agent/agent.hpp"
#include "sys/syscalls.hpp"

namespace nslab::agent {

sys::Status setup_lab() {
    // mount_namespaces(7): a new mount namespace copies the parent's propagation; on a host whose
    // `/` is shared, our mounts would propagate to the real machine until we make the tree private.
    NSLAB_TRY(sys::mount("none", "/", "", MS_REC | MS_PRIVATE));
    // pid_namespaces(7): /proc shows the PID namespace of the procfs mount, not of the reader.
    NSLAB_TRY(sys::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC));
    // sysfs shows the network namespace of its mounter (/sys/class/net): mount the lab's own.
    NSLAB_TRY(sys::mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC));
    // Scratch space: experiments write under /tmp, which is the lab's own tmpfs.
    NSLAB_TRY(sys::mount("nslab-tmp", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"));
    // POSIX shm lives in /dev/shm, which no namespace isolates: give the lab its own.
    if (::access("/dev/shm", F_OK) == 0)
        NSLAB_TRY(sys::mount("nslab-shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"));
    // An mqueue mount shows the IPC namespace of its mounter (mq_overview(7)): the lab's own.
    if (::access("/dev/mqueue", F_OK) == 0)
        NSLAB_TRY(sys::mount("mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC));
    return {};
}

}  // namespace nslab::agent
