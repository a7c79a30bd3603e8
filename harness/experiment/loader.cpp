#include "experiment/loader.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <thread>

#include "agent/registry.hpp"
#include "core/id_map.hpp"
#include "core/namespace_kind.hpp"
#include "experiment/grammar.hpp"
#include "experiment/strict_yaml.hpp"
#include "launch/traits.hpp"

namespace nslab::experiment {
namespace {

using strict_yaml::did_you_mean;
using strict_yaml::join;
using strict_yaml::join_or;
using strict_yaml::names;
using strict_yaml::node_kind;
using strict_yaml::plain;

const strict_yaml::FileKind kSuiteFile{"a suite", "suites"};
constexpr size_t kMaxNameLength = 64;

bool is_lower_name(const std::string& s) {
    return !s.empty() && s.size() <= kMaxNameLength &&
           std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

bool is_realm_name(const std::string& s) {
    return !s.empty() && s.size() <= 32 && s[0] >= 'A' && s[0] <= 'Z' &&
           std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; });
}

bool is_alias_name(const std::string& s) {
    return !s.empty() && s.size() <= 32 && s[0] >= 'a' && s[0] <= 'z' && is_lower_name(s);
}

const std::map<std::string, int>& errno_names() {
    static const std::map<std::string, int> names = [] {
        std::map<std::string, int> m;
        for (int e = 1; e < 256; ++e)
            if (const char* n = strerrorname_np(e)) m.emplace(n, e);
        return m;
    }();
    return names;
}

std::vector<std::string> realm_names(const Experiment& e) {
    std::vector<std::string> names;
    for (auto& r : e.realms) names.push_back(r.name);
    return names;
}

// Parses one file's tree. Errors are collected; a part with an error is left out of the model.
class FileLoader : strict_yaml::Reader {
public:
    FileLoader(std::string file, std::vector<LoadError>& errors, bool empty_text)
        : Reader(std::move(file), errors), empty_text_(empty_text) {}

    std::optional<Suite> suite(const YAML::Node& root);

private:
    bool empty_text_;

