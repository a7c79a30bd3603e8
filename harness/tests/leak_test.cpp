// Nothing leaks: after a whole catalogue run the machine's hostname, domain name, mount table,
// System V IPC objects, network links and our process subtree are exactly as before.
#include <gtest/gtest.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "sys/syscalls.hpp"

namespace nslab {
namespace {

std::string read_or_empty(const std::string& path) {
    auto r = sys::read_file(path);
    return r.ok() ? *r : "";
}

// Mount points of the runner's own mount namespace (IDs change on remount, so keep the mount
// point, source and options: columns 5 onward of mountinfo).
std::string mount_table() {
    std::istringstream in(read_or_empty("/proc/self/mountinfo"));
    std::vector<std::string> rows;
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream f(line);
        std::string id, parent, devno, root, point, rest;
        f >> id >> parent >> devno >> root >> point;
        std::getline(f, rest);
        rows.push_back(point + " " + root + rest);
    }
    std::sort(rows.begin(), rows.end());
    std::string s;
    for (auto& r : rows) s += r + "\n";
    return s;
}

std::string sysv_objects() {
    std::string s;
    for (auto which : {"shm", "sem", "msg"}) s += std::string(which) + ":\n" + read_or_empty(std::string("/proc/sysvipc/") + which);
    return s;
}

std::string links() {
    std::istringstream in(read_or_empty("/proc/self/net/dev"));
    std::vector<std::string> names;
    std::string line;
    while (std::getline(in, line)) {
        auto colon = line.find(':');
        if (colon != std::string::npos) {
            std::string name = line.substr(0, colon);
            name.erase(0, name.find_first_not_of(' '));
            names.push_back(name);
        }
    }
    std::sort(names.begin(), names.end());
    std::string s;
    for (auto& n : names) s += n + " ";
    return s;
}

std::string posix_objects() {
    std::string s;
    for (auto dir : {"/dev/shm", "/dev/mqueue"}) {
        auto names = sys::list_dir(dir);
        if (!names.ok()) continue;
        std::sort(names->begin(), names->end());
        s += std::string(dir) + ":";
        for (auto& n : *names) s += " " + n;
        s += "\n";
    }
    return s;
}

// Every live descendant of this process (by walking the real /proc's ppid links).
std::vector<std::string> descendants() {
    std::map<pid_t, pid_t> parent;
    std::map<pid_t, std::string> comm;
    for (auto& entry : std::filesystem::directory_iterator("/proc")) {
        std::string name = entry.path().filename();
        if (!std::all_of(name.begin(), name.end(), ::isdigit)) continue;
        std::string stat = read_or_empty("/proc/" + name + "/stat");
        auto close = stat.rfind(')');
        if (close == std::string::npos) continue;
        std::istringstream f(stat.substr(close + 2));
        char state;
        pid_t ppid;
        f >> state >> ppid;
        pid_t pid = std::stoi(name);
        parent[pid] = ppid;
        comm[pid] = stat.substr(stat.find('(') + 1, close - stat.find('(') - 1);
    }
    std::vector<std::string> out;
    pid_t self = ::getpid();
    for (auto& [pid, ppid] : parent) {
        for (pid_t p = ppid; p > 1; p = parent.count(p) ? parent[p] : 0)
            if (p == self) {
                out.push_back(std::to_string(pid) + " " + comm[pid]);
                break;
            }
    }
    return out;
}

struct MachineState {
    std::string hostname, domainname, mounts, sysv, posix, net;
    bool operator==(const MachineState&) const = default;
};

MachineState snapshot() {
    return {*sys::gethostname(), *sys::getdomainname(), mount_table(), sysv_objects(), posix_objects(), links()};
}

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

TEST(MachineState, WholeCatalogueAndFaultsLeaveNothingBehind) {
    // As subreaper, any process a lab leaked would be re-parented to us and show up below.
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    MachineState before = snapshot();
    std::string out;
    int code = run_nslab("run -j 2 --quiet-pass " + std::string(NSLAB_SOURCE_DIR) + "/suites", out);
    EXPECT_EQ(code, 0) << out;
    std::string fault_out;
    // Faults (a hang cut off by the time limit, an agent killed mid-step) must not leak either.
    int fault_code = run_nslab("run --quiet-pass " + std::string(NSLAB_SOURCE_DIR) + "/fixtures/faults", fault_out);
    EXPECT_EQ(fault_code, 1) << fault_out;
    // Reap whatever was re-parented to us, then look.
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    MachineState after = snapshot();
    EXPECT_EQ(after.hostname, before.hostname);
    EXPECT_EQ(after.domainname, before.domainname);
    EXPECT_EQ(after.mounts, before.mounts);
    EXPECT_EQ(after.sysv, before.sysv);
    EXPECT_EQ(after.posix, before.posix);
    EXPECT_EQ(after.net, before.net);
    auto left = descendants();
    EXPECT_TRUE(left.empty()) << "processes outlived the run: " << ::testing::PrintToString(left);
}

// The check is able to fail: a change made on purpose to the machine's state is seen.
TEST(MachineState, SnapshotSeesAChangedIpcObjectAndALeftoverChild) {
    MachineState before = snapshot();
    auto id = sys::shmget(0x6e736c7f, 64, 0600 | IPC_CREAT | IPC_EXCL);
    ASSERT_TRUE(id.ok()) << id.error().describe();
    EXPECT_NE(snapshot().sysv, before.sysv);
    ASSERT_TRUE(sys::shm_remove(*id).ok());
    EXPECT_EQ(snapshot().sysv, before.sysv);
    pid_t child = ::fork();
    if (child == 0) {
        ::pause();
        ::_exit(0);
    }
    EXPECT_EQ(descendants().size(), 1u);
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    EXPECT_TRUE(descendants().empty());
}

}  // namespace
}  // namespace nslab
