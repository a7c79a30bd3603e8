// spawn_realm: the built-in launcher's half inside the lab. Any agent can start a child realm:
// clone3 with the requested CLONE_NEW* flags, set the child up, and hand the runner a pidfd and a
// socket to the new agent. No exec: the child runs the agent loop it inherited, so a realm costs
// about what clone3 itself costs.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <sstream>

#include "agent/agent.hpp"
#include "agent/registry.hpp"
#include "core/id_map.hpp"
#include "core/namespace_kind.hpp"
#include "sys/pid_calls.hpp"
#include "sys/syscalls.hpp"
#include "sys/user_calls.hpp"

namespace nslab::agent {
namespace {

struct SpawnPlan {
    unsigned new_mask = 0;
    std::vector<std::string> join_kinds;  // fds attached in this order
    std::string uid_map, gid_map;         // "" = map root to the spawner's ids; "none" = no map
    std::string propagation = "private";  // private | slave | shared | unchanged
    bool mount_proc = false;
    long long monotonic_offset = 0, boottime_offset = 0;
    bool has_time_offsets = false;
    // Set by the spawner once the maps are known: the child's own ids have no mapping, but the map
    // has an inside 0, so the child takes it (see child_setup).
    bool become_root_uid = false, become_root_gid = false;
};

sys::Result<SpawnPlan> parse_plan(const json& args) {
    SpawnPlan p;
    NSLAB_ASSIGN_OR_RETURN(auto kinds, arg_string_list(args, "new"));
    for (auto& k : kinds) {
        auto ns = core::ns_from_name(k);
        if (!ns) return sys::Error::message("spawn_realm: unknown namespace kind '" + k + "'");
        p.new_mask |= core::ns_bit(*ns);
    }
    if (args.contains("join")) {
        NSLAB_ASSIGN_OR_RETURN(p.join_kinds, arg_string_list(args, "join"));
        for (auto& k : p.join_kinds)
            if (!core::ns_from_name(k)) return sys::Error::message("spawn_realm: unknown kind '" + k + "'");
    }
    p.uid_map = arg_string_opt(args, "uid_map").value_or("");
    p.gid_map = arg_string_opt(args, "gid_map").value_or("");
    p.propagation = arg_string_opt(args, "propagation").value_or("private");
    p.mount_proc = args.value("mount_proc", false);
    if (auto m = arg_int_opt(args, "monotonic_offset")) p.monotonic_offset = *m, p.has_time_offsets = true;
    if (auto b = arg_int_opt(args, "boottime_offset")) p.boottime_offset = *b, p.has_time_offsets = true;
    return p;
}

// /proc/self/fdinfo of a pidfd names the pid as the reader's procfs sees it; the spawner may sit in
// a PID namespace of its own while its /proc is an ancestor's.
sys::Result<std::string> proc_dir_of(int pidfd) {
    NSLAB_ASSIGN_OR_RETURN(pid_t pid, sys::pid_of_pidfd(pidfd));
    return "/proc/" + std::to_string(pid);
}

// Everything the child does before it says hello. Errors go back to the runner as a setup error.
sys::Status child_setup(const SpawnPlan& plan, int sync_fd, std::vector<core::UniqueFd>& join_fds) {
    if (plan.new_mask & core::ns_bit(core::Ns::user)) {
        // user_namespaces(7): until the parent has written our maps we are uid 65534 with no
        // mapped ids; wait for its byte (or EOF if it failed).
        char byte = 0;
        NSLAB_ASSIGN_OR_RETURN(size_t n, sys::read(sync_fd, &byte, 1));
        if (n != 1) return sys::Error::message("the spawner could not write this realm's id maps");
        // A map such as "0 1000 1" written by root leaves the child's own ids (global 0) unmapped:
        // it would read as 65534. Like the shell that `unshare -r` starts (user_namespaces(7)),
        // the realm then takes inside id 0, which its full capability set in the new namespace
        // allows now that the maps exist; gid first, as unshare(1) and setpriv(1) do.
        if (plan.become_root_gid) NSLAB_TRY(sys::setresgid(0, 0, 0).context("taking gid 0 of the new user namespace"));
        if (plan.become_root_uid) NSLAB_TRY(sys::setresuid(0, 0, 0).context("taking uid 0 of the new user namespace"));
        // prctl(2): a change of ids clears the dumpable flag, which would hand /proc/self to global root.
        if (plan.become_root_uid || plan.become_root_gid) NSLAB_TRY(sys::set_dumpable());
    }
    std::vector<size_t> order;
    for (size_t i = 0; i < plan.join_kinds.size(); ++i)
        if (plan.join_kinds[i] == "user") order.insert(order.begin(), i);  // user first: it grants the rest
        else order.push_back(i);
    for (size_t i : order) {
        auto ns = *core::ns_from_name(plan.join_kinds[i]);
        NSLAB_TRY(sys::setns(join_fds[i].get(), core::kind_of(ns).clone_flag).context("joining " + plan.join_kinds[i]));
    }
    if (plan.new_mask & core::ns_bit(core::Ns::time)) {
        // time_namespaces(7): offsets can be written only before any process has entered the new
        // namespace, so unshare (which enters only time_for_children), write, then join it.
        NSLAB_TRY(sys::unshare(CLONE_NEWTIME));
        if (plan.has_time_offsets) {
            std::string offsets = "monotonic " + std::to_string(plan.monotonic_offset) + " 0\nboottime " +
                                  std::to_string(plan.boottime_offset) + " 0\n";
            NSLAB_TRY(sys::write_file("/proc/self/timens_offsets", offsets));
        }
        NSLAB_ASSIGN_OR_RETURN(int tfd, sys::open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC));
        core::UniqueFd time_fd(tfd);
        NSLAB_TRY(sys::setns(time_fd.get(), CLONE_NEWTIME));
    }
    if ((plan.new_mask & core::ns_bit(core::Ns::mnt)) && plan.propagation != "unchanged") {
        // mount_namespaces(7): the new namespace copied the parent's propagation; unshare(1) makes
        // it private by default so that mounts here do not travel back. We do the same unless asked.
        unsigned long flag = plan.propagation == "shared" ? MS_SHARED
                             : plan.propagation == "slave" ? MS_SLAVE
                                                           : MS_PRIVATE;
        NSLAB_TRY(sys::mount("none", "/", "", MS_REC | flag));
    }
    if (plan.mount_proc) {
        // pid_namespaces(7): a fresh procfs shows this realm's PID namespace (unshare --mount-proc).
        NSLAB_TRY(sys::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC));
    }
    return {};
}

