#include "runner/machine_state.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>

#include "runner/cgroup_cleanup.hpp"
#include "runner/lab_cgroup.hpp"
#include "sys/syscalls.hpp"

namespace nslab::runner {
namespace {

std::string read_or_empty(const std::string& path) {
    auto r = sys::read_file(path);
    return r.ok() ? *r : "";
}

std::vector<std::string> sorted(std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
}

std::vector<std::string> mount_table() {
    std::istringstream in(read_or_empty("/proc/self/mountinfo"));
    std::vector<std::string> rows;
    for (std::string line; std::getline(in, line);) {
        std::istringstream f(line);
        std::string id, parent, devno, root, point, rest;
        f >> id >> parent >> devno >> root >> point;
        std::getline(f, rest);
        rows.push_back(point + " " + root + rest);
    }
    return sorted(rows);
}

// /proc/sysvipc/* lists the reader's IPC namespace: here, the machine's.
std::vector<std::string> sysv_objects() {
    std::vector<std::string> rows;
    for (std::string which : {"shm", "sem", "msg"}) {
        std::istringstream in(read_or_empty("/proc/sysvipc/" + which));
        std::string line;
        std::getline(in, line);  // header
        while (std::getline(in, line)) {
            std::istringstream f(line);
            std::string key, id;
            if (f >> key >> id) rows.push_back(which + " key=" + key + " id=" + id);
        }
    }
    return sorted(rows);
}

std::vector<std::string> posix_objects() {
    std::vector<std::string> rows;
    for (std::string dir : {"/dev/shm", "/dev/mqueue"}) {
        auto names = sys::list_dir(dir);
        if (names.ok())
            for (auto& n : *names) rows.push_back(dir + "/" + n);
    }
    return sorted(rows);
}

std::vector<std::string> links() {
    std::istringstream in(read_or_empty("/proc/self/net/dev"));
    std::vector<std::string> names;
    for (std::string line; std::getline(in, line);) {
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string name = line.substr(0, colon);
        name.erase(0, name.find_first_not_of(' '));
        names.push_back(name);
    }
    return sorted(names);
}

std::vector<std::string> descendants() {
    std::map<pid_t, pid_t> parent;
    std::map<pid_t, std::string> comm;
    std::error_code ec;
    for (auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
        std::string name = entry.path().filename();
        if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
        std::string stat = read_or_empty("/proc/" + name + "/stat");
        auto open = stat.find('('), close = stat.rfind(')');
        if (open == std::string::npos || close == std::string::npos) continue;
        std::istringstream f(stat.substr(close + 2));
        char state = 0;
        pid_t ppid = 0;
        f >> state >> ppid;
        pid_t pid = std::stoi(name);
        parent[pid] = ppid;
        comm[pid] = stat.substr(open + 1, close - open - 1);
    }
    std::vector<std::string> out;
    pid_t self = ::getpid();
    for (auto& [pid, ppid] : parent)
        for (pid_t p = ppid; p > 1; p = parent.count(p) ? parent[p] : 0)
            if (p == self) {
                out.push_back(std::to_string(pid) + " " + comm[pid]);
                break;
            }
    return out;
}

// Lab cgroups ("PARENT/nslab-lab-RUN-N") sit in parents shared with every other runner (the v1
// pids hierarchy, the v2 root): only those made by runners whose run id starts with `runs` are
// this snapshot's to judge. Other cgroups (below our own v2 cgroup) are all ours.
std::vector<std::string> ours(std::vector<std::string> cgroups, const std::string& runs) {
    std::vector<std::string> out;
    for (auto& c : cgroups)
        if (c.find("/nslab-lab-") == std::string::npos || lab_cgroup_made_by(c, runs)) out.push_back(c);
    return out;
}

// The machine's writable trees. A lab's `/` is the machine's own (its own mounts are /tmp,
// /dev/shm, /dev/mqueue, /proc and /sys), so a command run in a lab that writes /etc/passwd,
// ~root/.something (commands run with HOME=/root) or /run/netns/x (`ip netns add`) writes the
// machine's.
constexpr const char* kFileTrees[] = {"/etc", "/run", "/var/tmp", "/root"};

// Paths that change on a machine while nslab runs, and not because of it; neither recorded nor
// entered. Everything else in the trees is compared exactly: another process that changes them
// meanwhile (a package installed, a root shell's history written at logout) shows up as a change,
// as a mount made meanwhile does.
const std::vector<std::string> kFileExclusions = {
    // systemd's state: a unit started or stopped anywhere on the machine (a timer, a login's
    // scope) adds and removes files here; and the credentials it mounts for a unit as it starts.
    "/run/systemd",
    "/run/credentials",
    // pam_systemd's runtime directory of each logged-in user, made at login, removed at logout.
    "/run/user",
    // journald's volatile journal grows with every message logged on the machine.
    "/run/log",
    // Login records and pam_motd's message of the day, rewritten as users log in and out.
    "/run/utmp",
    "/run/motd.dynamic",
    // The private /var/tmp of a service with PrivateTmp= (systemd), made as it starts.
    "/var/tmp/systemd-private-*",
    // Scratch directories of other nslab processes running beside this one: `nslab grade`'s
    // nslab-grade-XXXXXX, the tests' nslab-*-test-XXXXXX. Each is made by mkdtemp and removed by
    // its maker (grade_test checks that the grader removes its own); `nslab run` makes none.
    "/var/tmp/nslab-*",
    // Root's dot-files: the state of the tools a developer runs as root beside the tests (shell
    // history, editors' and build caches, pyenv's or rustup's hundreds of thousands of files).
    // What a lab command would write in its HOME=/root outside them is still compared.
    "/root/.*",
};

// The runner's own output (`nslab run --check-leaks > /var/tmp/log`) grows during the run.
std::vector<std::pair<dev_t, ino_t>> own_output_files() {
    std::vector<std::pair<dev_t, ino_t>> files;
    for (int fd : {1, 2}) {
        auto st = sys::fstat(fd);
        if (st.ok() && S_ISREG(st->st_mode)) files.emplace_back(st->st_dev, st->st_ino);
    }
    return files;
}

std::vector<FileTree> file_trees() {
    FileTreeOptions options;
    options.excluded = kFileExclusions;
    options.own_files = own_output_files();
    std::vector<FileTree> trees;
    for (auto* root : kFileTrees) trees.push_back(snapshot_tree(root, options));
    return trees;
}

void diff(std::vector<std::string>& out, const std::string& what, const std::vector<std::string>& before,
          const std::vector<std::string>& after) {
    for (auto& a : after)
        if (!std::binary_search(before.begin(), before.end(), a)) out.push_back(what + " added: " + a);
    for (auto& b : before)
        if (!std::binary_search(after.begin(), after.end(), b)) out.push_back(what + " gone: " + b);
}

}  // namespace

MachineState snapshot_machine(const std::string& runs) { return snapshot_machine(lab_cgroup_parents(LabLimits{}), runs); }

MachineState snapshot_machine(const std::vector<std::string>& cgroup_parents, const std::string& runs) {
    MachineState s;
    s.hostname = sys::gethostname().ok() ? *sys::gethostname() : "";
    s.domainname = sys::getdomainname().ok() ? *sys::getdomainname() : "";
    s.mounts = mount_table();
    s.sysv = sysv_objects();
    s.posix = posix_objects();
    s.links = links();
    s.processes = sorted(descendants());
    s.cgroups = sorted(ours(own_child_cgroups(cgroup_parents), runs));
    s.files = file_trees();
    return s;
}

std::vector<std::string> describe_leaks(const MachineState& before, const MachineState& after) {
    std::vector<std::string> out;
    if (before.hostname != after.hostname) out.push_back("hostname changed: " + before.hostname + " -> " + after.hostname);
    if (before.domainname != after.domainname)
        out.push_back("domain name changed: " + before.domainname + " -> " + after.domainname);
    diff(out, "mount", before.mounts, after.mounts);
    diff(out, "System V IPC object", before.sysv, after.sysv);
    diff(out, "POSIX IPC object", before.posix, after.posix);
    diff(out, "network link", before.links, after.links);
    diff(out, "cgroup", before.cgroups, after.cgroups);
    for (auto& p : after.processes)
        if (!std::binary_search(before.processes.begin(), before.processes.end(), p)) out.push_back("process left: " + p);
    for (auto& b : before.files)
        for (auto& a : after.files)
            if (a.root == b.root) diff_trees(out, b, a);
    return out;
}

std::vector<std::string> describe_limits(const MachineState& state) {
    std::vector<std::string> notes;
    for (auto& t : state.files)
        for (auto& n : describe_tree_limits(t)) notes.push_back(n);
    return notes;
}

}  // namespace nslab::runner
