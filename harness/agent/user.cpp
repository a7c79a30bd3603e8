// User namespace ops (user_namespaces(7)): user and group ids, and capabilities, belong to a user
// namespace; the kernel keeps one global id per process and file and translates it through the
// uid_map/gid_map chain into the namespace of whoever looks (unmapped ids read as the overflow id).
// Anything that changes ids, capabilities or namespaces runs in a throwaway child (sys::run_in_child),
// except `become` and `write_id_map` without pid/realm, whose point is to change the realm itself.
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>

#include <algorithm>
#include <sstream>

#include "agent/registry.hpp"
#include "core/namespace_kind.hpp"
#include "sys/syscalls.hpp"
#include "sys/pid_calls.hpp"
#include "sys/user_calls.hpp"

namespace nslab::agent {
namespace {

// The process of the index-th `realm` argument, found in the caller's /proc by its namespaces (as
// lsns(8) does): the lowest pid whose every /proc/PID/ns/* is the realm's at start, i.e. its agent.
// proc(5): following another process's ns links needs ptrace rights, so siblings cannot; use `pid`.
sys::Result<pid_t> realm_pid_of(const OpCall& c, size_t index) {
    NSLAB_ASSIGN_OR_RETURN(RealmNamespaces ns, realm_namespaces(c, index));
    std::vector<std::pair<std::string, int>> kind_fds;
    for (auto& k : core::namespace_kinds())
        if (ns.of(k.ns) >= 0) kind_fds.emplace_back(std::string(k.name), ns.of(k.ns));
    return sys::find_process_in_namespaces(kind_fds);
}

// /proc/PID of the process an op looks at: `pid` (a number valid in the caller's PID namespace,
// e.g. ${a.pid} from realm_pid), else `realm`, else the caller itself.
sys::Result<std::string> proc_dir(const OpCall& c) {
    if (c.args.contains("pid")) {
        NSLAB_ASSIGN_OR_RETURN(long long pid, arg_int(c.args, "pid"));
        return "/proc/" + std::to_string(pid);
    }
    if (c.args.contains("realm")) {
        NSLAB_ASSIGN_OR_RETURN(pid_t pid, realm_pid_of(c, 0));
        return "/proc/" + std::to_string(pid);
    }
    return std::string("/proc/self");
}

std::vector<std::string> words(const std::string& line) {
    std::istringstream in(line);
    std::vector<std::string> out;
    std::string w;
    while (in >> w) out.push_back(w);
    return out;
}

// One field of /proc/PID/status, split into words ("Uid:\t0\t0\t0\t0" -> {"0","0","0","0"}).
// proc(5): ids there are translated into the reader's user namespace.
sys::Result<std::vector<std::string>> status_field(const std::string& dir,
                                                   const std::string& field) {
    NSLAB_ASSIGN_OR_RETURN(std::string text, sys::read_file(dir + "/status"));
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(field + ":", 0) == 0) return words(line.substr(field.size() + 1));
    return sys::Error::message("no " + field + ": line in " + dir + "/status");
}

// Lines of a map file with their columns joined by one space: "0 1000 1".
json map_lines(const std::string& text) {
    json lines = json::array();
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        auto w = words(line);
        if (w.empty()) continue;
        std::string joined;
        for (auto& x : w) joined += (joined.empty() ? "" : " ") + x;
        lines.push_back(joined);
    }
    return lines;
}

sys::Result<json> effective_id(const OpCall& c, const std::string& field) {
    NSLAB_ASSIGN_OR_RETURN(std::string dir, proc_dir(c));
    NSLAB_ASSIGN_OR_RETURN(auto ids, status_field(dir, field));
    if (ids.size() < 2)
        return sys::Error::message(field + ": line of " + dir + "/status has no effective id");
    return json(std::stoll(ids[1]));  // real, effective, saved, filesystem
}

