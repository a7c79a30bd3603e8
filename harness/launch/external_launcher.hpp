// What every external launcher shares: the spawner agent starts its argv (prefixed with nsenter
// when the realm joins namespaces), the runner waits for the new agent's hello while it collects
// the launcher's output, and a launcher that fails is described by its exit status and the last
// lines it printed.
#pragma once

#include <string>
#include <vector>

#include "launch/launcher.hpp"

namespace nslab::launch {

class ExternalLauncher : public Launcher {
public:
    explicit ExternalLauncher(LauncherConfig config) : config_(std::move(config)) {}
    bool under_test() const override { return true; }
    // Every external launcher execs the agent; subclasses add what else they lack.
    std::optional<std::string> lacks(const std::string& trait) const override;
    sys::Result<StartedRealm> start(agent::AgentClient& spawner, const RealmPlan& plan,
                                    agent::Deadline deadline) override;
    std::optional<LaunchFailure> last_failure() const override { return last_failure_; }

protected:
    // The argv that starts agent_argv in plan's new namespaces (joins are done before it).
    virtual sys::Result<std::vector<std::string>> command_for(const RealmPlan& plan,
                                                              const std::vector<std::string>& agent_argv) const = 0;
    LauncherConfig config_;

private:
    std::optional<LaunchFailure> last_failure_;
};

// Helpers for the launchers' cannot_start and command_for.
// Whether plan asks for a new namespace of this kind.
inline bool has(const RealmPlan& plan, core::Ns ns) { return plan.new_mask & core::ns_bit(ns); }
bool on_path(const std::string& tool);
// "nsenter --preserve-credentials --uts=/proc/self/fd/4 … --" for plan.join (fds from 4 on), or {}.
std::vector<std::string> nsenter_prefix(const RealmPlan& plan);
// The one id a single-line map "I O 1" gives the spawner's own id O, if that is what map says
// ("" means root); nullopt for anything a launcher mapping only its caller's id cannot write.
std::optional<unsigned> own_id_mapped_to(const std::string& map, unsigned spawner_id);
// Why a tool that maps only its caller's own uid and gid cannot write plan's maps (new user
// namespace, `uid_map: none`, or anything but one line of count 1 from the spawner's id), or nullopt.
std::optional<std::string> own_ids_only(const std::string& tool, const RealmPlan& plan);
// "uts, ipc" for a mask.
std::string kinds_text(unsigned mask);

}  // namespace nslab::launch
