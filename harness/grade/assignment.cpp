#include "grade/assignment.hpp"

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <set>

namespace nslab::grade {
namespace {

class Loader {
public:
    explicit Loader(std::string file) : file_(std::move(file)) {}
    std::vector<std::string> errors;

    void error(const YAML::Node& n, const std::string& msg) {
        auto m = n.Mark();
        errors.push_back(file_ + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) + ": " + msg);
    }
    experiment::Mark mark(const YAML::Node& n) const {
        return {file_, n.Mark().line + 1, n.Mark().column + 1};
    }
    // Rejects keys not in allowed; returns false when n is not a map.
    bool keys(const YAML::Node& n, const std::string& what, const std::set<std::string>& allowed) {
        if (!n.IsMap()) {
            error(n, what + " must be a mapping");
            return false;
        }
        std::set<std::string> seen;
        for (auto it = n.begin(); it != n.end(); ++it) {
            std::string k = it->first.as<std::string>("");
            if (!allowed.count(k)) {
                std::string list;
                for (auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
                error(it->first, "unknown key '" + k + "' in " + what + " (expected: " + list + ")");
            }
            if (!seen.insert(k).second) error(it->first, "duplicate key '" + k + "' in " + what);
        }
        return true;
    }
    std::optional<std::string> text(const YAML::Node& n, const std::string& what) {
        if (!n.IsScalar()) {
            error(n, what + " must be a string");
            return std::nullopt;
        }
        return n.Scalar();
    }
    std::optional<double> number(const YAML::Node& n, const std::string& what, double lo, double hi) {
        try {
            if (n.IsScalar()) {
                double v = n.as<double>();
                if (v < lo || v > hi) error(n, what + " must be between " + fmt(lo) + " and " + fmt(hi));
                else return v;
                return std::nullopt;
            }
        } catch (const YAML::Exception&) {
        }
        error(n, what + " must be a number");
        return std::nullopt;
    }
    std::optional<std::vector<std::string>> list(const YAML::Node& n, const std::string& what) {
        if (!n.IsSequence()) {
            error(n, what + " must be a list of strings");
            return std::nullopt;
        }
        std::vector<std::string> out;
        for (const auto& x : n) {
            if (auto t = text(x, "each item of " + what)) out.push_back(*t);
            else return std::nullopt;
        }
        return out;
    }

private:
    std::string file_;
    static std::string fmt(double d) {
        std::string s = std::to_string(d);
        s.erase(s.find_last_not_of('0') + 1);
        if (s.back() == '.') s.pop_back();
        return s;
    }
};

}  // namespace

double Assignment::max_score() const {
    double s = 0;
    for (auto& t : tests) s += t.points;
    return s;
}

AssignmentLoad load_assignment(const std::string& path) {
    AssignmentLoad out;
    Loader l(path);
    YAML::Node root;
    try {
        root = YAML::LoadFile(path);
    } catch (const YAML::BadFile&) {
        out.errors.push_back(path + ": cannot read the file");
        return out;
    } catch (const YAML::Exception& e) {
        out.errors.push_back(path + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) + ": " + e.msg);
        return out;
    }
    Assignment a;
    a.file = path;
    if (!l.keys(root, "the assignment", {"nslab_assignment", "name", "title", "suites", "build", "launcher", "sandbox", "tests"})) {
        out.errors = l.errors;
        return out;
    }
    if (!root["nslab_assignment"] || root["nslab_assignment"].Scalar() != "1")
        l.error(root, "the assignment must start with 'nslab_assignment: 1'");
    for (const char* k : {"name", "title", "suites", "launcher", "tests"})
        if (!root[k]) l.error(root, std::string("missing key '") + k + "'");
    if (root["name"]) a.name = l.text(root["name"], "'name'").value_or("");
    if (root["title"]) a.title = l.text(root["title"], "'title'").value_or("");
    auto dir = std::filesystem::path(path).parent_path();
    if (root["suites"])
        if (auto s = l.list(root["suites"], "'suites'"))
            for (auto& p : *s) a.suites.push_back((dir / p).lexically_normal().string());
    if (auto b = root["build"]) {
        if (l.keys(b, "'build'", {"command", "timeout"})) {
            if (b["command"]) a.build = l.list(b["command"], "'build: command'").value_or(std::vector<std::string>{});
            if (b["timeout"]) a.build_timeout_s = l.number(b["timeout"], "'build: timeout'", 1, 3600).value_or(120);
        }
    }
    if (auto n = root["launcher"]) {
        if (l.keys(n, "'launcher'", {"command", "creates", "mounts_proc", "connect_by_socket", "timeout"})) {
            a.launcher.kind = "command";
            if (!n["command"]) l.error(n, "missing key 'command' in 'launcher'");
            else a.launcher.command = l.list(n["command"], "'launcher: command'").value_or(std::vector<std::string>{});
            if (n["creates"])
                if (auto kinds = l.list(n["creates"], "'launcher: creates'"))
                    for (auto& k : *kinds) {
                        auto ns = core::ns_from_name(k);
                        if (!ns) l.error(n["creates"], "unknown namespace kind '" + k + "' in 'launcher: creates'");
                        else a.launcher.creates |= core::ns_bit(*ns);
                    }
            if (n["mounts_proc"]) a.launcher.mounts_proc = n["mounts_proc"].as<bool>(false);
            if (n["connect_by_socket"]) a.launcher.connect_by_socket = n["connect_by_socket"].as<bool>(false);
            if (n["timeout"]) a.test_timeout_s = l.number(n["timeout"], "'launcher: timeout'", 1, 600).value_or(10);
        }
    }
    if (auto s = root["sandbox"]) {
        if (l.keys(s, "'sandbox'", {"uid", "gid", "cpu_seconds", "max_pids", "max_memory", "file_size", "output_bytes"})) {
            auto num = [&](const char* k, long long& v, double lo, double hi) {
                if (s[k]) v = static_cast<long long>(l.number(s[k], std::string("'sandbox: ") + k + "'", lo, hi).value_or(static_cast<double>(v)));
            };
            long long uid = a.sandbox.uid, gid = a.sandbox.gid;
            num("uid", uid, 1, 4294967294.0);  // never 0: the submission does not run as root
            num("gid", gid, 1, 4294967294.0);
            a.sandbox.uid = static_cast<uid_t>(uid);
            a.sandbox.gid = static_cast<gid_t>(gid);
            num("cpu_seconds", a.sandbox.cpu_seconds, 1, 3600);
            num("max_pids", a.sandbox.max_pids, 8, 1 << 20);
            num("max_memory", a.sandbox.max_memory, 0, 1e12);
            num("file_size", a.sandbox.file_size, 4096, 1e12);
            num("output_bytes", a.sandbox.output_bytes, 1024, 1 << 26);
        }
    }
    if (auto t = root["tests"]) {
        if (!t.IsSequence() || t.size() == 0) l.error(t, "'tests' must be a non-empty list");
        else {
            std::set<std::string> seen;
            for (const auto& x : t) {
                if (!l.keys(x, "a test", {"experiment", "contract", "points", "visibility", "section", "hint"})) continue;
                AssignmentTest test;
                test.mark = l.mark(x);
                if (x["experiment"] && x["contract"]) l.error(x["contract"], "a test is either an 'experiment' or a 'contract', not both");
                else if (x["contract"]) {
                    test.contract = l.text(x["contract"], "'contract'").value_or("");
                    if (!seen.insert("contract " + test.contract).second) l.error(x["contract"], "contract '" + test.contract + "' is graded twice");
                } else if (!x["experiment"]) l.error(x, "missing key 'experiment' (or 'contract') in a test");
                else {
                    test.experiment = l.text(x["experiment"], "'experiment'").value_or("");
                    if (!seen.insert(test.experiment).second) l.error(x["experiment"], "experiment '" + test.experiment + "' is graded twice");
                }
                if (x["points"]) test.points = l.number(x["points"], "'points'", 0, 1000).value_or(1);
                if (x["visibility"]) {
                    test.visibility = l.text(x["visibility"], "'visibility'").value_or("visible");
                    bool ok = false;
                    for (auto& v : visibilities()) ok = ok || v == test.visibility;
                    if (!ok) l.error(x["visibility"], "unknown visibility '" + test.visibility + "' (expected: visible, hidden, after_due_date, after_published)");
                }
                if (x["section"]) test.section = l.text(x["section"], "'section'").value_or("");
                if (x["hint"]) test.hint = l.text(x["hint"], "'hint'").value_or("");
                a.tests.push_back(std::move(test));
            }
        }
    }
    out.errors = std::move(l.errors);
    if (out.errors.empty()) out.assignment = std::move(a);
    return out;
}

}  // namespace nslab::grade