sys::Result<json> cap_eff_op(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string dir, proc_dir(c));
    NSLAB_ASSIGN_OR_RETURN(auto hex, status_field(dir, "CapEff"));
    NSLAB_ASSIGN_OR_RETURN(std::string last_text, sys::read_file("/proc/sys/kernel/cap_last_cap"));
    if (hex.empty()) return sys::Error::message("empty CapEff: line in " + dir + "/status");
    unsigned long long caps = std::stoull(hex[0], nullptr, 16);
    int last = std::stoi(last_text);
    unsigned long long all = last >= 63 ? ~0ULL : (1ULL << (last + 1)) - 1;
    if (caps == all) return json("full");
    if (caps == 0) return json("none");
    return json("0x" + hex[0]);
}

// user_namespaces(7): uid_map and gid_map take "inside outside count" lines (';' separates here).
sys::Result<json> write_id_map_op(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string file, arg_string(c.args, "file"));
    NSLAB_ASSIGN_OR_RETURN(std::string text, arg_string(c.args, "text"));
    std::string written = text;
    if (file != "uid_map" && file != "gid_map" && file != "setgroups")
        return sys::Error::message(
            "write_id_map: file must be uid_map, gid_map or setgroups, not '" + file + "'");
    std::replace(written.begin(), written.end(), ';', '\n');
    NSLAB_ASSIGN_OR_RETURN(std::string dir, proc_dir(c));
    NSLAB_TRY(sys::write_file(dir + "/" + file, written));
    return json(text);
}

// Optional ids to take, in the child, before acting: gid first (after setresuid the child could not
// change it). user_namespaces(7): an id that has no mapping in the caller's namespace is EINVAL.
sys::Status take_ids(const json& args) {
    if (auto g = arg_int_opt(args, "gid")) {
        auto gid = static_cast<gid_t>(*g);
        NSLAB_TRY(sys::setresgid(gid, gid, gid));
    }
    if (auto u = arg_int_opt(args, "uid")) {
        auto uid = static_cast<uid_t>(*u);
        NSLAB_TRY(sys::setresuid(uid, uid, uid));
    }
    return {};
}

std::string owner_text(const struct stat& st) {
    return std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid);
}

sys::Result<json> create_file_op(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string path, arg_string(c.args, "path"));
    auto mode = static_cast<mode_t>(arg_int_opt(c.args, "mode").value_or(0644));
    auto body = [&]() -> sys::Result<std::string> {
        NSLAB_TRY(take_ids(c.args));
        int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
        NSLAB_ASSIGN_OR_RETURN(int fd, sys::open(path, flags, mode));
        core::UniqueFd file(fd);
        NSLAB_ASSIGN_OR_RETURN(struct stat st, sys::fstat(fd));
        return owner_text(st);
    };
    NSLAB_ASSIGN_OR_RETURN(std::string owner, sys::run_in_child(body));
    return json{{"path", path}, {"owner", owner}};
}

sys::Result<json> open_for_writing_op(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string path, arg_string(c.args, "path"));
    auto body = [&]() -> sys::Result<std::string> {
        NSLAB_TRY(take_ids(c.args));
        NSLAB_ASSIGN_OR_RETURN(int fd, sys::open(path, O_WRONLY | O_CLOEXEC));
        core::UniqueFd file(fd);
        return std::string();
    };
    NSLAB_TRY(sys::run_in_child(body));
    return json(path);
}

sys::Result<json> file_owner_op(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string path, arg_string(c.args, "path"));
    NSLAB_ASSIGN_OR_RETURN(struct stat st, sys::stat_path(path));
    return json(owner_text(st));
}

// One more level below the caller's user namespace, mapping root there to the caller's ids.
// user_namespaces(7): an unprivileged creator maps only its own ids, gid_map after setgroups deny.
sys::Status nest_one_user_namespace() {
    auto ids = sys::getresids();
    NSLAB_TRY(sys::unshare(CLONE_NEWUSER));
    NSLAB_TRY(sys::write_file("/proc/self/uid_map", "0 " + std::to_string(ids.euid) + " 1"));
    NSLAB_TRY(sys::write_file("/proc/self/setgroups", "deny"));
    NSLAB_TRY(sys::write_file("/proc/self/gid_map", "0 " + std::to_string(ids.egid) + " 1"));
    return {};
}

