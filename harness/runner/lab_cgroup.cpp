#include "runner/lab_cgroup.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <chrono>
#include <memory>
#include <sstream>
#include <thread>

#include "experiment/model.hpp"
#include "runner/cgroup_cleanup.hpp"
#include "sys/cgroup_calls.hpp"
#include "sys/syscalls.hpp"

namespace nslab::runner {
namespace {

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

bool has_word(const std::string& text, const std::string& word) {
    std::istringstream in(text);
    for (std::string w; in >> w;)
        if (w == word) return true;
    return false;
}

// A v2 directory whose children can hold processes: the root (no cgroup.type), or a "domain".
// cgroup-v2.rst, "Threads": a domain with processes in which a threaded controller (pids) is
// enabled becomes "domain threaded", and its domain children become "domain invalid" — which is
// why the runner never enables +pids in its own, populated cgroup.
bool valid_v2_parent(const std::string& dir) {
    if (::access((dir + "/cgroup.subtree_control").c_str(), R_OK) != 0) return false;
    auto type = sys::read_file(dir + "/cgroup.type");
    return !type.ok() || trimmed(*type) == "domain";
}

std::string subtree_control(const std::string& dir) {
    auto r = sys::read_file(dir + "/cgroup.subtree_control");
    return r.ok() ? *r : "";
}

std::string parent_dir(const std::string& dir) {
    auto slash = dir.find_last_of('/');
    return slash == std::string::npos || slash == 0 ? "" : dir.substr(0, slash);
}

// systemd marks a cgroup it delegates (Delegate=yes) with the xattr trusted.delegate, and since
// v253 also user.delegate, which an unprivileged owner can read ("Control Group APIs and
// Delegation", systemd.io/CGROUP_DELEGATION).
bool delegated(const std::string& dir) {
    for (const char* name : {"trusted.delegate", "user.delegate"})
        if (auto v = sys::get_xattr(dir, name); v.ok() && trimmed(*v) == "1") return true;
    return false;
}

// sd_booted(3): systemd runs the machine when /run/systemd/system exists; it owns the cgroup
// tree's root then, and a program may write only a subtree delegated to it.
bool systemd_owns_the_tree() { return ::access("/run/systemd/system", F_OK) == 0; }

// Where labs' v2 cgroups may go, best first (valid_v2_parent and write access are checked later).
std::vector<std::string> v2_parent_candidates(const LabLimits& limits, bool root) {
    if (!limits.cgroup_parent.empty()) return {limits.cgroup_parent};
    std::vector<std::string> candidates;
    const std::string own = own_cgroup_v2_dir(), top = cgroup_v2_mount_point();
    // The runner's own cgroup, when it may have children beside the runner: only the hierarchy's
    // root is exempt from the no-internal-process rule (cgroup-v2.rst).
    if (!own.empty()) candidates.push_back(own);
    // A delegated subtree with the runner in a leaf of it: labs go beside the runner, inside the
    // unit that was given to us.
    if (std::string up = parent_dir(own); !own.empty() && own != top && up.size() > top.size() && delegated(up))
        candidates.push_back(up);
    // The hierarchy's root, where no init system owns it (a container's or a VM's own init).
    // Only root may make cgroups in it.
    if (root && !top.empty() && !systemd_owns_the_tree()) candidates.push_back(top);
    return candidates;
}

}  // namespace

struct LabCgroupPlan {
    std::string v2_parent;  // "" = the lab stays in the runner's v2 cgroup
    bool v2_pids = false, v2_memory = false;
    std::string v1_pids_parent, v1_memory_parent;
    bool rlimit = false;
};

namespace {

using Plan = LabCgroupPlan;

Plan plan_for(const LabLimits& limits, bool lab_in_user_namespace) {
    Plan p;
    const bool root = ::geteuid() == 0;
    std::vector<std::string> candidates;
    // A lab enters its v2 cgroup with clone3(CLONE_INTO_CGROUP), Linux 5.7; before it, only v1 or
    // RLIMIT_NPROC bound a lab.
    const bool clone_into_cgroup = experiment::kernel_at_least(sys::uname().release, "5.7");
    if (clone_into_cgroup) candidates = v2_parent_candidates(limits, root);
    for (auto& c : candidates) {
        if (!valid_v2_parent(c) || ::access(c.c_str(), W_OK) != 0) continue;
        std::string ctl = subtree_control(c);
        bool pids = limits.max_pids && has_word(ctl, "pids"), memory = limits.max_memory && has_word(ctl, "memory");
        // An explicit parent is used even without controllers (the lab is then only placed there).
        if (pids || (memory && !limits.max_pids) || !limits.cgroup_parent.empty()) {
            p.v2_parent = c;
            p.v2_pids = pids;
            p.v2_memory = memory;
            break;
        }
    }
    auto v1_parent = [&](const char* controller) {
        std::string dir = own_cgroup_v1_dir(controller);
        return (!dir.empty() && ::access(dir.c_str(), W_OK) == 0) ? dir : "";
    };
    if (limits.max_pids && !p.v2_pids) p.v1_pids_parent = v1_parent("pids");
    if (limits.max_memory && !p.v2_memory) p.v1_memory_parent = v1_parent("memory");
    // RLIMIT_NPROC is not enforced for root of the initial user namespace (kernel/fork.c,
    // copy_process: INIT_USER, CAP_SYS_RESOURCE, CAP_SYS_ADMIN are exempt).
    p.rlimit = limits.max_pids && !p.v2_pids && p.v1_pids_parent.empty() && !root && lab_in_user_namespace;
    return p;
}

const std::string kLabPrefix = "nslab-lab-";

std::string next_name() {
    static std::atomic<unsigned> seq{0};
    return kLabPrefix + run_id() + "-" + std::to_string(seq.fetch_add(1));
}

sys::Status write_limit(const std::string& dir, const std::string& file, unsigned long long value) {
    auto s = sys::write_file(dir + "/" + file, std::to_string(value));
    if (!s.ok()) return std::move(s).error().context("setting " + file + " of the lab's cgroup");
    return {};
}

}  // namespace

const std::string& run_id() {
    static const std::string id = [] {
        std::string tag;
        if (const char* t = ::getenv("NSLAB_RUN_TAG"))
            for (const char* c = t; *c; ++c)
                if (std::isalnum(static_cast<unsigned char>(*c)) || *c == '_') tag += *c;
        unsigned random = 0;
        if (!sys::getrandom_bytes(&random, sizeof random).ok()) random = static_cast<unsigned>(::time(nullptr));
        char buf[16];
        std::snprintf(buf, sizeof buf, "%08x", random);
        return (tag.empty() ? "" : tag + ".") + std::to_string(::getpid()) + "." + buf;
    }();
    return id;
}

bool lab_cgroup_made_by(const std::string& path, const std::string& prefix) {
    size_t slash = path.rfind('/');
    std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    return name.rfind(kLabPrefix + prefix, 0) == 0;
}

std::string describe_pids_bound(const LabLimits& limits, bool lab_in_user_namespace) {
    if (!limits.max_pids) return "none: --max-pids 0";
    Plan p = plan_for(limits, lab_in_user_namespace);
    std::string n = std::to_string(limits.max_pids);
    if (p.v2_pids) return "cgroup v2 pids.max " + n + " below " + p.v2_parent;
    if (!p.v1_pids_parent.empty()) return "cgroup v1 pids.max " + n + " below " + p.v1_pids_parent;
    if (p.rlimit) return "RLIMIT_NPROC " + n + " in the lab's user namespace";
    return "none: no usable pids controller (cgroup v2 delegation or v1 pids hierarchy), and root is not bound by "
           "RLIMIT_NPROC";
}

bool pids_bound_available(const LabLimits& limits, bool lab_in_user_namespace) {
    Plan p = plan_for(limits, lab_in_user_namespace);
    return limits.max_pids && (p.v2_pids || !p.v1_pids_parent.empty() || p.rlimit);
}

std::vector<std::string> lab_cgroup_parents(const LabLimits& limits) {
    LabLimits all = limits;
    if (!all.max_pids) all.max_pids = 1;
    Plan p = plan_for(all, false);
    std::vector<std::string> out;
    for (auto& d : {p.v2_parent, p.v1_pids_parent, p.v1_memory_parent, own_cgroup_v1_dir("memory")})
        if (!d.empty()) out.push_back(d);
    return out;
}

std::shared_ptr<const LabCgroupPlan> plan_lab_cgroups(const LabLimits& limits, bool lab_in_user_namespace) {
    return std::make_shared<const LabCgroupPlan>(plan_for(limits, lab_in_user_namespace));
}

sys::Result<LabCgroup> LabCgroup::create(const LabLimits& limits, bool lab_in_user_namespace,
                                         launch::LabOptions& options) {
    return create(limits, *plan_lab_cgroups(limits, lab_in_user_namespace), options);
}

sys::Result<core::UniqueFd> LabCgroup::make_locked(const std::string& parent, const std::string& name) {
    // A sweep (remove_dead_lab_cgroups) holds LOCK_EX on the parent: under LOCK_SH here it cannot
    // see the new directory before it carries this runner's lock.
    NSLAB_ASSIGN_OR_RETURN(int pfd, sys::open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    core::UniqueFd parent_lock(pfd);
    NSLAB_TRY(sys::flock_fd(parent_lock.get(), LOCK_SH));
    std::string dir = parent + "/" + name;
    NSLAB_TRY(sys::cgroup_mkdir(dir));
    dirs_.push_back(dir);
    NSLAB_ASSIGN_OR_RETURN(int fd, sys::open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    core::UniqueFd own(fd);
    NSLAB_TRY(sys::flock_fd(own.get(), LOCK_SH));
    return own;
}

sys::Result<LabCgroup> LabCgroup::create(const LabLimits& limits, const LabCgroupPlan& p,
                                         launch::LabOptions& options) {
    LabCgroup cg;
    const std::string name = next_name();
    // options is filled only once everything is made: a failure leaves it as it was (no fd that
    // this object's destruction closes).
    int cgroup_fd = -1;
    std::vector<std::string> procs_files;
    if (!p.v2_parent.empty()) {
        NSLAB_ASSIGN_OR_RETURN(core::UniqueFd fd, cg.make_locked(p.v2_parent, name));
        const std::string& dir = cg.dirs_.back();
        cgroup_fd = fd.get();
        cg.locks_.push_back(std::move(fd));
        // pids.max counts tasks (threads too) in the cgroup and below; fork/clone fail with EAGAIN.
        if (p.v2_pids) NSLAB_TRY(write_limit(dir, "pids.max", limits.max_pids));
        if (p.v2_memory) {
            NSLAB_TRY(write_limit(dir, "memory.max", limits.max_memory));
            (void)sys::write_file(dir + "/memory.swap.max", "0");  // absent without swap accounting
        }
    }
    // cgroup v1: one directory per hierarchy; the lab's init writes itself into each first thing.
    if (!p.v1_pids_parent.empty()) {
        NSLAB_ASSIGN_OR_RETURN(core::UniqueFd fd, cg.make_locked(p.v1_pids_parent, name));
        cg.locks_.push_back(std::move(fd));
        NSLAB_TRY(write_limit(cg.dirs_.back(), "pids.max", limits.max_pids));
        procs_files.push_back(cg.dirs_.back() + "/cgroup.procs");
    }
    if (!p.v1_memory_parent.empty()) {
        NSLAB_ASSIGN_OR_RETURN(core::UniqueFd fd, cg.make_locked(p.v1_memory_parent, name));
        cg.locks_.push_back(std::move(fd));
        NSLAB_TRY(write_limit(cg.dirs_.back(), "memory.limit_in_bytes", limits.max_memory));
        procs_files.push_back(cg.dirs_.back() + "/cgroup.procs");
    }
    if (cgroup_fd >= 0) options.cgroup_fd = cgroup_fd;
    for (auto& f : procs_files) options.procs_files.push_back(f);
    if (p.rlimit) options.nproc_limit = limits.max_pids;
    return cg;
}

bool LabCgroup::remove() {
    bool all = true;
    // Deepest last made first: the lab's tasks left every hierarchy at once, but a v1 hierarchy
    // may keep a dying task a moment (RCU) after its PID namespace's init has been reaped.
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (auto& dir : dirs_) {
        for (auto pause = std::chrono::milliseconds(1);; pause = std::min(pause * 2, std::chrono::milliseconds(50))) {
            auto s = remove_cgroup_tree(dir);
            if (s.ok() || s.error().err() == ENOENT) break;
            if (s.error().err() != EBUSY || std::chrono::steady_clock::now() > until) {
                all = false;
                break;
            }
            std::this_thread::sleep_for(pause);
        }
    }
    dirs_.clear();
    // Only now: a directory that could not be removed becomes a dead runner's, for the next sweep.
    locks_.clear();
    return all;
}

}  // namespace nslab::runner
