// /proc/self/mountinfo read into entries (proc(5)): the agent's mount ops, the lab's root, the
// runner's probes of the machine (cgroup mounts, filesystem types, a chrooted root).
#pragma once

#include <string>
#include <vector>

#include "sys/result.hpp"

namespace nslab::core {

// One line of /proc/self/mountinfo (proc(5)).
struct MountEntry {
    std::string id, parent, dev, root, point, options;
    std::vector<std::string> optional;  // shared:N, master:N, propagate_from:N, unbindable
    std::string fstype, source, super_options;
    bool read_only() const;  // the per-mount options say "ro"
};

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_mountinfo(const std::string& s);

// The caller's mounts, in the order of its mount namespace's list (the newest last). Points and
// roots are as the reader's root shows them.
sys::Result<std::vector<MountEntry>> read_mountinfo();

}  // namespace nslab::core
