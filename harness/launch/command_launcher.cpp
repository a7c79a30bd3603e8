// A command template as the launcher — typically a student's mini-container:
//   ["${submission}/mini_container", "--hostname", "${hostname}", "--", "${agent}"]
// `${agent}` as a whole word becomes the agent's argv; ${realm}, ${hostname}, ${monotonic},
// ${boottime}, ${propagation}, ${uid}, ${gid} come from the realm's plan and any other ${name} from
// the configuration's vars. `${flags}` as a whole word becomes the words of config.flags that the
// realm's plan asks for (one unshare(1)-like CLI can then make each realm's namespaces exactly);
// config.creates are kinds the command creates whatever it is asked. A realm the command cannot
// make exactly as planned — a kind it cannot create, or always creates where the experiment looks,
// a map, a propagation, a /proc or time offsets it cannot give — is SKIPped with the reason.
#include <algorithm>
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

bool uses_flags(const LauncherConfig& c) {
    return std::find(c.command.begin(), c.command.end(), "${flags}") != c.command.end();
}

// The kinds a template creates when its flag is given.
unsigned flagged_kinds(const LauncherConfig& c) {
    unsigned mask = 0;
    for (auto& k : core::namespace_kinds())
        if (c.flags.count(std::string(k.name))) mask |= core::ns_bit(k.ns);
    return mask;
}

// Whether plan asks for the flag key (launch::template_flag_keys()).
bool asks_for(const RealmPlan& plan, const std::string& key) {
    if (auto ns = core::ns_from_name(key)) return has(plan, *ns);
    if (key == "map_root") return has(plan, core::Ns::user) && plan.uid_map.empty() && plan.gid_map.empty();
    if (key == "mount_proc") return plan.mount_proc;
    if (key == "propagation") return has(plan, core::Ns::mnt);
    if (key == "monotonic") return plan.monotonic_offset.has_value();
    if (key == "boottime") return plan.boottime_offset.has_value();
    return false;
}

class CommandLauncher final : public ExternalLauncher {
public:
    using ExternalLauncher::ExternalLauncher;
    std::string name() const override { return config_.label(); }
    unsigned may_add(const RealmPlan& plan) const override { return config_.creates & ~plan.new_mask; }
    std::optional<std::string> lacks(const std::string& trait) const override {
        if (trait == "shares_parent_mounts" && (config_.creates & core::ns_bit(core::Ns::mnt)))
            return "it always makes a mount namespace of its own";
        return ExternalLauncher::lacks(trait);
    }

    std::optional<std::string> cannot_start(const RealmPlan& plan) const override {
        std::string me = "the launcher " + config_.label();
        auto flag = [&](const char* key) { return config_.flags.count(key) > 0; };
        if (!plan.join.empty() && !on_path("nsenter")) return "joining needs nsenter(1), which is not installed";
        if (unsigned extra = may_add(plan) & plan.observed_kinds)
            return me + " always creates a " + kinds_text(extra) + " namespace, but realm " + plan.name +
                   " must share its parent's in this experiment";
        unsigned can = config_.creates | flagged_kinds(config_);
        if (unsigned missing = plan.new_mask & ~can)
            return me + (config_.flags.empty() ? " is not expected to create a " : " has no flag to create a ") +
                   kinds_text(missing) + " namespace (it creates " + (can ? kinds_text(can) : "none") + ")";
        if (has(plan, core::Ns::user)) {
            bool maps_root = plan.uid_map.empty() && plan.gid_map.empty();
            bool unmapped = plan.uid_map == "none" && plan.gid_map == "none";
            bool on_request = !(config_.creates & core::ns_bit(core::Ns::user));
            // A user namespace made on request is mapped by map_root or left unmapped; one the
            // command always makes is taken to map root to its caller, as the assignment asks.
            if (on_request && maps_root && !flag("map_root"))
                return me + " has no map_root flag; realm " + plan.name + " asks for root mapped to its caller";
            if (!maps_root && !(on_request && unmapped))
                return me + " maps root to its caller only" + (on_request ? " (or nothing)" : "") + "; realm " +
                       plan.name + " asks for uid_map \"" + plan.uid_map + "\" and gid_map \"" + plan.gid_map + "\"";
        }
        if (has(plan, core::Ns::mnt) && plan.propagation != "private" && !flag("propagation"))
            return me + " makes mounts private; realm " + plan.name + " asks for propagation " + plan.propagation;
        if (plan.mount_proc && !config_.mounts_proc && !flag("mount_proc") && (has(plan, core::Ns::pid) || has(plan, core::Ns::mnt)))
            return me + " mounts no fresh /proc (no mount_proc flag) and realm " + plan.name + " asks for one";
        if (!plan.mount_proc && config_.mounts_proc && (has(plan, core::Ns::pid) || has(plan, core::Ns::mnt)))
            return me + " always mounts a fresh /proc and realm " + plan.name + " asks for none";
        for (const char* clock : {"monotonic", "boottime"}) {
            bool asked = std::string(clock) == "monotonic" ? plan.monotonic_offset.has_value() : plan.boottime_offset.has_value();
            bool always = template_uses(config_.command, clock);
            if (asked && !always && !flag(clock))
                return me + " takes no " + clock + " offset (no " + clock + " flag, no ${" + clock + "} in its command)";
            // time_namespaces(7): a new time namespace starts with its creator's offsets; a command
            // that always writes one (0 when none is asked) would overwrite what it inherits.
            if (!asked && always && has(plan, core::Ns::time) && plan.creator_has_time_offsets)
                return me + " always writes a " + clock + " offset (${" + clock + "} in its command); realm " + plan.name +
                       " must start with the offsets of the realm it is started from";
        }
        return std::nullopt;
    }

protected:
    sys::Result<std::vector<std::string>> command_for(const RealmPlan& plan,
                                                      const std::vector<std::string>& agent) const override {
        return expand_command_template(config_, plan, agent);
    }
};

}  // namespace