    // ---- parts -----------------------------------------------------------------------------
    std::optional<Experiment> experiment(const YAML::Node& n, const std::string& suite_name, size_t index);
    bool realms(const YAML::Node& n, Experiment& e);
    std::optional<RealmSpec> realm(const std::string& name, const YAML::Node& key, const YAML::Node& n);
    bool order_realms(Experiment& e, const YAML::Node& where);
    std::optional<Step> step(const YAML::Node& n, const Experiment& e, std::set<std::string>& aliases,
                             std::set<std::string>& object_aliases, size_t index);
    std::optional<Expectation> expectation(const YAML::Node& n, const Experiment& e, const std::set<std::string>& aliases,
                                           const std::set<std::string>& object_aliases, size_t index);
    std::optional<Matcher> matcher(const YAML::Node& n, bool see_row, const std::string& what);
    // expects_error: the step expects the kernel to refuse, so a kernel limit (ArgSpec::kernel_limit)
    // is not checked here: passing what the kernel must refuse is the point.
    bool op_arg(const agent::ArgSpec& spec, const YAML::Node& v, const Experiment& e, json& out, const std::string& what,
                bool expects_error = false);
    bool op_arg_typed(const agent::ArgSpec& spec, const YAML::Node& v, const Experiment& e, json& out, const std::string& what);
    bool check_references(const YAML::Node& where, const std::string& text, const std::set<std::string>& aliases);
    bool is_vantage(const Experiment& e, const std::string& k) const { return k == "host" || e.realm(k); }
};

std::optional<Suite> FileLoader::suite(const YAML::Node& root) {
    if (root.IsNull()) {
        errors_.push_back({Mark{file_, 1, 1}, std::string(empty_text_ ? "the file is empty" : "the file holds no YAML mapping (only comments, blank lines or a bare scalar)") +
                                                  ": expected a suite with 'nslab: 1', 'suite', 'title' and 'experiments'"});
        return std::nullopt;
    }
    auto f = fields(root, "the suite", names(grammar::suite_keys()));
    if (!f) return std::nullopt;
    Suite s;
    s.file = file_;
    bool ok = true;
    if (auto v = f->find("nslab"); v == f->end()) {
        error(root, "the suite has no schema version: add 'nslab: 1' as its first line");
        ok = false;
    } else if (auto version = integer(v->second, "'nslab' (the schema version)"); !version) {
        ok = false;
    } else if (*version != 1) {
        error(v->second, "schema version " + std::to_string(*version) + " is not supported: this nslab reads 'nslab: 1'");
        ok = false;
    }
    if (auto v = required(*f, "suite", root, "the suite")) {
        if (auto name = text(*v, "'suite'")) {
            if (!is_lower_name(*name)) {
                error(*v, "suite name '" + *name + "' may only use a-z, 0-9 and _ (at most 64), as test filters treat other characters as syntax");
                ok = false;
            }
            s.name = *name;
        } else {
            ok = false;
        }
    } else {
        ok = false;
    }
    if (auto v = required(*f, "title", root, "the suite")) {
        if (auto t = text(*v, "'title'")) s.title = *t;
        else ok = false;
    } else {
        ok = false;
    }
    if (auto v = f->find("description"); v != f->end()) {
        if (auto t = text(v->second, "'description'")) s.description = *t;
        else ok = false;
    }
    auto ex = f->find("experiments");
    if (ex == f->end()) {
        error(root, "the suite has no 'experiments'");
        return std::nullopt;
    }
    if (!ex->second.IsSequence()) {
        error(ex->second, "'experiments' must be a list, not " + node_kind(ex->second));
        return std::nullopt;
    }
    if (ex->second.size() == 0) {
        error(ex->second, "'experiments' is empty: a suite needs at least one experiment");
        return std::nullopt;
    }
    std::map<std::string, Mark> names;
    size_t index = 0;
    for (const auto& en : ex->second) {
        auto e = experiment(en, s.name, index++);
        if (!e) {
            ok = false;
            continue;
        }
        if (auto prev = names.find(e->name); prev != names.end()) {
            errors_.push_back({e->mark, "duplicate experiment name '" + e->name + "' (first at line " +
                                            std::to_string(prev->second.line) + ")"});
            ok = false;
            continue;
        }
        names.emplace(e->name, e->mark);
        s.experiments.push_back(std::move(*e));
    }
    if (!ok) return std::nullopt;
    return s;
}

std::optional<Experiment> FileLoader::experiment(const YAML::Node& n, const std::string& suite_name, size_t index) {
    std::string what = "experiment #" + std::to_string(index + 1);
    auto f = fields(n, what, names(grammar::experiment_keys()));
    if (!f) return std::nullopt;
    Experiment e;
    e.suite = suite_name;
    e.mark = mark(n);
    size_t errors_before = errors_.size();
    if (auto v = required(*f, "name", n, what)) {
        if (auto name = text(*v, "the experiment's 'name'")) {
            if (!is_lower_name(*name))
                error(*v, "experiment name '" + *name +
                              "' may only use a-z, 0-9 and _ (at most 64): gtest and ctest read '-', ':', '*', '?' as filter syntax");
            e.name = *name;
            e.mark = mark(*v);
            what = "experiment '" + *name + "'";
        }
    }
    if (auto v = required(*f, "summary", n, what))
        if (auto t = text(*v, "'summary' of " + what)) e.summary = *t;
    if (auto v = f->find("refs"); v != f->end())
        if (auto l = text_list(v->second, "'refs' of " + what)) e.refs = *l;
    if (auto v = f->find("tags"); v != f->end())
        if (auto l = text_list(v->second, "'tags' of " + what)) e.tags = *l;
    if (auto v = f->find("timeout"); v != f->end()) {
        if (auto t = number(v->second, "'timeout' of " + what)) {
            if (*t <= 0 || *t > 600) error(v->second, "'timeout' of " + what + " must be more than 0 and at most 600 seconds");
            else e.timeout_s = *t;
        }
    }
    if (auto v = f->find("requires"); v != f->end()) {
        walk_map(
            v->second, "'requires' of " + what,
            [&](const std::string& k, const YAML::Node&, const YAML::Node& val) {
                if (k == "root") {
                    if (auto b = boolean(val, "'requires: root'")) e.requires_.root = *b;
                } else if (k == "userns") {
                    if (auto b = boolean(val, "'requires: userns'")) e.requires_.userns = *b;
                } else if (k == "posix_mq") {
                    if (auto b = boolean(val, "'requires: posix_mq'")) e.requires_.posix_mq = *b;
                } else if (k == "writable_sysfs") {
                    if (auto b = boolean(val, "'requires: writable_sysfs'")) e.requires_.writable_sysfs = *b;
                } else if (k == "writable_root") {
                    if (auto b = boolean(val, "'requires: writable_root'")) e.requires_.writable_root = *b;
                } else if (k == "kernel") {
                    if (auto t = text(val, "'requires: kernel'")) {
                        static const std::regex ver("[0-9]+(\\.[0-9]+){0,2}");
                        if (!std::regex_match(*t, ver)) error(val, "'requires: kernel' must be a version such as \"5.6\", not '" + *t + "'");
                        else e.requires_.kernel = *t;
                    }
                } else if (k == "tools") {
                    if (auto l = text_list(val, "'requires: tools'")) e.requires_.tools = *l;
                } else if (k == "launcher") {
                    if (auto l = text_list(val, "'requires: launcher'")) {
                        for (auto& t : *l)
                            if (!launch::launcher_trait_known(t)) error(val, "unknown launcher trait '" + t + "' in 'requires: launcher' (expected one of: " + launch::launcher_trait_names() + ")");
                        e.requires_.launcher = *l;
                    }
                } else {
                    return false;
                }
                return true;
            },
            names(grammar::requires_keys()));
    }
    if (auto v = f->find("realms"); v != f->end()) realms(v->second, e);
    if (errors_.size() != errors_before) return std::nullopt;  // steps refer to realms: stop here

    std::set<std::string> aliases, object_aliases;
    if (auto v = f->find("steps"); v != f->end()) {
        if (!v->second.IsSequence()) {
            error(v->second, "'steps' of " + what + " must be a list, not " + node_kind(v->second));
        } else {
            size_t i = 0;
            for (const auto& sn : v->second)
                if (auto s = step(sn, e, aliases, object_aliases, i++)) e.steps.push_back(std::move(*s));
        }
    }
    if (auto v = f->find("expect"); v != f->end()) {
        if (!v->second.IsSequence()) {
            error(v->second, "'expect' of " + what + " must be a list, not " + node_kind(v->second));
        } else {
            size_t i = 0;
            for (const auto& xn : v->second)
                if (auto x = expectation(xn, e, aliases, object_aliases, i++)) e.expect.push_back(std::move(*x));
        }
    }
    bool asserts_in_steps = std::any_of(e.steps.begin(), e.steps.end(), [](const Step& s) { return !s.expect_error.empty(); });
    if (errors_.size() == errors_before && e.expect.empty() && !asserts_in_steps)
        error(n, what + " asserts nothing: add an 'expect' list (or a step with 'expect_error')");
    if (errors_.size() != errors_before) return std::nullopt;
    return e;
}

bool FileLoader::realms(const YAML::Node& n, Experiment& e) {
    bool ok = walk_map(
        n, "'realms'",
        [&](const std::string& name, const YAML::Node& key, const YAML::Node& v) {
            if (!is_realm_name(name)) {
                error(key, "realm name '" + name + "' must be an uppercase letter followed by A-Z, 0-9 or _ (e.g. A, B, CHILD)");
                return true;
            }
            if (auto r = realm(name, key, v)) e.realms.push_back(std::move(*r));
            return true;
        },
        {});
    return ok && order_realms(e, n);
}

std::optional<RealmSpec> FileLoader::realm(const std::string& name, const YAML::Node& key, const YAML::Node& n) {
    std::string what = "realm " + name;
    auto f = fields(n, what, names(grammar::realm_keys()));
    if (!f) return std::nullopt;
    RealmSpec r;
    r.name = name;
    r.mark = mark(key);
    size_t before = errors_.size();
    if (auto v = f->find("new"); v != f->end())
        if (auto m = ns_list(v->second, "'new' of " + what)) r.new_mask = *m;
    for (auto& k : core::namespace_kinds())
        if ((r.new_mask & core::ns_bit(k.ns)) && !core::kernel_has(k.ns)) {
            // Not an error: the runner skips with the reason. Recorded by the requirement probe.
        }
    if (auto v = f->find("parent"); v != f->end())
        if (auto p = text(v->second, "'parent' of " + what)) {
            r.parent = *p;
            r.parent_mark = mark(v->second);
        }
    if (auto v = f->find("join"); v != f->end()) {
        walk_map(
            v->second, "'join' of " + what,
            [&](const std::string& kind, const YAML::Node& kkey, const YAML::Node& target) {
                auto ns = core::ns_from_name(kind);
                if (!ns) {
                    error(kkey, "unknown namespace kind '" + kind + "' in 'join' of " + what);
                    return true;
                }
                if (*ns == core::Ns::pid) {
                    error(kkey, "joining a PID namespace needs a second fork and is not supported by the builtin launcher; "
                                "create the realm with 'parent:' instead");
                    return true;
                }
                if (r.new_mask & core::ns_bit(*ns)) {
                    error(kkey, what + " cannot both create ('new') and join a " + kind + " namespace");
                    return true;
                }
                if (auto t = text(target, "the realm to join")) {
                    r.join.emplace_back(kind, *t);
                    r.join_marks.push_back(mark(target));
                }
                return true;
            },
            {});
    }
    auto realm_keys = keys_;
    // A key that needs a new namespace of a kind (grammar::realm_key_needs()).
    auto need = [&](const std::string& option) {
        auto rule = std::find_if(grammar::realm_key_needs().begin(), grammar::realm_key_needs().end(),
                                 [&](auto& rule_of) { return rule_of.first == option; });
        core::Ns ns = *core::ns_from_name(rule->second);
        auto v = f->find(option);
        if (v != f->end() && !(r.new_mask & core::ns_bit(ns)))
            error(realm_keys[option], "'" + option + "' of " + what + " needs a new " + std::string(core::kind_of(ns).name) +
                                 " namespace (add " + std::string(core::kind_of(ns).name) + " to 'new')");
        return v;
    };
    if (auto v = need("uid_map"); v != f->end())
        if (auto t = text(v->second, "'uid_map' of " + what)) r.uid_map = *t;
    if (auto v = need("gid_map"); v != f->end())
        if (auto t = text(v->second, "'gid_map' of " + what)) r.gid_map = *t;
    for (auto* m : {&r.uid_map, &r.gid_map}) {
        if (m->empty() || *m == "none") continue;
        auto parsed = core::parse_id_map(*m);
        std::string option = m == &r.uid_map ? "uid_map" : "gid_map";
        if (!parsed.ok()) error(f->find(option)->second, "'" + option + "' of " + what + ": " + parsed.error().describe());
    }
    if (auto v = need("propagation"); v != f->end()) {
        if (auto t = text(v->second, "'propagation' of " + what)) {
            const auto& kinds = grammar::propagations();
            if (std::find(kinds.begin(), kinds.end(), *t) == kinds.end())
                error(v->second, "'propagation' of " + what + " must be " + join_or(kinds) + ", not '" + *t + "'");
            r.propagation = *t;
        }
    }
    if (auto v = need("mount_proc"); v != f->end())
        if (auto b = boolean(v->second, "'mount_proc' of " + what)) r.mount_proc = *b;
    if (auto v = need("time_offsets"); v != f->end()) {
        walk_map(
            v->second, "'time_offsets' of " + what,
            [&](const std::string& clock, const YAML::Node&, const YAML::Node& val) {
                auto clocks = names(grammar::time_offset_keys());
                if (std::find(clocks.begin(), clocks.end(), clock) == clocks.end()) return false;
                if (auto s = integer(val, "the " + clock + " offset")) (clock == "monotonic" ? r.monotonic_offset : r.boottime_offset) = *s;
                return true;
            },
            names(grammar::time_offset_keys()));
    }
    if (auto v = f->find("launcher"); v != f->end())
        if (auto t = text(v->second, "'launcher' of " + what)) {
            const auto& launchers = grammar::realm_launchers();
            if (std::find(launchers.begin(), launchers.end(), *t) == launchers.end())
                error(v->second, "unknown launcher '" + *t + "' for " + what + " (expected: " + join(launchers) + ")");
            r.launcher = *t;
        }
    if (errors_.size() != before) return std::nullopt;
    return r;
}

// Parents first; every parent and join target must be a realm of this experiment (or host).
bool FileLoader::order_realms(Experiment& e, const YAML::Node& where) {
    bool ok = true;
    for (auto& r : e.realms) {
        if (!r.parent.empty() && r.parent != "host" && !e.realm(r.parent)) {
            errors_.push_back({r.parent_mark, "realm " + r.name + " names parent '" + r.parent +
                                                  "', which is not a realm of this experiment (" + join(realm_names(e)) + ")"});
            ok = false;
        }
        if (r.parent == "host") r.parent.clear();
        for (size_t j = 0; j < r.join.size(); ++j) {
            const auto& [kind, target] = r.join[j];
            if (target == r.name) {
                errors_.push_back({r.join_marks[j], "realm " + r.name + " cannot join its own " + kind + " namespace"});
                ok = false;
            } else if (target != "host" && !e.realm(target)) {
                errors_.push_back({r.join_marks[j], "realm " + r.name + " joins the " + kind + " namespace of '" + target +
                                                        "', which is neither a realm of this experiment (" + join(realm_names(e)) + ") nor host"});
                ok = false;
            }
        }
    }
    if (!ok) return false;
    std::vector<RealmSpec> ordered;
    std::set<std::string> placed;
    while (ordered.size() < e.realms.size()) {
        bool progress = false;
        for (auto& r : e.realms) {
            if (placed.count(r.name)) continue;
            bool ready = r.parent.empty() || placed.count(r.parent);
            for (auto& [kind, target] : r.join) ready = ready && (target == "host" || placed.count(target));
            if (!ready) continue;
            placed.insert(r.name);
            ordered.push_back(r);
            progress = true;
        }
        if (!progress) {
            error(where, "realms form a cycle through 'parent' or 'join' (" + join([&] {
                      std::vector<std::string> left;
                      for (auto& r : e.realms)
                          if (!placed.count(r.name)) left.push_back(r.name);
                      return left;
                  }()) + ")");
            return false;
        }
    }
    e.realms = std::move(ordered);
    return true;
}

bool FileLoader::check_references(const YAML::Node& where, const std::string& s, const std::set<std::string>& aliases) {
    bool ok = true;
    for (auto& ref : references_in(s))
        if (!aliases.count(ref.alias)) {
            error(where, "'${" + ref.alias + "." + ref.field + "}' names '" + ref.alias +
                             "', which no earlier step defines with 'as:'");
            ok = false;
        }
    if (s.find("${") != std::string::npos && references_in(s).empty()) {
        error(where, "'${' must start a reference of the form ${name.field}");
        ok = false;
    }
    return ok;
}

namespace {
// What every lab mounts afresh (agent/lab_setup.cpp): writes there never reach the machine.
bool in_the_labs_own_trees(const std::string& path) {
    const std::string p = std::filesystem::path(path).lexically_normal().string();
    for (const char* tree : {"/tmp", "/dev/shm", "/dev/mqueue", "/proc", "/sys"}) {
        const std::string t = tree;
        if (p == t || p.rfind(t + "/", 0) == 0) return true;
    }
    return false;
}
}  // namespace

bool FileLoader::op_arg(const agent::ArgSpec& spec, const YAML::Node& v, const Experiment& e, json& out,
                        const std::string& what, bool expects_error) {
    if (!op_arg_typed(spec, v, e, out, what)) return false;
    // The argument's domain (agent/registry.hpp), on literal values; a value with a ${…} reference
    // is checked by the runner once expanded.
    const json& value = out[spec.name];
    if (spec.check && !(expects_error && spec.kernel_limit) && value.dump().find("${") == std::string::npos) {
        if (std::string why = spec.check(value); !why.empty()) {
            error(v, "'" + spec.name + "' of " + what + ": " + why);
            out.erase(spec.name);
            return false;
        }
    }
    if (spec.writes && !e.requires_.writable_root && value.is_string() && value.get<std::string>().find("${") == std::string::npos &&
        !in_the_labs_own_trees(value.get<std::string>())) {
        const std::string path = value.get<std::string>(), normal = std::filesystem::path(path).lexically_normal().string();
        error(v, "'" + spec.name + "' of " + what + " writes " + path + (normal != path ? " (that is " + normal + ")" : "") +
                     ", outside the lab's own /tmp: write under /tmp, or declare `requires: { writable_root: true }` "
                     "(the lab's / is then copy-on-write, and the experiment SKIPs where it cannot be)");
        out.erase(spec.name);
        return false;
    }
    return true;
}

bool FileLoader::op_arg_typed(const agent::ArgSpec& spec, const YAML::Node& v, const Experiment& e, json& out,
                              const std::string& what) {
    std::string w = "'" + spec.name + "' of " + what;
    switch (spec.type) {
        case agent::ArgType::string:
            if (auto t = text(v, w)) return out[spec.name] = *t, true;
            return false;
        case agent::ArgType::integer:
            // An integer argument may also be a reference such as ${seg.id}, resolved when the step runs.
            if (v.IsScalar() && v.Scalar().rfind("${", 0) == 0) return out[spec.name] = v.Scalar(), true;
            if (auto i = integer(v, w)) return out[spec.name] = *i, true;
            return false;
        case agent::ArgType::boolean:
            if (auto b = boolean(v, w)) return out[spec.name] = *b, true;
            return false;
        case agent::ArgType::string_list:
            if (auto l = text_list(v, w)) return out[spec.name] = *l, true;
            return false;
        case agent::ArgType::ns_list:
            if (auto m = ns_list(v, w)) {
                json kinds = json::array();
                for (auto& k : core::namespace_kinds())
                    if (*m & core::ns_bit(k.ns)) kinds.push_back(k.name);
                out[spec.name] = kinds;
                return true;
            }
            return false;
        case agent::ArgType::realm:
            if (auto t = text(v, w)) {
                if (!is_vantage(e, *t)) {
                    error(v, w + " names '" + *t + "', which is not a realm of this experiment or host");
                    return false;
                }
                out[spec.name] = *t;
                return true;
            }
            return false;
    }
    return false;
}

std::optional<Step> FileLoader::step(const YAML::Node& n, const Experiment& e, std::set<std::string>& aliases,
                                     std::set<std::string>& object_aliases, size_t index) {
    std::string what = "step #" + std::to_string(index + 1);
    if (!n.IsMap()) {
        error(n, what + " must be a mapping such as { in: A, do: sethostname, name: x }, not " + node_kind(n));
        return std::nullopt;
    }
    size_t before = errors_.size();
    Step s;
    s.mark = mark(n);
    // First pass: the step's own keys, to know the op whose arguments the other keys are.
    std::map<std::string, YAML::Node> own, own_keys;
    std::vector<std::pair<YAML::Node, YAML::Node>> rest;
    static const auto step_keys = names(grammar::step_keys());
    walk_map(
        n, what,
        [&](const std::string& k, const YAML::Node& key, const YAML::Node& value) {
            if (std::find(step_keys.begin(), step_keys.end(), k) != step_keys.end()) {
                own.emplace(k, value);
                own_keys.emplace(k, key);
            } else {
                rest.emplace_back(key, value);  // the op's arguments, checked once the op is known
            }
            return true;
        },
        {});
    auto in = own.find("in");
    if (in == own.end()) {
        error(n, what + " has no 'in' (the realm it runs in, or host)");
    } else if (auto t = text(in->second, "'in' of " + what)) {
        if (!is_vantage(e, *t)) error(in->second, "'in' of " + what + " names '" + *t + "', which is not a realm of this experiment or host");
        s.in = *t;
    }
    bool has_do = own.count("do"), has_run = own.count("run");
    if (has_do == has_run) {
        error(n, what + " needs exactly one of 'do' (an action) or 'run' (a shell command)");
        return std::nullopt;
    }
    if (has_run) {
        s.op = "run";
        if (auto t = text(own["run"], "'run' of " + what)) {
            s.args["command"] = *t;
            check_references(own["run"], *t, aliases);
            s.source = s.in + ": run `" + *t + "`";
        }
        for (auto& [k, v] : rest)
            error(k, "unknown key '" + k.Scalar() + "' in " + what + " (a 'run' step takes: " + join(names(grammar::run_step_keys())) + ")");
        if (auto x = own.find("exit"); x != own.end()) {
            if (plain(x->second) && x->second.Scalar() == "any") s.expect_exit.reset();
            else if (auto i = integer(x->second, "'exit' of " + what)) {
                if (*i < 0 || *i > 255) error(x->second, "'exit' of " + what + " must be 0..255 or any");
                s.expect_exit = static_cast<int>(*i);
            }
        }
        if (own.count("expect_error"))
            error(own_keys["expect_error"], "'expect_error' applies to 'do' steps; a 'run' step checks its status with 'exit: N'");
    } else {
        auto op_name = text(own["do"], "'do' of " + what);
        if (!op_name) return std::nullopt;
        const agent::OpSpec* spec = agent::registry().find(*op_name);
        if (!spec || spec->internal || spec->kind != agent::OpKind::action) {
            std::vector<std::string> actions;
            for (auto& [name, op] : agent::registry().ops())
                if (op.kind == agent::OpKind::action && !op.internal && name != "run") actions.push_back(name);
            if (spec && spec->kind == agent::OpKind::probe && !spec->internal)
                error(own["do"], "'" + *op_name + "' is a probe, not an action: check it in 'expect' as { probe: " + *op_name +
                                     ", ... }");
            else
                error(own["do"], "unknown action '" + *op_name + "'" + did_you_mean(*op_name, actions) +
                                     "; `nslab list --actions` lists them");
            return std::nullopt;
        }
        if (*op_name == "run") {
            error(own["do"], "write a command step as { in: " + s.in + ", run: \"...\" }");
            return std::nullopt;
        }
        s.op = *op_name;
        s.source = s.in + ": " + s.op;
        std::set<std::string> given;
        for (auto& [k, v] : rest) {
            std::string key = k.Scalar();
            auto arg = std::find_if(spec->args.begin(), spec->args.end(), [&](const agent::ArgSpec& a) { return a.name == key; });
            if (arg == spec->args.end()) {
                std::vector<std::string> names;
                for (auto& a : spec->args) names.push_back(a.name);
                error(k, "unknown argument '" + key + "' for action " + s.op +
                             (names.empty() ? " (it takes none)" : " (it takes: " + join(names) + ")"));
                continue;
            }
            if (op_arg(*arg, v, e, s.args, "action " + s.op, own.count("expect_error") > 0)) {
                given.insert(key);
                if (v.IsScalar()) {
                    check_references(v, v.Scalar(), aliases);
                    s.source += " " + key + "=" + v.Scalar();
                } else {
                    s.source += " " + key + "=" + s.args[key].dump();
                }
            }
        }
        for (auto& a : spec->args)
            if (a.required && !given.count(a.name) && errors_.size() == before)
                error(n, what + ": action " + s.op + " needs '" + a.name + "': " + a.doc);
        if (auto x = own.find("expect_error"); x != own.end()) {
            if (auto t = text(x->second, "'expect_error' of " + what)) {
                if (!errno_names().count(*t)) error(x->second, "'" + *t + "' is not an errno name (such as EPERM, EINVAL, ENOENT)");
                s.expect_error = *t;
                s.source += " (expect " + *t + ")";
            }
        }
        if (own.count("exit"))
            error(own_keys["exit"], "'exit' applies to 'run' steps; an action step checks its failure with 'expect_error: ERRNO'");
    }
    if (auto a = own.find("as"); a != own.end()) {
        if (auto t = text(a->second, "'as' of " + what)) {
            if (!is_alias_name(*t)) error(a->second, "'as' name '" + *t + "' must start with a-z and use a-z, 0-9, _");
            else if (aliases.count(*t)) error(a->second, "'as' name '" + *t + "' is already used by an earlier step");
            else if (!s.expect_error.empty()) error(a->second, "a step that expects an error returns no value to name with 'as'");
            else {
                aliases.insert(*t);
                const agent::OpSpec* spec = agent::registry().find(s.op);
                if (spec && spec->creates_object) object_aliases.insert(*t);
            }
            s.as = *t;
        }
    }
    if (errors_.size() != before) return std::nullopt;
    return s;
}

std::optional<Matcher> FileLoader::matcher(const YAML::Node& n, bool see_row, const std::string& what) {
    Matcher m;
    m.mark = mark(n);
    if (see_row) {
        if (plain(n) && (n.Scalar() == "visible" || n.Scalar() == "hidden")) {
            m.kind = n.Scalar() == "visible" ? MatcherKind::visible : MatcherKind::hidden;
            return m;
        }
        error(n, what + " must be visible or hidden in a 'see' row, not " + node_kind(n));
        return std::nullopt;
    }
    if (n.IsScalar()) {
        const std::string& s = n.Scalar();
        if (plain(n) && (s == "unchanged" || s == "changed")) {
            m.kind = s == "unchanged" ? MatcherKind::unchanged : MatcherKind::changed;
            return m;
        }
        if (plain(n) && (s == "visible" || s == "hidden")) {
            error(n, what + ": '" + s + "' applies to 'see' rows; to match the text, write {equals: " + s + "}");
            return std::nullopt;
        }
        m.kind = MatcherKind::equals;
        m.value = s;
        return m;
    }
    if (n.IsSequence()) {
        auto l = text_list(n, what);
        if (!l) return std::nullopt;
        m.kind = MatcherKind::equals;
        m.value = *l;
        return m;
    }
    if (n.IsMap()) {
        if (n.size() != 1) {
            error(n, what + " must have exactly one matcher key (" + join(names(grammar::matcher_keys())) + ")");
            return std::nullopt;
        }
        auto it = n.begin();
        if (!it->first.IsScalar()) {
            error(it->first, what + ": a matcher key must be a plain word");
            return std::nullopt;
        }
        std::string k = it->first.Scalar();
        const YAML::Node v = it->second;  // a copy: it-> yields a temporary proxy
        // The matcher keys of the grammar, by the name each kind has in the model.
        static const std::map<std::string, MatcherKind> kinds = [] {
            std::map<std::string, MatcherKind> by_name;
            for (auto& key : grammar::matcher_keys())
                for (auto kind : {MatcherKind::equals, MatcherKind::contains, MatcherKind::not_contains, MatcherKind::count,
                                  MatcherKind::matches, MatcherKind::same_as, MatcherKind::differs_from, MatcherKind::error})
                    if (matcher_kind_name(kind) == key.name) by_name.emplace(key.name, kind);
            return by_name;
        }();
        auto kind = kinds.find(k);
        if (kind == kinds.end()) {
            error(it->first, "unknown matcher '" + k + "' in " + what + " (expected one of: " + join(names(grammar::matcher_keys())) + ")");
            return std::nullopt;
        }
        m.kind = kind->second;
        if (m.kind == MatcherKind::count) {
            auto c = integer(v, "'count' in " + what);
            if (!c) return std::nullopt;
            if (*c < 0) {
                error(v, "'count' in " + what + " cannot be negative");
                return std::nullopt;
            }
            m.value = *c;
        } else if (m.kind == MatcherKind::same_as || m.kind == MatcherKind::differs_from) {
            auto t = text(v, "'" + k + "' in " + what);
            if (!t) return std::nullopt;
            m.vantage = *t;
        } else if (m.kind == MatcherKind::equals && v.IsSequence()) {
            auto l = text_list(v, "'equals' in " + what);
            if (!l) return std::nullopt;
            m.value = *l;
        } else {
            auto t = text(v, "'" + k + "' in " + what);
            if (!t) return std::nullopt;
            if (m.kind == MatcherKind::error && !errno_names().count(*t)) {
                error(v, "'" + *t + "' in " + what + " is not an errno name (such as EPERM, EINVAL, ENOENT)");
                return std::nullopt;
            }
            if (m.kind == MatcherKind::matches) {
                try {
                    std::regex re(*t);
                } catch (const std::regex_error& ex) {
                    error(v, "'" + *t + "' in " + what + " is not a valid regular expression: " + ex.what());
                    return std::nullopt;
                }
            }
            m.value = *t;
        }
        return m;
    }
    error(n, what + " must be a value, a list, or a matcher such as {contains: x}, not " + node_kind(n));
    return std::nullopt;
}

std::optional<Expectation> FileLoader::expectation(const YAML::Node& n, const Experiment& e, const std::set<std::string>& aliases,
                                                   const std::set<std::string>& object_aliases, size_t index) {
    std::string what = "expectation #" + std::to_string(index + 1);
    if (!n.IsMap()) {
        error(n, what + " must be a mapping such as { probe: hostname, A: x, host: unchanged }, not " + node_kind(n));
        return std::nullopt;
    }
    size_t before = errors_.size();
    Expectation x;
    x.mark = mark(n);
    static const auto forms = names(grammar::row_forms());
    if (std::count_if(forms.begin(), forms.end(), [&](const std::string& f) { return static_cast<bool>(n[f]); }) != 1) {
        error(n, what + " needs exactly one of " + join_or(forms, true));
        return std::nullopt;
    }
    const agent::OpSpec* spec = nullptr;
    if (n["probe"]) {
        x.form = Expectation::Form::probe;
        auto name = text(n["probe"], "'probe' of " + what);
        if (!name) return std::nullopt;
        spec = agent::registry().find(*name);
        if (!spec || spec->internal || spec->kind != agent::OpKind::probe) {
            std::vector<std::string> probes;
            for (auto& [pname, op] : agent::registry().ops())
                if (op.kind == agent::OpKind::probe && !op.internal) probes.push_back(pname);
            if (spec && spec->kind == agent::OpKind::action && !spec->internal)
                error(n["probe"], "'" + *name + "' is an action, not a probe: do it in 'steps' as { in: REALM, do: " + *name +
                                      ", ... }");
            else
                error(n["probe"], "unknown probe '" + *name + "'" + did_you_mean(*name, probes) +
                                      "; `nslab list --probes` lists them");
            return std::nullopt;
        }
        x.op = *name;
    } else if (n["see"]) {
        x.form = Expectation::Form::see;
        x.op = "visible";
        auto alias = text(n["see"], "'see' of " + what);
        if (!alias) return std::nullopt;
        if (!object_aliases.count(*alias)) {
            error(n["see"], "'see: " + *alias + "' names no object: an earlier step must create one with 'as: " + *alias +
                                "' (objects come from actions such as shm_create)");
            return std::nullopt;
        }
        x.object = *alias;
    } else {
        x.form = Expectation::Form::run;
        x.op = "run";
        auto cmd = text(n["run"], "'run' of " + what);
        if (!cmd) return std::nullopt;
        check_references(n["run"], *cmd, aliases);
        x.args["command"] = *cmd;
    }
    std::set<std::string> given_args;
    walk_map(
        n, what,
        [&](const std::string& k, const YAML::Node& key, const YAML::Node& value) {
            if (std::find(forms.begin(), forms.end(), k) != forms.end()) return true;
            if (k == "why") {
                if (auto t = text(value, "'why' of " + what)) x.why = *t;
                return true;
            }
            if (k == "since" || k == "before") {
                if (auto t = text(value, "'" + k + "' of " + what)) {
                    static const std::regex ver("[0-9]+(\\.[0-9]+){0,2}");
                    if (!std::regex_match(*t, ver))
                        error(value, "'" + k + "' of " + what + " must be a kernel version such as \"6.2\", not '" + *t + "'");
                    else (k == "since" ? x.since_kernel : x.before_kernel) = *t;
                }
                return true;
            }
            if (is_vantage(e, k)) {
                if (auto m = matcher(value, x.form == Expectation::Form::see, "the " + k + " cell of " + what)) {
                    if (m->value.is_string()) check_references(value, m->value.get<std::string>(), aliases);
                    x.cells.emplace_back(k, std::move(*m));
                }
                return true;
            }
            if (spec) {
                auto arg = std::find_if(spec->args.begin(), spec->args.end(), [&](const agent::ArgSpec& a) { return a.name == k; });
                if (arg != spec->args.end()) {
                    if (op_arg(*arg, value, e, x.args, "probe " + x.op)) given_args.insert(k);
                    return true;
                }
            }
            std::vector<std::string> vantages = e.vantages();
            std::string columns = join(vantages);
            std::string args_text;
            if (spec && !spec->args.empty()) {
                std::vector<std::string> arg_names;
                for (auto& a : spec->args) arg_names.push_back(a.name);
                args_text = ", an argument of probe " + x.op + " (" + join(arg_names) + ")";
            }
            std::string hint = (!is_realm_name(k) && k.size() <= 2 && is_realm_name(std::string(1, static_cast<char>(std::toupper(static_cast<unsigned char>(k[0]))))))
                                   ? "; realm names are uppercase"
                                   : "";
            error(key, "'" + k + "' in " + what + " is not a column of this experiment (" + columns + ")" + args_text +
                                 ", nor " + join_or(names(grammar::row_keys()), true) + hint);
            return true;
        },
        {});
    if (spec)
        for (auto& a : spec->args)
            if (a.required && !given_args.count(a.name) && errors_.size() == before)
                error(n, what + ": probe " + x.op + " needs '" + a.name + "': " + a.doc);
    if (x.cells.empty() && errors_.size() == before) error(n, what + " checks no realm: add cells such as A: ..., host: ...");
    if (!x.since_kernel.empty() && !x.before_kernel.empty() && kernel_at_least(x.since_kernel, x.before_kernel))
        error(n["before"], what + " holds for no kernel: 'since: " + x.since_kernel + "' is not below 'before: " + x.before_kernel + "'");
    for (const auto& cell : x.cells) {
        const std::string& vantage = cell.first;
        const Matcher& m = cell.second;
        if ((m.kind == MatcherKind::same_as || m.kind == MatcherKind::differs_from) &&
            std::none_of(x.cells.begin(), x.cells.end(), [&](auto& c) { return c.first == m.vantage && c.first != vantage; }))
            errors_.push_back({m.mark, "the " + vantage + " cell of " + what + " compares with '" + m.vantage +
                                           "', which is not another cell of this row"});
    }
    if (errors_.size() != before) return std::nullopt;
    // Cells in the experiment's column order, whatever order they were written in.
    auto order = e.vantages();
    std::stable_sort(x.cells.begin(), x.cells.end(), [&](auto& a, auto& b) {
        return std::find(order.begin(), order.end(), a.first) < std::find(order.begin(), order.end(), b.first);
    });
    return x;
}

}  // namespace

