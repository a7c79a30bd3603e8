#include "launch/lab.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>

#include "core/id_map.hpp"
#include "core/namespace_kind.hpp"
#include "launch/installed.hpp"
#include "sys/syscalls.hpp"

namespace nslab::launch {
namespace {

// Exit codes of the lab's child before execve (it can only make system calls there).
constexpr int kExitCgroupUnshare = 123, kExitRlimit = 124, kExitNoGo = 126, kExitNoExec = 127;

std::string describe_early_exit(int status) {
    if (WIFEXITED(status)) switch (WEXITSTATUS(status)) {
            case kExitCgroupUnshare: return "could not unshare(CLONE_NEWCGROUP) in its cgroup";
            case kExitRlimit: return "could not set RLIMIT_NPROC";
            case kExitNoGo: return "was not released by the runner";
            case kExitNoExec: return "could not execve the agent";
        }
    return core::describe_wait_status(status);
}

}  // namespace

sys::Result<std::string> find_agent_binary() {
    if (const char* env = std::getenv("NSLAB_AGENT"); env && *env) {
        if (::access(env, X_OK) == 0) return std::string(env);
        int err = errno;
        return sys::Error(err, std::string("access(") + env + ", X_OK)").context("NSLAB_AGENT names no agent it can run");
    }
    // Beside the executable (the build tree, where every program is in bin/), then where an
    // install puts it (PREFIX/libexec/nslab for PREFIX/bin/nslab).
    std::string dir = self_dir();
    if (dir.empty()) return sys::Error::message("finding nslab-agent: /proc/self/exe cannot be read (set NSLAB_AGENT to its path)");
    std::string beside = dir + "/nslab-agent", installed = installed_agent_path();
    for (const std::string& candidate : {beside, installed})
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    return sys::Error::message("nslab-agent not found: looked beside the program (" + beside + ") and in its install tree (" +
                               installed + "); set NSLAB_AGENT to its path");
}

unsigned lab_namespaces(const LabOptions& options) {
    unsigned mask = core::ns_bit(core::Ns::mnt) | core::ns_bit(core::Ns::uts) | core::ns_bit(core::Ns::ipc) |
                    core::ns_bit(core::Ns::pid) | core::ns_bit(core::Ns::net);
    if (core::kernel_has(core::Ns::cgroup)) mask |= core::ns_bit(core::Ns::cgroup);
    if (options.user_namespace) mask |= core::ns_bit(core::Ns::user);
    return mask;
}

namespace {

// What the lab's child needs between clone and execve, all prepared before the clone: the child
// is a copy of a possibly multi-threaded process (or, with clone_vfork, shares its memory), so
// it may only make system calls until execve.
struct LabChild {
    int their_fd = -1, sync_fd = -1;
    bool unshare_cgroup_later = false, wait_for_go = false;
    unsigned long long nproc = 0;
    const char* agent_path = nullptr;
    char** argv = nullptr;
    char** envp = nullptr;
};

int run_lab_child(void* arg) {
    const LabChild& c = *static_cast<const LabChild*>(arg);
    // PR_SET_PDEATHSIG fires when the creating *thread* exits: the lab must not outlive the
    // runner thread that owns it.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    // Drop every fd inherited from the runner's other threads before waiting on anything: a
    // copied fd keeps its open file description — and any flock on it — alive until exec.
    int sync_copy = ::fcntl(c.sync_fd, F_DUPFD, 10);  // out of the way of fds 3 and 4
    ::dup2(c.their_fd, 3);                            // dup2 clears FD_CLOEXEC on the copy
    ::dup2(sync_copy, 4);
    ::syscall(SYS_close_range, 5U, ~0U, 0);
    if (c.unshare_cgroup_later && ::unshare(CLONE_NEWCGROUP) != 0) return kExitCgroupUnshare;
    if (c.wait_for_go) {
        char go;
        // The runner maps our ids before we go on.
        if (::read(4, &go, 1) != 1) return kExitNoGo;
    }
    ::close(4);
    if (c.nproc) {
        // setrlimit(2), RLIMIT_NPROC: counted per real uid in each user namespace (ucounts, 5.14+),
        // and not enforced for root of the initial namespace (CAP_SYS_ADMIN/CAP_SYS_RESOURCE).
        struct rlimit lim {c.nproc, c.nproc};
        if (::setrlimit(RLIMIT_NPROC, &lim) != 0) return kExitRlimit;
    }
    // execve keeps the signal mask: the runner blocks SIGINT/SIGTERM for its signal thread,
    // and the lab's processes must start with none blocked.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(c.agent_path, c.argv, c.envp);
    return kExitNoExec;
}

}  // namespace

sys::Result<Lab> begin_lab(const LabOptions& options) {
    std::string agent_path = options.agent_path;
    if (agent_path.empty()) {
        NSLAB_ASSIGN_OR_RETURN(agent_path, find_agent_binary());
    } else if (::access(agent_path.c_str(), X_OK) != 0) {
        int err = errno;
        return sys::Error(err, "access(" + agent_path + ", X_OK)").context("the agent given");
    }
    NSLAB_ASSIGN_OR_RETURN(auto socks, sys::socketpair_seqpacket());
    core::UniqueFd ours(socks.first), theirs(socks.second);
    NSLAB_ASSIGN_OR_RETURN(auto sync, sys::pipe2(O_CLOEXEC));
    core::UniqueFd sync_r(sync.first), sync_w(sync.second);

    std::vector<std::string> argv{"nslab-agent", "--lab", "--fd", "3"};
    if (options.copy_on_write_root) argv.push_back("--cow-root");
    for (auto& dir : options.write_through) argv.insert(argv.end(), {"--write-through", dir});
    // cgroups(7), v1: the agent writes 0 to each cgroup.procs (moving itself) before anything
    // else. Not the runner: a v1 move waits for an RCU grace period (cgroup_threadgroup_rwsem),
    // and only the lab need wait for it.
    for (auto& f : options.procs_files) argv.insert(argv.end(), {"--cgroup-procs", f});
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    char env0[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    char env1[] = "LC_ALL=C";
    char* cenv[] = {env0, env1, nullptr};

    unsigned mask = lab_namespaces(options) & ~core::ns_bit(core::Ns::cgroup);
    // cgroup_namespaces(7): a new cgroup namespace is rooted at its creator's cgroup. clone3 makes
    // the namespaces before CLONE_INTO_CGROUP moves the child (kernel/fork.c: copy_namespaces runs
    // before cgroup_can_fork), so a lab placed in its own cgroup unshares its cgroup namespace
    // itself, once there: its root is then the lab's cgroup, as it would be without one.
    const bool unshare_cgroup_later = core::kernel_has(core::Ns::cgroup) && options.cgroup_fd >= 0;
    if (core::kernel_has(core::Ns::cgroup) && !unshare_cgroup_later) mask |= core::ns_bit(core::Ns::cgroup);
    LabChild child{.their_fd = theirs.get(),
                   .sync_fd = sync_r.get(),
                   .unshare_cgroup_later = unshare_cgroup_later,
                   .wait_for_go = options.user_namespace,
                   .nproc = options.nproc_limit,
                   .agent_path = agent_path.c_str(),
                   .argv = cargv.data(),
                   .envp = cenv};
    const unsigned long flags = static_cast<unsigned long>(core::clone_flags_of(mask));
    sys::CloneResult cr;
    if (!child.wait_for_go && options.cgroup_fd < 0) {
        // Nothing to wait for before execve, and no CLONE_INTO_CGROUP (clone3 only): share our
        // memory until the exec instead of copying the runner's page tables for the child to
        // throw away, which also spares the other runner threads' copy-on-write faults.
        NSLAB_ASSIGN_OR_RETURN(cr, sys::clone_vfork(flags, run_lab_child, &child));
    } else {
        NSLAB_ASSIGN_OR_RETURN(cr, sys::clone3(static_cast<uint64_t>(flags) | CLONE_PIDFD, options.cgroup_fd));
        if (cr.pid == 0) ::_exit(run_lab_child(&child));
    }
    Lab lab;
    lab.init = core::Child(cr.pid, core::UniqueFd(cr.pidfd));
    theirs.reset();
    sync_r.reset();
    if (options.user_namespace) {
        // user_namespaces(7): the runner, outside, maps root of the lab to itself; without
        // CAP_SETGID outside it must deny setgroups before gid_map.
        auto ids = sys::getresids();
        auto s = core::write_id_maps("/proc/" + std::to_string(cr.pid), {{0, ids.euid, 1}}, {{0, ids.egid, 1}},
                                     /*deny_setgroups=*/true);
        if (!s.ok()) return std::move(s).error().context("mapping root of the lab");
    }
    if (child.wait_for_go) {
        char go = 1;
        NSLAB_TRY(sys::write(sync_w.get(), &go, 1));
    }
    lab.client = agent::AgentClient(std::move(ours), "the lab");
    return lab;
}

sys::Status finish_lab(Lab& lab, agent::Deadline deadline) {
    auto hello = lab.client.read_hello(deadline);
    if (!hello.ok()) {
        auto st = lab.init.wait_for(std::chrono::milliseconds(0));
        std::string how = (st.ok() && *st) ? " (lab init " + describe_early_exit(**st) + ")" : "";
        return std::move(hello).error().context("starting the lab" + how);
    }
    lab.hello = std::move(hello).value();
    return {};
}

sys::Result<Lab> start_lab(const LabOptions& options, agent::Deadline deadline) {
    NSLAB_ASSIGN_OR_RETURN(Lab lab, begin_lab(options));
    NSLAB_TRY(finish_lab(lab, deadline));
    return lab;
}

}  // namespace nslab::launch
