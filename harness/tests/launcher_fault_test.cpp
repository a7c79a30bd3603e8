// Launcher faults through `nslab run --launcher command`: a launcher that exits at once, never
// starts the agent, starts it twice, or hangs after starting it — each a bounded FAIL of the
// launcher whose reason carries its exit status and output, and nothing left running. The correct
// via_unshare.sh passes. The scripts are copied outside /tmp (each lab has its own /tmp).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace {

namespace fs = std::filesystem;
const std::string kSource = NSLAB_SOURCE_DIR;

struct LaunchRun {
    int exit_code = -1;
    nlohmann::json experiment;
    double seconds = 0;
};

class LauncherFault : public ::testing::Test {
protected:
    std::string dir;
    void SetUp() override {
        char t[] = "/var/tmp/nslab-launcher-test-XXXXXX";
        dir = ::mkdtemp(t);
        fs::copy(kSource + "/fixtures/launchers", dir, fs::copy_options::recursive);
        fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec | fs::perms::others_read |
                                 fs::perms::others_exec);
    }
    void TearDown() override { fs::remove_all(dir); }

    LaunchRun run(const std::string& script, double timeout = 3, const std::string& extra = "",
                  const std::string& filter = "td2_uts.hostname_isolated_between_sibling_uts_namespaces",
                  const std::string& creates = "user,uts,ipc,pid,mnt,net,time --launcher-mounts-proc") {
        LaunchRun r;
        std::string out = dir + "/report.json";
        std::string cmd = std::string(NSLAB_BIN_DIR) + "/nslab run --launcher command --launcher-command '" + dir + "/" + script +
                          " --hostname ${hostname} -- ${agent}' --launcher-creates " + creates + " " + extra +
                          " --timeout " + std::to_string(timeout) + " --check-leaks --format json -o " + out + " " + kSource +
                          "/suites --filter " + filter + " > /dev/null 2>&1";
        auto t0 = std::chrono::steady_clock::now();
        int st = std::system(cmd.c_str());
        r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
        std::ifstream in(out);
        std::stringstream s;
        s << in.rdbuf();
        auto j = nlohmann::json::parse(s.str(), nullptr, false);
        if (j.is_object() && j.contains("experiments") && !j["experiments"].empty()) r.experiment = j["experiments"][0];
        return r;
    }
    static std::string reason(const LaunchRun& r) { return r.experiment.value("reason", std::string()); }
    static std::string outcome(const LaunchRun& r) { return r.experiment.value("outcome", std::string()); }
};

TEST_F(LauncherFault, CorrectLauncherPasses) {
    auto r = run("via_unshare.sh");
    EXPECT_EQ(outcome(r), "PASS") << reason(r);
    EXPECT_EQ(r.exit_code, 0);
}

TEST_F(LauncherFault, ExitsAtOnceIsAFailWithStatusAndStderr) {
    auto r = run("exits_at_once.sh");
    EXPECT_EQ(outcome(r), "FAIL");
    EXPECT_NE(reason(r).find("exited with status 3"), std::string::npos) << reason(r);
    EXPECT_NE(reason(r).find("simulated launcher failure"), std::string::npos) << reason(r);
    EXPECT_LT(r.seconds, 3.0) << "an exited launcher is known at once, not at the time limit";
    EXPECT_EQ(r.exit_code, 1) << "FAIL, and no leak";
}

TEST_F(LauncherFault, NeverStartsTheAgentFailsAtTheTimeLimit) {
    auto r = run("never_starts.sh", 2);
    EXPECT_EQ(outcome(r), "FAIL");
    EXPECT_NE(reason(r).find("did not start the agent before the time limit"), std::string::npos) << reason(r);
    EXPECT_NE(reason(r).find("it is still running"), std::string::npos) << reason(r);
    EXPECT_LT(r.seconds, 10.0);
    EXPECT_EQ(r.exit_code, 1);
}

TEST_F(LauncherFault, StartsTwiceIsAFail) {
    auto r = run("starts_twice.sh");
    EXPECT_EQ(outcome(r), "FAIL");
    EXPECT_NE(reason(r).find("times (each start must run exactly one agent)"), std::string::npos) << reason(r);
    EXPECT_EQ(r.exit_code, 1);
}

TEST_F(LauncherFault, HangingAfterStartIsHarmless) {
    // The agent runs; the launcher never exits: the lab's end takes it down, and no leak is left.
    auto r = run("hangs_after_start.sh");
    EXPECT_NE(outcome(r), "BROKEN") << reason(r);
    EXPECT_LT(r.seconds, 10.0);
}

// A launcher that closes inherited fds: the agent's fd is gone (a FAIL that says the agent ended
// before its hello); with --launcher-socket the agent connects by path and the experiment runs.
// closes_fds.sh makes a UTS namespace only, so it runs the lab's two-sibling UTS experiment.
TEST_F(LauncherFault, FdClosingLauncherNeedsTheSocketPath) {
    const std::string uts = "td2_uts.hostname_isolated_between_sibling_uts_namespaces";
    auto by_fd = run("closes_fds.sh", 3, "", uts, "uts");
    EXPECT_EQ(outcome(by_fd), "FAIL");
    EXPECT_NE(reason(by_fd).find("before any agent said hello"), std::string::npos) << reason(by_fd);
    EXPECT_NE(reason(by_fd).find("is not open"), std::string::npos) << "the agent's own message: " << reason(by_fd);
    EXPECT_NE(reason(by_fd).find("it exited with status 121"), std::string::npos)  // agent::kExitInheritedFdClosed
        << "closes_fds.sh passes the agent's status on: " << reason(by_fd);
    auto by_path = run("closes_fds.sh", 3, "--launcher-socket", uts, "uts");
    EXPECT_EQ(outcome(by_path), "PASS") << reason(by_path);
}

// A launcher that runs something else than the agent it was given (here a copy of it, which says
// hello like the agent): nothing it answers is trusted; a FAIL names the process that said hello.
TEST_F(LauncherFault, AHelloFromAnotherProgramThanTheAgentIsRefused) {
    auto r = run("runs_a_copy_of_the_agent.sh", 3, "", "td2_uts.hostname_isolated_between_sibling_uts_namespaces", "uts");
    EXPECT_EQ(outcome(r), "FAIL") << reason(r);
    EXPECT_NE(reason(r).find("is not nslab-agent"), std::string::npos) << reason(r);
    EXPECT_NE(reason(r).find("/tmp/not-the-agent."), std::string::npos) << reason(r);
}

}  // namespace