sys::Result<std::vector<std::string>> expand_command_template(const LauncherConfig& config, const RealmPlan& plan,
                                                         const std::vector<std::string>& agent) {
    std::map<std::string, std::string> vars = config.vars;
    std::string lower = plan.name;
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    vars["realm"] = plan.name;
    vars.try_emplace("hostname", "realm-" + lower);
    vars["monotonic"] = std::to_string(plan.monotonic_offset.value_or(0));
    vars["boottime"] = std::to_string(plan.boottime_offset.value_or(0));
    vars["propagation"] = plan.propagation;
    vars["uid"] = std::to_string(plan.spawner_uid);
    vars["gid"] = std::to_string(plan.spawner_gid);
    std::vector<std::string> a;
    for (auto& w : config.command) {
        if (w == "${agent}") {
            a.insert(a.end(), agent.begin(), agent.end());
        } else if (w == "${flags}") {
            for (auto& key : template_flag_keys()) {
                auto f = config.flags.find(key.name);
                if (f == config.flags.end() || !asks_for(plan, key.name)) continue;  // cannot_start allowed its absence
                for (auto& word : f->second) {
                    NSLAB_ASSIGN_OR_RETURN(std::string x, expand(word, vars));
                    a.push_back(std::move(x));
                }
            }
        } else {
            NSLAB_ASSIGN_OR_RETURN(std::string x, expand(w, vars));
            a.push_back(std::move(x));
        }
    }
    return a;
}

std::unique_ptr<Launcher> make_command_launcher(const LauncherConfig& c) { return std::make_unique<CommandLauncher>(c); }

sys::Status check_command_template(const LauncherConfig& c) {
    if (c.command.empty()) return sys::Error::message("the command launcher needs a command");
    bool agent = false;
    for (auto& w : c.command) agent = agent || w == "${agent}";
    if (!agent) return sys::Error::message("the launcher command must contain \"${agent}\" as a word of its own");
    if (!c.flags.empty() && !uses_flags(c))
        return sys::Error::message("launcher flags are given but the command has no \"${flags}\" word to put them in");
    if (c.flags.empty() && uses_flags(c)) return sys::Error::message("the launcher command has \"${flags}\" but no flags are given");
    for (auto& [key, words] : c.flags)
        if (!template_flag_known(key))
            return sys::Error::message("unknown launcher flag '" + key + "' (expected: " + template_flag_names() + ")");
    std::map<std::string, std::string> vars = c.vars;
    for (const char* v : {"realm", "hostname", "monotonic", "boottime", "propagation", "uid", "gid"}) vars.try_emplace(v, "x");
    for (auto& w : c.command)
        if (w != "${agent}" && w != "${flags}")
            if (auto x = expand(w, vars); !x.ok()) return std::move(x).error();
    for (auto& [key, words] : c.flags)
        for (auto& w : words)
            if (auto x = expand(w, vars); !x.ok()) return std::move(x).error().context("launcher flag '" + key + "'");
    return {};
}

}  // namespace nslab::launch
