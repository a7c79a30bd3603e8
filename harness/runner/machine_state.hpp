// What a run could leave behind on the machine, snapshotted before and after (`--check-leaks`):
// hostname and domain name, the mount table of the runner's mount namespace, System V and POSIX
// IPC objects, network links, processes below the runner, cgroups below the runner's cgroup, and
// the files of the machine's writable trees /etc, /run, /var/tmp and /root (a lab's `/` is the
// machine's) but for a few paths that the machine or other nslab processes change (listed, each
// with its reason, in machine_state.cpp) and the runner's own output.
#pragma once

#include <string>
#include <vector>

#include "runner/file_tree.hpp"
#include "runner/lab_cgroup.hpp"

namespace nslab::runner {

struct MachineState {
    std::string hostname, domainname;
    std::vector<std::string> mounts;     // "mount-point root options..." (ids left out: they change)
    std::vector<std::string> sysv;       // "shm key id", "sem ...", "msg ..."
    std::vector<std::string> posix;      // "/dev/shm/NAME", "/dev/mqueue/NAME"
    std::vector<std::string> links;      // interface names
    std::vector<std::string> processes;  // "pid comm" of every descendant of this process
    std::vector<std::string> cgroups;    // child cgroups of our own v2 cgroup, labs' cgroups
    std::vector<FileTree> files;         // /etc, /run, /var/tmp, /root
    bool operator==(const MachineState&) const = default;
};

// cgroup_parents: where labs' cgroups are made (runner::lab_cgroup_parents); default: as probed
// with the default limits. runs: whose lab cgroups count, a prefix of their runners' run ids
// (runner::run_id()): this process's own by default, "TAG." for the runners a test started with
// NSLAB_RUN_TAG=TAG. Another runner's labs, alive or left behind, are not this snapshot's leaks.
MachineState snapshot_machine(const std::string& runs = run_id());
MachineState snapshot_machine(const std::vector<std::string>& cgroup_parents, const std::string& runs = run_id());

// Lines such as "mount added: /tmp/x ...", "process left: 4242 nslab-agent" or "file added:
// /etc/foo (file, 12 bytes)"; empty when equal.
std::vector<std::string> describe_leaks(const MachineState& before, const MachineState& after);

// What the snapshot could not see: trees or directories it could not read, a tree past the cap.
std::vector<std::string> describe_limits(const MachineState& state);

}  // namespace nslab::runner
