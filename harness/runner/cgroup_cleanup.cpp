#include "runner/cgroup_cleanup.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sstream>

#include "core/unique_fd.hpp"
#include "sys/cgroup_calls.hpp"
#include "sys/syscalls.hpp"

namespace nslab::runner {
namespace {

// cgroup v2: cgroup.events says "populated 0" when no process is in the cgroup or below it.
bool unpopulated(const std::string& dir) {
    auto events = sys::read_file(dir + "/cgroup.events");
    return events.ok() && events->find("populated 0") != std::string::npos;
}

void remove_tree(const std::string& dir) {
    auto entries = sys::list_dir(dir);
    if (entries.ok())
        for (auto& e : *entries) {
            auto st = sys::lstat_path(dir + "/" + e);
            if (st.ok() && S_ISDIR(st->st_mode)) remove_tree(dir + "/" + e);
        }
    (void)sys::cgroup_rmdir(dir);  // EBUSY while populated: then it is not a dead lab's
}

}  // namespace

std::string own_cgroup_v2_dir() {
    auto cg = sys::read_file("/proc/self/cgroup");
    if (!cg.ok()) return "";
    std::string path;
    std::istringstream lines(*cg);
    for (std::string line; std::getline(lines, line);)
        if (line.rfind("0::", 0) == 0) path = line.substr(3);
    if (path.empty()) return "";
    auto mi = sys::read_file("/proc/self/mountinfo");
    if (!mi.ok()) return "";
    std::istringstream mounts(*mi);
    for (std::string line; std::getline(mounts, line);) {
        auto dash = line.find(" - cgroup2 ");
        if (dash == std::string::npos) continue;
        std::istringstream f(line);
        std::string id, parent, devno, root, point;
        f >> id >> parent >> devno >> root >> point;
        // The mount shows the hierarchy from `root`: our cgroup must lie below it.
        if (path.rfind(root, 0) != 0) continue;
        std::string rest = root == "/" ? path : path.substr(root.size());
        return point + (rest == "/" ? "" : rest);
    }
    return "";
}

std::vector<std::string> own_child_cgroups() {
    std::vector<std::string> out;
    std::string dir = own_cgroup_v2_dir();
    if (dir.empty()) return out;
    auto entries = sys::list_dir(dir);
    if (!entries.ok()) return out;
    for (auto& e : *entries) {
        auto st = sys::lstat_path(dir + "/" + e);
        if (st.ok() && S_ISDIR(st->st_mode)) out.push_back(e);
    }
    return out;
}

void remove_dead_lab_cgroups() {
    std::string dir = own_cgroup_v2_dir();
    if (dir.empty()) return;
    auto fd = sys::open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (!fd.ok()) return;
    core::UniqueFd lock(*fd);
    if (!sys::flock_fd(lock.get(), LOCK_EX).ok()) return;
    auto entries = sys::list_dir(dir);
    if (!entries.ok()) return;
    for (auto& e : *entries)
        if (e.rfind("nslab-", 0) == 0 && unpopulated(dir + "/" + e)) remove_tree(dir + "/" + e);
}

}  // namespace nslab::runner
