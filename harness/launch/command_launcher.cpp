// A command template as the launcher — typically a student's mini-container:
//   ["${submission}/mini_container", "--hostname", "${hostname}", "--", "${agent}"]
// `${agent}` as a whole word becomes the agent's argv; ${realm}, ${hostname}, ${monotonic},
// ${boottime} come from the realm's plan and any other ${name} from the configuration's vars.
// Such a command creates a fixed set of namespaces (config.creates); experiments that need a
// realm to share one of those with its parent are SKIPped, not failed.
#include <cctype>

#include "launch/external_launcher.hpp"

namespace nslab::launch {
namespace {

// Expands ${name} in one word; an unknown name is an error naming it.
sys::Result<std::string> expand(const std::string& word, const std::map<std::string, std::string>& vars) {
    std::string out;
    for (size_t i = 0; i < word.size();) {
        if (word.compare(i, 2, "${") != 0) {
            out += word[i++];
            continue;
        }
        size_t end = word.find('}', i);
        if (end == std::string::npos) return sys::Error::message("unclosed ${ in launcher word '" + word + "'");
        std::string name = word.substr(i + 2, end - i - 2);
        auto v = vars.find(name);
        if (v == vars.end()) return sys::Error::message("unknown variable ${" + name + "} in launcher word '" + word + "'");
        out += v->second;
        i = end + 1;
    }
    return out;
}

bool template_uses(const std::vector<std::string>& words, const std::string& var) {
    for (auto& w : words)
        if (w.find("${" + var + "}") != std::string::npos) return true;
    return false;
}

class CommandLauncher final : public ExternalLauncher {
public:
    using ExternalLauncher::ExternalLauncher;
    sys::Result<std::vector<std::string>> argv_for(const RealmPlan& plan, const std::vector<std::string>& command) const {
        return command_for(plan, command);
    }
    std::string name() const override { return config_.label(); }
    unsigned may_add(const RealmPlan& plan) const override { return config_.creates & ~plan.new_mask; }
    std::optional<std::string> lacks(const std::string& trait) const override {
        if (trait == "shares_parent_mounts" && (config_.creates & core::ns_bit(core::Ns::mnt)))
            return "it always makes a mount namespace of its own";
        return ExternalLauncher::lacks(trait);
    }

    std::optional<std::string> cannot_start(const RealmPlan& plan) const override {
        std::string me = "the launcher " + config_.label();
        if (!plan.join.empty() && !on_path("nsenter")) return "joining needs nsenter(1), which is not installed";
        if (unsigned extra = may_add(plan) & plan.experiment_kinds)
            return me + " always creates a " + kinds_text(extra) + " namespace, but realm " + plan.name +
                   " must share its parent's in this experiment";
        if (unsigned missing = plan.new_mask & ~config_.creates)
            return me + " is not expected to create a " + kinds_text(missing) + " namespace (it creates " +
                   kinds_text(config_.creates) + ")";
        if (has(plan, core::Ns::user) && (!plan.uid_map.empty() || !plan.gid_map.empty()))
            return me + " maps root to its caller only; realm " + plan.name + " asks for other id maps";
        if (has(plan, core::Ns::mnt) && plan.propagation != "private")
            return me + " makes mounts private; realm " + plan.name + " asks for propagation " + plan.propagation;
        if (plan.mount_proc != config_.mounts_proc && (has(plan, core::Ns::pid) || has(plan, core::Ns::mnt)))
            return me + (config_.mounts_proc ? " always mounts a fresh /proc" : " mounts no fresh /proc") +
                   " and realm " + plan.name + (plan.mount_proc ? " asks for one" : " asks for none");
        if (plan.monotonic_offset && !template_uses(config_.command, "monotonic"))
            return me + " takes no monotonic offset (${monotonic} is not in its command)";
        if (plan.boottime_offset && !template_uses(config_.command, "boottime"))
            return me + " takes no boottime offset (${boottime} is not in its command)";
        return std::nullopt;
    }

protected:
    sys::Result<std::vector<std::string>> command_for(const RealmPlan& plan,
                                                      const std::vector<std::string>& agent) const override {
        std::map<std::string, std::string> vars = config_.vars;
        std::string lower = plan.name;
        for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        vars["realm"] = plan.name;
        vars.try_emplace("hostname", "realm-" + lower);
        vars["monotonic"] = std::to_string(plan.monotonic_offset.value_or(0));
        vars["boottime"] = std::to_string(plan.boottime_offset.value_or(0));
        std::vector<std::string> a;
        for (auto& w : config_.command) {
            if (w == "${agent}") {
                a.insert(a.end(), agent.begin(), agent.end());
                continue;
            }
            NSLAB_ASSIGN_OR_RETURN(std::string x, expand(w, vars));
            a.push_back(std::move(x));
        }
        return a;
    }
};

}  // namespace

std::unique_ptr<Launcher> make_command_launcher(const LauncherConfig& c) { return std::make_unique<CommandLauncher>(c); }

sys::Result<std::vector<std::string>> command_launcher_argv(const LauncherConfig& config, const RealmPlan& plan,
                                                            const std::vector<std::string>& command) {
    return CommandLauncher(config).argv_for(plan, command);
}

sys::Status check_command_template(const LauncherConfig& c) {
    if (c.command.empty()) return sys::Error::message("the command launcher needs a command");
    bool agent = false;
    for (auto& w : c.command) agent = agent || w == "${agent}";
    if (!agent) return sys::Error::message("the launcher command must contain \"${agent}\" as a word of its own");
    std::map<std::string, std::string> vars = c.vars;
    for (const char* v : {"realm", "hostname", "monotonic", "boottime"}) vars.try_emplace(v, "x");
    for (auto& w : c.command)
        if (w != "${agent}")
            if (auto x = expand(w, vars); !x.ok()) return std::move(x).error();
    return {};
}

}  // namespace nslab::launch
