// Cgroups are not objects of any namespace: a cgroup a lab makes (the cgroup experiments' sandbox,
// "nslab-*" below the lab's cgroup namespace root) and the lab's own cgroup ("nslab-lab-PID-N",
// runner/lab_cgroup.hpp) outlive the lab. They are removed once their labs are gone.
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
// parents, holding the same flock on each directory that agent/cgroup.cpp takes while it makes
// and enters a sandbox. A lab cgroup "nslab-lab-PID-N" is left to its runner while PID lives
// (it is made empty, then the lab starts in it).
void remove_dead_lab_cgroups(const std::vector<std::string>& extra_parents = {});

}  // namespace nslab::runner
