// Namespace-file ops (nsfs): what /proc/PID/ns/* links are and what can be done with them —
// their identities (readlink, inode, NS_GET_ID), the ioctls of ioctl_ns(2), setns(2) with a
// namespace fd, a path or a pidfd and its error cases, and unshare(2) of the caller.
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "agent/registry.hpp"
#include "core/namespace_kind.hpp"
#include "core/unique_fd.hpp"
#include "sys/nsfs_calls.hpp"
#include "sys/syscalls.hpp"

namespace nslab::agent {
namespace {

struct FlagName {
    int flag;
    const char* name;
};
// The CLONE_NEW* flags, then a few clone flags that setns(2) must refuse.
constexpr FlagName kFlags[] = {
    {CLONE_NEWCGROUP, "CLONE_NEWCGROUP"},
    {CLONE_NEWIPC, "CLONE_NEWIPC"},
    {CLONE_NEWNS, "CLONE_NEWNS"},
    {CLONE_NEWNET, "CLONE_NEWNET"},
    {CLONE_NEWPID, "CLONE_NEWPID"},
    {CLONE_NEWTIME, "CLONE_NEWTIME"},
    {CLONE_NEWUSER, "CLONE_NEWUSER"},
    {CLONE_NEWUTS, "CLONE_NEWUTS"},
    {CLONE_VM, "CLONE_VM"},
    {CLONE_FS, "CLONE_FS"},
    {CLONE_FILES, "CLONE_FILES"},
    {CLONE_THREAD, "CLONE_THREAD"},
};

std::string flag_name(int flag) {
    for (auto& f : kFlags)
        if (f.flag == flag) return f.name;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%#x", static_cast<unsigned>(flag));
    return buf;
}

// ["CLONE_NEWUTS", "CLONE_NEWIPC"] → their OR; [] → 0; a number ("0x80") is taken as it is.
sys::Result<int> flags_arg(const json& args, const std::string& name) {
    NSLAB_ASSIGN_OR_RETURN(auto names, arg_string_list(args, name));
    int flags = 0;
    for (auto& n : names) {
        auto f = std::find_if(std::begin(kFlags), std::end(kFlags),
                              [&](const FlagName& k) { return n == k.name; });
        if (f != std::end(kFlags)) {
            flags |= f->flag;
            continue;
        }
        try {
            size_t used = 0;
            unsigned long v = std::stoul(n, &used, 0);
            if (used == n.size()) {
                flags |= static_cast<int>(v);
                continue;
            }
        } catch (const std::exception&) {
        }
        return sys::Error::message("'" + n + "' is neither a CLONE_* flag name nor a number");
    }
    return flags;
}

// An entry of /proc/self/ns: a kind, or pid_for_children / time_for_children.
sys::Result<std::string> ns_entry_arg(const json& args) {
    NSLAB_ASSIGN_OR_RETURN(std::string kind, arg_string(args, "kind"));
    bool ok = !kind.empty() && std::all_of(kind.begin(), kind.end(), [](char ch) {
        return (ch >= 'a' && ch <= 'z') || ch == '_';
    });
    if (!ok) return sys::Error::message("'" + kind + "' is not an entry of /proc/self/ns");
    return kind;
}

sys::Result<core::Ns> kind_arg(const json& args) {
    NSLAB_ASSIGN_OR_RETURN(std::string kind, arg_string(args, "kind"));
    auto ns = core::ns_from_name(kind);
    if (!ns) return sys::Error::message("unknown namespace kind '" + kind + "'");
    return *ns;
}

sys::Result<core::UniqueFd> open_ro(const std::string& path) {
    NSLAB_ASSIGN_OR_RETURN(int fd, sys::open(path, O_RDONLY | O_CLOEXEC));
    return core::UniqueFd(fd);
}

// namespaces(7): two namespace files name the same namespace iff st_dev and st_ino are equal.
sys::Result<bool> same_namespace(int a, int b) {
    NSLAB_ASSIGN_OR_RETURN(core::NsId ia, core::ns_id_of_fd(a));
    NSLAB_ASSIGN_OR_RETURN(core::NsId ib, core::ns_id_of_fd(b));
    return ia == ib;
}

sys::Result<int> target_fd(const OpCall& c, core::Ns ns) {
    NSLAB_ASSIGN_OR_RETURN(RealmNamespaces target, realm_namespaces(c, 0));
    int fd = target.of(ns);
    if (fd < 0)
        return sys::Error::message("this kernel has no " + std::string(core::kind_of(ns).name) +
                                   " namespaces");
    return fd;
}

json same_or_different(bool same) {
    return json(same ? "same" : "different");
}

// The pid of the process whose namespaces are exactly the target realm's (its agent), as the
// caller's /proc lists it: the runner hands an op namespace fds, not the realm's pidfd.
sys::Result<pid_t> find_realm_pid(const RealmNamespaces& target) {
    // pidfd_open(2) takes a pid of the caller's PID namespace; /proc must show that namespace.
    NSLAB_ASSIGN_OR_RETURN(std::string self, sys::read_symlink("/proc/self"));
    if (self != std::to_string(sys::getpid()))
        return sys::Error::message(
            "this realm's /proc is not of its own PID namespace (use mount_proc)");
    std::vector<std::pair<std::string, core::NsId>> wanted;
    for (auto& k : core::namespace_kinds()) {
        int fd = target.of(k.ns);
        if (fd < 0) continue;
        NSLAB_ASSIGN_OR_RETURN(core::NsId id, core::ns_id_of_fd(fd));
        wanted.emplace_back(std::string(k.name), id);
    }
    NSLAB_ASSIGN_OR_RETURN(auto entries, sys::list_dir("/proc"));
    pid_t best = 0;
    for (auto& e : entries) {
        if (e.empty() || !std::all_of(e.begin(), e.end(),
                                      [](unsigned char ch) { return std::isdigit(ch) != 0; }))
            continue;
        bool all = true;
        for (auto& [name, id] : wanted) {
            auto st = sys::stat_path("/proc/" + e + "/ns/" + name);
            if (!st.ok() || st->st_dev != id.dev || st->st_ino != id.ino) {
                all = false;
                break;
            }
        }
        pid_t pid = static_cast<pid_t>(std::stol(e));
        if (all && (best == 0 || pid < best)) best = pid;
    }
    if (best == 0)
        return sys::Error::message(
            "no process in this /proc has exactly the target realm's namespaces");
    return best;
}

sys::Result<json> setns_pidfd(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(int flags, flags_arg(c.args, "flags"));
    NSLAB_ASSIGN_OR_RETURN(RealmNamespaces target, realm_namespaces(c, 0));
    NSLAB_ASSIGN_OR_RETURN(pid_t pid, find_realm_pid(target));
    NSLAB_ASSIGN_OR_RETURN(int raw, sys::pidfd_open(pid));
    core::UniqueFd pidfd(raw);
    // setns(2): with a pidfd, every namespace named in flags is joined at once, or none is.
    NSLAB_TRY(sys::setns(pidfd.get(), flags));
    return json{{"pid", pid}, {"flags", flags}};
}

sys::Result<json> setns_nsfd(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(core::Ns ns, kind_arg(c.args));
    NSLAB_ASSIGN_OR_RETURN(int flags, flags_arg(c.args, "flags"));
    NSLAB_ASSIGN_OR_RETURN(int fd, target_fd(c, ns));
    // setns(2): with a namespace fd, nstype 0 allows any kind; otherwise it must be the fd's kind.
    NSLAB_TRY(sys::setns(fd, flags));
    return json(core::kind_of(ns).name);
}

sys::Result<json> setns_path(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string path, arg_string(c.args, "path"));
    NSLAB_ASSIGN_OR_RETURN(int flags, flags_arg(c.args, "flags"));
    NSLAB_ASSIGN_OR_RETURN(core::UniqueFd fd, open_ro(path));
    NSLAB_TRY(sys::setns(fd.get(), flags));
    return json(path);
}

sys::Result<json> setns_exited_pidfd(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(int flags, flags_arg(c.args, "flags"));
    NSLAB_ASSIGN_OR_RETURN(sys::CloneResult cr, sys::clone3(CLONE_PIDFD));
    if (cr.pid == 0) sys::exit_now(0);
    core::UniqueFd pidfd(cr.pidfd);
    NSLAB_TRY(sys::wait_pidfd(pidfd.get()));  // reaped: the pidfd now names a process that is gone
    NSLAB_TRY(sys::setns(pidfd.get(), flags));
    return json(true);
}

sys::Result<json> setns_invalid_fd(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(int flags, flags_arg(c.args, "flags"));
    NSLAB_TRY(sys::setns(-1, flags));  // setns(2): EBADF, fd is not a valid file descriptor
    return json(true);
}

sys::Result<json> unshare_namespaces(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(auto kinds, arg_string_list(c.args, "kinds"));
    int flags = 0;
    for (auto& k : kinds) {
        auto ns = core::ns_from_name(k);
        if (!ns) return sys::Error::message("unknown namespace kind '" + k + "'");
        flags |= core::kind_of(*ns).clone_flag;
    }
    // unshare(2): pid and time move only the caller's future children (pid_for_children,
    // time_for_children); the other kinds move the caller itself.
    NSLAB_TRY(sys::unshare(flags));
    return json(kinds);
}

sys::Result<json> ns_type(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string path, arg_string(c.args, "path"));
    NSLAB_ASSIGN_OR_RETURN(core::UniqueFd fd, open_ro(path));
    // ioctl_ns(2): NS_GET_NSTYPE returns the CLONE_NEW* flag of the namespace the fd refers to.
    NSLAB_ASSIGN_OR_RETURN(int type, sys::ns_get_nstype(fd.get()));
    return json(flag_name(type));
}

