// What this machine lets a runner do, probed once per run by doing it (a child that creates the
// lab's namespaces and exits), never by reading error text: capabilities, seccomp, user
// namespaces, where the process's root is, /sys, the namespace limits. `nslab doctor` prints
// these facts, the run decides from them how labs are made (root's own, or owned by a user
// namespace), and an experiment whose needs they cannot meet SKIPs with the cause and the fix.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace nslab::runner {

struct MachineFacts {
    std::string kernel;                 // uname -r
    unsigned euid = 0;
    uint64_t cap_effective = 0, cap_bounding = 0;  // /proc/self/status CapEff, CapBnd
    int seccomp = -1;                   // /proc/self/status Seccomp: 0 none, 1 strict, 2 filter; -1 unknown
    bool no_new_privs = false;
    int root_lab_errno = 0;             // clone3 of the lab's namespaces without a user namespace (0 = works)
    int userns_lab_errno = 0;           // the same, owned by a new user namespace (0 = works)
    int userns_errno = 0;               // a user namespace alone (0 = works)
    bool root_is_mount_point = true;    // "/" is a mount point (false in a chroot into a directory)
    bool sys_read_only = false;         // /sys is mounted read-only (Docker without --privileged)
    std::map<std::string, long> max_namespaces;  // /proc/sys/user/max_*_namespaces, by kind
};

// The oldest kernel nslab runs on: clone3 with CLONE_PIDFD (5.3) and waitid(P_PIDFD) (5.4) have
// no fallback. close_range (5.9) falls back to /proc/self/fd (sys::close_fd_range), and
// CLONE_INTO_CGROUP (5.7) to a lab without a cgroup v2 child (runner/lab_cgroup.cpp).
inline constexpr const char* kOldestKernel = "5.4";

// Probed on first use, then the same for the whole run.
const MachineFacts& machine_facts();
// Probes now (tests; doctor's dry run).
MachineFacts probe_machine();

// Capabilities by name ("CAP_NET_ADMIN"), and the ones a lab as root relies on: found by running
// the catalogue with each of them dropped from the bounding set (ci/soak's environment tests).
std::string capability_name(int cap);
const std::vector<int>& root_lab_capabilities();
// The capabilities of root_lab_capabilities() missing from this process (effective or bounding:
// the lab's agent is exec'd, and execve gives root the bounding set).
std::vector<int> missing_root_lab_capabilities(const MachineFacts& facts);
// "--cap-add NET_ADMIN --cap-add SYS_TIME"
std::string docker_cap_flags(const std::vector<int>& caps);

// How labs are made in this run.
enum class LabMode { root, user_namespace, none };
struct LabModeChoice {
    LabMode mode = LabMode::root;
    // One line for the run's header and doctor: which mode and why ("" when root labs as usual).
    std::string summary;
    // Why an experiment that needs root's own lab cannot have one here, with the fix ("" if it can).
    std::string root_unavailable;
    // mode none: why no lab can be made at all, with the fix.
    std::string none_reason;
};
LabModeChoice choose_lab_mode(const MachineFacts& facts, bool user_lab_requested);

// Why making namespaces failed with err here, and what fixes it: seccomp, a chroot, a sysctl, a
// missing capability — in the words a CI engineer needs (Docker, Podman, GitLab runner flags).
std::string namespace_failure_cause(const MachineFacts& facts, int err, bool user_namespace);

}  // namespace nslab::runner