sys::Result<json> spawn_realm(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(SpawnPlan plan, parse_plan(c.args));
    if (plan.join_kinds.size() != c.fds_in.size())
        return sys::Error::message("spawn_realm: join lists " + std::to_string(plan.join_kinds.size()) +
                                   " kinds but " + std::to_string(c.fds_in.size()) + " fds came");
    if (plan.mount_proc && !(plan.new_mask & core::ns_bit(core::Ns::mnt)))
        return sys::Error::message("spawn_realm: mount_proc needs a new mnt namespace");
    // Parse maps before cloning, so that a bad map is an error here and not a stuck child.
    auto ids = sys::getresids();
    core::IdMap uids{{0, ids.euid, 1}}, gids{{0, ids.egid, 1}};
    bool write_maps = (plan.new_mask & core::ns_bit(core::Ns::user)) && plan.uid_map != "none";
    if (!plan.uid_map.empty() && plan.uid_map != "none") {
        NSLAB_ASSIGN_OR_RETURN(uids, core::parse_id_map(plan.uid_map));
    }
    if (!plan.gid_map.empty() && plan.gid_map != "none") {
        NSLAB_ASSIGN_OR_RETURN(gids, core::parse_id_map(plan.gid_map));
    }
    if (write_maps) {
        // The child keeps its ids when the map covers them (the kernel translates them); only an
        // unmapped child with a mapped inside 0 becomes root there.
        plan.become_root_uid = core::map_to_inside(uids, ids.euid) < 0 && core::map_to_outside(uids, 0) >= 0;
        plan.become_root_gid = core::map_to_inside(gids, ids.egid) < 0 && core::map_to_outside(gids, 0) >= 0;
    }

    NSLAB_ASSIGN_OR_RETURN(auto socks, sys::socketpair_seqpacket());
    core::UniqueFd parent_end(socks.first), child_end(socks.second);
    // The child waits on this pipe only for its id maps: without a new user namespace, no pipe.
    core::UniqueFd sync_r, sync_w;
    if (plan.new_mask & core::ns_bit(core::Ns::user)) {
        NSLAB_ASSIGN_OR_RETURN(auto sync, sys::pipe2(O_CLOEXEC));
        sync_r = core::UniqueFd(sync.first);
        sync_w = core::UniqueFd(sync.second);
    }

    // Time is entered in the child (see child_setup), never through clone3's CLONE_NEWTIME.
    unsigned clone_mask = plan.new_mask & ~core::ns_bit(core::Ns::time);
    // pid_namespaces(7): a child in a new PID namespace sees its parent as pid 0.
    const pid_t parent_seen_by_child = (clone_mask & core::ns_bit(core::Ns::pid)) ? 0 : sys::getpid();
    NSLAB_ASSIGN_OR_RETURN(sys::CloneResult cr,
                           sys::clone3(static_cast<uint64_t>(core::clone_flags_of(clone_mask)) | CLONE_PIDFD));
    if (cr.pid == 0) {
        // The child: a copy of this single-threaded agent. It never returns to the caller's loop.
        parent_end.reset();
        sync_w.reset();
        (void)sys::prctl_set_pdeathsig(SIGKILL);
        // The agent died before prctl took effect (the check cannot see it across a new PID
        // namespace, where the lab's end is the socket: the agent's end closed, hello fails).
        if (sys::getppid() != parent_seen_by_child) sys::exit_now(3);
        auto s = child_setup(plan, sync_r.get(), c.fds_in);
        if (!s.ok()) {
            send_setup_error(child_end.get(), s.error());
            sys::exit_now(3);
        }
        // Keep only stdio and our socket (as fd 3): the spawner's other fds are not ours.
        int sock = child_end.release();
        if (sock != 3) {
            (void)sys::dup2(sock, 3);
            ::close(sock);
        }
        // An fd left open here would keep the spawner's namespaces alive as long as the realm.
        if (auto closed = sys::close_range_from(4); !closed.ok()) {
            send_setup_error(3, closed.error());
            sys::exit_now(3);
        }
        (void)sys::set_cloexec(3, true);
        auto h = send_hello(3, "realm");
        if (!h.ok()) {
            send_setup_error(3, h.error());
            sys::exit_now(3);
        }
        sys::exit_now(serve(3));
    }
    core::UniqueFd pidfd(cr.pidfd);
    child_end.reset();
    sync_r.reset();
    if (plan.new_mask & core::ns_bit(core::Ns::user)) {
        sys::Status maps_written;
        if (write_maps) {
            auto dir = proc_dir_of(pidfd.get());
            maps_written = dir.ok() ? core::write_id_maps(*dir, uids, gids, /*deny_setgroups=*/ids.euid != 0)
                                    : sys::Status(dir.error());
        }
        if (maps_written.ok()) {
            char go = 1;
            (void)sys::write(sync_w.get(), &go, 1);
        } else {
            // The child reads EOF and reports; kill it so that it cannot outlive this error.
            (void)sys::pidfd_send_signal(pidfd.get(), SIGKILL);
            (void)sys::wait_pidfd(pidfd.get());
            return std::move(maps_written).error().context("writing the id maps of the new realm");
        }
    }
    c.fds_out.push_back(std::move(pidfd));
    c.fds_out.push_back(std::move(parent_end));
    return json{{"pid", cr.pid}};
}

}  // namespace

void register_realm_ops(Registry& r) {
    r.add({.name = "spawn_realm",
           .kind = OpKind::action,
           .doc = "Starts a child realm with new namespaces (the built-in launcher).",
           .internal = true,
           .handler = spawn_realm});
}

}  // namespace nslab::agent
