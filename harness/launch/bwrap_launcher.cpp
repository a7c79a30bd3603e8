// bubblewrap as the launcher: the whole lab tree bound at / (so the agent binary and every tool are
// there), the plan's namespaces as --unshare-* options. bwrap always makes a new mount namespace
// (and a user namespace when it is not root), has no time namespace, and makes every mount a
// slave of its parent's; plans it cannot honour are SKIPped with that reason.
#include "launch/external_launcher.hpp"

namespace nslab::launch {
namespace {

class BwrapLauncher final : public ExternalLauncher {
public:
    using ExternalLauncher::ExternalLauncher;
    std::string name() const override { return "bwrap"; }

    std::optional<std::string> lacks(const std::string& trait) const override {
        if (trait == "loopback_down") return "bwrap brings the loopback of a new network namespace up";
        if (trait == "shares_parent_mounts") return "bwrap always makes a mount namespace of its own";
        if (trait == "all_capabilities") return "bwrap trims the capabilities of the command it runs";
        return ExternalLauncher::lacks(trait);
    }

    unsigned may_add(const RealmPlan& plan) const override {
        unsigned extra = core::ns_bit(core::Ns::mnt);
        if (plan.spawner_uid != 0) extra |= core::ns_bit(core::Ns::user);  // bwrap(1): --unshare-user is implied
        return extra & ~plan.new_mask;
    }

    std::optional<std::string> cannot_start(const RealmPlan& plan) const override {
        if (!on_path("bwrap")) return "bwrap is not installed (bubblewrap)";
        if (!plan.join.empty() && !on_path("nsenter")) return "joining needs nsenter(1), which is not installed";
        if (has(plan, core::Ns::time)) return "bwrap cannot create a time namespace";
        if (unsigned extra = may_add(plan) & plan.observed_kinds)
            return "bwrap always creates a " + kinds_text(extra) + " namespace, but realm " + plan.name +
                   " must share its parent's in this experiment";
        if (has(plan, core::Ns::mnt) && plan.propagation != "private")
            return "bwrap makes every mount a slave of its parent's; propagation " + plan.propagation + " cannot be asked";
        if (auto why = own_ids_only("bwrap (--uid/--gid)", plan)) return why;
        return std::nullopt;
    }

protected:
    sys::Result<std::vector<std::string>> command_for(const RealmPlan& plan,
                                                      const std::vector<std::string>& agent) const override {
        std::vector<std::string> a{"bwrap", "--die-with-parent", "--dev-bind", "/", "/"};
        if (plan.mount_proc) a.insert(a.end(), {"--proc", "/proc"});
        if (has(plan, core::Ns::user)) {
            a.push_back("--unshare-user");
            a.insert(a.end(), {"--uid", std::to_string(*own_id_mapped_to(plan.uid_map, plan.spawner_uid))});
            a.insert(a.end(), {"--gid", std::to_string(*own_id_mapped_to(plan.gid_map, plan.spawner_gid))});
        }
        if (has(plan, core::Ns::uts)) a.push_back("--unshare-uts");
        if (has(plan, core::Ns::ipc)) a.push_back("--unshare-ipc");
        if (has(plan, core::Ns::net)) a.push_back("--unshare-net");
        if (has(plan, core::Ns::cgroup)) a.push_back("--unshare-cgroup");
        // Without --as-pid-1 bwrap keeps a reaper as PID 1 and the command is PID 2.
        if (has(plan, core::Ns::pid)) a.insert(a.end(), {"--unshare-pid", "--as-pid-1"});
        a.push_back("--");
        a.insert(a.end(), agent.begin(), agent.end());
        return a;
    }
};

}  // namespace

std::unique_ptr<Launcher> make_bwrap_launcher(const LauncherConfig& c) { return std::make_unique<BwrapLauncher>(c); }

}  // namespace nslab::launch