std::string LoadError::str() const { return mark.str() + ": error: " + message; }

std::vector<Reference> references_in(const std::string& text) {
    static const std::regex ref_re("\\$\\{([a-z][a-z0-9_]*)\\.([a-z_]+)\\}");
    std::vector<Reference> out;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), ref_re); it != std::sregex_iterator(); ++it)
        out.push_back({(*it)[1].str(), (*it)[2].str()});
    return out;
}

LoadResult load_text(const std::string& text, const std::string& file) {
    LoadResult result;
    auto parsed = strict_yaml::parse(text, file, kSuiteFile);
    if (parsed.error) {
        result.errors.push_back(std::move(*parsed.error));
        return result;
    }
    FileLoader loader(file, result.errors, parsed.blank);
    try {
        auto suite = loader.suite(parsed.root);
        if (suite && result.errors.empty()) result.suites.push_back(std::move(*suite));
    } catch (const YAML::Exception& e) {
        result.errors.push_back(strict_yaml::exception_error(file, e));
    }
    return result;
}

std::vector<std::string> expand_paths(const std::vector<std::string>& paths, std::vector<LoadError>& errors) {
    namespace fs = std::filesystem;
    std::vector<std::string> files;
    for (auto& p : paths) {
        std::error_code ec;
        if (fs::is_directory(p, ec)) {
            std::vector<std::string> found;
            for (auto& entry : fs::directory_iterator(p, ec)) {
                auto ext = entry.path().extension().string();
                if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml")) found.push_back(entry.path().string());
            }
            std::sort(found.begin(), found.end());
            if (found.empty()) errors.push_back({Mark{p, 0, 0}, "no *.yaml files in this directory"});
            files.insert(files.end(), found.begin(), found.end());
        } else if (fs::exists(p, ec)) {
            files.push_back(p);
        } else {
            errors.push_back({Mark{p, 0, 0}, "no such file or directory"});
        }
    }
    return files;
}

