// Ways to start a realm. The built-in one asks an agent (the lab's, or a parent realm's) to clone3
// a child; later launchers (unshare(1), bwrap, a student's command) start the same agent binary.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/client.hpp"
#include "core/namespace_kind.hpp"

namespace nslab::launch {

struct RealmPlan {
    std::string name;
    unsigned new_mask = 0;                   // kinds to create
    std::vector<std::pair<core::Ns, int>> join;  // kinds to join, with the fd of the target namespace
    std::string uid_map, gid_map;            // "" = map root to the spawner; "none" = leave unmapped
    std::string propagation = "private";     // for a new mount namespace
    bool mount_proc = false;
    std::optional<long long> monotonic_offset, boottime_offset;  // seconds, for a new time namespace
};

struct StartedRealm {
    agent::AgentClient client;
    agent::Hello hello;
};

class Launcher {
public:
    virtual ~Launcher() = default;
    virtual std::string name() const = 0;
    // spawner: the agent in whose namespaces the realm is started (the lab, or a parent realm).
    virtual sys::Result<StartedRealm> start(agent::AgentClient& spawner, const RealmPlan& plan,
                                            agent::Deadline deadline) = 0;
};

std::unique_ptr<Launcher> make_builtin_launcher();

}  // namespace nslab::launch
