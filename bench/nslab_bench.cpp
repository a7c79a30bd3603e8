// nslab's own costs, through its public API:
//   BM_NslabRealmStart/<kind>   launch::make_builtin_launcher()->start() in a running lab, until the
//                               realm's hello has arrived (the realm is stopped untimed afterwards)
//   BM_NslabLabStart            launch::start_lab + teardown (SIGKILL to the lab's init and reap);
//                               counters start_us and teardown_us split it; the lab's / copy-on-write
//   BM_NslabLabStart/host_root  the same with the machine's / kept read-only (`--lab-root host`)
//   BM_NslabAgentExec           exec of nslab-agent alone (it exits at once): the exec share of a lab
//   BM_NslabProbe/lab|realm     one probe round-trip, client.call("hostname")
//   *_1cpu                      the same with every process on one CPU (no idle-vCPU wake-ups)
//   BM_NslabExperiment/<name>   runner::run_experiment of a small in-memory suite
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>

#include "common.hpp"
#include "experiment/loader.hpp"
#include "launch/lab.hpp"
#include "launch/launcher.hpp"
#include "runner/runner.hpp"

extern char** environ;

namespace nslab::bench {
namespace {

using namespace std::chrono_literals;

agent::Deadline soon() { return agent::Clock::now() + 10s; }

launch::LabOptions lab_options(bool copy_on_write_root = true) {
    return {.user_namespace = ::geteuid() != 0, .copy_on_write_root = copy_on_write_root};
}

// Stops a realm and waits until it has exited: its socket closes (the agent loop ends on EOF), then
// SIGKILL through the pidfd it sent in its hello, then poll that pidfd. The lab's agent reaps it.
void stop_realm(launch::StartedRealm& realm) {
    int pidfd = realm.hello.pidfd.get();
    realm.client.close();
    if (pidfd < 0) return;
    (void)::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
    struct pollfd p {pidfd, POLLIN, 0};
    (void)::poll(&p, 1, 5000);
}

void realm_start(benchmark::State& state, const Variant& v) {
    auto lab = launch::start_lab(lab_options(), soon());
    if (!lab.ok()) {
        state.SkipWithError(("starting the lab: " + lab.error().describe()).c_str());
        return;
    }
    auto launcher = launch::make_builtin_launcher();
    Samples samples(state);
    for (auto _ : state) {
        launch::RealmPlan plan{.name = "A", .new_mask = v.mask};
        double t0 = now_ns();
        auto realm = launcher->start(lab->client, plan, soon());
        double t1 = now_ns();
        if (!realm.ok()) {
            state.SkipWithError(realm.error().describe().c_str());
            break;
        }
        samples.add(t1 - t0);
        stop_realm(*realm);
    }
    samples.finish();
    add_rate(state);
}

void lab_start(benchmark::State& state, bool copy_on_write_root) {
    ChildCpu cpu;
    Samples samples(state);
    double start_total = 0, teardown_total = 0;
    for (auto _ : state) {
        double t0 = now_ns();
        auto lab = launch::start_lab(lab_options(copy_on_write_root), soon());
        double t1 = now_ns();
        if (!lab.ok()) {
            state.SkipWithError(("starting the lab: " + lab.error().describe()).c_str());
            break;
        }
        // Teardown as the runner does it: SIGKILL to the lab's init through its pidfd, then reap.
        lab->init.kill_and_reap();
        lab->client.close();
        double t2 = now_ns();
        samples.add(t2 - t0);
        start_total += t1 - t0;
        teardown_total += t2 - t1;
    }
    samples.finish();
    add_rate(state);
    cpu.finish(state);
    if (state.iterations() > 0) {
        double n = static_cast<double>(state.iterations());
        state.counters["start_us"] = start_total / 1e3 / n;
        state.counters["teardown_us"] = teardown_total / 1e3 / n;
    }
}

}  // namespace

void agent_exec_of(benchmark::State& state, const std::string& agent) {
    // fd 1000 is not open: the agent checks it and exits with status 2, so this is exec + dynamic
    // loading + static initialisers (the op registry) of the agent binary, and nothing else.
    std::vector<std::string> argv{agent, "--fd", "1000"};
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    ChildCpu cpu;
    Samples samples(state);
    for (auto _ : state) {
        double t0 = now_ns();
        pid_t pid;
        int e = posix_spawn(&pid, agent.c_str(), &fa, nullptr, cargv.data(), environ);
        if (e != 0) {
            state.SkipWithError(("posix_spawn " + agent + ": " + errno_text(e)).c_str());
            break;
        }
        wait_child(pid);
        samples.add(now_ns() - t0);
    }
    posix_spawn_file_actions_destroy(&fa);
    samples.finish();
    add_rate(state);
    cpu.finish(state);
}

namespace {

void agent_exec(benchmark::State& state) {
    auto agent = launch::find_agent_binary();
    if (!agent.ok()) {
        state.SkipWithError(agent.error().describe().c_str());
        return;
    }
    agent_exec_of(state, *agent);
}

void probe(benchmark::State& state, bool in_realm) {
    auto lab = launch::start_lab(lab_options(), soon());
    if (!lab.ok()) {
        state.SkipWithError(("starting the lab: " + lab.error().describe()).c_str());
        return;
    }
    launch::StartedRealm realm;
    if (in_realm) {
        auto r = launch::make_builtin_launcher()->start(
            lab->client, {.name = "A", .new_mask = core::ns_bit(core::Ns::uts)}, soon());
        if (!r.ok()) {
            state.SkipWithError(r.error().describe().c_str());
            return;
        }
        realm = std::move(r).value();
    }
    agent::AgentClient& client = in_realm ? realm.client : lab->client;
    const agent::json args = agent::json::object();
    Samples samples(state);
    for (auto _ : state) {
        double t0 = now_ns();
        auto reply = client.call("hostname", args, soon());
        double t1 = now_ns();
        if (!reply.ok() || !reply->ok) {
            state.SkipWithError(reply.ok() ? reply->error.describe().c_str() : reply.error().describe().c_str());
            break;
        }
        samples.add(t1 - t0);
    }
    samples.finish();
    add_rate(state);
    if (in_realm) stop_realm(realm);
}

// The README's first experiment: two sibling UTS realms, two steps, one row of three cells.
constexpr const char* kSuite = R"(nslab: 1
suite: bench
title: Benchmark suite
experiments:
  - name: hostname_isolated
    summary: A hostname set inside a new UTS namespace is seen there only.
    realms:
      A: { new: [uts] }
      B: { new: [uts] }
    steps:
      - { in: A, do: sethostname, name: virtualisation }
      - { in: B, do: sethostname, name: programmation }
    expect:
      - { probe: hostname, A: virtualisation, B: programmation, host: unchanged }
)";

void whole_experiment(benchmark::State& state) {
    auto loaded = experiment::load_text(kSuite, "bench.yaml");
    if (!loaded.ok() || loaded.suites.empty() || loaded.suites[0].experiments.empty()) {
        state.SkipWithError(loaded.errors.empty() ? "the bench suite has no experiment" : loaded.errors[0].str().c_str());
        return;
    }
    const experiment::Experiment& e = loaded.suites[0].experiments[0];
    runner::RunOptions options = runner::default_options();
    ChildCpu cpu;
    Samples samples(state);
    for (auto _ : state) {
        double t0 = now_ns();
        runner::ExperimentResult r = runner::run_experiment(e, options);
        double t1 = now_ns();
        if (r.outcome != runner::Outcome::pass) {
            state.SkipWithError((runner::outcome_name(r.outcome) + ": " + r.reason).c_str());
            break;
        }
        samples.add(t1 - t0);
    }
    samples.finish();
    add_rate(state);
    cpu.finish(state);
}

template <typename Fn>
benchmark::internal::Benchmark* reg(const std::string& name, Fn&& fn) {
    return benchmark::RegisterBenchmark(name.c_str(), std::forward<Fn>(fn))->UseManualTime()->Unit(benchmark::kMicrosecond);
}

}  // namespace

void register_nslab_benchmarks() {
    for (auto& v : variants(kWithNone | kWithAll))
        reg("BM_NslabRealmStart/" + v.name, [v](benchmark::State& s) { realm_start(s, v); });
    reg("BM_NslabLabStart", [](benchmark::State& s) { lab_start(s, true); });
    reg("BM_NslabLabStart/host_root", [](benchmark::State& s) { lab_start(s, false); });
    reg("BM_NslabAgentExec", agent_exec);
    reg("BM_NslabProbe/lab", [](benchmark::State& s) { probe(s, false); });
    reg("BM_NslabProbe/realm", [](benchmark::State& s) { probe(s, true); });
    // The same with the runner, the lab and the realm on one CPU (see PinToOneCpu in common.hpp).
    reg("BM_NslabProbe/realm_1cpu", [](benchmark::State& s) {
        PinToOneCpu pin;
        probe(s, true);
    });
    for (auto& v : variants(0))
        if (v.name == "uts")
            reg("BM_NslabRealmStart/uts_1cpu", [v](benchmark::State& s) {
                PinToOneCpu pin;
                realm_start(s, v);
            });
    reg("BM_NslabExperiment/hostname_isolated", whole_experiment);
}

}  // namespace nslab::bench
