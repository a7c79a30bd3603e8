// The lab's root (agent/lab_root.hpp): copy-on-write where it can be, the machine read-only where
// it cannot, and `requires: { writable_root: true }` SKIPped there with the reason.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "experiment/loader.hpp"
#include "launch/lab.hpp"
#include "report/report.hpp"
#include "runner/requirements.hpp"
#include "runner/runner.hpp"

namespace nslab {
namespace {

experiment::LoadResult one_experiment(const std::string& fields) {
    return experiment::load_text("nslab: 1\nsuite: t\ntitle: t\nexperiments:\n  - name: e\n    summary: s" + fields, "t.yaml");
}

std::string pretty(const runner::ExperimentResult& r) {
    std::ostringstream out;
    report::write_pretty_result(out, r, {.color = false});
    return out.str();
}

std::string file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// What an experiment writes in /etc, /run and /root, its lab sees, and the machine never does.
TEST(LabRoot, WritesAnywhereStayInTheLab) {
    if (::geteuid() != 0) GTEST_SKIP() << "a copy-on-write root needs root's own lab";
    const std::string hosts = file_bytes("/etc/hosts"), passwd = file_bytes("/etc/passwd");
    auto loaded = one_experiment(R"(
    requires: { writable_root: true }
    steps:
      - { in: host, run: "echo '10.9.9.9 nslab-lab-root-test' >> /etc/hosts && echo 'nslab-evil:x:0:0::/:/bin/sh' >> /etc/passwd && mkdir -p /run/netns && : > /run/netns/nslab-lab-root-test && : > /root/nslab-lab-root-test" }
    expect:
      - run: "grep -c nslab-lab-root-test /etc/hosts; grep -c nslab-evil /etc/passwd; ls /run/netns/nslab-lab-root-test /root/nslab-lab-root-test"
        host: "1\n1\n/root/nslab-lab-root-test\n/run/netns/nslab-lab-root-test"
)");
    ASSERT_TRUE(loaded.ok());
    auto r = runner::run_experiment(loaded.suites[0].experiments[0], runner::default_options());
    EXPECT_EQ(r.outcome, runner::Outcome::pass) << pretty(r);
    EXPECT_EQ(file_bytes("/etc/hosts"), hosts);
    EXPECT_EQ(file_bytes("/etc/passwd"), passwd);
    EXPECT_FALSE(std::filesystem::exists("/run/netns/nslab-lab-root-test"));
    EXPECT_FALSE(std::filesystem::exists("/root/nslab-lab-root-test"));
}

// Without a copy-on-write root (`--lab-root host`), a write the loader cannot see (a `run:`)
// fails with EROFS: the machine's mounts are read-only in the lab. /tmp and /dev stay usable.
TEST(LabRoot, WithoutCopyOnWriteTheMachineIsReadOnlyInTheLab) {
    const std::string hosts = file_bytes("/etc/hosts");
    auto loaded = one_experiment(R"(
    expect:
      - run: "echo x 2>&1 >> /etc/hosts | grep -c 'Read-only file system'; echo y > /tmp/y && cat /tmp/y; echo z > /dev/null && echo devices"
        host: "1\ny\ndevices"
)");
    ASSERT_TRUE(loaded.ok());
    auto options = runner::default_options();
    options.copy_on_write_root = false;
    auto r = runner::run_experiment(loaded.suites[0].experiments[0], options);
    EXPECT_EQ(r.outcome, runner::Outcome::pass) << pretty(r);
    EXPECT_EQ(file_bytes("/etc/hosts"), hosts);
}

// The lab says what it made of its root in its hello; the run asked for none, or the lab could not.
TEST(LabRoot, TheLabSaysWhetherItsRootIsCopyOnWrite) {
    auto options = runner::default_options();
    for (bool cow : {true, false}) {
        auto lab = launch::start_lab({.user_namespace = options.lab_in_user_namespace, .copy_on_write_root = cow},
                                     agent::Clock::now() + std::chrono::seconds(10));
        ASSERT_TRUE(lab.ok()) << lab.error().describe();
        if (!cow) {
            EXPECT_FALSE(lab->hello.copy_on_write_root);
            EXPECT_NE(lab->hello.root_why_not.find("--lab-root host"), std::string::npos) << lab->hello.root_why_not;
        } else if (::geteuid() == 0) {
            EXPECT_TRUE(lab->hello.copy_on_write_root) << lab->hello.root_why_not;
        } else {
            // user_namespaces(7): the lab's root is this uid, to which the machine's files stay read-only.
            EXPECT_FALSE(lab->hello.copy_on_write_root);
            EXPECT_NE(lab->hello.root_why_not.find("run as root"), std::string::npos) << lab->hello.root_why_not;
        }
        lab->init.kill_and_reap();
    }
}

// writable_root SKIPs, naming why, where the run keeps the machine's / or labs are owned by a
// user namespace; the run decides from its options, the lab from what it could make.
TEST(LabRoot, WritableRootSkipsWhereNoCopyOnWriteRootIsMade) {
    auto loaded = one_experiment(R"(
    requires: { writable_root: true }
    steps:
      - { in: host, do: mkdir, path: /mnt/nslab }
    expect: [ { probe: ls, path: /mnt, host: { contains: nslab } } ]
)");
    ASSERT_TRUE(loaded.ok());
    const auto& e = loaded.suites[0].experiments[0];
    auto host_root = runner::unmet_requirement(e, false, "", /*copy_on_write_root=*/false);
    ASSERT_TRUE(host_root);
    EXPECT_NE(host_root->find("--lab-root host"), std::string::npos) << *host_root;
    auto userns = runner::unmet_requirement(e, /*lab_in_user_namespace=*/true, "", true);
    ASSERT_TRUE(userns);
    EXPECT_NE(userns->find("user namespace"), std::string::npos) << *userns;
    auto options = runner::default_options();
    options.copy_on_write_root = false;
    auto r = runner::run_experiment(e, options);
    EXPECT_EQ(r.outcome, runner::Outcome::skip) << pretty(r);
    if (::geteuid() == 0 && !options.lab_in_user_namespace) {
        auto ran = runner::run_experiment(e, runner::default_options());
        EXPECT_EQ(ran.outcome, runner::Outcome::pass) << pretty(ran);
        EXPECT_FALSE(std::filesystem::exists("/mnt/nslab"));
    }
}

// The loader refuses what it can see: an op that writes a literal path outside the lab's own trees.
TEST(LabRoot, LoaderRefusesAnUndeclaredWriteOutsideTmp) {
    auto refused = one_experiment(R"(
    steps:
      - { in: host, do: write_file, path: /etc/nslab, content: x }
    expect: [ { probe: hostname, host: unchanged } ]
)");
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.errors[0].str().find("writable_root"), std::string::npos) << refused.errors[0].str();
    auto allowed = one_experiment(R"(
    steps:
      - { in: host, do: write_file, path: /tmp/a/../b, content: x }
      - { in: host, do: write_file, path: /dev/shm/x, content: x }
    expect: [ { probe: hostname, host: unchanged } ]
)");
    EXPECT_TRUE(allowed.ok()) << (allowed.errors.empty() ? "" : allowed.errors[0].str());
}

}  // namespace
}  // namespace nslab
