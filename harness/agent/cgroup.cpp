// cgroup namespace ops (cgroup_namespaces(7)): /proc/PID/cgroup and the root of a cgroup mount are
// shown relative to the reader's cgroup namespace root, which is the cgroup its creator was in.
//
// Cgroups are not namespaced objects: a directory made in cgroupfs is made in the machine's
// hierarchy (here, under the cgroup the runner runs in) and does not die with the lab. So an
// experiment works in one sandbox cgroup, "nslab-XXXXXXXX", that the host agent makes, enters and
// bind-mounts at a path of the lab's /tmp; sandboxes of labs that are gone (unpopulated) are
// removed by the next cgroup_sandbox, under a lock so that a sandbox is never seen empty.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <cstdio>
#include <random>
#include <sstream>

#include "agent/registry.hpp"
#include "core/unique_fd.hpp"
#include "sys/cgroup_calls.hpp"
#include "sys/syscalls.hpp"

namespace nslab::agent {
namespace {

constexpr const char* kSandboxPrefix = "nslab-";

// Removes a cgroup and its descendants, deepest first; stops at the first that cannot go (EBUSY:
// it still has processes).
sys::Status remove_cgroup_tree(const std::string& dir) {
    NSLAB_ASSIGN_OR_RETURN(auto entries, sys::list_dir(dir));
    for (auto& e : entries) {
        auto st = sys::lstat_path(dir + "/" + e);
        if (st.ok() && S_ISDIR(st->st_mode)) NSLAB_TRY(remove_cgroup_tree(dir + "/" + e));
    }
    return sys::cgroup_rmdir(dir);
}

// cgroup v2: cgroup.events says "populated 0" when no process is in the cgroup or below it.
bool unpopulated(const std::string& dir) {
    auto events = sys::read_file(dir + "/cgroup.events");
    return events.ok() && events->find("populated 0") != std::string::npos;
}

std::string random_suffix() {
    std::random_device rd;
    char buf[16];
    std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(rd()));
    return buf;
}

sys::Result<json> cgroup_sandbox(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string mount_point, arg_string(c.args, "mount"));
    // A cgroup2 mount made in the lab's cgroup namespace shows the hierarchy from the lab's root:
    // the lab's own cgroup when it has one in cgroup v2 (runner/lab_cgroup.hpp), else the runner's.
    const std::string root = "/tmp/.nslab_cgroup2_root";
    NSLAB_TRY(sys::mkdir_p(root));
    NSLAB_TRY(sys::mount("cgroup2", root, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC));
    std::string name = kSandboxPrefix + random_suffix();
    {
        // The lock is on the root's cgroup.procs, not on the directory: when the lab has a cgroup
        // of its own, the root is that cgroup, whose directory the runner holds LOCK_SH on for
        // as long as the lab lives (runner/lab_cgroup.hpp) — LOCK_EX there would wait forever.
        NSLAB_ASSIGN_OR_RETURN(int raw, sys::open(root + "/cgroup.procs", O_RDONLY | O_CLOEXEC));
        core::UniqueFd lock(raw);
        // Labs without a cgroup of their own share this root: between the lock and its release a
        // sandbox is made and entered, so the collection below never takes one about to be used.
        NSLAB_TRY(sys::flock_fd(lock.get(), LOCK_EX));
        NSLAB_ASSIGN_OR_RETURN(auto entries, sys::list_dir(root));
        for (auto& e : entries)
            if (e.rfind(kSandboxPrefix, 0) == 0 && unpopulated(root + "/" + e))
                (void)remove_cgroup_tree(root + "/" + e);
        NSLAB_TRY(sys::cgroup_mkdir(root + "/" + name));
        NSLAB_TRY(
            sys::write_file(root + "/" + name + "/cgroup.procs", std::to_string(sys::getpid())));
    }  // closing the fd releases the lock
    NSLAB_TRY(sys::mkdir_p(mount_point));
    NSLAB_TRY(sys::mount(root + "/" + name, mount_point, "", MS_BIND));
    NSLAB_TRY(sys::umount2(root, MNT_DETACH));
    return json{{"kind", "cgroup"}, {"name", name}, {"path", "/" + name}};
}

sys::Result<json> cgroup_enter(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string dir, arg_string(c.args, "dir"));
    NSLAB_TRY(sys::mkdir_p(dir));
    // cgroups(7): writing a pid to cgroup.procs moves that process; cgroup_namespaces(7): both the
    // old and the new cgroup must lie under the writer's cgroup namespace root (ENOENT otherwise).
    NSLAB_TRY(sys::write_file(dir + "/cgroup.procs", std::to_string(sys::getpid())));
    return json{{"kind", "cgroup"}, {"dir", dir}, {"pid", sys::getpid()}};
}

sys::Result<json> cgroup_path(OpCall& c) {
    std::string who = "self";
    if (auto pid = arg_int_opt(c.args, "pid"))
        who = std::to_string(*pid);
    else if (auto text = arg_string_opt(c.args, "pid"))
        who = *text;
    NSLAB_ASSIGN_OR_RETURN(std::string text, sys::read_file("/proc/" + who + "/cgroup"));
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("0::", 0) == 0) return json(line.substr(3));
    return sys::Error::message("/proc/" + who + "/cgroup has no cgroup v2 line (0::)");
}

}  // namespace

void register_cgroup_ops(Registry& r) {
    r.add({.name = "cgroup_sandbox",
           .kind = OpKind::action,
           .ns = "cgroup",
           .doc = "Mounts cgroup2, makes this experiment's own cgroup nslab-XXXXXXXX under the "
                  "lab's root, moves the caller into it and bind-mounts it at MOUNT (and removes "
                  "the sandboxes of labs that are gone).",
           .lab = "mount -t cgroup2 none MOUNT; echo $$ > MOUNT/cgroup.procs",
           .args = {{"mount", ArgType::string, true, "where the sandbox shows, e.g. /tmp/cg"}},
           .creates_object = true,
           .handler = cgroup_sandbox});
    r.add({.name = "cgroup_enter",
           .kind = OpKind::action,
           .ns = "cgroup",
           .doc = "Makes a cgroup directory (if needed) and moves the caller into it.",
           .lab = "mkdir -p DIR; echo $$ > DIR/cgroup.procs",
           .args = {{.name = "dir", .doc = "the cgroup's directory, e.g. /tmp/cg/A", .writes = true}},
           .creates_object = true,
           .handler = cgroup_enter});
    r.add({.name = "cgroup_path",
           .kind = OpKind::probe,
           .ns = "cgroup",
           .doc = "The cgroup v2 path of a process (the 0:: line of /proc/PID/cgroup), relative "
                  "to the reader's cgroup namespace root.",
           .lab = "grep ^0:: /proc/[PID|self]/cgroup",
           .args = {{"pid", ArgType::integer, false,
                     "the process, as the reader's /proc numbers it; default: the caller"}},
           .handler = cgroup_path});
}

}  // namespace nslab::agent
