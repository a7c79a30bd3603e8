// The lab: a fresh set of namespaces per experiment that plays the host. Its init is an nslab
// agent (exec'd, since the runner may be multi-threaded); killing it ends every process in it.
#pragma once

#include <string>

#include "agent/client.hpp"
#include "core/child.hpp"

namespace nslab::launch {

struct LabOptions {
    // Own the lab by a new user namespace (needed when not root; a later issue runs it so).
    bool user_namespace = false;
    std::string agent_path;  // empty: find_agent_binary()
};

struct Lab {
    core::Child init;
    agent::AgentClient client;
    agent::Hello hello;
};

// NSLAB_AGENT, else nslab-agent beside /proc/self/exe, else the build tree's.
std::string find_agent_binary();

sys::Result<Lab> start_lab(const LabOptions& options, agent::Deadline deadline);

}  // namespace nslab::launch
