#include "runner/cgroup_cleanup.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <sstream>

#include "core/mountinfo.hpp"
#include "core/unique_fd.hpp"
#include "sys/cgroup_calls.hpp"
#include "sys/syscalls.hpp"

namespace nslab::runner {
namespace {

// cgroup v2: cgroup.events says "populated 0" when no process is in the cgroup or below it; v1
// has no such file: there an empty cgroup.procs in the tree says the same.
bool unpopulated(const std::string& dir) {
    if (auto events = sys::read_file(dir + "/cgroup.events"); events.ok())
        return events->find("populated 0") != std::string::npos;
    auto procs = sys::read_file(dir + "/cgroup.procs");
    if (!procs.ok() || !procs->empty()) return false;
    auto entries = sys::list_dir(dir);
    if (!entries.ok()) return false;
    for (auto& e : *entries) {
        auto st = sys::lstat_path(dir + "/" + e);
        if (st.ok() && S_ISDIR(st->st_mode) && !unpopulated(dir + "/" + e)) return false;
    }
    return true;
}

// What the sweep may remove: a lab's cgroup ("nslab-lab-…", runner/lab_cgroup.cpp) or an
// experiment's sandbox ("nslab-" and 8 hex digits, agent/cgroup.cpp) — never another directory
// whose name merely starts with "nslab-", such as a --cgroup-parent someone made.
bool made_by_nslab(const std::string& name) {
    if (name.rfind("nslab-lab-", 0) == 0) return true;
    if (name.size() != 6 + 8 || name.rfind("nslab-", 0) != 0) return false;
    return std::all_of(name.begin() + 6, name.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
}

// A lab cgroup whose runner is alive: that runner holds LOCK_SH on it, so LOCK_EX|LOCK_NB fails
// with EWOULDBLOCK. The probe's own lock goes when the fd closes.
bool held_by_live_runner(const std::string& dir) {
    auto fd = sys::open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (!fd.ok()) return false;
    core::UniqueFd probe(*fd);
    auto locked = sys::flock_fd(probe.get(), LOCK_EX | LOCK_NB);
    return !locked.ok() && locked.error().err() == EWOULDBLOCK;
}

std::vector<core::MountEntry> cgroup_mounts() {
    std::vector<core::MountEntry> rows;
    auto mounts = core::read_mountinfo();
    if (!mounts.ok()) return rows;
    for (auto& m : *mounts)
        if (m.fstype == "cgroup" || m.fstype == "cgroup2") rows.push_back(m);
    return rows;
}

bool has_item(const std::string& list, const std::string& item, char sep) {
    std::istringstream in(list);
    for (std::string x; std::getline(in, x, sep);)
        if (x == item) return true;
    return false;
}

// The directory of cgroup `path` under a mount that shows the hierarchy from `root`.
std::string dir_under(const core::MountEntry& m, const std::string& path) {
    if (path.rfind(m.root, 0) != 0) return "";
    std::string rest = m.root == "/" ? path : path.substr(m.root.size());
    return m.point + (rest == "/" ? "" : rest);
}

}  // namespace

std::string cgroup_v2_mount_point() {
    for (auto& m : cgroup_mounts())
        if (m.fstype == "cgroup2") return m.point;
    return "";
}

std::string own_cgroup_v2_dir() {
    auto cg = sys::read_file("/proc/self/cgroup");
    if (!cg.ok()) return "";
    std::string path;
    std::istringstream lines(*cg);
    for (std::string line; std::getline(lines, line);)
        if (line.rfind("0::", 0) == 0) path = line.substr(3);
    if (path.empty()) return "";
    for (auto& m : cgroup_mounts())
        if (m.fstype == "cgroup2")
            if (std::string dir = dir_under(m, path); !dir.empty()) return dir;
    return "";
}

std::string own_cgroup_v1_dir(const std::string& controller) {
    // cgroups(7): /proc/PID/cgroup has one "ID:controllers:path" line per v1 hierarchy.
    auto cg = sys::read_file("/proc/self/cgroup");
    if (!cg.ok()) return "";
    std::string path;
    std::istringstream lines(*cg);
    for (std::string line; std::getline(lines, line);) {
        auto a = line.find(':'), b = line.find(':', a + 1);
        if (a == std::string::npos || b == std::string::npos) continue;
        if (has_item(line.substr(a + 1, b - a - 1), controller, ',')) path = line.substr(b + 1);
    }
    if (path.empty()) return "";
    for (auto& m : cgroup_mounts())
        if (m.fstype == "cgroup" && has_item(m.super_options, controller, ','))
            if (std::string dir = dir_under(m, path); !dir.empty()) return dir;
    return "";
}

std::vector<std::string> own_child_cgroups(const std::vector<std::string>& extra_parents) {
    std::vector<std::string> out;
    if (std::string dir = own_cgroup_v2_dir(); !dir.empty())
        if (auto entries = sys::list_dir(dir); entries.ok())
            for (auto& e : *entries) {
                auto st = sys::lstat_path(dir + "/" + e);
                if (st.ok() && S_ISDIR(st->st_mode)) out.push_back(e);
            }
    for (auto& parent : extra_parents)
        if (auto entries = sys::list_dir(parent); entries.ok())
            for (auto& e : *entries)
                if (e.rfind("nslab-", 0) == 0) out.push_back(parent + "/" + e);
    return out;
}

sys::Status remove_cgroup_tree(const std::string& dir) {
    NSLAB_ASSIGN_OR_RETURN(auto entries, sys::list_dir(dir));
    for (auto& e : entries) {
        auto st = sys::lstat_path(dir + "/" + e);
        if (st.ok() && S_ISDIR(st->st_mode)) NSLAB_TRY(remove_cgroup_tree(dir + "/" + e));
    }
    return sys::cgroup_rmdir(dir);  // cgroupfs: EBUSY while it has processes
}

void remove_dead_lab_cgroups(const std::vector<std::string>& extra_parents) {
    std::vector<std::string> parents = extra_parents;
    if (std::string dir = own_cgroup_v2_dir(); !dir.empty()) parents.insert(parents.begin(), dir);
    for (size_t i = 0; i < parents.size(); ++i) {
        const std::string& dir = parents[i];
        bool seen = false;
        for (size_t j = 0; j < i; ++j) seen = seen || parents[j] == dir;
        if (seen) continue;
        auto fd = sys::open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (!fd.ok()) continue;
        core::UniqueFd lock(*fd);
        if (!sys::flock_fd(lock.get(), LOCK_EX).ok()) continue;
        // An agent makes and enters its sandbox under LOCK_EX on cgroup.procs (agent/cgroup.cpp):
        // holding it too, the sweep never sees a sandbox empty between the two.
        core::UniqueFd sandbox_lock;
        if (auto procs = sys::open(dir + "/cgroup.procs", O_RDONLY | O_CLOEXEC); procs.ok()) {
            sandbox_lock.reset(*procs);
            if (!sys::flock_fd(sandbox_lock.get(), LOCK_EX).ok()) continue;
        }
        auto entries = sys::list_dir(dir);
        if (!entries.ok()) continue;
        for (auto& e : *entries)
            if (made_by_nslab(e) && unpopulated(dir + "/" + e) && !held_by_live_runner(dir + "/" + e))
                (void)remove_cgroup_tree(dir + "/" + e);
    }
}

}  // namespace nslab::runner
