// Cgroups are not objects of any namespace: a cgroup a lab makes (the cgroup experiments' sandbox,
// "nslab-*" below the lab's cgroup namespace root) and the lab's own cgroup ("nslab-lab-RUN-N",
// runner/lab_cgroup.hpp) outlive the lab. They are removed once their labs are gone.
//
// Who owns a lab cgroup is told by flock(2), which holds across PID namespaces and pid reuse: its
// runner holds LOCK_SH on the directory from before the directory can be seen until it is removed
// (creation happens under LOCK_SH on the parent, a sweep under LOCK_EX), and the lock goes with
// the runner's last fd when it dies, however it dies.
#pragma once

#include <string>
#include <vector>

#include "sys/result.hpp"

namespace nslab::runner {

// Where this process's mount table shows the cgroup v2 hierarchy ("" when there is no cgroup2
// mount), and the runner's own cgroup v2 directory below it.
std::string cgroup_v2_mount_point();
std::string own_cgroup_v2_dir();
// The runner's own cgroup directory in the cgroup v1 hierarchy that holds `controller` ("" when
// no v1 hierarchy has it).
std::string own_cgroup_v1_dir(const std::string& controller);
// The child cgroups of the runner's v2 directory (names), and the "nslab-*" children (paths) of
// the extra parents, for the leak check.
std::vector<std::string> own_child_cgroups(const std::vector<std::string>& extra_parents = {});
// Removes a cgroup and its descendants, deepest first (EBUSY while a process is in one).
sys::Status remove_cgroup_tree(const std::string& dir);
// Removes every unpopulated "nslab-*" cgroup tree below the runner's v2 cgroup and the extra
// parents, holding LOCK_EX on each parent (the lock agent/cgroup.cpp takes while it makes and
// enters a sandbox, and LabCgroup::create while it makes a lab's). A lab cgroup whose runner still
// holds its lock is left alone, whichever runner, namespace or container that is.
void remove_dead_lab_cgroups(const std::vector<std::string>& extra_parents = {});

}  // namespace nslab::runner
