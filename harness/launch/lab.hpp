// The lab: a fresh set of namespaces per experiment that plays the host. Its init is an nslab
// agent (exec'd, since the runner may be multi-threaded); killing it ends every process in it.
#pragma once

#include <string>
#include <vector>

#include "agent/client.hpp"
#include "core/child.hpp"

namespace nslab::launch {

struct LabOptions {
    // Own the lab by a new user namespace (needed when not root; a later issue runs it so).
    bool user_namespace = false;
    std::string agent_path;  // empty: find_agent_binary()
    // How the lab's tasks are bounded (runner/lab_cgroup.hpp decides): a cgroup v2 directory the
    // lab starts in, cgroup v1 `cgroup.procs` files it moves itself to before it runs anything,
    // and an RLIMIT_NPROC for when no cgroup can be used (0: none).
    int cgroup_fd = -1;
    std::vector<std::string> procs_files;
    unsigned long long nproc_limit = 0;
    // A copy-on-write `/` (agent/lab_root.hpp): every write the lab makes, anywhere, is its own.
    bool copy_on_write_root = true;
    // Machine directories the lab writes through to, whatever its root (the grader's build lab
    // writes the submission's binaries into its scratch directory).
    std::vector<std::string> write_through;
};

struct Lab {
    core::Child init;
    agent::AgentClient client;
    agent::Hello hello;
};

// NSLAB_AGENT, else nslab-agent beside /proc/self/exe (the build tree), else the install's
// (launch/installed.hpp); the error names every place looked at.
sys::Result<std::string> find_agent_binary();

// The namespaces a lab with these options is made with (core::ns_bit mask).
unsigned lab_namespaces(const LabOptions& options);

// Starts a lab and waits for its agent's hello: begin_lab, then finish_lab.
sys::Result<Lab> start_lab(const LabOptions& options, agent::Deadline deadline);
// The same in two halves, so that a runner can start the next lab while it uses this one.
// begin_lab clones the lab's init and sets it going without waiting for it (lab.hello is empty);
// finish_lab waits for the agent's hello.
sys::Result<Lab> begin_lab(const LabOptions& options);
sys::Status finish_lab(Lab& lab, agent::Deadline deadline);

}  // namespace nslab::launch
