#include "grade/assignment.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "experiment/strict_yaml.hpp"
#include "grade/assignment_grammar.hpp"
#include "grade/contract.hpp"

namespace nslab::grade {
namespace {

namespace fs = std::filesystem;
using experiment::LoadError;
using strict_yaml::did_you_mean;
using strict_yaml::join;
using strict_yaml::names;
using strict_yaml::node_kind;

const strict_yaml::FileKind kAssignmentFile{"an assignment", "assignments"};

// What a launcher word may name besides ${agent} and ${flags} (words of their own, in the
// command only): the realm's plan, and where the grader puts the submission's copy.
const std::vector<std::string>& template_variables() {
    static const std::vector<std::string> names{"realm", "hostname", "monotonic", "boottime", "propagation",
                                                "uid",   "gid",      "submission"};
    return names;
}

std::string variables_text(bool in_command) {
    std::vector<std::string> names;
    if (in_command) names = {"${agent}", "${flags}"};
    for (auto& v : template_variables()) names.push_back("${" + v + "}");
    return join(names);
}

class AssignmentReader : strict_yaml::Reader {
public:
    using Reader::Reader;
    std::optional<Assignment> assignment(const YAML::Node& root, bool blank);

private:
    void suites(const YAML::Node& n, Assignment& a);
    void build(const YAML::Node& n, Assignment& a);
    void launcher(const YAML::Node& n, Assignment& a);
    void flags(const YAML::Node& n, Assignment& a);
    bool check_word(const YAML::Node& where, const std::string& word, const std::string& what, bool in_command);
    void check_with_factory(const YAML::Node& where, const launch::LauncherConfig& config);
    void sandbox(const YAML::Node& n, Assignment& a);
    void tests(const YAML::Node& n, Assignment& a);
    std::optional<AssignmentTest> test(const YAML::Node& n, size_t index, std::set<std::string>& graded);
};

std::optional<Assignment> AssignmentReader::assignment(const YAML::Node& root, bool blank) {
    if (root.IsNull()) {
        errors_.push_back({mark(root), std::string(blank ? "the file is empty" : "the file holds no YAML mapping") +
                                           ": expected an assignment with 'nslab_assignment: 1', 'name', 'title', "
                                           "'suites', 'launcher' and 'tests'"});
        return std::nullopt;
    }
    auto f = fields(root, "the assignment", names(grammar::assignment_keys()));
    if (!f) return std::nullopt;
    const auto top_keys = keys_;
    Assignment a;
    a.file = file_;
    if (auto v = f->find("nslab_assignment"); v == f->end()) {
        error(root, "the assignment has no schema version: add 'nslab_assignment: 1' as its first line");
    } else if (v->second.IsNull()) {
        error(top_keys.at("nslab_assignment"), "'nslab_assignment' has no value: the first line of an assignment is 'nslab_assignment: 1'");
    } else if (auto version = integer(v->second, "'nslab_assignment' (the schema version)"); version && *version != 1) {
        error(v->second, "assignment schema version " + std::to_string(*version) +
                             " is not supported: this nslab reads 'nslab_assignment: 1'");
    }
    if (auto v = required(*f, "name", root, "the assignment"))
        if (auto t = text(*v, "'name'")) a.name = *t;
    if (auto v = required(*f, "title", root, "the assignment"))
        if (auto t = text(*v, "'title'")) a.title = *t;
    if (auto v = required(*f, "suites", root, "the assignment")) suites(*v, a);
    if (auto v = f->find("build"); v != f->end()) build(v->second, a);
    if (auto v = required(*f, "launcher", root, "the assignment")) launcher(*v, a);
    if (auto v = f->find("sandbox"); v != f->end()) sandbox(v->second, a);
    if (auto v = required(*f, "tests", root, "the assignment")) tests(*v, a);
    if (!errors_.empty()) return std::nullopt;
    return a;
}

void AssignmentReader::suites(const YAML::Node& n, Assignment& a) {
    auto paths = text_list(n, "'suites'");
    if (!paths) return;
    if (paths->empty()) {
        error(n, "'suites' is empty: an assignment takes its experiments from at least one suite file");
        return;
    }
    // Relative to the assignment's directory, checked here so that a missing one is named at its line.
    auto dir = fs::path(file_).parent_path();
    size_t i = 0;
    for (const auto& item : n) {
        const std::string& p = (*paths)[i++];
        std::string path = (dir / p).lexically_normal().string();
        std::error_code ec;
        if (!fs::exists(path, ec)) error(item, "no suite file '" + p + "' (looked for " + path + ")");
        a.suites.push_back(path);
    }
}

void AssignmentReader::build(const YAML::Node& n, Assignment& a) {
    auto f = fields(n, "'build'", names(grammar::build_keys()));
    if (!f) return;
    if (auto v = f->find("command"); v != f->end())
        if (auto argv = text_list(v->second, "'build: command'")) a.build = *argv;
    if (auto v = f->find("timeout"); v != f->end())
        if (auto t = number_in(v->second, "'build: timeout'", grammar::build_timeout().lo, grammar::build_timeout().hi)) a.build_timeout_s = *t;
}

void AssignmentReader::launcher(const YAML::Node& n, Assignment& a) {
    auto f = fields(n, "'launcher'", names(grammar::launcher_keys()));
    if (!f) return;
    const auto launcher_keys = keys_;
    size_t before = errors_.size();
    a.launcher.kind = "command";
    const YAML::Node* command = required(*f, "command", n, "'launcher'");
    if (command) {
        if (auto argv = text_list(*command, "'launcher: command'")) {
            a.launcher.command = *argv;
            if (argv->empty()) error(*command, "'launcher: command' is empty: it is the argv that starts each realm");
        }
    }
    if (auto v = f->find("flags"); v != f->end()) flags(v->second, a);
    if (auto v = f->find("creates"); v != f->end())
        if (auto mask = ns_list(v->second, "'launcher: creates'")) a.launcher.creates = *mask;
    if (auto v = f->find("mounts_proc"); v != f->end())
        if (auto b = boolean(v->second, "'launcher: mounts_proc'")) a.launcher.mounts_proc = *b;
    if (auto v = f->find("connect_by_socket"); v != f->end())
        if (auto b = boolean(v->second, "'launcher: connect_by_socket'")) a.launcher.connect_by_socket = *b;
    if (auto v = f->find("timeout"); v != f->end())
        if (auto t = number_in(v->second, "'launcher: timeout'", grammar::launcher_timeout().lo, grammar::launcher_timeout().hi))
            a.test_timeout_s = *t;
    if (!command || errors_.size() != before) return;

    const auto& words = a.launcher.command;
    bool agent = false, flags_word = false, ok = true;
    size_t i = 0;
    for (const auto& item : *command) {
        const std::string& w = words[i++];
        agent = agent || w == "${agent}";
        flags_word = flags_word || w == "${flags}";
        ok = check_word(item, w, "'launcher: command'", true) && ok;
    }
    if (!ok) return;
    if (!agent) {
        error(*command, "'launcher: command' must contain \"${agent}\" as a word of its own: the agent the launcher "
                        "runs as COMMAND in the new namespaces");
        return;
    }
    if (!a.launcher.flags.empty() && !flags_word) {
        error(launcher_keys.at("flags"), "'launcher: flags' needs the word \"${flags}\" in 'launcher: command'");
        return;
    }
    check_with_factory(*command, a.launcher);
}

void AssignmentReader::flags(const YAML::Node& n, Assignment& a) {
    std::vector<std::string> keys;
    for (auto& k : launch::template_flag_keys()) keys.push_back(k.name);
    walk_map(
        n, "'launcher: flags'",
        [&](const std::string& k, const YAML::Node& key, const YAML::Node& value) {
            if (k == "hostname") {
                error(key, "a realm's hostname is set by the experiment's own steps; a launcher must not set it");
                return true;
            }
            if (!launch::template_flag_known(k)) return false;
            std::string what = "'launcher: flags: " + k + "'";
            std::vector<std::string> words;
            if (value.IsScalar()) {
                words.push_back(value.Scalar());
            } else if (value.IsSequence()) {
                auto l = text_list(value, what);
                if (!l) return true;
                words = *l;
            } else {
                error(value, what + " must be a word or a list of words, not " + node_kind(value));
                return true;
            }
            if (words.empty()) {
                error(value, what + " is empty: give the word(s) that ask the launcher for it, or leave the key out");
                return true;
            }
            bool ok = true;
            if (value.IsScalar()) {
                ok = check_word(value, words[0], what, false);
            } else {
                size_t i = 0;
                for (const auto& item : value) ok = check_word(item, words[i++], what, false) && ok;
            }
            if (ok) a.launcher.flags.emplace(k, std::move(words));
            return true;
        },
        keys);
}

// The ${…} variables of one word. ${agent} and ${flags} stand for several words, so they must be
// words of their own, and only in the command.
bool AssignmentReader::check_word(const YAML::Node& where, const std::string& word, const std::string& what, bool in_command) {
    for (size_t i = 0; (i = word.find("${", i)) != std::string::npos;) {
        size_t end = word.find('}', i);
        if (end == std::string::npos) {
            error(where, "unclosed '${' in " + what + " word '" + word + "'");
            return false;
        }
        std::string name = word.substr(i + 2, end - i - 2);
        const auto& known = template_variables();
        if (in_command && (name == "agent" || name == "flags")) {
            if (word != "${" + name + "}") {
                error(where, "${" + name + "} must be a word of its own in " + what + ", not part of '" + word + "'");
                return false;
            }
        } else if (std::find(known.begin(), known.end(), name) == known.end()) {
            std::string hint = !in_command && (name == "agent" || name == "flags")
                                   ? " (${" + name + "} belongs in 'launcher: command')"
                                   : did_you_mean(name, known);
            error(where, "unknown variable ${" + name + "} in " + what + hint + " (expected: " + variables_text(in_command) + ")");
            return false;
        }
        i = end + 1;
    }
    return true;
}

// What the launcher factory refuses in a template is refused here too, not at the first realm.
void AssignmentReader::check_with_factory(const YAML::Node& where, const launch::LauncherConfig& config) {
    launch::LauncherConfig c = config;
    c.vars.try_emplace("submission", "/submission");
    auto made = launch::make_launcher(c);
    if (!made.ok()) error(where, "'launcher: command': " + made.error().describe());
}

void AssignmentReader::sandbox(const YAML::Node& n, Assignment& a) {
    auto f = fields(n, "'sandbox'", names(grammar::sandbox_keys()));
    if (!f) return;
    auto id = [&](const char* key) -> std::optional<long long> {
        auto v = f->find(key);
        if (v == f->end()) return std::nullopt;
        std::string what = std::string("'sandbox: ") + key + "'";
        auto x = integer(v->second, what);
        if (x && *x == 0) {
            error(v->second, what + " must not be 0: the submission never runs as root");
            return std::nullopt;
        }
        auto [lo, hi] = grammar::sandbox_bounds(key);
        if (x && (*x < lo || *x > hi)) {
            error(v->second, what + " must be between " + std::to_string(static_cast<long long>(lo)) + " and " +
                                 std::to_string(static_cast<long long>(hi)));
            return std::nullopt;
        }
        return x;
    };
    if (auto uid = id("uid")) a.sandbox.uid = static_cast<uid_t>(*uid);
    if (auto gid = id("gid")) a.sandbox.gid = static_cast<gid_t>(*gid);
    auto limit = [&](const char* key, long long& out) {
        auto [lo, hi] = grammar::sandbox_bounds(key);
        if (auto v = f->find(key); v != f->end())
            if (auto x = integer_in(v->second, std::string("'sandbox: ") + key + "'", static_cast<long long>(lo), static_cast<long long>(hi)))
                out = *x;
    };
    limit("cpu_seconds", a.sandbox.cpu_seconds);
    limit("max_pids", a.sandbox.max_pids);
    limit("max_memory", a.sandbox.max_memory);
    limit("file_size", a.sandbox.file_size);
    limit("output_bytes", a.sandbox.output_bytes);
}

void AssignmentReader::tests(const YAML::Node& n, Assignment& a) {
    if (!n.IsSequence()) {
        error(n, "'tests' must be a list, not " + node_kind(n));
        return;
    }
    if (n.size() == 0) {
        error(n, "'tests' is empty: an assignment grades at least one test");
        return;
    }
    std::set<std::string> graded;
    size_t index = 0;
    for (const auto& x : n)
        if (auto t = test(x, index++, graded)) a.tests.push_back(std::move(*t));
}

std::optional<AssignmentTest> AssignmentReader::test(const YAML::Node& n, size_t index, std::set<std::string>& graded) {
    std::string what = "test #" + std::to_string(index + 1);
    auto f = fields(n, what, names(grammar::test_keys()));
    if (!f) return std::nullopt;
    size_t before = errors_.size();
    AssignmentTest t;
    t.mark = mark(n);
    auto experiment = f->find("experiment"), contract = f->find("contract");
    if (experiment != f->end() && contract != f->end()) {
        error(contract->second, "a test is either an 'experiment' or a 'contract', not both");
    } else if (contract != f->end()) {
        if (auto name = text(contract->second, "'contract'")) {
            std::vector<std::string> names;
            for (auto& c : contract_tests()) names.push_back(c.name);
            if (!find_contract(*name))
                error(contract->second, "unknown contract '" + *name + "'" + did_you_mean(*name, names) +
                                            " (expected: " + contract_names() + ")");
            else if (!graded.insert("contract " + *name).second)
                error(contract->second, "contract '" + *name + "' is graded twice");
            t.contract = *name;
        }
    } else if (experiment == f->end()) {
        error(n, what + " has no 'experiment' (or 'contract')");
    } else if (auto name = text(experiment->second, "'experiment'")) {
        if (!graded.insert(*name).second) error(experiment->second, "experiment '" + *name + "' is graded twice");
        t.experiment = *name;
    }
    if (auto v = f->find("points"); v != f->end()) {
        if (auto p = number(v->second, "'points'")) {
            if (*p <= 0) error(v->second, "'points' must be more than 0");
            else if (*p > grammar::kMaxPoints) error(v->second, "'points' must be at most 1000");
            else t.points = *p;
        }
    }
    if (auto v = f->find("visibility"); v != f->end()) {
        if (auto vis = text(v->second, "'visibility'")) {
            if (std::find(visibilities().begin(), visibilities().end(), *vis) == visibilities().end())
                error(v->second, "unknown visibility '" + *vis + "' (expected: " + join(visibilities()) + ")");
            t.visibility = *vis;
        }
    }
    if (auto v = f->find("section"); v != f->end())
        if (auto s = text(v->second, "'section'")) t.section = *s;
    if (auto v = f->find("hint"); v != f->end())
        if (auto h = text(v->second, "'hint'")) t.hint = *h;
    if (errors_.size() != before) return std::nullopt;
    return t;
}

}  // namespace

double Assignment::max_score() const {
    double s = 0;
    for (auto& t : tests) s += t.points;
    return s;
}

AssignmentLoad load_assignment(const std::string& path) {
    AssignmentLoad out;
    auto text = strict_yaml::read_bounded(path);
    if (!text) {
        out.errors.push_back(path + ": cannot read the file: " + std::strerror(errno));
        return out;
    }
    std::vector<LoadError> errors;
    auto parsed = strict_yaml::parse(*text, path, kAssignmentFile);
    if (parsed.error) {
        errors.push_back(std::move(*parsed.error));
    } else {
        AssignmentReader reader(path, errors);
        try {
            out.assignment = reader.assignment(parsed.root, parsed.blank);
        } catch (const YAML::Exception& e) {
            errors.push_back(strict_yaml::exception_error(path, e));
        }
    }
    if (!errors.empty()) out.assignment.reset();
    for (auto& e : errors) out.errors.push_back(e.mark.str() + ": " + e.message);
    return out;
}

}  // namespace nslab::grade
