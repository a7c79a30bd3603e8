// The lab and the built-in launcher, end to end against the kernel.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launch/lab.hpp"
#include "launch/launcher.hpp"
#include "sys/syscalls.hpp"

namespace nslab {
namespace {

using namespace std::chrono_literals;

agent::Deadline soon() { return agent::Clock::now() + 10s; }

launch::Lab must_start_lab() {
    auto lab = launch::start_lab({.user_namespace = ::geteuid() != 0}, soon());
    if (!lab.ok()) ADD_FAILURE() << lab.error().describe();
    return lab.ok() ? std::move(lab).value() : launch::Lab{};
}

bool still_open(int fd) { return ::fcntl(fd, F_GETFD) >= 0; }

// The fallback for kernels without close_range(2) (before 5.9): it must close exactly the range,
// also when there are more fds than one getdents64 buffer lists.
TEST(CloseFdRange, FallbackClosesExactlyTheRange) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        int null_fd = ::open("/dev/null", O_RDONLY);
        for (int fd = 100; fd < 700; ++fd) ::dup2(null_fd, fd);
        ::dup2(null_fd, 900);
        if (sys::close_fd_range_without_close_range(100, 649) != 0) ::_exit(10);
        for (int fd = 100; fd < 650; ++fd)
            if (still_open(fd)) ::_exit(11);
        for (int fd = 650; fd < 700; ++fd)
            if (!still_open(fd)) ::_exit(12);
        if (!still_open(900) || !still_open(null_fd) || !still_open(1)) ::_exit(13);
        if (sys::close_fd_range_without_close_range(650, ~0U) != 0) ::_exit(14);
        if (still_open(699) || still_open(900) || !still_open(null_fd)) ::_exit(15);
        ::_exit(0);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "10: failed, 11: left one open, 12/13: closed one outside, 14/15: open-ended range";
}

TEST(CloseFdRange, CloseRangeFromClosesEverythingAbove) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        for (int fd = 40; fd < 60; ++fd) ::dup2(0, fd);
        if (!sys::close_range_from(45).ok()) ::_exit(10);
        ::_exit(still_open(44) && !still_open(45) && !still_open(59) ? 0 : 11);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(Lab, HasItsOwnNamespacesAndLeavesTheRunnersAlone) {
    auto before = core::open_namespaces();
    ASSERT_TRUE(before.ok());
    launch::Lab lab = must_start_lab();
    ASSERT_TRUE(lab.client.connected());
    for (auto ns : {core::Ns::uts, core::Ns::ipc, core::Ns::mnt, core::Ns::pid, core::Ns::net}) {
        ASSERT_TRUE(lab.hello.ns.id(ns));
        EXPECT_NE(*lab.hello.ns.id(ns), *before->id(ns)) << core::kind_of(ns).name;
    }
    EXPECT_EQ(lab.hello.pid, 1) << "the lab's agent is init of the lab's PID namespace";
    auto after = core::open_namespaces();
    ASSERT_TRUE(after.ok());
    for (auto& k : core::namespace_kinds())
        EXPECT_EQ(before->id(k.ns), after->id(k.ns)) << "the runner changed its own " << k.name << " namespace";
}

TEST(Lab, HostnameChangedInsideTheLabIsNotTheMachines) {
    auto machine = sys::gethostname();
    ASSERT_TRUE(machine.ok());
    launch::Lab lab = must_start_lab();
    auto set = lab.client.call("sethostname", {{"name", "nslab-lab-test"}}, soon());
    ASSERT_TRUE(set.ok()) << set.error().describe();
    ASSERT_TRUE(set->ok) << set->error.describe();
    auto seen = lab.client.call("hostname", agent::json::object(), soon());
    ASSERT_TRUE(seen.ok());
    EXPECT_EQ(seen->value, "nslab-lab-test");
    EXPECT_EQ(*sys::gethostname(), *machine);
}

// The agent checks every argument's domain before the handler runs, whoever wrote the request;
// a kernel limit is left to the kernel, which must refuse it itself (EINVAL from sethostname).
TEST(Lab, TheAgentRefusesAnArgumentOutsideItsDomainBeforeAnyHandler) {
    launch::Lab lab = must_start_lab();
    auto bad = lab.client.call("kill", {{"pid", 1}, {"signal", "NOTASIGNAL"}}, soon());
    ASSERT_TRUE(bad.ok()) << bad.error().describe();
    EXPECT_FALSE(bad->ok);
    EXPECT_EQ(bad->error.err(), EINVAL);
    EXPECT_NE(bad->error.describe().find("'signal'"), std::string::npos) << bad->error.describe();
    auto far = lab.client.call("udp_listen", {{"port", "70000"}}, soon());  // as a ${…} expansion sends it
    ASSERT_TRUE(far.ok());
    EXPECT_FALSE(far->ok);
    EXPECT_NE(far->error.describe().find("70000 is outside 1..65535"), std::string::npos) << far->error.describe();
    auto long_name = lab.client.call("sethostname", {{"name", std::string(65, 'h')}}, soon());
    ASSERT_TRUE(long_name.ok());
    EXPECT_FALSE(long_name->ok);
    EXPECT_EQ(long_name->error.err(), EINVAL) << long_name->error.describe();
    EXPECT_NE(long_name->error.describe().find("sethostname"), std::string::npos) << "the kernel's refusal";
}

TEST(BuiltinLauncher, SiblingRealmsGetNewNamespacesOnlyWhereAsked) {
    launch::Lab lab = must_start_lab();
    auto launcher = launch::make_builtin_launcher();
    auto a = launcher->start(lab.client, {.name = "A", .new_mask = core::ns_bit(core::Ns::uts)}, soon());
    ASSERT_TRUE(a.ok()) << a.error().describe();
    auto b = launcher->start(lab.client, {.name = "B", .new_mask = core::ns_bit(core::Ns::uts)}, soon());
    ASSERT_TRUE(b.ok()) << b.error().describe();
    EXPECT_NE(*a->hello.ns.id(core::Ns::uts), *lab.hello.ns.id(core::Ns::uts));
    EXPECT_NE(*a->hello.ns.id(core::Ns::uts), *b->hello.ns.id(core::Ns::uts));
    EXPECT_EQ(*a->hello.ns.id(core::Ns::ipc), *lab.hello.ns.id(core::Ns::ipc));
    ASSERT_TRUE(a->client.call("sethostname", {{"name", "virtualisation"}}, soon())->ok);
    ASSERT_TRUE(b->client.call("sethostname", {{"name", "programmation"}}, soon())->ok);
    EXPECT_EQ(a->client.call("hostname", {}, soon())->value, "virtualisation");
    auto bh = b->client.call("hostname", {}, soon());
    ASSERT_TRUE(bh.ok()) << bh.error().describe();
    EXPECT_TRUE(bh->ok) << bh->error.describe();
    EXPECT_EQ(bh->value, "programmation");
    EXPECT_NE(lab.client.call("hostname", {}, soon())->value, "virtualisation");
}

TEST(BuiltinLauncher, UserNamespaceMapsRootAndTimeOffsetShiftsUptime) {
    launch::Lab lab = must_start_lab();
    auto launcher = launch::make_builtin_launcher();
    unsigned mask = core::ns_bit(core::Ns::user) | core::ns_bit(core::Ns::time);
    auto a = launcher->start(lab.client, {.name = "A", .new_mask = mask, .boottime_offset = 86400}, soon());
    ASSERT_TRUE(a.ok()) << a.error().describe();
    EXPECT_EQ(a->hello.uid, 0u);
    auto up = a->client.call("run", {{"command", "cut -d. -f1 /proc/uptime"}}, soon());
    ASSERT_TRUE(up.ok() && up->ok);
    auto host_up = lab.client.call("run", {{"command", "cut -d. -f1 /proc/uptime"}}, soon());
    long shifted = std::stol(up->value["stdout"].get<std::string>());
    long host = std::stol(host_up->value["stdout"].get<std::string>());
    EXPECT_GE(shifted - host, 86399);
    EXPECT_LE(shifted - host, 86401);
}

// send_hello takes its namespace fds from its pidfd (PIDFD_GET_*_NAMESPACE) where the kernel can, from
// /proc/self/ns otherwise: either way they must be the namespaces /proc shows for the realm, also
// for time, which the realm enters after clone3 (its time_for_children becomes its own).
TEST(BuiltinLauncher, HelloNamespacesAreTheOnesProcShowsForTheRealm) {
    launch::Lab lab = must_start_lab();
    unsigned mask = core::ns_bit(core::Ns::uts) | core::ns_bit(core::Ns::ipc);
    if (core::kernel_has(core::Ns::time)) mask |= core::ns_bit(core::Ns::time);
    auto a = launch::make_builtin_launcher()->start(lab.client, {.name = "A", .new_mask = mask}, soon());
    ASSERT_TRUE(a.ok()) << a.error().describe();
    auto info = sys::read_file("/proc/self/fdinfo/" + std::to_string(a->hello.pidfd.get()));
    ASSERT_TRUE(info.ok()) << info.error().describe();
    auto at = info->find("\nPid:");
    ASSERT_NE(at, std::string::npos) << *info;
    std::string pid = std::to_string(std::stol(info->substr(at + 5)));
    auto proc = core::open_namespaces("/proc/" + pid + "/ns/");
    ASSERT_TRUE(proc.ok()) << proc.error().describe();
    for (auto& k : core::namespace_kinds()) {
        if (!core::kernel_has(k.ns)) continue;
        ASSERT_TRUE(a->hello.ns.id(k.ns)) << k.name;
        EXPECT_EQ(*a->hello.ns.id(k.ns), *proc->id(k.ns)) << k.name;
        bool is_new = mask & core::ns_bit(k.ns);
        EXPECT_EQ(is_new, *a->hello.ns.id(k.ns) != *lab.hello.ns.id(k.ns)) << k.name;
    }
}

TEST(AgentClient, AnAgentThatDiesIsReportedNotAwaited) {
    launch::Lab lab = must_start_lab();
    ASSERT_TRUE(sys::pidfd_send_signal(lab.init.pidfd(), SIGKILL).ok());
    auto r = lab.client.call("hostname", {}, soon());
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().describe().find("exited"), std::string::npos) << r.error().describe();
}

}  // namespace
}  // namespace nslab