sys::Result<json> userns_nest_op(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(long long levels, arg_int(c.args, "levels"));  // 1..64: the registry's domain
    auto body = [&]() -> sys::Result<std::string> {
        for (long long i = 1; i <= levels; ++i)
            NSLAB_TRY(nest_one_user_namespace().context(
                "nested user namespace #" + std::to_string(i) + " of " + std::to_string(levels)));
        return std::string();
    };
    NSLAB_TRY(sys::run_in_child(body));
    return json(levels);
}

sys::Result<json> userns_nesting_room_op(OpCall&) {
    auto body = []() -> sys::Result<std::string> {
        for (int made = 0; made < 64; ++made) {
            auto s = nest_one_user_namespace();
            if (s.ok()) continue;
            // clone(2): the nesting limit is ENOSPC since Linux 4.9, EUSERS before.
            if (s.error().err() == ENOSPC || s.error().err() == EUSERS) return std::to_string(made);
            return std::move(s).error().context("nested user namespace #" +
                                                std::to_string(made + 1));
        }
        return sys::Error::message("more than 64 nested user namespaces");
    };
    NSLAB_ASSIGN_OR_RETURN(std::string count, sys::run_in_child(body));
    return json(std::stoll(count));
}

sys::Result<int> realm_ns_fd(const OpCall& c, const std::string& kind) {
    auto ns = core::ns_from_name(kind);
    if (!ns) return sys::Error::message("unknown namespace kind '" + kind + "'");
    NSLAB_ASSIGN_OR_RETURN(RealmNamespaces target, realm_namespaces(c, 0));
    if (target.of(*ns) < 0)
        return sys::Error::message("this kernel has no " + kind + " namespaces");
    return target.of(*ns);
}

sys::Result<json> ns_identity(int fd, const std::string& kind) {
    core::UniqueFd owned(fd);
    NSLAB_ASSIGN_OR_RETURN(struct stat st, sys::fstat(owned.get()));
    return json(kind + ":[" + std::to_string(st.st_ino) + "]");
}

sys::Result<json> setns_in_child_op(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(auto kinds, arg_string_list(c.args, "kinds"));
    NSLAB_ASSIGN_OR_RETURN(RealmNamespaces target, realm_namespaces(c, 0));
    bool drop_caps = c.args.value("drop_caps", false);
    std::vector<std::string> ordered = kinds;
    // setns(2): the user namespace first, as nsenter does: it grants what the others need.
    std::stable_partition(ordered.begin(), ordered.end(),
                          [](const std::string& k) { return k == "user"; });
    auto body = [&]() -> sys::Result<std::string> {
        NSLAB_TRY(take_ids(c.args));
        if (drop_caps) NSLAB_TRY(sys::drop_all_capabilities());
        for (auto& kind : ordered) {
            auto ns = core::ns_from_name(kind);
            if (!ns || target.of(*ns) < 0)
                return sys::Error::message("setns_in_child: no " + kind + " namespace");
            NSLAB_TRY(sys::setns(target.of(*ns), core::kind_of(*ns).clone_flag));
        }
        return std::string();
    };
    NSLAB_TRY(sys::run_in_child(body));
    return json(kinds);
}

}  // namespace

