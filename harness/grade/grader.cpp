#include "grade/grader.hpp"

#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "core/scope_guard.hpp"
#include "grade/contract_runner.hpp"
#include "launch/lab.hpp"
#include "runner/lab_cgroup.hpp"
#include "runner/machine_facts.hpp"
#include "runner/runner.hpp"
#include "sys/spawn_calls.hpp"
#include "sys/syscalls.hpp"

namespace nslab::grade {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

// Copies the submission (regular files, directories and symlinks as links, nothing else) and hands
// it to the sandbox user, so that its build can write there and nowhere else.
sys::Status copy_submission(const std::string& from, const std::string& to, uid_t uid, gid_t gid) {
    std::error_code ec;
    if (!fs::is_directory(from, ec)) return sys::Error(ENOTDIR, "reading the submission " + from);
    fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
    if (ec) return sys::Error(ec.value(), "copying the submission " + from + " to " + to);
    NSLAB_TRY(sys::lchown(to, uid, gid));
    for (auto it = fs::recursive_directory_iterator(to, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
        NSLAB_TRY(sys::lchown(it->path().string(), uid, gid));
    return {};
}

std::map<std::string, long long> sandbox_rlimits(const Sandbox& s, int jobs) {
    // RLIMIT_NPROC counts every task of the uid (in this user namespace and below): bounded per
    // lab by the pids cgroup too, this is the backstop when no cgroup is usable.
    return {{"cpu_s", s.cpu_seconds}, {"fsize", s.file_size}, {"nproc", s.max_pids * std::max(1, jobs)},
            {"core", 0}, {"nofile", 1024}};
}

// Runs the build command inside a lab of its own, as the sandbox user, within the time limit. A
// lab or a cgroup that cannot be made is the grader's failure (g.refused), not the submission's.
void build(const Assignment& a, const std::string& dir, Grade& g) {
    if (a.build.empty()) {
        g.build_status = "nothing to build";
        return;
    }
    auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<long long>(a.build_timeout_s * 1000));
    runner::LabLimits limits{.max_pids = static_cast<unsigned long long>(a.sandbox.max_pids),
                             .max_memory = static_cast<unsigned long long>(a.sandbox.max_memory)};
    // The build writes the submission's binaries where the tests will run them from: through the
    // lab's copy-on-write root to the scratch directory itself.
    launch::LabOptions lab_options{.write_through = {dir}};
    auto fail = [&](std::string why) {
        g.built = false;
        g.build_status = std::move(why);
    };
    auto refuse = [&](std::string why) {
        g.built = false;
        g.refused = std::move(why);
    };
    auto cgroup = runner::LabCgroup::create(limits, /*lab_in_user_namespace=*/false, lab_options);
    if (!cgroup.ok()) return refuse("making the build lab's cgroup: " + cgroup.error().describe());
    auto lab = launch::start_lab(lab_options, deadline);
    if (!lab.ok()) return refuse("the build's lab did not start: " + lab.error().describe());
    agent::json args{{"argv", a.build}, {"uid", a.sandbox.uid}, {"gid", a.sandbox.gid}, {"cwd", dir},
                     {"limits", sandbox_rlimits(a.sandbox, 1)}};
    auto started = lab->client.call("launch", args, deadline);
    if (!started.ok() || !started->ok || started->fds.size() != 3)
        return refuse("the build command (" + (a.build.empty() ? std::string() : a.build[0]) + ") could not start: " +
                      (started.ok() ? started->error.describe() : started.error().describe()));
    int pidfd = started->fds[0].get(), out = started->fds[2].get();
    std::string output;
    bool cut = false;
    auto keep = [&](const char* data, size_t n) {
        output.append(data, n);
        auto cap = static_cast<size_t>(a.sandbox.output_bytes);
        if (output.size() > 2 * cap) output.erase(0, output.size() - cap), cut = true;
    };
    for (;;) {
        struct pollfd p[2] = {{out, POLLIN, 0}, {pidfd, POLLIN, 0}};
        auto ready = sys::poll_fds(p, 2, agent::remaining_ms(deadline));
        if (!ready.ok()) return fail(ready.error().describe());
        if (p[0].revents) {
            char buf[8192];
            auto n = sys::read(out, buf, sizeof buf);
            if (n.ok() && *n > 0) {
                keep(buf, *n);
                continue;
            }
            p[0].fd = -1;
        }
        if (p[1].revents || *ready == 0) break;
    }
    auto status = lab->client.call("launch_status", agent::json{{"pid", started->value.value("pid", -1LL)}},
                                   Clock::now() + std::chrono::seconds(2),
                                   std::span<const int>(&pidfd, 1));
    size_t cap = static_cast<size_t>(a.sandbox.output_bytes);
    if (output.size() > cap) output.erase(0, output.size() - cap), cut = true;
    g.build_output = (cut ? "[… earlier output cut]\n" : "") + output;
    if (!status.ok() || !status->ok) return fail("the build's status is unknown");
    auto& v = status->value;
    char limit[64];
    std::snprintf(limit, sizeof limit, "%g", a.build_timeout_s);
    if (v.value("running", false)) return fail(std::string("the build did not finish within ") + limit + " s");
    if (v.contains("signal")) return fail("the build was killed by signal " + std::to_string(v["signal"].get<int>()));
    int code = v.value("exit", -1);
    g.build_status = "exit " + std::to_string(code);
    if (code != 0) g.built = false;
    // The lab (and any process the build left behind) dies with `lab`; its cgroup after it.
}

}  // namespace

ResolvedAssignment resolve(const Assignment& a) {
    ResolvedAssignment r;
    r.loaded = experiment::load_paths(a.suites);
    for (auto& e : r.loaded.errors) r.errors.push_back(e.str());
    if (!r.errors.empty()) return r;
    for (auto& t : a.tests) {
        const experiment::Experiment* found = nullptr;
        const ContractInfo* contract = nullptr;
        if (!t.contract.empty()) {
            contract = find_contract(t.contract);
            if (!contract)
                r.errors.push_back(t.mark.str() + ": no contract test '" + t.contract + "' (known: " + contract_names() + ")");
        } else {
            for (auto& s : r.loaded.suites)
                for (auto& e : s.experiments)
                    if (e.full_name() == t.experiment) found = &e;
            if (!found) r.errors.push_back(t.mark.str() + ": no experiment '" + t.experiment + "' in the assignment's suites");
        }
        r.experiments.push_back(found);
        r.contracts.push_back(contract);
    }
    return r;
}

Grade grade_submission(const Assignment& a, const ResolvedAssignment& resolved, const GradeOptions& options) {
    auto t0 = Clock::now();
    Grade g;
    g.max_score = a.max_score();
    for (size_t i = 0; i < a.tests.size(); ++i) g.tests.push_back({&a.tests[i], resolved.contracts[i], {}, 0});
    auto finish = [&] {
        if (!g.refused.empty()) g.fatal = "the grader cannot run here: " + g.refused;
        if (!g.fatal.empty())
            for (size_t i = 0; i < g.tests.size(); ++i) {
                auto& r = g.tests[i].result;
                if (auto* e = resolved.experiments[i]) {
                    r.suite = e->suite, r.name = e->name, r.summary = e->summary, r.refs = e->refs;
                    r.file = e->mark.file, r.line = e->mark.line;
                } else if (auto* c = resolved.contracts[i]) {
                    r.suite = "contract", r.name = c->name, r.summary = c->summary;
                    r.file = a.tests[i].mark.file, r.line = a.tests[i].mark.line;
                }
                r.outcome = runner::Outcome::broken;
                r.reason = g.fatal;
            }
        g.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
        return g;
    };
    // The grader's own environment is checked first, from the probes `nslab doctor` prints: the
    // submission runs as the sandbox user inside labs, which must be root's own (a lab owned by a
    // user namespace maps only the runner's id, so the sandbox uid would not exist there).
    if (::geteuid() != 0) {
        g.refused = "grading needs root: each submission runs as uid " + std::to_string(a.sandbox.uid) + " in labs of its own";
        return finish();
    }
    if (auto choice = runner::choose_lab_mode(runner::machine_facts(), false); choice.mode != runner::LabMode::root) {
        g.refused = choice.mode == runner::LabMode::none ? choice.none_reason : "grading " + choice.root_unavailable;
        return finish();
    }
    std::string scratch = options.scratch_root + "/nslab-grade-XXXXXX";
    auto made = sys::mkdtemp(scratch);
    if (!made.ok()) {
        g.refused = "making a scratch directory: " + made.error().describe();
        return finish();
    }
    scratch = *made;
    core::ScopeGuard cleanup([&] {
        std::error_code ec;
        fs::remove_all(scratch, ec);
    });
    (void)sys::chmod(scratch, 0755);  // the sandbox user must reach its copy below
    std::string dir = scratch + "/submission";
    if (auto c = copy_submission(options.submission, dir, a.sandbox.uid, a.sandbox.gid); !c.ok()) {
        g.refused = c.error().describe();
        return finish();
    }
    build(a, dir, g);
    if (!g.refused.empty()) return finish();
    if (!g.built) {
        g.fatal = "the submission did not build (" + g.build_status + ")";
        return finish();
    }

    runner::RunOptions run = runner::default_options();
    run.jobs = options.jobs;
    run.timeout_s = a.test_timeout_s;
    run.limits.max_pids = static_cast<unsigned long long>(a.sandbox.max_pids);
    run.limits.max_memory = static_cast<unsigned long long>(a.sandbox.max_memory);
    launch::LauncherConfig launcher = a.launcher;
    launcher.vars["submission"] = dir;
    launcher.uid = a.sandbox.uid;
    launcher.gid = a.sandbox.gid;
    launcher.limits = sandbox_rlimits(a.sandbox, options.jobs);
    run.launcher = launcher;
    // The experiments as before, then the contract tests, each kind on its own; results go back
    // into the assignment's order.
    std::vector<const experiment::Experiment*> experiments;
    std::vector<const ContractInfo*> contracts;
    std::vector<int> contract_lines;
    std::vector<size_t> experiment_at, contract_at;
    for (size_t i = 0; i < a.tests.size(); ++i) {
        if (resolved.experiments[i]) experiments.push_back(resolved.experiments[i]), experiment_at.push_back(i);
        else contracts.push_back(resolved.contracts[i]), contract_lines.push_back(a.tests[i].mark.line), contract_at.push_back(i);
    }
    std::vector<runner::ExperimentResult> results;
    if (!experiments.empty()) results = runner::run_all(experiments, run, {});
    // ARCHITECTURE.md §6: a launcher under test fails as FAIL; BROKEN is the harness or the lab
    // (a host step, a probe, the lab itself) — the grader's failure, never charged to the student —
    // except a time limit, which the submission's processes can reach (they run in the lab).
    for (auto& r : results)
        if (r.outcome == runner::Outcome::broken && !r.time_limit) {
            g.refused = "the grader's own lab failed in " + r.full_name() + ": " + r.reason;
            return finish();
        }
    ContractSetup setup{.launcher = launcher,
                        .limits = run.limits,
                        .timeout_s = a.test_timeout_s * run.time_scale,
                        .jobs = options.jobs,
                        .file = a.file};
    auto contract_results = run_contracts(contracts, contract_lines, setup);
    // A contract test is BROKEN only when its lab or the agent failed: the grader's, always.
    for (auto& r : contract_results)
        if (r.outcome == runner::Outcome::broken) {
            g.refused = "the grader's own lab failed in " + r.full_name() + ": " + r.reason;
            return finish();
        }
    for (size_t k = 0; k < results.size(); ++k) g.tests[experiment_at[k]].result = std::move(results[k]);
    for (size_t k = 0; k < contract_results.size(); ++k) g.tests[contract_at[k]].result = std::move(contract_results[k]);
    for (size_t i = 0; i < g.tests.size(); ++i) {
        g.tests[i].score = g.tests[i].result.outcome == runner::Outcome::pass ? a.tests[i].points : 0;
        g.score += g.tests[i].score;
    }
    return finish();
}

}  // namespace nslab::grade
