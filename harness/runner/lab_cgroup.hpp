// Each lab's own cgroup: a bound on its tasks (pids.max, so that a fork bomb inside a realm stops
// at the limit) and optionally on its memory. Which mechanism applies is found by probing:
//  - cgroup v2: a child "nslab-lab-RUN-N" of a parent whose cgroup.subtree_control enables the
//    controller; the lab starts in it with clone3(CLONE_INTO_CGROUP) (kernel 5.7+).
//  - cgroup v1: the same child in the pids (memory) hierarchy below our own cgroup there; the
//    lab's init moves itself there (cgroup.procs) before it runs anything.
//  - neither: RLIMIT_NPROC in the lab, counted per (user namespace, uid) since ucounts (5.14), so
//    it bounds a lab owned by a user namespace when we are not root (root is exempt).
// The cgroup is removed when this object dies, after the lab (rmdir is EBUSY while populated).
// RUN identifies this process ([TAG.]PID.RANDOM, see run_id()); its lock on each directory says it
// is alive (runner/cgroup_cleanup.hpp).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/unique_fd.hpp"
#include "launch/lab.hpp"
#include "sys/result.hpp"

namespace nslab::runner {

struct LabLimits {
    unsigned long long max_pids = 512;  // tasks per lab (0: no bound)
    unsigned long long max_memory = 0;  // bytes per lab (0: no bound)
    std::string cgroup_parent;          // a cgroup v2 directory to put labs in ("" = probe)
};

// What bounds the tasks of a lab on this machine, e.g. "cgroup v1 pids (pids.max 512)" or
// "none: no pids controller usable and root is not bound by RLIMIT_NPROC".
std::string describe_pids_bound(const LabLimits& limits, bool lab_in_user_namespace);
bool pids_bound_available(const LabLimits& limits, bool lab_in_user_namespace);

// Which cgroups labs get on this machine, as probed from /proc/self/mountinfo, /proc/self/cgroup
// and the directories' permissions: probed once per run rather than once per lab.
struct LabCgroupPlan;
std::shared_ptr<const LabCgroupPlan> plan_lab_cgroups(const LabLimits& limits, bool lab_in_user_namespace);

// This process's identity in its labs' cgroup names: "PID.RANDOM", prefixed by "TAG." when the
// environment has NSLAB_RUN_TAG=TAG (letters, digits, '_'), so that a caller that starts runners
// (a test, a CI job) can tell their cgroups from everyone else's.
const std::string& run_id();
// Whether a lab cgroup's name (or path) was made by a runner whose run id starts with `prefix`
// ("TAG." for every runner started with that tag, or run_id() for this one).
bool lab_cgroup_made_by(const std::string& path, const std::string& prefix);

class LabCgroup {
public:
    LabCgroup() = default;
    LabCgroup(LabCgroup&&) = default;
    LabCgroup& operator=(LabCgroup&&) = default;
    ~LabCgroup() { remove(); }

    // Makes the lab's cgroups (none when no controller is usable) and fills options with them.
    static sys::Result<LabCgroup> create(const LabLimits& limits, bool lab_in_user_namespace,
                                         launch::LabOptions& options);
    // The same with a plan probed before (plan_lab_cgroups).
    static sys::Result<LabCgroup> create(const LabLimits& limits, const LabCgroupPlan& plan,
                                         launch::LabOptions& options);
    // The directories made, for messages and tests.
    const std::vector<std::string>& dirs() const { return dirs_; }
    // Removes the directories now (the lab must be gone), waiting up to 10 s for the kernel to let
    // go of one (rmdir is EBUSY until the last task has left it); false when one is still busy.
    bool remove();

private:
    // Makes parent/name under LOCK_SH on parent and returns it open with LOCK_SH held.
    sys::Result<core::UniqueFd> make_locked(const std::string& parent, const std::string& name);
    std::vector<std::string> dirs_;
    std::vector<core::UniqueFd> locks_;  // one per directory, each holding LOCK_SH; the v2 one
                                         // (first) is also the CLONE_INTO_CGROUP fd
};

// Parent directories under which labs' cgroups are made on this machine (for the leak check and
// the sweep of labs whose runner died).
std::vector<std::string> lab_cgroup_parents(const LabLimits& limits);

}  // namespace nslab::runner