sys::Result<json> ns_link(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string entry, ns_entry_arg(c.args));
    NSLAB_ASSIGN_OR_RETURN(std::string text, sys::read_symlink("/proc/self/ns/" + entry));
    return json(text);
}

sys::Result<json> ns_get_id(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string entry, ns_entry_arg(c.args));
    NSLAB_ASSIGN_OR_RETURN(core::UniqueFd fd, open_ro("/proc/self/ns/" + entry));
    NSLAB_ASSIGN_OR_RETURN(uint64_t id, sys::ns_get_id(fd.get()));
    return json(std::to_string(id));
}

sys::Result<json> ns_same_as(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(core::Ns ns, kind_arg(c.args));
    NSLAB_ASSIGN_OR_RETURN(int theirs, target_fd(c, ns));
    NSLAB_ASSIGN_OR_RETURN(core::UniqueFd mine,
                           open_ro("/proc/self/ns/" + std::string(core::kind_of(ns).name)));
    NSLAB_ASSIGN_OR_RETURN(bool same, same_namespace(mine.get(), theirs));
    return same_or_different(same);
}

sys::Result<json> ns_parent_same_as(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(core::Ns ns, kind_arg(c.args));
    const std::string name(core::kind_of(ns).name);
    // Realm arguments travel in spec order, for those present: `of` (if given), then `target`.
    bool has_of = c.args.contains("of");
    core::UniqueFd own;
    int child_fd = -1;
    if (has_of) {
        NSLAB_ASSIGN_OR_RETURN(RealmNamespaces of, realm_namespaces(c, 0));
        child_fd = of.of(ns);
    } else {
        NSLAB_ASSIGN_OR_RETURN(own, open_ro("/proc/self/ns/" + name));
        child_fd = own.get();
    }
    NSLAB_ASSIGN_OR_RETURN(RealmNamespaces target, realm_namespaces(c, has_of ? 1 : 0));
    if (child_fd < 0 || target.of(ns) < 0)
        return sys::Error::message("this kernel has no " + name + " namespaces");
    // ioctl_ns(2): NS_GET_PARENT works on pid and user namespaces (EINVAL otherwise), and fails
    // with EPERM when the parent is not in the caller's own namespace or below it.
    NSLAB_ASSIGN_OR_RETURN(int parent_raw, sys::ns_get_parent(child_fd));
    core::UniqueFd parent(parent_raw);
    NSLAB_ASSIGN_OR_RETURN(bool same, same_namespace(parent.get(), target.of(ns)));
    return same_or_different(same);
}

