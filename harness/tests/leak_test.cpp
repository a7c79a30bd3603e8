// Nothing leaks: after a whole catalogue run (and the fault fixtures) the machine's hostname,
// domain name, mount table, System V and POSIX IPC objects, network links, our process subtree and
// the files under /etc, /run, /var/tmp and /root are exactly as before. The same snapshot backs
// `nslab run --check-leaks`.
#include <gtest/gtest.h>
#include <signal.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "runner/machine_state.hpp"
#include "run_tag.hpp"
#include "sys/syscalls.hpp"

namespace nslab {
namespace {

int run_nslab(const std::string& args, std::string& output) {
    std::string cmd = std::string(NSLAB_BIN_DIR) + "/nslab " + args + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return -1;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) output.append(buf, n);
    int status = ::pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string joined(const std::vector<std::string>& v) {
    std::string s;
    for (auto& x : v) s += x + "\n";
    return s;
}

// The files the catalogue's writable_root experiments write in their labs (useradd, /etc/hosts).
std::map<std::string, std::string> machine_files() {
    std::map<std::string, std::string> bytes;
    for (auto path : {"/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow", "/etc/hosts", "/etc/hostname"}) {
        std::ifstream in(path, std::ios::binary);
        std::ostringstream s;
        s << in.rdbuf();
        bytes[path] = in ? s.str() : "(unreadable)";
    }
    return bytes;
}

TEST(MachineState, WholeCatalogueAndFaultsLeaveNothingBehind) {
    // As subreaper, any process a lab leaked would be re-parented to us and be seen below.
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    const auto files_before = machine_files();
    runner::MachineState before = runner::snapshot_machine(test::tagged_runs());
    std::string out;
    int code = run_nslab("run -j 2 --quiet-pass --check-leaks " + std::string(NSLAB_SOURCE_DIR) + "/suites", out);
    EXPECT_EQ(code, 0) << out;
    std::string fault_out;
    // Faults (a hang cut off by the time limit, an agent killed mid-step) must not leak either.
    int fault_code = run_nslab("run --quiet-pass --check-leaks " + std::string(NSLAB_SOURCE_DIR) + "/fixtures/faults", fault_out);
    EXPECT_EQ(fault_code, 1) << fault_out;
    EXPECT_EQ(fault_out.find("LEAK"), std::string::npos) << fault_out;
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    runner::MachineState after = runner::snapshot_machine(test::tagged_runs());
    auto leaks = runner::describe_leaks(before, after);
    EXPECT_TRUE(leaks.empty()) << joined(leaks);
    // Byte for byte, not only names, sizes and mtimes: the labs' copy-on-write roots took the writes.
    const auto files_after = machine_files();
    for (auto& [path, bytes] : files_before) EXPECT_EQ(files_after.at(path), bytes) << path << " changed";
}

// fixtures/lab_root: the lab's host writes /etc/hosts, `ip netns add x` and `useradd`. In a lab
// with a copy-on-write root they pass, seen by the lab; the machine has none of it, byte for byte
// and by --check-leaks. With --lab-root host they SKIP, and the machine is the same.
TEST(MachineState, WritesOfTheLabRootFixtureStayInTheirLabs) {
    if (::geteuid() != 0) GTEST_SKIP() << "the fixture writes root's files: root's own lab";
    const auto files_before = machine_files();
    const bool had_netns = std::filesystem::exists("/run/netns/x");
    const std::string fixture = std::string(NSLAB_SOURCE_DIR) + "/fixtures/lab_root";
    std::string out;
    EXPECT_EQ(run_nslab("run --check-leaks " + fixture, out), 0) << out;
    EXPECT_NE(out.find("2 passed, 0 failed, 0 skipped"), std::string::npos) << out;
    EXPECT_EQ(out.find("LEAK"), std::string::npos) << out;
    std::string host_out;
    EXPECT_EQ(run_nslab("run --lab-root host " + fixture, host_out), 0) << host_out;
    EXPECT_NE(host_out.find("0 passed, 0 failed, 2 skipped"), std::string::npos) << host_out;
    const auto files_after = machine_files();
    for (auto& [path, bytes] : files_before) EXPECT_EQ(files_after.at(path), bytes) << path << " changed";
    EXPECT_EQ(std::filesystem::exists("/run/netns/x"), had_netns);
}

// The check is able to fail: a change made on purpose is seen and named.
TEST(MachineState, SnapshotNamesAnIpcObjectAndAChildLeftBehind) {
    runner::MachineState before = runner::snapshot_machine(test::tagged_runs());
    auto id = sys::shmget(0x6e736c7f, 64, 0600 | IPC_CREAT | IPC_EXCL);
    ASSERT_TRUE(id.ok()) << id.error().describe();
    pid_t child = ::fork();
    if (child == 0) {
        ::pause();
        ::_exit(0);
    }
    auto leaks = runner::describe_leaks(before, runner::snapshot_machine(test::tagged_runs()));
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    ASSERT_TRUE(sys::shm_remove(*id).ok());
    std::string text = joined(leaks);
    EXPECT_NE(text.find("System V IPC object added: shm key=1853058175"), std::string::npos) << text;
    EXPECT_NE(text.find("process left: " + std::to_string(child)), std::string::npos) << text;
    EXPECT_TRUE(runner::describe_leaks(before, runner::snapshot_machine(test::tagged_runs())).empty());
}

// Files too: one added, one changed and one removed under /var/tmp (writable by anyone, and the
// machine's: not a tmpfs of the test's) are named; once put back as they were, nothing is.
TEST(MachineState, SnapshotNamesAFileAddedChangedAndRemoved) {
    namespace fs = std::filesystem;
    runner::MachineState clean = runner::snapshot_machine(test::tagged_runs());
    // Not "nslab-*": the snapshot leaves other nslab processes' scratch directories there out.
    const std::string dir = "/var/tmp/leak-check-probe-" + std::to_string(::getpid());
    fs::create_directory(dir);
    std::ofstream(dir + "/changed") << "before";
    std::ofstream(dir + "/removed") << "x";
    runner::MachineState before = runner::snapshot_machine(test::tagged_runs());
    std::ofstream(dir + "/changed", std::ios::app) << ", and after";
    fs::remove(dir + "/removed");
    std::ofstream(dir + "/added") << "leaked";
    auto leaks = runner::describe_leaks(before, runner::snapshot_machine(test::tagged_runs()));
    fs::remove_all(dir);
    std::string text = joined(leaks);
    EXPECT_NE(text.find("file added: " + dir + "/added (file, 6 bytes)"), std::string::npos) << text;
    EXPECT_NE(text.find("file changed: " + dir + "/changed (size 6 -> 17"), std::string::npos) << text;
    EXPECT_NE(text.find("file removed: " + dir + "/removed (file, 1 byte)"), std::string::npos) << text;
    // The directory made and removed meanwhile changed /var/tmp's mtime, which is not a leak.
    auto after_cleanup = runner::describe_leaks(clean, runner::snapshot_machine(test::tagged_runs()));
    EXPECT_TRUE(after_cleanup.empty()) << joined(after_cleanup);
}

// `nslab run --check-leaks > LOG -o REPORT` with both under /var/tmp: the run's own output (its
// stdout growing, the report written at the end) is not a leak.
TEST(MachineState, TheRunsOwnOutputIsNotALeak) {
    const std::string base = "/var/tmp/leak-check-output-" + std::to_string(::getpid());
    std::string out;
    int code = run_nslab("run --check-leaks --format json -o " + base + ".json " + std::string(NSLAB_SOURCE_DIR) +
                             "/suites --filter 'td2_uts.hostname_isolated_between_sibling_uts_namespaces' > " + base + ".log",
                         out);
    auto log = sys::read_file(base + ".log");
    bool report_written = ::access((base + ".json").c_str(), F_OK) == 0;
    ::unlink((base + ".log").c_str());
    ::unlink((base + ".json").c_str());
    ASSERT_TRUE(log.ok());
    EXPECT_EQ(code, 0) << out << *log;
    EXPECT_TRUE(report_written);
    EXPECT_EQ(log->find("LEAK"), std::string::npos) << *log;
    EXPECT_NE(log->find("no leaks"), std::string::npos) << *log;
}

// SIGINT in the middle of a run: the hanging experiment is cut short, the rest are reported as
// not run, the JSON report is complete and valid, and no process is left.
// The runner stopped by SIGINT (a terminal's ^C) or SIGTERM (a CI job cancelled) mid-run: labs
// killed, a complete report written, exit 128+signal, no process left.
// as_pid1: nslab runs as the init of a new PID namespace, as a container's PID 1 does, where the
// kernel drops signals left at their default disposition (pid_namespaces(7)). A middle process
// unshares the PID namespace (unshare(CLONE_NEWPID) moves only its children, and the test never
// changes its own namespaces), forks nslab as that namespace's PID 1, sends its pid up a pipe and
// exits with nslab's exit code; the middle uses async-signal-safe calls only.
void interrupt_mid_run(int sig, const std::string& name, bool as_pid1 = false) {
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    std::string report = "/tmp/nslab-interrupt-" + std::to_string(::getpid()) + ".json";
    std::string bin = std::string(NSLAB_BIN_DIR) + "/nslab";
    std::string faults = std::string(NSLAB_SOURCE_DIR) + "/fixtures/faults/hang.yaml";
    auto exec_nslab = [&] {
        ::execl(bin.c_str(), "nslab", "run", faults.c_str(), "--timeout", "60", "--format", "json", "-o", report.c_str(),
                static_cast<char*>(nullptr));
        ::_exit(127);
    };
    int up[2];
    ASSERT_EQ(::pipe2(up, O_CLOEXEC), 0);
    pid_t waited = ::fork();  // nslab itself, or the middle process
    if (waited == 0) {
        if (!as_pid1) exec_nslab();
        if (::unshare(CLONE_NEWPID) != 0) ::_exit(126);
        pid_t nslab = ::fork();
        if (nslab == 0) exec_nslab();
        (void)!::write(up[1], &nslab, sizeof nslab);
        int st = 0;
        while (::waitpid(nslab, &st, 0) < 0) {
        }
        ::_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 125);
    }
    ::close(up[1]);
    pid_t pid = waited;
    if (as_pid1) {
        ASSERT_EQ(::read(up[0], &pid, sizeof pid), static_cast<ssize_t>(sizeof pid));
        auto status = sys::read_file("/proc/" + std::to_string(pid) + "/status");
        ASSERT_TRUE(status.ok());
        EXPECT_NE(status->find("NSpid:\t" + std::to_string(pid) + "\t1\n"), std::string::npos) << *status;
    }
    ::close(up[0]);
    ::usleep(500 * 1000);  // the first experiment is now sleeping in its lab
    auto t0 = std::chrono::steady_clock::now();
    ASSERT_EQ(::kill(pid, sig), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(waited, &status, 0), waited);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 128 + sig);
    auto text = sys::read_file(report);
    ASSERT_TRUE(text.ok());
    ::unlink(report.c_str());
    EXPECT_NE(text->find("\"broken\": 2"), std::string::npos) << *text;
    EXPECT_NE(text->find("interrupted by " + name), std::string::npos) << *text;
    EXPECT_NE(text->find("not run: the run was interrupted by " + name), std::string::npos) << *text;
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    runner::MachineState now = runner::snapshot_machine(test::tagged_runs());
    EXPECT_TRUE(now.processes.empty()) << joined(now.processes);
}

TEST(Interrupt, SigintMidRunKillsLabsAndWritesACompleteReport) { interrupt_mid_run(SIGINT, "SIGINT"); }
TEST(Interrupt, SigtermMidRunKillsLabsAndWritesACompleteReport) { interrupt_mid_run(SIGTERM, "SIGTERM"); }
TEST(Interrupt, SigtermStopsARunWhereNslabIsPid1) { interrupt_mid_run(SIGTERM, "SIGTERM", /*as_pid1=*/true); }

}  // namespace
}  // namespace nslab
