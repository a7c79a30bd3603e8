#include "runner/machine_facts.hpp"

#include <linux/capability.h>
#include <sched.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <sstream>

#include "core/child.hpp"
#include "core/mountinfo.hpp"
#include "core/namespace_kind.hpp"
#include "core/namespace_limits.hpp"
#include "experiment/model.hpp"
#include "launch/lab.hpp"
#include "sys/syscalls.hpp"

namespace nslab::runner {
namespace {

// capabilities(7) numbers, for the names a CI engineer types (Docker's --cap-add drops CAP_).
constexpr const char* kCapNames[] = {
    "CAP_CHOWN",          "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",          "CAP_FSETID",
    "CAP_KILL",           "CAP_SETGID",       "CAP_SETUID",          "CAP_SETPCAP",         "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",     "CAP_NET_RAW",         "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",      "CAP_SYS_MODULE",   "CAP_SYS_RAWIO",       "CAP_SYS_CHROOT",      "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",      "CAP_SYS_ADMIN",    "CAP_SYS_BOOT",        "CAP_SYS_NICE",        "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",       "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",         "CAP_LEASE",           "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",  "CAP_SETFCAP",      "CAP_MAC_OVERRIDE",    "CAP_MAC_ADMIN",       "CAP_SYSLOG",
    "CAP_WAKE_ALARM",     "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",     "CAP_PERFMON",         "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE"};

uint64_t bit(int cap) { return uint64_t{1} << cap; }

std::string status_field(const std::string& status, const std::string& key) {
    std::istringstream in(status);
    for (std::string line; std::getline(in, line);)
        if (line.rfind(key + ":", 0) == 0) {
            std::string v = line.substr(key.size() + 1);
            v.erase(0, v.find_first_not_of(" \t"));
            return v;
        }
    return "";
}

// Creates the namespaces in a child that exits at once: 0 when that works, else the errno.
int try_clone(unsigned mask) {
    auto c = sys::clone3(static_cast<uint64_t>(core::clone_flags_of(mask)) | CLONE_PIDFD);
    if (!c.ok()) return c.error().err() ? c.error().err() : EINVAL;
    if (c->pid == 0) ::_exit(0);
    core::Child child(c->pid, core::UniqueFd(c->pidfd));
    auto st = child.wait_for(std::chrono::seconds(5));
    return st.ok() && *st && **st == 0 ? 0 : ECHILD;
}

bool root_is_a_mount_point() {
    // proc(5): mountinfo shows mount points relative to the reader's root and leaves out mounts it
    // cannot reach, so a root that is a plain directory (a chroot) has no "/" line.
    auto mounts = core::read_mountinfo();
    if (!mounts.ok()) return true;  // no /proc: nothing to tell
    return std::any_of(mounts->begin(), mounts->end(), [](const core::MountEntry& m) { return m.point == "/"; });
}

}  // namespace

std::string capability_name(int cap) {
    if (cap >= 0 && cap < static_cast<int>(std::size(kCapNames))) return kCapNames[cap];
    return "capability " + std::to_string(cap);
}

const std::vector<int>& root_lab_capabilities() {
    // Beyond Docker's default set: SYS_ADMIN (namespaces, mounts, sethostname), NET_ADMIN (links,
    // addresses, net sysctls), SYS_TIME (timens_offsets). Within it, and dropped by some runners:
    // DAC_OVERRIDE (cgroup files), SETUID/SETGID/SETFCAP (id maps of other users), NET_RAW
    // (ping), SYS_CHROOT (setns into a mount namespace).
    static const std::vector<int> caps = {CAP_SYS_ADMIN, CAP_NET_ADMIN, CAP_SYS_TIME,  CAP_DAC_OVERRIDE, CAP_SETUID,
                                          CAP_SETGID,    CAP_SETFCAP,   CAP_NET_RAW,   CAP_SYS_CHROOT};
    return caps;
}

std::vector<int> missing_root_lab_capabilities(const MachineFacts& facts) {
    std::vector<int> out;
    for (int cap : root_lab_capabilities())
        if (!(facts.cap_effective & bit(cap)) || !(facts.cap_bounding & bit(cap))) out.push_back(cap);
    return out;
}

std::string docker_cap_flags(const std::vector<int>& caps) {
    std::string out;
    for (int cap : caps) out += (out.empty() ? "" : " ") + std::string("--cap-add ") + capability_name(cap).substr(4);
    return out;
}

MachineFacts probe_machine() {
    MachineFacts f;
    f.kernel = sys::uname().release;
    f.euid = ::geteuid();
    if (auto status = sys::read_file("/proc/self/status"); status.ok()) {
        auto hex = [&](const char* key) {
            std::string v = status_field(*status, key);
            return v.empty() ? 0 : std::stoull(v, nullptr, 16);
        };
        f.cap_effective = hex("CapEff");
        f.cap_bounding = hex("CapBnd");
        std::string sc = status_field(*status, "Seccomp");
        f.seccomp = sc.empty() ? -1 : std::stoi(sc);
        f.no_new_privs = status_field(*status, "NoNewPrivs") == "1";
    }
    unsigned lab = launch::lab_namespaces(launch::LabOptions{});
    unsigned user = core::ns_bit(core::Ns::user);
    f.root_lab_errno = f.euid == 0 ? try_clone(lab & ~user) : EPERM;
    // user_namespaces(7): with CLONE_NEWUSER the user namespace is made first and owns the others.
    f.userns_lab_errno = try_clone(lab | user);
    f.userns_errno = try_clone(user);
    f.root_is_mount_point = root_is_a_mount_point();
    struct statvfs sv {};
    f.sys_read_only = ::statvfs("/sys", &sv) == 0 && (sv.f_flag & ST_RDONLY);
    for (auto& k : core::namespace_kinds()) {
        auto v = sys::read_file("/proc/sys/user/max_" + std::string(k.name) + "_namespaces");
        if (v.ok()) f.max_namespaces[std::string(k.name)] = std::stol(*v);
    }
    return f;
}

const MachineFacts& machine_facts() {
    static std::once_flag once;
    static MachineFacts facts;
    std::call_once(once, [] { facts = probe_machine(); });
    return facts;
}

std::string namespace_failure_cause(const MachineFacts& facts, int err, bool user_namespace) {
    const std::string call = user_namespace ? "creating a user namespace" : "creating namespaces";
    if (facts.seccomp == 2 && (err == EPERM || err == ENOSYS))
        return "a seccomp filter refuses it (" + call + ": " + sys::errno_name(err) +
               "; /proc/self/status has Seccomp: 2). Docker's default profile allows namespaces only with "
               "CAP_SYS_ADMIN: run with --cap-add SYS_ADMIN (or --security-opt seccomp=unconfined); Podman "
               "likewise; a GitLab runner: cap_add = [\"SYS_ADMIN\"] in [runners.docker]";
    if (!facts.root_is_mount_point && (err == EPERM || err == EINVAL))
        return "this process is chrooted into a directory (/ is not a mount point): the kernel refuses user "
               "namespaces to a chrooted process (user_namespaces(7), EPERM) and a lab cannot make / private "
               "(EINVAL). Run from a real root, or enter the root with pivot_root as a container does";
    if (err == ENOSPC) {
        // namespaces(7): past a /proc/sys/user/max_*_namespaces limit, creation fails with ENOSPC.
        std::string fix;
        for (auto& [kind, limit] : facts.max_namespaces)
            if (limit == 0) fix += (fix.empty() ? "" : "; ") + std::string("sysctl -w user.max_") + kind + "_namespaces=1000";
        return "creating the lab's namespaces: ENOSPC, " + core::namespace_limit_hint(0) + (fix.empty() ? "" : " (fix: " + fix + ")");
    }
    if (err == ENOSYS)
        return call + ": ENOSYS: this kernel (" + facts.kernel + ") lacks clone3(2), which nslab needs (Linux " +
               kOldestKernel + " or later)";
    if (err == EPERM && user_namespace && facts.euid != 0)
        return "unprivileged user namespaces are off here (" + call +
               ": EPERM): sysctl -w kernel.unprivileged_userns_clone=1 (Debian), or on Ubuntu 24.04 "
               "kernel.apparmor_restrict_unprivileged_userns=0; or run as root";
    if (err == EPERM && !user_namespace)
        return call + " needs CAP_SYS_ADMIN, which this process lacks (in Docker: --cap-add SYS_ADMIN)";
    return call + ": " + sys::errno_name(err);
}

LabModeChoice choose_lab_mode(const MachineFacts& facts, bool user_lab_requested) {
    LabModeChoice c;
    // mount_namespaces(7): a lab makes its / private first, which needs / to be a mount point
    // (EINVAL otherwise); and the kernel refuses user namespaces to a chrooted process.
    if (!facts.kernel.empty() && !experiment::kernel_at_least(facts.kernel, kOldestKernel)) {
        c.mode = LabMode::none;
        c.none_reason = "nslab needs Linux " + std::string(kOldestKernel) + " or later (this is " + facts.kernel +
                        "): it starts every process with clone3(2) and CLONE_PIDFD (5.3) and waits on pidfds "
                        "with waitid(P_PIDFD) (5.4). Run it on a newer kernel, or boot one with ci/kernels";
        c.summary = c.none_reason;
        c.root_unavailable = c.none_reason;
        return c;
    }
    if (!facts.root_is_mount_point) {
        c.mode = LabMode::none;
        c.none_reason = "no lab can be made here: " + namespace_failure_cause(facts, EINVAL, false);
        c.summary = c.none_reason;
        c.root_unavailable = c.none_reason;
        return c;
    }
    std::vector<int> missing = missing_root_lab_capabilities(facts);
    std::string names;
    for (int cap : missing) names += (names.empty() ? "" : ", ") + capability_name(cap);
    std::string why_not_root;  // in the run's header
    if (facts.euid != 0) {
        c.root_unavailable = "needs root on the machine (running as uid " + std::to_string(facts.euid) + ")";
        why_not_root = "not root";
    } else if (!missing.empty()) {
        c.root_unavailable = "needs root's own lab, with " + names + ", which the runner lacks (in Docker: " +
                             docker_cap_flags(missing) + ")";
        why_not_root = "the runner lacks " + names;
    } else if (facts.root_lab_errno != 0) {
        std::string cause = namespace_failure_cause(facts, facts.root_lab_errno, false);
        c.root_unavailable = "needs root's own lab: " + cause;
        why_not_root = cause;
    } else if (user_lab_requested) {
        c.root_unavailable = "needs a lab with root's full privileges, not one owned by a user namespace (--user-lab)";
        why_not_root = "--user-lab";
    } else {
        return c;  // root's own labs, the usual case: nothing to say
    }
    // user_namespaces(7): a new user namespace starts with a full capability set and bounding set,
    // so a lab it owns has every capability over its own namespaces whatever the runner lacks.
    if (facts.userns_lab_errno == 0) {
        c.mode = LabMode::user_namespace;
        c.summary = "labs are owned by a user namespace (" + why_not_root + "); experiments that need root's own lab SKIP";
        return c;
    }
    c.mode = LabMode::none;
    c.none_reason = "no lab can be made here: " + namespace_failure_cause(facts, facts.userns_lab_errno, true);
    if (facts.euid == 0 && !user_lab_requested && facts.root_lab_errno != 0 &&
        facts.root_lab_errno != facts.userns_lab_errno)
        c.none_reason += "; without a user namespace: " + namespace_failure_cause(facts, facts.root_lab_errno, false);
    else if (facts.euid == 0 && !missing.empty() && facts.root_lab_errno == 0)
        c.none_reason += "; root's own lab would need " + names + " (in Docker: " + docker_cap_flags(missing) + ")";
    c.summary = c.none_reason;
    return c;
}

}  // namespace nslab::runner
