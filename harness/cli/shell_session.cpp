#include "cli/shell_session.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>

#include "agent/lab_command.hpp"
#include "agent/registry.hpp"
#include "core/namespace_kind.hpp"

namespace nslab::cli {
namespace {

using experiment::Experiment;
using experiment::RealmSpec;

struct Event {
    std::string terminal;
    SessionLine line;
};

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
    std::string out;
    for (auto& p : parts)
        if (!p.empty()) out += (out.empty() ? "" : sep) + p;
    return out;
}

// How a shell names a realm's process: $PID_A, or 1 for the host's init.
std::string pid_of(const std::string& realm) { return realm == "host" || realm.empty() ? "1" : "$" + agent::realm_pid_variable(realm); }

// util-linux's option for a namespace kind: --mount for mnt, --uts for uts.
std::string ns_option(std::string_view kind) { return kind == "mnt" ? "--mount" : "--" + std::string(kind); }

// An id map's lines ("0 1000 1; 1 100000 65536") as a shell writes them to /proc/PID/uid_map.
std::string map_writer(const std::string& map) {
    std::vector<std::string> lines;
    std::istringstream in(map);
    for (std::string l; std::getline(in, l, ';');) {
        l.erase(0, l.find_first_not_of(" \t\n"));
        l.erase(l.find_last_not_of(" \t\n") + 1);
        if (!l.empty()) lines.push_back(l);
    }
    if (lines.size() == 1) return "echo '" + lines[0] + "'";
    return "printf '" + join(lines, "\\n") + "\\n'";
}

bool custom_map(const std::string& map) { return !map.empty() && map != "none"; }

// The unshare(1) that makes a realm's new namespaces, e.g. "unshare --uts --fork bash".
std::string unshare_command(const RealmSpec& r) {
    std::vector<std::string> words{"unshare"};
    auto has = [&](core::Ns ns) { return (r.new_mask & core::ns_bit(ns)) != 0; };
    if (has(core::Ns::user)) {
        words.push_back("--user");
        if (!custom_map(r.uid_map) && !custom_map(r.gid_map) && r.uid_map != "none") words.push_back("--map-root-user");
    }
    for (auto& k : core::namespace_kinds())
        if (k.ns != core::Ns::user && has(k.ns)) words.push_back(ns_option(k.name));
    if (has(core::Ns::mnt) && r.propagation != "private") words.push_back("--propagation " + r.propagation);
    if (r.mount_proc) words.push_back("--mount-proc");
    if (r.monotonic_offset) words.push_back("--monotonic " + std::to_string(*r.monotonic_offset));
    if (r.boottime_offset) words.push_back("--boottime " + std::to_string(*r.boottime_offset));
    words.push_back("--fork bash");
    return join(words, " ");
}

class Builder {
public:
    explicit Builder(const Experiment& e) : e_(e) {}

    Session build() {
        for (auto& r : e_.realms) enter(r);
        before_steps();
        for (auto& s : e_.steps) step(s);
        for (auto& x : e_.expect) row(x);
        return finish();
    }

private:
    const Experiment& e_;
    std::vector<Event> events_;
    std::map<std::string, size_t> entered_at_;  // realm -> index of the event after its entry
    std::vector<std::string> gaps_;

    void add(const std::string& terminal, std::string command, std::string comment = "") {
        events_.push_back({terminal, {std::move(command), std::move(comment)}});
    }

    // A realm's terminal: a shell in its parent's namespaces, then the joins and the new ones.
    void enter(const RealmSpec& r) {
        std::string sudo = r.parent.empty() ? "sudo " : "";
        if (!r.parent.empty()) add(r.name, "sudo nsenter --target " + pid_of(r.parent) + " --all", "a shell in realm " + r.parent);
        std::vector<std::string> chain;
        std::vector<std::pair<std::string, std::vector<std::string>>> joins;  // target -> kinds, in order
        for (auto& [kind, target] : r.join) {
            auto it = std::find_if(joins.begin(), joins.end(), [&](auto& j) { return j.first == target; });
            if (it == joins.end()) it = joins.insert(joins.end(), {target, {}});
            it->second.push_back(ns_option(kind));
        }
        for (auto& [target, options] : joins) chain.push_back("nsenter --target " + pid_of(target) + " " + join(options, " "));
        if (r.new_mask) chain.push_back(unshare_command(r));
        std::string comment = r.uid_map == "none" ? "no uid_map is written: every id is unmapped" : "";
        if (!chain.empty()) {
            if (!r.new_mask) chain.push_back("bash");
            add(r.name, sudo + join(chain, " "), comment);
        } else if (r.parent.empty()) {
            add(r.name, "sudo bash", "no new namespace: a second shell of the host");
        }
        entered_at_[r.name] = events_.size();
        // Custom id maps are written from outside, by the parent, once the realm's shell runs.
        std::string writer = r.parent.empty() ? "host" : r.parent;
        for (auto [file, map] : {std::pair{"uid_map", r.uid_map}, std::pair{"gid_map", r.gid_map}}) {
            if (!custom_map(r.uid_map) && !custom_map(r.gid_map)) break;
            std::string text = custom_map(map) ? map : "0 0 1";
            std::string to = "/proc/" + pid_of(r.name) + "/" + file;
            add(writer, map_writer(text) + (writer == "host" ? " | sudo tee " + to : " > " + to));
        }
    }

