// /proc/self/mountinfo read into entries (proc(5)): the agent's mount ops and the lab's root.
#pragma once

#include <string>
#include <vector>

#include "sys/result.hpp"

namespace nslab::agent {

// One line of /proc/self/mountinfo (proc(5)).
struct MountEntry {
    std::string id, parent, dev, root, point, options;
    std::vector<std::string> optional;  // shared:N, master:N, propagate_from:N, unbindable
    std::string fstype, source;
    bool read_only() const;  // the per-mount options say "ro"
};

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_mountinfo(const std::string& s);

// The caller's mounts, in the order of its mount namespace's list (the newest last).
sys::Result<std::vector<MountEntry>> read_mountinfo();

}  // namespace nslab::agent
