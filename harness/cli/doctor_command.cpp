// `nslab doctor`: what this machine lets nslab do, probe by probe, what each missing piece costs
// (which experiments will SKIP, and why) and the exact fix. It decides from the same probes
// (runner::machine_facts) and the same requirement check (runner::unmet_requirement) as `nslab
// run`, so the two cannot disagree. Exit 0: everything can run; 1: some experiments will SKIP;
// 2: nothing can run here.
#include "cli/doctor_command.hpp"

#include <iostream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "experiment/loader.hpp"
#include "launch/lab.hpp"
#include "experiment/model.hpp"
#include "runner/lab_cgroup.hpp"
#include "runner/machine_facts.hpp"
#include "runner/requirements.hpp"
#include "runner/runner.hpp"
#include "sys/result.hpp"
#include "sys/syscalls.hpp"

namespace nslab::cli {
namespace {

using json = nlohmann::json;

struct Check {
    std::string name, verdict, detail, fix;  // verdict: ok, warn, fail, info
};

std::vector<Check> checks_for(const runner::MachineFacts& f, const runner::LabModeChoice& choice,
                              const std::set<std::string>& missing_tools) {
    std::vector<Check> out;
    if (experiment::kernel_at_least(f.kernel, runner::kOldestKernel))
        out.push_back({"kernel", "info", f.kernel + " (nslab needs " + runner::kOldestKernel + " or later)", ""});
    else
        out.push_back({"kernel", "fail", f.kernel + ": nslab needs Linux " + runner::kOldestKernel + " or later (clone3, pidfds, waitid(P_PIDFD))",
                       "run on a newer kernel"});
    auto missing = runner::missing_root_lab_capabilities(f);
    if (f.euid != 0) {
        out.push_back({"capabilities", "info", "not root (uid " + std::to_string(f.euid) + "): labs are owned by a user namespace",
                       "run as root for the experiments that need root's own lab"});
    } else if (missing.empty()) {
        out.push_back({"capabilities", "ok", "root with every capability a lab needs", ""});
    } else {
        std::string names;
        for (int cap : missing) names += (names.empty() ? "" : ", ") + runner::capability_name(cap);
        out.push_back({"capabilities", "warn", "root without " + names,
                       "Docker/Podman: " + runner::docker_cap_flags(missing) + "; GitLab runner: cap_add in [runners.docker]"});
    }
    std::string seccomp = f.seccomp == 0 ? "none" : f.seccomp == 1 ? "strict" : f.seccomp == 2 ? "a filter" : "unknown";
    bool seccomp_blocks = f.seccomp == 2 && (f.userns_errno == EPERM || f.userns_errno == ENOSYS) &&
                          (f.euid != 0 || f.root_lab_errno != 0);
    out.push_back({"seccomp", seccomp_blocks ? "fail" : "ok",
                   seccomp + (f.no_new_privs ? ", no_new_privs set" : "") + (seccomp_blocks ? ": it refuses namespaces" : ""),
                   seccomp_blocks ? runner::namespace_failure_cause(f, f.userns_errno, true) : ""});
    if (f.euid == 0)
        out.push_back({"root's own lab", f.root_lab_errno == 0 ? "ok" : "fail",
                       f.root_lab_errno == 0 ? "its namespaces can be created"
                                             : "creating its namespaces fails with " + sys::errno_name(f.root_lab_errno),
                       f.root_lab_errno == 0 ? "" : runner::namespace_failure_cause(f, f.root_lab_errno, false)});
    out.push_back({"user namespaces", f.userns_lab_errno == 0 ? "ok" : (choice.mode == runner::LabMode::none ? "fail" : "warn"),
                   f.userns_lab_errno == 0 ? "a lab owned by a user namespace can be created"
                                           : "creating one fails with " + sys::errno_name(f.userns_lab_errno),
                   f.userns_lab_errno == 0 ? "" : runner::namespace_failure_cause(f, f.userns_lab_errno, true)});
    out.push_back({"root directory", f.root_is_mount_point ? "ok" : "fail",
                   f.root_is_mount_point ? "/ is a mount point" : "/ is not a mount point: this process is chrooted",
                   f.root_is_mount_point ? "" : "run from a real root, or enter the root with pivot_root as a container does"});
    out.push_back({"/sys", "info", f.sys_read_only ? "mounted read-only (as in a container)" : "mounted read-write", ""});
    runner::LabLimits limits;
    bool userns = choice.mode == runner::LabMode::user_namespace;
    out.push_back({"lab task bound", runner::pids_bound_available(limits, userns) ? "ok" : "warn",
                   runner::describe_pids_bound(limits, userns),
                   runner::pids_bound_available(limits, userns)
                       ? ""
                       : "run nslab in a leaf of a delegated cgroup v2 subtree, labs then go beside it (on systemd: "
                         "ci/in-delegated-cgroup nslab run …, a Delegate=yes scope), or pass --cgroup-parent DIR"});
    std::string limits_text, zero;
    for (auto& [kind, n] : f.max_namespaces) {
        limits_text += (limits_text.empty() ? "" : ", ") + kind + " " + std::to_string(n);
        if (n == 0) zero += (zero.empty() ? "" : ", ") + kind;
    }
    out.push_back({"namespace limits", zero.empty() ? "ok" : "fail", "max_*_namespaces: " + limits_text,
                   zero.empty() ? "" : "sysctl -w user.max_<kind>_namespaces=1000 for: " + zero});
    std::string tools;
    for (auto& t : missing_tools) tools += (tools.empty() ? "" : ", ") + t;
    out.push_back({"tools", tools.empty() ? "ok" : "warn", tools.empty() ? "every program the experiments call is on PATH" : "missing: " + tools,
                   tools.empty() ? "" : "apt-get install the packages that provide them (ci/setup lists them)"});
    return out;
}

// What a lab makes of its `/` here: one lab started as `nslab run` would, its hello read.
struct LabRootProbe {
    bool started = false, copy_on_write = false;
    std::string why_not;  // no copy-on-write root, or the lab did not start
    std::vector<std::string> caveats;
};

LabRootProbe probe_lab_root(const runner::RunOptions& options) {
    LabRootProbe p;
    auto lab = launch::start_lab({.user_namespace = options.lab_in_user_namespace, .copy_on_write_root = options.copy_on_write_root},
                                 agent::Clock::now() + std::chrono::seconds(10));
    if (!lab.ok()) {
        p.why_not = "a lab did not start: " + lab.error().describe();
        return p;
    }
    p.started = true;
    p.copy_on_write = lab->hello.copy_on_write_root;
    p.why_not = lab->hello.root_why_not;
    p.caveats = lab->hello.root_caveats;
    lab->init.kill_and_reap();
    return p;
}

Check lab_root_check(const LabRootProbe& p) {
    if (!p.started) return {"lab root", "fail", p.why_not, ""};
    if (!p.copy_on_write)
        return {"lab root", "warn", "the machine's / is read-only in labs: " + p.why_not,
                "run as root (not --user-lab) for a copy-on-write / in each lab"};
    std::string parts;
    for (auto& c : p.caveats) parts += "; " + c;
    return {"lab root", "ok", "copy-on-write: an overlay of the machine's / on each lab's tmpfs" + parts, ""};
}

}  // namespace

int doctor_command(const DoctorArgs& a) {
    const runner::MachineFacts& facts = runner::machine_facts();
    runner::LabModeChoice choice = runner::choose_lab_mode(facts, a.user_lab);
    runner::RunOptions options = runner::default_options(a.user_lab);
    const LabRootProbe lab_root = options.no_lab.empty() ? probe_lab_root(options) : LabRootProbe{.why_not = options.no_lab};
    auto loaded = experiment::load_paths(a.paths);
    for (auto& e : loaded.errors) std::cerr << e.str() << "\n";
    // What each reason costs: how many experiments of which suites it SKIPs.
    std::map<std::string, std::map<std::string, int>> skips;
    std::set<std::string> missing_tools;
    size_t total = 0, runnable = 0;
    for (auto& suite : loaded.suites)
        for (auto& e : suite.experiments) {
            ++total;
            for (auto& t : e.requires_.tools)
                if (!sys::find_on_lab_path(t)) missing_tools.insert(t);
            std::optional<std::string> reason;
            if (!options.no_lab.empty()) reason = options.no_lab;
            else reason = runner::unmet_requirement(e, options.lab_in_user_namespace, options.root_unavailable, options.copy_on_write_root);
            if (!reason && e.requires_.writable_root && lab_root.started && !lab_root.copy_on_write)
                reason = runner::no_copy_on_write_root(lab_root.why_not);
            if (reason) ++skips[*reason][e.suite];
            else ++runnable;
        }
    auto checks = checks_for(facts, choice, missing_tools);
    if (options.no_lab.empty()) checks.push_back(lab_root_check(lab_root));
    std::string mode = choice.mode == runner::LabMode::root ? "root's own labs (every lab has root's full privileges)"
                                                             : choice.summary;
    int code = choice.mode == runner::LabMode::none || (total && !runnable) ? 2 : runnable < total ? 1 : 0;

    if (a.format == "json") {
        json j{{"nslab_doctor", 1}, {"lab_mode", choice.mode == runner::LabMode::root ? "root"
                                                : choice.mode == runner::LabMode::user_namespace ? "user_namespace" : "none"},
               {"lab_mode_summary", mode}, {"checks", json::array()}, {"exit", code}};
        for (auto& c : checks) j["checks"].push_back({{"name", c.name}, {"verdict", c.verdict}, {"detail", c.detail}, {"fix", c.fix}});
        json skipped = json::array();
        for (auto& [reason, suites] : skips) {
            int n = 0;
            for (auto& [s, k] : suites) n += k;
            skipped.push_back({{"reason", reason}, {"experiments", n}, {"suites", suites}});
        }
        j["experiments"] = {{"total", total}, {"runnable", runnable}, {"skipped", skipped}};
        std::cout << j.dump(2) << "\n";
        return code;
    }
    std::cout << "nslab doctor: kernel " << facts.kernel << ", uid " << facts.euid << "\n";
    for (auto& c : checks) {
        std::cout << "  " << c.verdict << std::string(6 - std::min<size_t>(c.verdict.size(), 5), ' ') << c.name << ": " << c.detail << "\n";
        if (!c.fix.empty()) std::cout << "        fix: " << c.fix << "\n";
    }
    std::cout << "labs: " << mode << "\n";
    std::cout << total << " experiments: " << runnable << " can run";
    if (runnable < total) std::cout << ", " << total - runnable << " will not";
    std::cout << "\n";
    for (auto& [reason, suites] : skips) {
        int n = 0;
        std::string where;
        for (auto& [s, k] : suites) {
            n += k;
            where += (where.empty() ? "" : ", ") + s + " " + std::to_string(k);
        }
        std::cout << "  " << n << " SKIP (" << where << "): " << reason << "\n";
    }
    return code;
}

}  // namespace nslab::cli