sys::Result<json> ns_owner_same_as(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(core::Ns ns, kind_arg(c.args));
    const std::string name(core::kind_of(ns).name);
    // Realm arguments travel in spec order, for those present: `of` (if given), then `target`.
    bool has_of = c.args.contains("of");
    core::UniqueFd own;
    int owned_fd = -1;
    if (has_of) {
        NSLAB_ASSIGN_OR_RETURN(RealmNamespaces of, realm_namespaces(c, 0));
        owned_fd = of.of(ns);
    } else {
        NSLAB_ASSIGN_OR_RETURN(own, open_ro("/proc/self/ns/" + name));
        owned_fd = own.get();
    }
    NSLAB_ASSIGN_OR_RETURN(RealmNamespaces target, realm_namespaces(c, has_of ? 1 : 0));
    int their_user = target.of(core::Ns::user);
    if (owned_fd < 0 || their_user < 0)
        return sys::Error::message("this kernel has no " + name + " or user namespaces");
    // ioctl_ns(2): NS_GET_USERNS gives the user namespace that owns a namespace (for a user
    // namespace, its parent), EPERM when that one is not the caller's own or below it.
    NSLAB_ASSIGN_OR_RETURN(int owner_raw, sys::ns_get_userns(owned_fd));
    core::UniqueFd owner(owner_raw);
    NSLAB_ASSIGN_OR_RETURN(bool same, same_namespace(owner.get(), their_user));
    return same_or_different(same);
}

