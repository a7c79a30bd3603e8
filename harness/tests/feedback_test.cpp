// Feedback names the real mistake: the diagnosis follows what a failure is about, and a cause most
// lost tests share is said once.
#include <gtest/gtest.h>

#include "grade/feedback.hpp"

namespace nslab {
namespace {

using grade::Cause;

runner::ExperimentResult failed(runner::FailureDetail f, std::string reason = "why") {
    runner::ExperimentResult r;
    r.suite = "td2_uts";
    r.name = "x";
    r.outcome = runner::Outcome::fail;
    r.reason = std::move(reason);
    r.failure = std::move(f);
    return r;
}

runner::FailureDetail exited(int code) {
    return {.kind = runner::FailureKind::launcher_start, .realm = "A", .launcher_exit = code, .launcher_output = "last words"};
}

TEST(Feedback, ALauncherThatClosedItsFdsIsToldSoNotTheTestsHint) {
    auto d = grade::diagnose(failed(exited(121)), "Each container needs its own UTS namespace", "");
    EXPECT_EQ(d.cause, Cause::launcher_start);
    EXPECT_NE(d.headline.find("closes the file descriptors it inherits"), std::string::npos) << d.headline;
    EXPECT_EQ(d.hint.find("UTS"), std::string::npos) << d.hint;
    EXPECT_NE(d.detail.find("last words"), std::string::npos) << d.detail;
}

TEST(Feedback, ALauncherThatExitsOrCrashesIsDescribedByItsStatus) {
    auto d = grade::diagnose(failed(exited(1)), "", "");
    EXPECT_NE(d.headline.find("exited with status 1 before COMMAND started (realm A)"), std::string::npos) << d.headline;
    EXPECT_NE(d.hint.find("EPERM"), std::string::npos) << d.hint;
    d = grade::diagnose(failed(exited(127)), "", "");
    EXPECT_NE(d.headline.find("could not execute COMMAND"), std::string::npos) << d.headline;
    d = grade::diagnose(failed({.kind = runner::FailureKind::launcher_start, .launcher_signal = 11}), "", "");
    EXPECT_NE(d.headline.find("SIGSEGV (11)"), std::string::npos) << d.headline;
    EXPECT_NE(d.hint.find("crashed"), std::string::npos) << d.hint;
    d = grade::diagnose(failed({.kind = runner::FailureKind::launcher_start, .launcher_running = true}), "", "");
    EXPECT_NE(d.headline.find("still running at the time limit"), std::string::npos) << d.headline;
    // Never run at all (the agent's execve of it failed): not "still running".
    d = grade::diagnose(failed({.kind = runner::FailureKind::launcher_start, .realm = "A", .launcher_exec_errno = ENOENT}), "", "");
    EXPECT_NE(d.headline.find("could not be executed (realm A): execve failed with ENOENT"), std::string::npos) << d.headline;
    EXPECT_NE(d.hint.find("where the assignment's command names it"), std::string::npos) << d.hint;
}

TEST(Feedback, TheLaunchersLastMessageIsQuotedWholeEvenAcrossLines) {
    auto f = exited(1);
    f.launcher_output = "starting\nmini_container: writing '0 65534 1\n' to /proc/self/gid_map: Operation not permitted\n";
    auto d = grade::diagnose(failed(f), "", "");
    EXPECT_NE(d.headline.find("It said: `mini_container: writing '0 65534 1 ' to /proc/self/gid_map: Operation not permitted`"),
              std::string::npos)
        << d.headline;
    for (std::string odd : {"\n\n'", "'", "\n", "x", "'\n'\n"}) {  // no line starts like a message: bounded, no crash
        f.launcher_output = odd;
        (void)grade::diagnose(failed(f), "", "");
    }
}

TEST(Feedback, AWrongTopologyNamesTheKindAndItsCloneFlag) {
    auto d = grade::diagnose(failed({.kind = runner::FailureKind::topology, .realm = "A", .ns_kind = "ipc", .missing_new = true},
                                    "realm A should have a new ipc namespace"),
                             "Give the container its own mount namespace (CLONE_NEWNS)", "");
    EXPECT_EQ(d.cause, Cause::topology);
    EXPECT_NE(d.headline.find("no ipc namespace of its own (CLONE_NEWIPC is missing)"), std::string::npos) << d.headline;
    EXPECT_EQ(d.hint.find("CLONE_NEWNS"), std::string::npos) << "not the test's hint: " << d.hint;
    EXPECT_EQ(grade::clone_flag_name("mnt"), "CLONE_NEWNS");
}

TEST(Feedback, AnExpectationGetsTheTestsOwnHint) {
    auto d = grade::diagnose(failed({.kind = runner::FailureKind::expectation}, "hostname from A: expected x, saw y"),
                             "Each container needs its own UTS namespace", "");
    EXPECT_EQ(d.cause, Cause::expectation);
    EXPECT_EQ(d.hint, "Each container needs its own UTS namespace");
    EXPECT_TRUE(d.key.empty());
}

TEST(Feedback, ACauseMostLostTestsShareIsCommon) {
    auto fds = grade::diagnose(failed(exited(121)), "", "");
    auto expect = grade::diagnose(failed({.kind = runner::FailureKind::expectation}), "hint", "");
    auto common = grade::common_cause({fds, fds, fds, expect});
    ASSERT_TRUE(common);
    EXPECT_EQ(common->key, "start:exit 121");
    EXPECT_FALSE(grade::common_cause({fds, expect, expect, expect}));  // one of four: not "most"
    EXPECT_FALSE(grade::common_cause({fds}));                          // one test alone is its own story
    EXPECT_FALSE(grade::common_cause({expect, expect}));               // expectations have no shared cause
}

}  // namespace
}  // namespace nslab
