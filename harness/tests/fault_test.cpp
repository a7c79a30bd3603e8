// Faults injected into a real `nslab run` (a subprocess): a fork bomb in a realm, an output flood,
// the lab's init killed from outside, namespace limits exhausted. Each must end in bounded time
// with FAIL or BROKEN and a reason that says why, a complete JSON report, and nothing leaked
// (`--check-leaks` inside, the machine snapshot outside).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "runner/lab_cgroup.hpp"
#include "runner/machine_state.hpp"
#include "run_tag.hpp"
#include "sys/syscalls.hpp"

namespace nslab {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string joined(const std::vector<std::string>& v) {
    std::string s;
    for (auto& x : v) s += x + "\n";
    return s;
}

struct NslabRun {
    int status = -1;
    std::string output;  // stdout and stderr
    json report;         // the --format json report, parsed
    struct rusage usage {};
    double seconds = 0;
    std::map<std::string, json> by_name;  // experiments by full name
};

// Runs `nslab run ARGS --format json -o REPORT --check-leaks`; `prepare` runs in the child before
// execve (async-signal-safe calls only), `during` in the test while nslab runs.
NslabRun run_nslab(std::vector<std::string> args, const std::function<bool()>& prepare = {},
                   const std::function<void(pid_t)>& during = {}) {
    NslabRun run;
    std::string tag = std::to_string(::getpid()) + "-" + std::to_string(Clock::now().time_since_epoch().count());
    std::string report = "/tmp/nslab-fault-" + tag + ".json", log = "/tmp/nslab-fault-" + tag + ".log";
    std::string bin = std::string(NSLAB_BIN_DIR) + "/nslab";
    args.insert(args.begin(), {"nslab", "run"});
    for (auto a : {"--format", "json", "-o", report.c_str(), "--check-leaks"}) args.push_back(a);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    auto t0 = Clock::now();
    pid_t pid = ::fork();
    if (pid == 0) {
        int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        if (prepare && !prepare()) ::_exit(120);
        ::execv(bin.c_str(), argv.data());
        ::_exit(127);
    }
    if (during) during(pid);
    ::wait4(pid, &run.status, 0, &run.usage);
    run.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    if (auto text = sys::read_file(log); text.ok()) run.output = *text;
    if (auto text = sys::read_file(report); text.ok()) {
        run.report = json::parse(*text, nullptr, /*allow_exceptions=*/false);
        if (run.report.is_object())
            for (auto& e : run.report["experiments"]) run.by_name[e.value("full_name", "")] = e;
    }
    ::unlink(report.c_str());
    ::unlink(log.c_str());
    return run;
}

std::string fixture(const std::string& name) { return std::string(NSLAB_SOURCE_DIR) + "/fixtures/faults/" + name; }

// The report is complete (every experiment present with an outcome and a reason) and the run's
// own leak check found nothing.
void expect_complete_and_clean(const NslabRun& run, size_t experiments) {
    ASSERT_TRUE(run.report.is_object()) << run.output;
    EXPECT_EQ(run.report["summary"]["total"], experiments) << run.output;
    EXPECT_EQ(run.by_name.size(), experiments);
    EXPECT_EQ(run.output.find("LEAK"), std::string::npos) << run.output;
    EXPECT_NE(run.output.find("no leaks"), std::string::npos) << run.output;
}

void expect_no_process_left() {
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    runner::MachineState now = runner::snapshot_machine(test::tagged_runs());
    EXPECT_TRUE(now.processes.empty()) << joined(now.processes);
}

class InjectedFaults : public ::testing::Test {
protected:
    void SetUp() override {
        // As subreaper, anything that escaped a lab would be re-parented to us and seen.
        ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
        before_ = runner::snapshot_machine(test::tagged_runs());
    }
    void TearDown() override {
        expect_no_process_left();
        auto leaks = runner::describe_leaks(before_, runner::snapshot_machine(test::tagged_runs()));
        EXPECT_TRUE(leaks.empty()) << joined(leaks);
    }
    runner::MachineState before_;
};

TEST_F(InjectedFaults, ForkBombInARealmStopsAtTheLabTaskLimit) {
    runner::LabLimits limits{.max_pids = 128};
    if (!runner::pids_bound_available(limits, ::geteuid() != 0))
        GTEST_SKIP() << "no task bound on this machine: " << runner::describe_pids_bound(limits, ::geteuid() != 0);
    auto run = run_nslab({fixture("fork_bomb.yaml"), "--max-pids", "128"});
    expect_complete_and_clean(run, 2);
    ASSERT_TRUE(WIFEXITED(run.status) && WEXITSTATUS(run.status) == 1) << run.output;
    // The loop forks until the limit, then its shell dies of it: the step fails, it does not hang.
    auto loop = run.by_name["faults_fork_bomb.fork_loop_stops_at_task_limit"];
    EXPECT_EQ(loop["outcome"], "FAIL") << loop.dump(2);
    EXPECT_NE(loop["reason"].get<std::string>().find("Cannot fork"), std::string::npos) << loop.dump(2);
    EXPECT_LT(loop["duration_ms"].get<double>(), 20000);
    auto bomb = run.by_name["faults_fork_bomb.classic_fork_bomb_is_bounded"];
    EXPECT_EQ(bomb["outcome"], "FAIL") << bomb.dump(2);
    EXPECT_NE(bomb["reason"].get<std::string>().find("exited with"), std::string::npos) << bomb.dump(2);
    EXPECT_LT(bomb["duration_ms"].get<double>(), 20000);
}

TEST_F(InjectedFaults, OutputFloodIsCappedInTimeCaptureAndRunnerMemory) {
    auto run = run_nslab({fixture("output_flood.yaml")});
    expect_complete_and_clean(run, 2);
    auto endless = run.by_name["faults_output_flood.endless_output_cut_by_time_limit"];
    EXPECT_EQ(endless["outcome"], "BROKEN") << endless.dump(2);
    EXPECT_NE(endless["reason"].get<std::string>().find("time limit of 2 s reached during: A: run `yes flood`"), std::string::npos)
        << endless.dump(2);
    auto capped = run.by_name["faults_output_flood.hundred_megabytes_of_output_capped"];
    std::string reason = capped["reason"];
    EXPECT_EQ(capped["outcome"], "FAIL") << reason.substr(0, 300);
    EXPECT_EQ(reason.rfind("step `", 0), 0u) << reason.substr(0, 300);
    EXPECT_NE(reason.find("exited with 3, expected 0"), std::string::npos) << reason.substr(0, 300);
    EXPECT_NE(reason.find("[nslab: output cut at 64 KiB]"), std::string::npos) << reason.substr(reason.size() - 300);
    EXPECT_LT(reason.size(), 70u * 1024);
    // 100 MB went through the agent; the runner (and every agent it reaped) grew by little more
    // than a healthy run does (a relative bound: sanitizer builds start larger).
    auto baseline = run_nslab({fixture("topology_wrong.yaml")});
    EXPECT_LT(run.usage.ru_maxrss, baseline.usage.ru_maxrss + 32L * 1024)
        << "max RSS in KiB; a healthy run: " << baseline.usage.ru_maxrss;
    EXPECT_LT(run.seconds, 30);
}

// The lab's init pid, found from outside: nslab's child whose command is nslab-agent and below
// which a `sleep` runs (the step under way). 0 if none within 10 s.
pid_t wait_for_lab_init_running_sleep(pid_t nslab) {
    auto parent_of = [](const std::string& pid) -> std::pair<pid_t, std::string> {
        auto stat = sys::read_file("/proc/" + pid + "/stat");
        if (!stat.ok()) return {0, ""};
        auto open = stat->find('('), close = stat->rfind(')');
        if (open == std::string::npos || close == std::string::npos) return {0, ""};
        return {std::atoi(stat->c_str() + close + 4), stat->substr(open + 1, close - open - 1)};
    };
    for (auto until = Clock::now() + std::chrono::seconds(10); Clock::now() < until;
         std::this_thread::sleep_for(std::chrono::milliseconds(20))) {
        std::map<pid_t, std::pair<pid_t, std::string>> procs;
        for (auto& entry : std::filesystem::directory_iterator("/proc")) {
            std::string name = entry.path().filename();
            if (!name.empty() && std::isdigit(static_cast<unsigned char>(name[0]))) procs[std::stoi(name)] = parent_of(name);
        }
        for (auto& [pid, info] : procs) {
            if (info.second != "sleep") continue;
            pid_t p = info.first, below = pid;
            while (p > 1 && procs.count(p) && p != nslab) below = p, p = procs[p].first;
            if (p == nslab && procs[below].second == "nslab-agent") return below;
        }
    }
    return 0;
}

TEST_F(InjectedFaults, LabInitKilledFromOutsideIsBrokenWithAReason) {
    pid_t killed = 0;
    auto run = run_nslab({fixture("hang.yaml"), "--timeout", "60"}, {}, [&](pid_t nslab) {
        killed = wait_for_lab_init_running_sleep(nslab);
        if (killed) ::kill(killed, SIGKILL);
    });
    ASSERT_NE(killed, 0) << "the lab's init was not found below nslab\n" << run.output;
    expect_complete_and_clean(run, 2);
    EXPECT_LT(run.seconds, 30);  // well before the 60 s limit
    auto hung = run.by_name["faults_hang.step_that_hangs"];
    EXPECT_EQ(hung["outcome"], "BROKEN") << hung.dump(2);
    EXPECT_NE(hung["reason"].get<std::string>().find("the lab's init killed by SIGKILL"), std::string::npos)
        << hung.dump(2);
    // The next experiment gets a fresh lab and passes.
    EXPECT_EQ(run.by_name["faults_hang.healthy_after_hang"]["outcome"], "PASS") << run.output;
}

// The runner never changes its namespaces: the child made here unshares a user namespace, lowers
// a namespace limit inside it (namespaces(7): /proc/sys/user/max_* are per user namespace and
// writable by its owner) and only then execs nslab.
TEST_F(InjectedFaults, NamespaceLimitExhaustedIsBrokenWithAHintNotAHang) {
    const uid_t uid = ::geteuid();
    const gid_t gid = ::getegid();
    const std::string uid_map = "0 " + std::to_string(uid) + " 1\n", gid_map = "0 " + std::to_string(gid) + " 1\n";
    auto write_all = [](const char* path, const std::string& text) {
        int fd = ::open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0) return false;
        bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
        ::close(fd);
        return ok;
    };
    auto prepare = [&] {
        // user_namespaces(7): one line mapping our own ids; setgroups denied before gid_map.
        return ::unshare(CLONE_NEWUSER) == 0 && write_all("/proc/self/uid_map", uid_map) &&
               write_all("/proc/self/setgroups", "deny") && write_all("/proc/self/gid_map", gid_map) &&
               write_all("/proc/sys/user/max_uts_namespaces", "0\n");
    };
    std::string suite = std::string(NSLAB_SOURCE_DIR) + "/suites/td2_uts.yaml";
    auto run = run_nslab({suite, "--filter", "td2_uts.hostname_isolated_between_sibling_uts_namespaces", "--timeout", "20"},
                         prepare);
    ASSERT_FALSE(WIFEXITED(run.status) && WEXITSTATUS(run.status) == 120) << "could not prepare the user namespace";
    expect_complete_and_clean(run, 1);
    EXPECT_LT(run.seconds, 15);
    auto e = run.by_name["td2_uts.hostname_isolated_between_sibling_uts_namespaces"];
    std::string outcome = e["outcome"], reason = e["reason"];
    EXPECT_TRUE(outcome == "BROKEN" || outcome == "SKIP") << e.dump(2);
    EXPECT_NE(reason.find("namespace limit reached: /proc/sys/user/max_uts_namespaces is 0"), std::string::npos)
        << reason;
    EXPECT_NE(reason.find("ENOSPC"), std::string::npos) << reason;
}

}  // namespace
}  // namespace nslab