sys::Result<json> ns_owner_uid(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string entry, ns_entry_arg(c.args));
    NSLAB_ASSIGN_OR_RETURN(core::UniqueFd fd, open_ro("/proc/self/ns/" + entry));
    // ioctl_ns(2): NS_GET_OWNER_UID works on user namespaces only (EINVAL otherwise).
    NSLAB_ASSIGN_OR_RETURN(uid_t uid, sys::ns_get_owner_uid(fd.get()));
    return json(static_cast<long long>(uid));
}

sys::Result<json> ns_entries(OpCall&) {
    NSLAB_ASSIGN_OR_RETURN(auto names, sys::list_dir("/proc/self/ns"));
    std::sort(names.begin(), names.end());
    return json(names);
}

}  // namespace

void register_nsfs_ops(Registry& r) {
    const ArgSpec flags{"flags", ArgType::string_list, true,
                        "nstype as flag names, e.g. [CLONE_NEWUTS, CLONE_NEWIPC]; [] is 0"};
    const ArgSpec kind{"kind", ArgType::string, true, "namespace kind, e.g. uts", namespace_kind()};
    const ArgSpec entry{"kind", ArgType::string, true,
                        "an entry of /proc/self/ns: a kind, pid_for_children, time_for_children",
                        namespace_kind(/*or_for_children=*/true)};
    const ArgSpec target{"target", ArgType::realm, true, "the realm (or host) to compare with"};
    r.add({.name = "setns_pidfd",
           .kind = OpKind::action,
           .doc = "setns(2) with the flags given on a pidfd of the target realm's agent (the "
                  "process of the caller's /proc with exactly that realm's namespaces): joins "
                  "them all at once.",
           .lab = "# setns(pidfd_open(TARGET), FLAGS): all at once, as nsenter --target TARGET --all",
           .args = {{"target", ArgType::realm, true, "the realm (or host) to join"}, flags},
           .finds_realm_process = true,
           .handler = setns_pidfd});
    r.add({.name = "setns_nsfd",
           .kind = OpKind::action,
           .doc = "setns(2) on the target realm's namespace file of one kind, with the nstype "
                  "given (any flags, to show which it accepts).",
           .lab = "nsenter --KIND=/proc/TARGET/ns/KIND   # setns(2) with nstype FLAGS",
           .args = {{"target", ArgType::realm, true, "whose namespace file to use"}, kind, flags},
           .handler = setns_nsfd});
    r.add({.name = "setns_path",
           .kind = OpKind::action,
           .doc = "Opens a path and calls setns(2) on it with the nstype given (a namespace file, "
                  "a bind mount of one, or any other file).",
           .lab = "# setns(open(PATH), FLAGS), as nsenter --uts=PATH does with CLONE_NEWUTS",
           .args = {{"path", ArgType::string, true, "the file, e.g. /proc/self/ns/uts"}, flags},
           .handler = setns_path});
    r.add({.name = "setns_exited_pidfd",
           .kind = OpKind::action,
           .doc = "Starts a child that exits at once, reaps it, then calls setns(2) on its pidfd.",
           .lab = "# setns(pidfd of a child that has exited and been reaped, FLAGS)",
           .args = {flags},
           .handler = setns_exited_pidfd});
    r.add({.name = "setns_invalid_fd",
           .kind = OpKind::action,
           .doc = "Calls setns(2) on fd -1 with the nstype given.",
           .lab = "# setns(-1, FLAGS)",
           .args = {flags},
           .handler = setns_invalid_fd});
    r.add({.name = "unshare_namespaces",
           .kind = OpKind::action,
           .doc = "unshare(2) in the realm's agent itself: it leaves its namespaces of these kinds "
                  "for new ones (pid and time: for its future children only).",
           .lab = "unshare --KINDS   # without --fork: this shell itself",
           .args = {{"kinds", ArgType::ns_list, true, "which kinds, e.g. [cgroup]"}},
           .handler = unshare_namespaces});
    r.add({.name = "ns_type",
           .kind = OpKind::probe,
           .doc = "The CLONE_NEW* flag that ioctl(NS_GET_NSTYPE) returns for a file.",
           .lab = "# ioctl(open(PATH), NS_GET_NSTYPE)",
           .args = {{"path", ArgType::string, true, "the file, e.g. /proc/self/ns/uts"}},
           .handler = ns_type});
    r.add({.name = "ns_link",
           .kind = OpKind::probe,
           .doc = "The text of the link /proc/self/ns/KIND (\"uts:[4026532278]\").",
           .lab = "readlink /proc/self/ns/KIND",
           .args = {entry},
           .handler = ns_link});
    r.add({.name = "ns_get_id",
           .kind = OpKind::probe,
           .doc = "The 64-bit namespace id that ioctl(NS_GET_ID) returns (Linux 6.18).",
           .lab = "# ioctl(open(\"/proc/self/ns/KIND\"), NS_GET_ID)",
           .args = {entry},
           .handler = ns_get_id});
    r.add({.name = "ns_same_as",
           .kind = OpKind::probe,
           .doc = "Whether the caller's namespace of a kind is the target realm's (same st_dev "
                  "and st_ino): same or different.",
           .lab = "test $(stat -L -c %i /proc/self/ns/KIND) = $(stat -L -c %i /proc/TARGET/ns/KIND) && echo same || echo different",
           .args = {kind, target},
           .handler = ns_same_as});
    r.add({.name = "ns_parent_same_as",
           .kind = OpKind::probe,
           .doc = "Whether the parent (ioctl NS_GET_PARENT) of a pid or user namespace, the "
                  "caller's or realm `of`'s, is the target realm's: same or different.",
           .lab = "# ioctl(open(\"/proc/[OF|self]/ns/KIND\"), NS_GET_PARENT) is the KIND namespace of TARGET?",
           .args = {kind,
                    {"of", ArgType::realm, false, "whose namespace's parent (default: caller's)"},
                    target},
           .handler = ns_parent_same_as});
    r.add({.name = "ns_owner_same_as",
           .kind = OpKind::probe,
           .doc = "Whether the user namespace owning a namespace of a kind, the caller's or realm "
                  "`of`'s (ioctl NS_GET_USERNS), is the target realm's: same or different.",
           .lab = "# ioctl(open(\"/proc/[OF|self]/ns/KIND\"), NS_GET_USERNS) is the user namespace of TARGET?",
           .args = {kind,
                    {"of", ArgType::realm, false, "whose namespace (default: caller's)"},
                    target},
           .handler = ns_owner_same_as});
    r.add({.name = "ns_owner_uid",
           .kind = OpKind::probe,
           .doc = "The uid (as the caller sees it) of the creator of a user namespace (ioctl "
                  "NS_GET_OWNER_UID on /proc/self/ns/KIND).",
           .lab = "# ioctl(open(\"/proc/self/ns/KIND\"), NS_GET_OWNER_UID)",
           .args = {entry},
           .handler = ns_owner_uid});
    r.add({.name = "ns_entries",
           .kind = OpKind::probe,
           .doc = "The entries of /proc/self/ns, sorted.",
           .lab = "ls /proc/self/ns",
           .handler = ns_entries});
}

}  // namespace nslab::agent
