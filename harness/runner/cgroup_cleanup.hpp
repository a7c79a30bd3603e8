// Cgroups are not objects of any namespace: a cgroup a lab makes (the cgroup experiments' sandbox,
// "nslab-*" below the runner's own cgroup) outlives the lab. The runner removes them once their
// labs are gone.
#pragma once

#include <string>
#include <vector>

namespace nslab::runner {

// The runner's own cgroup v2 directory as this process's mount table shows it ("" when there is
// no cgroup2 mount).
std::string own_cgroup_v2_dir();
// The child cgroups of that directory (names), for the leak check.
std::vector<std::string> own_child_cgroups();
// Removes every unpopulated "nslab-*" cgroup tree below the runner's cgroup, holding the same
// flock on that directory that agent/cgroup.cpp takes while it makes and enters a sandbox.
void remove_dead_lab_cgroups();

}  // namespace nslab::runner
