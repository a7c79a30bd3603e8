// util-linux unshare(1) as the launcher: the same plan as the built-in launcher, spelled as its
// options. Joins go through nsenter(1) first (external_launcher.cpp).
#include "launch/external_launcher.hpp"

namespace nslab::launch {
namespace {

class UnshareLauncher final : public ExternalLauncher {
public:
    using ExternalLauncher::ExternalLauncher;
    std::string name() const override { return "unshare"; }
    unsigned may_add(const RealmPlan&) const override { return 0; }

    std::optional<std::string> cannot_start(const RealmPlan& plan) const override {
        if (!on_path("unshare")) return "unshare(1) is not installed (util-linux)";
        if (!plan.join.empty() && !on_path("nsenter")) return "joining needs nsenter(1), which is not installed";
        // unshare(1) writes maps only for its caller's own ids (--map-user/--map-group/-r);
        // --map-users goes through newuidmap and /etc/subuid, which a lab has not.
        if (auto why = own_ids_only("unshare(1)", plan)) return why;
        return std::nullopt;
    }

protected:
    sys::Result<std::vector<std::string>> command_for(const RealmPlan& plan,
                                                      const std::vector<std::string>& agent) const override {
        std::vector<std::string> a{"unshare"};
        if (has(plan, core::Ns::user)) {
            a.push_back("--map-user=" + std::to_string(*own_id_mapped_to(plan.uid_map, plan.spawner_uid)));
            a.push_back("--map-group=" + std::to_string(*own_id_mapped_to(plan.gid_map, plan.spawner_gid)));
        }
        if (has(plan, core::Ns::uts)) a.push_back("--uts");
        if (has(plan, core::Ns::ipc)) a.push_back("--ipc");
        if (has(plan, core::Ns::net)) a.push_back("--net");
        if (has(plan, core::Ns::cgroup)) a.push_back("--cgroup");
        if (has(plan, core::Ns::mnt)) {
            a.push_back("--mount");
            a.push_back("--propagation=" + plan.propagation);
        }
        if (plan.mount_proc) a.push_back("--mount-proc");
        bool fork = false;
        // pid_namespaces(7): the caller of unshare(CLONE_NEWPID) stays where it is; its next child
        // is PID 1, so unshare(1) must --fork.
        if (has(plan, core::Ns::pid)) a.push_back("--pid"), fork = true;
        // time_namespaces(7): likewise only children enter the new time namespace.
        if (has(plan, core::Ns::time)) {
            a.push_back("--time");
            if (plan.monotonic_offset) a.push_back("--monotonic=" + std::to_string(*plan.monotonic_offset));
            if (plan.boottime_offset) a.push_back("--boottime=" + std::to_string(*plan.boottime_offset));
            fork = true;
        }
        if (fork) a.push_back("--kill-child");  // implies --fork; the child dies with unshare
        a.push_back("--");
        a.insert(a.end(), agent.begin(), agent.end());
        return a;
    }
};

}  // namespace

std::unique_ptr<Launcher> make_unshare_launcher(const LauncherConfig& c) { return std::make_unique<UnshareLauncher>(c); }

}  // namespace nslab::launch
