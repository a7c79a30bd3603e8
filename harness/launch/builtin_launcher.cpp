#include "launch/launcher.hpp"

namespace nslab::launch {
namespace {

class BuiltinLauncher final : public Launcher {
public:
    std::string name() const override { return "builtin"; }
    std::optional<std::string> cannot_start(const RealmPlan&) const override { return std::nullopt; }
    unsigned may_add(const RealmPlan&) const override { return 0; }
    bool under_test() const override { return false; }
    std::optional<std::string> lacks(const std::string&) const override { return std::nullopt; }

    sys::Result<StartedRealm> start(agent::AgentClient& spawner, const RealmPlan& plan,
                                    agent::Deadline deadline) override {
        agent::json kinds = agent::json::array(), join = agent::json::array();
        for (auto& k : core::namespace_kinds())
            if (plan.new_mask & core::ns_bit(k.ns)) kinds.push_back(k.name);
        std::vector<int> fds;
        for (auto& [ns, fd] : plan.join) {
            join.push_back(core::kind_of(ns).name);
            fds.push_back(fd);
        }
        agent::json args{{"new", kinds}, {"join", join}, {"propagation", plan.propagation},
                         {"mount_proc", plan.mount_proc}};
        if (!plan.uid_map.empty()) args["uid_map"] = plan.uid_map;
        if (!plan.gid_map.empty()) args["gid_map"] = plan.gid_map;
        if (plan.monotonic_offset) args["monotonic_offset"] = *plan.monotonic_offset;
        if (plan.boottime_offset) args["boottime_offset"] = *plan.boottime_offset;
        NSLAB_ASSIGN_OR_RETURN(agent::Reply reply,
                               spawner.call("spawn_realm", args, deadline, fds, agent::kSpinForRealmStart));
        if (!reply.ok) return std::move(reply.error).context("starting realm " + plan.name);
        if (reply.fds.size() != 2)
            return sys::Error::message("spawn_realm for " + plan.name + " returned " +
                                       std::to_string(reply.fds.size()) + " fds, not a pidfd and a socket");
        StartedRealm realm;
        realm.client = agent::AgentClient(std::move(reply.fds[1]), "realm " + plan.name);
        NSLAB_ASSIGN_OR_RETURN(realm.hello, realm.client.read_hello(deadline, agent::kSpinForRealmStart));
        return realm;
    }
};

}  // namespace

std::unique_ptr<Launcher> make_builtin_launcher() { return std::make_unique<BuiltinLauncher>(); }

}  // namespace nslab::launch
