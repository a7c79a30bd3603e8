#include "runner/requirements.hpp"

#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>

#include "core/namespace_kind.hpp"
#include "runner/machine_facts.hpp"
#include "sys/syscalls.hpp"

namespace nslab::runner {

bool can_create_user_namespace() { return machine_facts().userns_errno == 0; }

namespace {
bool has_posix_message_queues() {
    // mq_overview(7): without CONFIG_POSIX_MQUEUE the mq_* system calls are ENOSYS. An fd that
    // cannot be a queue tells which without creating or opening any queue.
    auto r = sys::mq_getattr(-1);
    return r.ok() || r.error().err() != ENOSYS;
}

// time_namespaces(7) / kernel/time/namespace.c proc_timens_set_offset(): an offset may not make
// the namespace's clock negative, i.e. offset >= -(the clock's value now). A machine just booted
// (a CI guest a few seconds old) cannot yet give a realm "monotonic: -10": that is the machine's
// age, not a kernel fault. Clocks only move forward, so a check now holds when the realm starts.
std::optional<std::string> clock_too_young(const experiment::Experiment& e) {
    struct Clock {
        const char* name;
        clockid_t id;
        std::optional<long long> experiment::RealmSpec::*offset;
    };
    static constexpr Clock clocks[] = {{"monotonic", CLOCK_MONOTONIC, &experiment::RealmSpec::monotonic_offset},
                                       {"boottime", CLOCK_BOOTTIME, &experiment::RealmSpec::boottime_offset}};
    for (auto& r : e.realms)
        for (auto& c : clocks) {
            const auto& offset = r.*c.offset;
            if (!offset || *offset >= 0) continue;
            auto now = sys::clock_gettime(c.id);
            if (!now.ok() || now->tv_sec + *offset >= 0) continue;
            return "realm " + r.name + "'s " + c.name + " offset is " + std::to_string(*offset) + " s and this machine's " +
                   c.name + " clock reads only " + std::to_string(now->tv_sec) +
                   " s: a time namespace's clock may not go below zero (time_namespaces(7)); run it once the machine has been up " +
                   std::to_string(-*offset) + " s";
        }
    return std::nullopt;
}
}  // namespace

std::optional<std::string> unmet_requirement(const experiment::Experiment& e, bool lab_in_user_namespace,
                                             const std::string& root_unavailable, bool copy_on_write_root) {
    const auto& req = e.requires_;
    if (req.root && !root_unavailable.empty()) return root_unavailable;
    if (req.root && ::geteuid() != 0)
        return "needs root on the machine (running as uid " + std::to_string(::geteuid()) + ")";
    // user_namespaces(7): a lab owned by a user namespace maps only its creator's id, so even
    // root's lab there holds no other ids and no capability over the initial namespaces.
    if (req.root && lab_in_user_namespace)
        return "needs a lab with root's full privileges, not one owned by a user namespace (--user-lab)";
    const std::string release = sys::uname().release;
    if (!req.kernel.empty() && !kernel_at_least(release, req.kernel))
        return "needs kernel " + req.kernel + " or later (this is " + release + ")";
    if (!e.expect.empty() && std::none_of(e.expect.begin(), e.expect.end(), [&](const experiment::Expectation& x) {
            return x.applies_to_kernel(release);
        })) {
        std::string ranges;
        for (auto& x : e.expect) ranges += (ranges.empty() ? "" : ", ") + x.kernel_range();
        return "none of its expectations is for kernel " + release + " (they hold for " + ranges + ")";
    }
    unsigned used = 0;
    for (auto& r : e.realms) used |= r.new_mask;
    for (auto& k : core::namespace_kinds())
        if ((used & core::ns_bit(k.ns)) && !core::kernel_has(k.ns))
            return "this kernel has no " + std::string(k.name) + " namespaces (/proc/self/ns/" + std::string(k.name) +
                   " is missing; see " + std::string(k.manpage) + ")";
    if ((req.userns || lab_in_user_namespace || (used & core::ns_bit(core::Ns::user))) && !can_create_user_namespace())
        return "needs user namespaces: " + namespace_failure_cause(machine_facts(), machine_facts().userns_errno, true);
    // fs/namespace.c mount_too_revealing: in a user namespace a new sysfs may not be less
    // restricted than the visible one, and a container's read-only /sys is locked read-only.
    if (req.writable_sysfs && lab_in_user_namespace && machine_facts().sys_read_only)
        return "needs a read-write sysfs, and /sys is read-only here while labs are owned by a user namespace "
               "(in Docker: /sys is read-only without --privileged; run as root with the capabilities `nslab doctor` names)";
    if (auto young = clock_too_young(e)) return young;
    if (req.writable_root && !copy_on_write_root)
        return "writes outside /tmp, and this run keeps the machine's / in its labs (--lab-root host)";
    // user_namespaces(7): a lab owned by a user namespace maps one id, and overlayfs cannot copy
    // up a file whose owner or group is unmapped (/etc/gshadow is root:shadow), so writes fail.
    if (req.writable_root && lab_in_user_namespace) {
        // Said as `requires: root` says it (the cause and its fix first), then why this needs it.
        const std::string why = ", to write the machine's files copy-on-write (a lab owned by a user namespace maps one id, "
                                "and overlayfs cannot copy up files of other owners or groups)";
        if (::geteuid() != 0) return "needs root on the machine (running as uid " + std::to_string(::geteuid()) + ")" + why;
        if (!root_unavailable.empty()) return root_unavailable + why;
        return "needs a lab with root's full privileges, not one owned by a user namespace (--user-lab)" + why;
    }
    if (req.posix_mq && !has_posix_message_queues())
        return "this kernel has no POSIX message queues (mq_getsetattr is ENOSYS: CONFIG_POSIX_MQUEUE is off)";
    for (auto& tool : req.tools)
        if (!sys::find_on_lab_path(tool)) return "needs the program '" + tool + "' on PATH";
    return std::nullopt;
}

std::string no_copy_on_write_root(const std::string& why_not) {
    return "writes outside /tmp, and this lab has no copy-on-write root: " + why_not;
}

}  // namespace nslab::runner