LoadResult load_paths(const std::vector<std::string>& paths) {
    LoadResult all;
    std::vector<std::string> files = expand_paths(paths, all.errors);
    // Files parse independently (yaml-cpp keeps no shared state): a few threads take them in turn,
    // and the results are merged in file order, so that errors and suites come out as one thread
    // would give them.
    std::vector<LoadResult> each(files.size());
    std::atomic<size_t> next{0};
    auto parse = [&] {
        for (size_t i; (i = next.fetch_add(1)) < files.size();) {
            auto text = strict_yaml::read_bounded(files[i]);
            if (!text) {
                each[i].errors.push_back({Mark{files[i], 0, 0}, std::string("cannot read the file: ") + std::strerror(errno)});
                continue;
            }
            each[i] = load_text(*text, files[i]);
        }
    };
    size_t helpers = std::min<size_t>(files.size(), std::max(1u, std::thread::hardware_concurrency()));
    std::vector<std::thread> threads;
    for (size_t t = 1; t < helpers; ++t) threads.emplace_back(parse);
    parse();
    for (auto& t : threads) t.join();
    std::map<std::string, std::string> suite_files;
    for (size_t i = 0; i < files.size(); ++i) {
        const std::string& file = files[i];
        LoadResult& one = each[i];
        all.errors.insert(all.errors.end(), one.errors.begin(), one.errors.end());
        for (auto& s : one.suites) {
            if (auto prev = suite_files.find(s.name); prev != suite_files.end()) {
                all.errors.push_back({Mark{file, 1, 1}, "suite name '" + s.name + "' is also the name of " + prev->second});
                continue;
            }
            suite_files.emplace(s.name, file);
            all.suites.push_back(std::move(s));
        }
    }
    return all;
}

}  // namespace nslab::experiment