    // A probe's first reading, which `unchanged` and `changed` cells compare with.
    void before_steps() {
        for (auto& x : e_.expect)
            for (auto& [vantage, m] : x.cells)
                if (m.kind == experiment::MatcherKind::unchanged || m.kind == experiment::MatcherKind::changed)
                    add(vantage, probe_command(x), "before the steps: the '" + m.describe() + "' below compares with this");
    }

    void step(const experiment::Step& s) {
        std::vector<std::string> notes;
        std::string command;
        if (s.op == "run") {
            command = agent::shell_references(s.args.value("command", ""));
            if (!s.expect_exit) notes.push_back("any exit status");
            else if (*s.expect_exit != 0) notes.push_back("expect: exit " + std::to_string(*s.expect_exit));
        } else {
            command = op_command(s.op, s.args, "step at line " + std::to_string(s.mark.line));
            if (!s.expect_error.empty()) notes.push_back("expect: fails with " + s.expect_error);
        }
        if (!s.as.empty()) notes.push_back("its result: " + s.as);
        add(s.in, command, join(notes, "; "));
    }

    void row(const experiment::Expectation& x) {
        std::string range = x.kernel_range();
        for (auto& [vantage, m] : x.cells)
            add(vantage, probe_command(x), "expect: " + agent::shell_references(m.describe()) + (range.empty() ? "" : " (" + range + ")"));
    }

    std::string probe_command(const experiment::Expectation& x) {
        std::string where = "row at line " + std::to_string(x.mark.line);
        switch (x.form) {
            case experiment::Expectation::Form::run: return agent::shell_references(x.args.value("command", ""));
            case experiment::Expectation::Form::see: return see_command(x.object, where);
            case experiment::Expectation::Form::probe: break;
        }
        return op_command(x.op, x.args, where);
    }

    std::string op_command(const std::string& name, const nlohmann::json& args, const std::string& where) {
        const agent::OpSpec* op = agent::registry().find(name);
        std::string command = op ? agent::lab_command(*op, args) : "";
        if (!command.empty()) return command;
        gaps_.push_back(name + " (" + where + ")");
        return std::string(kNoCommand) + " " + name;
    }

    // `see: NAME`: the command that shows the object the step `as: NAME` made.
    std::string see_command(const std::string& alias, const std::string& where) {
        auto made = std::find_if(e_.steps.begin(), e_.steps.end(), [&](auto& s) { return s.as == alias; });
        const agent::OpSpec* op = made == e_.steps.end() ? nullptr : agent::registry().find(made->op);
        std::string command = op ? agent::lab_command(op->lab_see, *op, made->args, alias) : "";
        if (!command.empty()) return command;
        gaps_.push_back("see " + alias + " (" + where + ")");
        return std::string(kNoCommand) + " see " + alias;
    }

    // A realm whose pid a command names prints it once entered; then lines become groups.
    Session finish() {
        std::vector<Event> all;
        for (size_t i = 0; i <= events_.size(); ++i) {
            for (auto& [realm, at] : entered_at_) {
                if (at != i || !names_pid(realm)) continue;
                bool own_pid_ns = (e_.realm(realm)->new_mask & core::ns_bit(core::Ns::pid)) != 0;
                all.push_back({realm, {"echo $$", own_pid_ns ? agent::realm_pid_variable(realm) + " is this shell's pid on the host: lsns -t pid lists it"
                                                              : agent::realm_pid_variable(realm) + "=this pid, in the other terminals"}});
            }
            if (i < events_.size()) all.push_back(events_[i]);
        }
        Session s{.name = e_.full_name(), .summary = e_.summary, .refs = e_.refs, .groups = {}, .gaps = gaps_};
        for (auto& ev : all) {
            if (s.groups.empty() || s.groups.back().terminal != ev.terminal) s.groups.push_back({ev.terminal, {}});
            s.groups.back().lines.push_back(ev.line);
        }
        return s;
    }

    bool names_pid(const std::string& realm) const {
        std::string var = "$" + agent::realm_pid_variable(realm);
        return std::any_of(events_.begin(), events_.end(), [&](const Event& ev) {
            size_t at = ev.line.command.find(var);
            // $PID_A, not the start of $PID_AB.
            return at != std::string::npos &&
                   (at + var.size() == ev.line.command.size() || !(std::isalnum(static_cast<unsigned char>(ev.line.command[at + var.size()])) || ev.line.command[at + var.size()] == '_'));
        });
    }
};

}  // namespace

Session shell_session(const experiment::Experiment& e) { return Builder(e).build(); }

}  // namespace nslab::cli