void register_user_ops(Registry& r) {
    const ArgSpec realm_arg{
        "realm", ArgType::realm, false,
        "look at that realm's process (found by its namespaces) instead of the caller"};
    const ArgSpec pid_arg{
        "pid", ArgType::integer, false,
        "look at this pid of the caller's PID namespace (e.g. ${a.pid} from realm_pid)"};
    const ArgSpec uid_arg{"uid", ArgType::integer, false,
                          "the child first takes this uid (setresuid)"};
    const ArgSpec gid_arg{"gid", ArgType::integer, false,
                          "the child first takes this gid (setresgid)"};

    r.add({.name = "uid",
           .kind = OpKind::probe,
           .ns = "user",
           .doc =
               "The effective uid of the caller (or of pid/realm) as the caller's user namespace "
               "names it (/proc/PID/status Uid:): unmapped ids read as the overflow uid.",
           .lab = "[grep Uid: /proc/PID/status|grep Uid: /proc/REALM/status|id -u]",
           .args = {realm_arg, pid_arg},
           .finds_realm_process = true,
           .handler = [](OpCall& c) { return effective_id(c, "Uid"); }});
    r.add({.name = "gid",
           .kind = OpKind::probe,
           .ns = "user",
           .doc =
               "The effective gid of the caller (or of pid/realm) as the caller's user namespace "
               "names it (/proc/PID/status Gid:).",
           .lab = "[grep Gid: /proc/PID/status|grep Gid: /proc/REALM/status|id -g]",
           .args = {realm_arg, pid_arg},
           .finds_realm_process = true,
           .handler = [](OpCall& c) { return effective_id(c, "Gid"); }});
    r.add({.name = "cap_eff",
           .kind = OpKind::probe,
           .ns = "user",
           .doc =
               "The effective capabilities of the caller (or of pid/realm), from /proc/PID/status "
               "CapEff: \"full\", \"none\" or the hex mask; they hold in that process's own user "
               "namespace.",
           .lab = "grep CapEff /proc/[PID|REALM|self]/status",
           .args = {realm_arg, pid_arg},
           .finds_realm_process = true,
           .handler = cap_eff_op});
    for (const char* file : {"uid_map", "gid_map"}) {
        std::string name = file;
        r.add({.name = name,
               .kind = OpKind::probe,
               .ns = "user",
               .doc = "The lines of /proc/PID/" + name +
                      " (caller by default), columns joined by one "
                      "space; the outside ids are those of the reader's user namespace when it is "
                      "not the process's own.",
               .lab = "cat /proc/[PID|REALM|self]/" + name,
               .args = {realm_arg, pid_arg},
           .finds_realm_process = true,
               .handler = [name](OpCall& c) -> sys::Result<json> {
                   NSLAB_ASSIGN_OR_RETURN(std::string dir, proc_dir(c));
                   NSLAB_ASSIGN_OR_RETURN(std::string text, sys::read_file(dir + "/" + name));
                   return map_lines(text);
               }});
    }
    r.add({.name = "setgroups_file",
           .kind = OpKind::probe,
           .ns = "user",
           .doc = "The content of /proc/PID/setgroups (caller by default): \"allow\" or \"deny\".",
           .lab = "cat /proc/[PID|REALM|self]/setgroups",
           .args = {realm_arg, pid_arg},
           .finds_realm_process = true,
           .handler = [](OpCall& c) -> sys::Result<json> {
               NSLAB_ASSIGN_OR_RETURN(std::string dir, proc_dir(c));
               NSLAB_ASSIGN_OR_RETURN(std::string text, sys::read_file(dir + "/setgroups"));
               auto w = words(text);
               return json(w.empty() ? std::string() : w[0]);
           }});
    r.add({.name = "file_owner",
           .kind = OpKind::probe,
           .ns = "user",
           .doc = "The owner of a file as \"uid:gid\", as stat(2) reports it in the caller's user "
                  "namespace (unmapped ids read as the overflow ids).",
           .lab = "stat -c %u:%g PATH",
           .args = {{"path", ArgType::string, true, "the file"}},
           .handler = file_owner_op});
    r.add(
        {.name = "userns_owner",
         .kind = OpKind::probe,
         .ns = "user",
         .doc =
             "The user namespace that owns a realm's namespace of a kind (ioctl NS_GET_USERNS), as "
             "\"user:[inode]\".",
         .lab = "lsns -p REALM -t KIND -o NS,ONS",
         .args = {{"realm", ArgType::realm, true,
                   "the realm (or host) whose namespace to ask about"},
                  {"kind", ArgType::string, true, "which of its namespaces, e.g. uts", namespace_kind()}},
         .handler = [](OpCall& c) -> sys::Result<json> {
             NSLAB_ASSIGN_OR_RETURN(std::string kind, arg_string(c.args, "kind"));
             NSLAB_ASSIGN_OR_RETURN(int fd, realm_ns_fd(c, kind));
             NSLAB_ASSIGN_OR_RETURN(int owner, sys::ns_get_userns(fd));
             return ns_identity(owner, "user");
         }});
    r.add({.name = "userns_parent",
           .kind = OpKind::probe,
           .ns = "user",
           .doc =
               "The parent of a realm's user namespace (ioctl NS_GET_PARENT), as \"user:[inode]\"; "
               "EPERM when the parent lies outside the caller's own user namespace.",
           .lab = "lsns -p REALM -t user -o NS,PNS",
           .args = {{"realm", ArgType::realm, true,
                     "the realm (or host) whose user namespace to ask about"}},
           .handler = [](OpCall& c) -> sys::Result<json> {
               NSLAB_ASSIGN_OR_RETURN(int fd, realm_ns_fd(c, "user"));
               NSLAB_ASSIGN_OR_RETURN(int parent, sys::ns_get_parent(fd));
               return ns_identity(parent, "user");
           }});
    r.add({.name = "userns_owner_uid",
           .kind = OpKind::probe,
           .ns = "user",
           .doc = "The uid that created a realm's user namespace (ioctl NS_GET_OWNER_UID), as the "
                  "caller's user namespace names it.",
           .lab = "lsns -p REALM -t user -o NS,UID",
           .args = {{"realm", ArgType::realm, true,
                     "the realm (or host) whose user namespace to ask about"}},
           .handler = [](OpCall& c) -> sys::Result<json> {
               NSLAB_ASSIGN_OR_RETURN(int fd, realm_ns_fd(c, "user"));
               NSLAB_ASSIGN_OR_RETURN(uid_t uid, sys::ns_get_owner_uid(fd));
               return json(static_cast<long long>(uid));
           }});
    r.add({.name = "userns_nesting_room",
           .kind = OpKind::probe,
           .ns = "user",
           .doc =
               "How many user namespaces can still be nested below the caller's: a throwaway child "
               "unshares and maps one level at a time until the kernel refuses (ENOSPC).",
           .lab = "# in a child: unshare --user --map-root-user, one level at a time, until ENOSPC",
           .handler = userns_nesting_room_op});

    r.add({.name = "realm_pid",
           .kind = OpKind::action,
           .ns = "user",
           .doc =
               "Finds a realm's process in the caller's /proc by its namespaces (as lsns does) and "
               "returns {pid}, for later `pid:` arguments and commands (/proc/${a.pid}/...).",
           .lab = "echo REALM   # the pid of the realm's shell, as lsns -p lists it",
           .args = {{"realm", ArgType::realm, true, "the realm to find"}},
           .finds_realm_process = true,
           .handler = [](OpCall& c) -> sys::Result<json> {
               NSLAB_ASSIGN_OR_RETURN(pid_t pid, realm_pid_of(c, 0));
               return json{{"pid", pid}};
           }});
    r.add(
        {.name = "become",
         .kind = OpKind::action,
         .ns = "user",
         .doc =
             "The realm's agent itself takes a uid and gid of its user namespace (setresgid, "
             "setresuid), as a shell does after `unshare -r` or a runtime after writing the maps; "
             "later steps in the realm run with them.",
         .lab = "exec setpriv --reuid UID --regid GID --keep-groups bash",
         .args = {{"uid", ArgType::integer, true,
                   "the uid to take, as the realm's namespace names it"},
                  {"gid", ArgType::integer, true, "the gid to take"}},
         .handler = [](OpCall& c) -> sys::Result<json> {
             NSLAB_TRY(take_ids(c.args));
             // prctl(2): changing ids clears the dumpable flag and would hand /proc/self to global
             // root.
             NSLAB_TRY(sys::set_dumpable());
             auto ids = sys::getresids();
             return json{{"uid", ids.euid}, {"gid", ids.egid}};
         }});
    r.add({.name = "write_id_map",
           .kind = OpKind::action,
           .ns = "user",
           .doc = "Writes uid_map, gid_map or setgroups of the caller (or of pid/realm) with one "
                  "write(2), as newuidmap or unshare --map-root-user do.",
           .lab = "echo TEXT > /proc/[PID|REALM|self]/FILE",
           .args = {{"file", ArgType::string, true, "uid_map, gid_map or setgroups", one_of({"uid_map", "gid_map", "setgroups"})},
                    {"text", ArgType::string, true,
                     "map lines \"inside outside count\" (';' separates lines), or allow/deny"},
                    realm_arg,
                    pid_arg},
           .handler = write_id_map_op});
    r.add({.name = "create_file",
           .kind = OpKind::action,
           .ns = "user",
           .doc =
               "Creates a new file (O_CREAT|O_EXCL) from a throwaway child, optionally as another "
               "uid/gid; returns {path, owner} with the owner as that child saw it.",
           .lab = "setpriv [--reuid UID] [--regid GID] --keep-groups touch PATH",
           .args = {{.name = "path", .doc = "the file to create", .writes = true},
                    uid_arg,
                    gid_arg,
                    {"mode", ArgType::integer, false, "permission bits (default 0644, i.e. 420)"}},
           .handler = create_file_op});
    r.add({.name = "open_for_writing",
           .kind = OpKind::action,
           .ns = "user",
           .doc = "Opens an existing file O_WRONLY from a throwaway child, optionally as another "
                  "uid/gid.",
           .lab = "setpriv [--reuid UID] [--regid GID] --keep-groups sh -c ': >> PATH'",
           .args = {{"path", ArgType::string, true, "the file"}, uid_arg, gid_arg},
           .handler = open_for_writing_op});
    r.add({.name = "setgroups",
           .kind = OpKind::action,
           .ns = "user",
           .doc = "Calls setgroups(0, NULL) from a throwaway child (refused with EPERM where "
                  "/proc/self/setgroups says deny).",
           .lab = "setpriv --clear-groups true",
           .handler = [](OpCall&) -> sys::Result<json> {
               auto body = []() -> sys::Result<std::string> {
                   NSLAB_TRY(sys::setgroups_clear());
                   return std::string();
               };
               NSLAB_TRY(sys::run_in_child(body));
               return json::array();
           }});
    r.add(
        {.name = "setns_in_child",
         .kind = OpKind::action,
         .ns = "user",
         .doc =
             "setns(2) into a realm's namespaces from a throwaway child, optionally after taking "
             "another uid or dropping every capability; the caller stays where it is.",
         .lab = "setpriv [--reuid UID] [--bounding-set=-all] nsenter --target TARGET --KINDS true",
         .args = {{"target", ArgType::realm, true, "the realm (or host) whose namespaces to join"},
                  {"kinds", ArgType::ns_list, true, "which kinds, e.g. [user]"},
                  uid_arg,
                  {"drop_caps", ArgType::boolean, false, "drop every capability first (capset)", {}, false, "--bounding-set=-all"}},
         .handler = setns_in_child_op});
    r.add({.name = "userns_nest",
           .kind = OpKind::action,
           .ns = "user",
           .doc = "Nests `levels` user namespaces below the caller's in one throwaway child "
                  "(unshare(CLONE_NEWUSER) and map root each time); fails with the kernel's errno.",
           .lab = "# unshare --user --map-root-user, nested LEVELS times (unshare -r unshare -r … true)",
           .args = {{"levels", ArgType::integer, true, "how many levels to create, 1 to 64", int_range(1, 64)}},
           .handler = userns_nest_op});
}

}  // namespace nslab::agent
