// nsenter(1) as the launcher: for realms that only join other realms' namespaces (`join:`). The
// nsenter prefix itself is built by external_launcher.cpp; here nothing follows it but the agent.
#include "launch/external_launcher.hpp"

namespace nslab::launch {
namespace {

class NsenterLauncher final : public ExternalLauncher {
public:
    using ExternalLauncher::ExternalLauncher;
    std::string name() const override { return "nsenter"; }
    unsigned may_add(const RealmPlan&) const override { return 0; }

    std::optional<std::string> cannot_start(const RealmPlan& plan) const override {
        if (!on_path("nsenter")) return "nsenter(1) is not installed (util-linux)";
        if (plan.new_mask)
            return "nsenter joins namespaces and creates none; realm " + plan.name + " asks for new " + kinds_text(plan.new_mask);
        return std::nullopt;
    }

protected:
    sys::Result<std::vector<std::string>> command_for(const RealmPlan& plan,
                                                      const std::vector<std::string>& agent) const override {
        // With no join at all, nsenter would be a no-op: run it anyway so that the tool is what starts the agent.
        std::vector<std::string> a;
        if (plan.join.empty()) a = {"nsenter", "--"};
        a.insert(a.end(), agent.begin(), agent.end());
        return a;
    }
};

}  // namespace

std::unique_ptr<Launcher> make_nsenter_launcher(const LauncherConfig& c) { return std::make_unique<NsenterLauncher>(c); }

}  // namespace nslab::launch
