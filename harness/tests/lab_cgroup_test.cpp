// Lab cgroups belong to the runner that holds their lock: a sweep never takes a live runner's
// cgroup (not even one made a moment ago and still empty), and takes a dead runner's at once —
// also while that runner is an unreaped zombie, whose pid still shows in /proc.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "runner/cgroup_cleanup.hpp"
#include "runner/lab_cgroup.hpp"
#include "sys/cgroup_calls.hpp"
#include "sys/syscalls.hpp"

namespace nslab {
namespace {

bool exists(const std::string& dir) { return sys::lstat_path(dir).ok(); }

class LabCgroups : public ::testing::Test {
protected:
    void SetUp() override {
        plan_ = runner::plan_lab_cgroups(limits_, ::geteuid() != 0);
        launch::LabOptions options;
        auto probe = runner::LabCgroup::create(limits_, *plan_, options);
        if (!probe.ok() || probe->dirs().empty())
            GTEST_SKIP() << "labs get no cgroup here: " << runner::describe_pids_bound(limits_, ::geteuid() != 0);
    }
    runner::LabLimits limits_{.max_pids = 64};
    std::shared_ptr<const runner::LabCgroupPlan> plan_;
};

TEST_F(LabCgroups, SweepLeavesALiveRunnersEmptyCgroup) {
    launch::LabOptions options;
    auto cg = runner::LabCgroup::create(limits_, *plan_, options);
    ASSERT_TRUE(cg.ok()) << cg.error().describe();
    runner::remove_dead_lab_cgroups(runner::lab_cgroup_parents(limits_));
    for (auto& dir : cg->dirs()) EXPECT_TRUE(exists(dir)) << dir << " was swept while its runner lives";
    for (auto& dir : cg->dirs()) EXPECT_TRUE(runner::lab_cgroup_made_by(dir, runner::run_id())) << dir;
    std::vector<std::string> dirs = cg->dirs();
    EXPECT_TRUE(cg->remove());
    for (auto& dir : dirs) EXPECT_FALSE(exists(dir)) << dir;
}

TEST_F(LabCgroups, SweepTakesADeadRunnersCgroupEvenBeforeItIsReaped) {
    auto pipe = sys::pipe2(O_CLOEXEC);
    ASSERT_TRUE(pipe.ok());
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        // A runner that dies without removing its lab's cgroup (SIGKILL, a crash).
        launch::LabOptions options;
        auto cg = runner::LabCgroup::create(limits_, *plan_, options);
        std::string text;
        if (cg.ok())
            for (auto& dir : cg->dirs()) text += dir + "\n";
        (void)sys::write_all(pipe->second, text);
        ::_exit(0);  // no destructor runs: the directories stay, the locks go with the process
    }
    ::close(pipe->second);
    std::string text;
    char buf[512];
    for (ssize_t n; (n = ::read(pipe->first, buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
    ::close(pipe->first);
    std::vector<std::string> dirs;
    for (size_t at = 0, nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1) dirs.push_back(text.substr(at, nl - at));
    ASSERT_FALSE(dirs.empty());
    // The child is a zombie until we reap it: /proc still lists its pid, but its fds are closed.
    siginfo_t info{};
    ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOWAIT), 0);
    ASSERT_TRUE(exists("/proc/" + std::to_string(child)));
    runner::remove_dead_lab_cgroups(runner::lab_cgroup_parents(limits_));
    for (auto& dir : dirs) EXPECT_FALSE(exists(dir)) << dir << " outlived its runner";
    ::waitpid(child, nullptr, 0);
}

}  // namespace
}  // namespace nslab

namespace nslab {
namespace {

// The sweep takes only what nslab made — labs ("nslab-lab-…") and sandboxes ("nslab-" and 8 hex
// digits) — never a directory that merely starts with "nslab-" (a --cgroup-parent, say).
TEST_F(LabCgroups, SweepLeavesOtherDirectoriesNamedNslab) {
    auto parents = runner::lab_cgroup_parents(limits_);
    ASSERT_FALSE(parents.empty());
    const std::string keep = parents[0] + "/nslab-kept-by-someone", sandbox = parents[0] + "/nslab-0badcafe";
    ASSERT_TRUE(sys::cgroup_mkdir(keep).ok());
    ASSERT_TRUE(sys::cgroup_mkdir(sandbox).ok());
    runner::remove_dead_lab_cgroups(parents);
    EXPECT_TRUE(exists(keep)) << keep << " was swept";
    EXPECT_FALSE(exists(sandbox)) << "an empty sandbox was left: " << sandbox;
    (void)sys::cgroup_rmdir(keep);
    (void)sys::cgroup_rmdir(sandbox);
}

}  // namespace
}  // namespace nslab
