// Mount namespace ops (mount_namespaces(7)): each mount namespace has its own list of mounts,
// /proc/self/mountinfo lists the reader's, and propagation types decide which mount and umount
// events travel between peer and slave mounts of different namespaces.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>

#include <algorithm>
#include <cctype>
#include <sstream>

#include "core/mountinfo.hpp"
#include "agent/registry.hpp"
#include "core/unique_fd.hpp"
#include "sys/mount_calls.hpp"
#include "sys/pid_calls.hpp"
#include "sys/syscalls.hpp"

namespace nslab::agent {
namespace {

std::string normalized(std::string path) {
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    return path;
}

// The mount on top at path (the last one listed there), if path is a mount point.
sys::Result<std::optional<core::MountEntry>> topmost_at(const std::string& path) {
    NSLAB_ASSIGN_OR_RETURN(auto entries, core::read_mountinfo());
    std::string p = normalized(path);
    std::optional<core::MountEntry> found;
    for (auto& e : entries)
        if (e.point == p) found = e;
    return found;
}

sys::Result<core::MountEntry> require_mount_at(const std::string& path) {
    NSLAB_ASSIGN_OR_RETURN(auto m, topmost_at(path));
    if (!m) return sys::Error(EINVAL, path + " is not a mount point in /proc/self/mountinfo");
    return *m;
}

// The propagation type as findmnt(8) shows it, from mountinfo's optional fields.
std::string propagation_of(const core::MountEntry& e) {
    bool shared = false, slave = false, unbindable = false;
    for (auto& o : e.optional) {
        if (o.rfind("shared:", 0) == 0)
            shared = true;
        else if (o.rfind("master:", 0) == 0)
            slave = true;
        else if (o == "unbindable")
            unbindable = true;
    }
    std::string s;
    if (shared) s = "shared";
    if (slave) s += s.empty() ? "slave" : ",slave";
    if (unbindable) s += s.empty() ? "unbindable" : ",unbindable";
    return s.empty() ? "private" : s;
}

std::vector<std::string> split_commas(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    std::string item;
    while (std::getline(in, item, ',')) out.push_back(item);
    return out;
}

// A `mount` object: what identifies one mount wherever it (or a propagated copy) shows up.
json mount_object(const core::MountEntry& e) {
    return json{{"kind", "mount"},    {"target", e.point},  {"dev", e.dev}, {"root", e.root},
                {"fstype", e.fstype}, {"source", e.source}, {"id", e.id}};
}

// ---- arguments ---------------------------------------------------------------------------

sys::Result<unsigned long> ms_flags_from(const std::vector<std::string>& names) {
    unsigned long flags = 0;
    for (auto& n : names) {
        if (n == "ro")
            flags |= MS_RDONLY;
        else if (n == "nosuid")
            flags |= MS_NOSUID;
        else if (n == "nodev")
            flags |= MS_NODEV;
        else if (n == "noexec")
            flags |= MS_NOEXEC;
        else if (n == "rw")
            continue;
        else
            return sys::Error::message("unknown mount flag '" + n +
                                       "' (ro, nosuid, nodev, noexec)");
    }
    return flags;
}

sys::Result<uint64_t> mount_attrs_from(const std::vector<std::string>& names) {
    uint64_t attrs = 0;
    for (auto& n : names) {
        if (n == "ro")
            attrs |= MOUNT_ATTR_RDONLY;
        else if (n == "nosuid")
            attrs |= MOUNT_ATTR_NOSUID;
        else if (n == "nodev")
            attrs |= MOUNT_ATTR_NODEV;
        else if (n == "noexec")
            attrs |= MOUNT_ATTR_NOEXEC;
        else
            return sys::Error::message("unknown mount attribute '" + n +
                                       "' (ro, nosuid, nodev, noexec)");
    }
    return attrs;
}

sys::Result<unsigned long> propagation_flag(const std::string& kind) {
    if (kind == "private") return MS_PRIVATE;
    if (kind == "shared") return MS_SHARED;
    if (kind == "slave") return MS_SLAVE;
    if (kind == "unbindable") return MS_UNBINDABLE;
    return sys::Error::message("unknown propagation '" + kind +
                               "' (private, shared, slave, unbindable)");
}

std::vector<std::string> list_or_empty(const json& args, const std::string& name) {
    auto it = args.find(name);
    if (it == args.end() || !it->is_array()) return {};
    std::vector<std::string> out;
    for (auto& v : *it)
        if (v.is_string()) out.push_back(v.get<std::string>());
    return out;
}

bool flag(const json& args, const std::string& name) {
    auto it = args.find(name);
    return it != args.end() && it->is_boolean() && it->get<bool>();
}

// ---- actions -----------------------------------------------------------------------------

sys::Result<json> bind_mount_op(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string source, arg_string(c.args, "source"));
    NSLAB_ASSIGN_OR_RETURN(std::string target, arg_string(c.args, "target"));
    unsigned long flags = MS_BIND | (flag(c.args, "recursive") ? MS_REC : 0);
    // mount_namespaces(7): binding from an unbindable mount fails with EINVAL.
    NSLAB_TRY(sys::mount(source, target, "", flags));
    NSLAB_ASSIGN_OR_RETURN(core::MountEntry e, require_mount_at(target));
    return mount_object(e);
}

sys::Result<json> mount_tmpfs_op(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string target, arg_string(c.args, "target"));
    std::string source = arg_string_opt(c.args, "source").value_or("tmpfs");
    NSLAB_ASSIGN_OR_RETURN(unsigned long flags, ms_flags_from(list_or_empty(c.args, "flags")));
    NSLAB_TRY(sys::mount(source, target, "tmpfs", flags, "mode=0755"));
    NSLAB_ASSIGN_OR_RETURN(core::MountEntry e, require_mount_at(target));
    return mount_object(e);
}

sys::Result<json> umount_op(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string target, arg_string(c.args, "target"));
    // mount_namespaces(7): mounts inherited by a less privileged mount namespace are locked
    // together; umount2 of one of them fails with EINVAL.
    NSLAB_TRY(sys::umount2(target, flag(c.args, "detach") ? MNT_DETACH : 0));
    return json(target);
}

sys::Result<json> make_propagation_op(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string path, arg_string(c.args, "path"));
    NSLAB_ASSIGN_OR_RETURN(std::string kind, arg_string(c.args, "kind"));
    NSLAB_ASSIGN_OR_RETURN(unsigned long f, propagation_flag(kind));
    NSLAB_TRY(sys::mount("none", path, "", f | (flag(c.args, "recursive") ? MS_REC : 0)));
    return json(kind);
}

sys::Result<json> remount_bind_op(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string path, arg_string(c.args, "path"));
    NSLAB_ASSIGN_OR_RETURN(unsigned long flags, ms_flags_from(list_or_empty(c.args, "flags")));
    // mount_namespaces(7): in a mount namespace owned by a less privileged user namespace, the
    // ro/nosuid/nodev/noexec flags of inherited mounts are locked: clearing one gives EPERM.
    NSLAB_TRY(sys::mount("none", path, "", MS_REMOUNT | MS_BIND | flags));
    NSLAB_ASSIGN_OR_RETURN(core::MountEntry e, require_mount_at(path));
    return json(split_commas(e.options));
}

sys::Result<json> mount_setattr_op(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string path, arg_string(c.args, "path"));
    sys::MountAttr attr;
    NSLAB_ASSIGN_OR_RETURN(attr.attr_set, mount_attrs_from(list_or_empty(c.args, "set")));
    NSLAB_ASSIGN_OR_RETURN(attr.attr_clr, mount_attrs_from(list_or_empty(c.args, "clear")));
    if (auto p = arg_string_opt(c.args, "propagation")) {
        NSLAB_ASSIGN_OR_RETURN(attr.propagation, propagation_flag(*p));
    }
    // mount_setattr(2): AT_RECURSIVE applies the change to the whole subtree at once.
    NSLAB_TRY(sys::mount_setattr(path, flag(c.args, "recursive") ? AT_RECURSIVE : 0, attr));
    NSLAB_ASSIGN_OR_RETURN(core::MountEntry e, require_mount_at(path));
    return json(split_commas(e.options));
}

sys::Result<json> mkdir_op(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string path, arg_string(c.args, "path"));
    NSLAB_TRY(sys::mkdir_p(path));
    return json(path);
}

sys::Result<json> write_file_op(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string path, arg_string(c.args, "path"));
    NSLAB_ASSIGN_OR_RETURN(std::string content, arg_string(c.args, "content"));
    NSLAB_TRY(sys::create_file(path, content));
    return json(path);
}

// ---- probes ------------------------------------------------------------------------------

sys::Result<json> ls_op(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string path, arg_string(c.args, "path"));
    NSLAB_ASSIGN_OR_RETURN(auto names, sys::list_dir(path));
    std::sort(names.begin(), names.end());
    return json(names);
}

sys::Result<json> cat_op(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string path, arg_string(c.args, "path"));
    NSLAB_ASSIGN_OR_RETURN(std::string text, sys::read_file(path));
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    return json(text);
}

sys::Result<json> mounted_op(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string path, arg_string(c.args, "path"));
    NSLAB_ASSIGN_OR_RETURN(auto m, topmost_at(path));
    return json(m.has_value());
}

sys::Result<json> mounts_op(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string under, arg_string(c.args, "under"));
    std::string prefix = normalized(under);
    NSLAB_ASSIGN_OR_RETURN(auto entries, core::read_mountinfo());
    std::vector<std::string> points;
    for (auto& e : entries)
        if (e.point == prefix || e.point.rfind(prefix == "/" ? "/" : prefix + "/", 0) == 0)
            points.push_back(e.point);
    std::sort(points.begin(), points.end());
    return json(points);
}

sys::Result<json> mount_propagation_op(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string path, arg_string(c.args, "path"));
    NSLAB_ASSIGN_OR_RETURN(core::MountEntry e, require_mount_at(path));
    return json(propagation_of(e));
}

sys::Result<json> mount_options_op(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string path, arg_string(c.args, "path"));
    NSLAB_ASSIGN_OR_RETURN(core::MountEntry e, require_mount_at(path));
    return json(split_commas(e.options));
}

// unshare(2): CLONE_NEWNS implies CLONE_FS. A child made with clone(CLONE_FS) shares its
// parent's cwd, root and umask; if it unshares its mount namespace it gets its own copy, and a
// later chdir(2) by the parent no longer moves it. Runs in a throwaway child of the agent.
sys::Result<std::string> clone_fs_scenario(const std::string& path, bool unshare_mnt) {
    NSLAB_TRY(sys::chdir("/"));
    NSLAB_ASSIGN_OR_RETURN(auto ready, sys::pipe2(O_CLOEXEC));  // peer -> parent
    core::UniqueFd ready_r(ready.first), ready_w(ready.second);
    NSLAB_ASSIGN_OR_RETURN(auto moved, sys::pipe2(O_CLOEXEC));  // parent -> peer
    core::UniqueFd moved_r(moved.first), moved_w(moved.second);
    NSLAB_ASSIGN_OR_RETURN(auto report, sys::pipe2(O_CLOEXEC));  // peer -> parent
    core::UniqueFd report_r(report.first), report_w(report.second);
    NSLAB_ASSIGN_OR_RETURN(sys::CloneResult peer, sys::clone3(CLONE_FS));
    if (peer.pid == 0) {
        auto s = unshare_mnt ? sys::unshare(CLONE_NEWNS) : sys::Status();
        char byte = 1;
        (void)sys::write(ready_w.get(), &byte, 1);
        (void)sys::read(moved_r.get(), &byte, 1);
        auto cwd = sys::getcwd();
        std::string answer = !s.ok()    ? "error: " + s.error().describe()
                             : cwd.ok() ? *cwd
                                        : "error: " + cwd.error().describe();
        (void)sys::write_all(report_w.get(), answer);
        sys::exit_now(0);
    }
    ready_w.reset();
    moved_r.reset();
    report_w.reset();
    char byte = 0;
    NSLAB_TRY(sys::read(ready_r.get(), &byte, 1));
    NSLAB_TRY(sys::chdir(path));  // the parent moves; does the peer follow?
    NSLAB_TRY(sys::write(moved_w.get(), &byte, 1));
    std::string answer;
    char buf[4096];
    for (;;) {
        NSLAB_ASSIGN_OR_RETURN(size_t n, sys::read(report_r.get(), buf, sizeof buf));
        if (n == 0) break;
        answer.append(buf, n);
    }
    NSLAB_TRY(sys::waitpid(peer.pid));
    return answer;
}

sys::Result<json> clone_fs_peer_cwd_op(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string path, arg_string(c.args, "path"));
    bool unshare_mnt = flag(c.args, "unshare_mnt");
    NSLAB_ASSIGN_OR_RETURN(
        std::string cwd,
        sys::run_in_child([&] { return clone_fs_scenario(path, unshare_mnt); }, 5000));
    return json(cwd);
}

// mount_namespaces(7): a mount is visible from a process when its mount namespace holds that
// mount or a propagated copy: same device, same root inside it, same mount point.
sys::Result<bool> mount_visible(const json& object) {
    NSLAB_ASSIGN_OR_RETURN(std::string target, arg_string(object, "target"));
    NSLAB_ASSIGN_OR_RETURN(std::string dev, arg_string(object, "dev"));
    NSLAB_ASSIGN_OR_RETURN(std::string root, arg_string(object, "root"));
    NSLAB_ASSIGN_OR_RETURN(auto entries, core::read_mountinfo());
    return std::any_of(entries.begin(), entries.end(), [&](const core::MountEntry& e) {
        return e.point == target && e.dev == dev && e.root == root;
    });
}

}  // namespace

void register_mount_ops(Registry& r) {
    const ArgSpec flags_arg{"flags", ArgType::string_list, false,
                            "per-mount flags among ro, nosuid, nodev, noexec (default none)",
                            one_of({"ro", "nosuid", "nodev", "noexec"})};
    r.add({.name = "mkdir",
           .kind = OpKind::action,
           .ns = "mnt",
           .doc = "Creates a directory and its missing parents (mkdir -p).",
           .lab = "mkdir -p PATH",
           .args = {{.name = "path", .doc = "the directory, e.g. /tmp/mount_test", .writes = true}},
           .handler = mkdir_op});
    r.add({.name = "write_file",
           .kind = OpKind::action,
           .ns = "mnt",
           .doc = "Creates (or truncates) a file and writes the content into it, as given.",
           .lab = "echo CONTENT > PATH",
           .args = {{.name = "path", .doc = "the file", .writes = true},
                    {"content", ArgType::string, true, "the bytes to write, e.g. \"coucou\\n\""}},
           .handler = write_file_op});
    r.add({.name = "bind_mount",
           .kind = OpKind::action,
           .ns = "mnt",
           .doc = "Bind-mounts a directory onto another (mount(2) with MS_BIND, and MS_REC when "
                  "recursive). Returns a `mount` object.",
           .lab = "mount [--rbind|--bind] SOURCE TARGET",
           .args = {{"source", ArgType::string, true, "the directory to show"},
                    {"target", ArgType::string, true, "the mount point"},
                    {"recursive", ArgType::boolean, false,
                     "also bind the mounts below source (mount --rbind)", {}, false, "--rbind"}},
           .creates_object = true,
           .lab_see = "findmnt TARGET",
           .handler = bind_mount_op});
    r.add({.name = "mount_tmpfs",
           .kind = OpKind::action,
           .ns = "mnt",
           .doc = "Mounts a new tmpfs. Returns a `mount` object.",
           .lab = "mount -t tmpfs [-o FLAGS] [SOURCE|tmpfs] TARGET",
           .args = {{"target", ArgType::string, true, "the mount point"},
                    {"source", ArgType::string, false,
                     "the name shown as its source (default tmpfs)"},
                    flags_arg},
           .creates_object = true,
           .lab_see = "findmnt TARGET",
           .handler = mount_tmpfs_op});
    r.add({.name = "umount",
           .kind = OpKind::action,
           .ns = "mnt",
           .doc = "Unmounts the mount on top at a path (umount2(2)).",
           .lab = "umount [-l] TARGET",
           .args = {{"target", ArgType::string, true, "the mount point"},
                    {"detach", ArgType::boolean, false, "lazy unmount (MNT_DETACH)", {}, false, "-l"}},
           .handler = umount_op});
    r.add(
        {.name = "make_propagation",
         .kind = OpKind::action,
         .ns = "mnt",
         .doc = "Changes the propagation type of a mount (mount(2) with MS_PRIVATE, MS_SHARED, "
                "MS_SLAVE or MS_UNBINDABLE, and MS_REC when recursive).",
         .lab = "mount --make-[r]KIND PATH",
         .args = {{"path", ArgType::string, true, "a mount point"},
                  {"kind", ArgType::string, true, "private, shared, slave or unbindable",
                   one_of({"private", "shared", "slave", "unbindable"})},
                  {"recursive", ArgType::boolean, false, "also every mount below (--make-rKIND)", {}, false, "r"}},
         .handler = make_propagation_op});
    r.add({.name = "remount_bind",
           .kind = OpKind::action,
           .ns = "mnt",
           .doc = "Sets the per-mount flags of one mount to exactly the listed ones (mount(2) with "
                  "MS_REMOUNT|MS_BIND); returns the options it then has.",
           .lab = "mount -o remount,bind[,FLAGS] PATH",
           .args = {{"path", ArgType::string, true, "a mount point"}, flags_arg},
           .handler = remount_bind_op});
    r.add({.name = "mount_setattr",
           .kind = OpKind::action,
           .ns = "mnt",
           .doc = "Changes mount attributes and propagation with mount_setattr(2) (Linux 5.12), "
                  "on one mount or, recursive, a whole subtree; returns the options it then has.",
           .lab = "# mount_setattr(2) on PATH[: set SET][, clear CLEAR][, propagation PROPAGATION][, AT_RECURSIVE]",
           .args = {{"path", ArgType::string, true, "a mount point"},
                    {"set", ArgType::string_list, false,
                     "attributes to set: ro, nosuid, nodev, noexec"},
                    {"clear", ArgType::string_list, false, "attributes to clear"},
                    {"propagation", ArgType::string, false, "private, shared, slave or unbindable"},
                    {"recursive", ArgType::boolean, false,
                     "AT_RECURSIVE: the mount and every mount below", {}, false, ", AT_RECURSIVE"}},
           .handler = mount_setattr_op});
    r.add({.name = "ls",
           .kind = OpKind::probe,
           .ns = "mnt",
           .doc = "The names in a directory, sorted (without . and ..).",
           .lab = "ls PATH",
           .args = {{"path", ArgType::string, true, "the directory"}},
           .handler = ls_op});
    r.add({.name = "cat",
           .kind = OpKind::probe,
           .ns = "mnt",
           .doc = "The content of a file, without its trailing newlines.",
           .lab = "cat PATH",
           .args = {{"path", ArgType::string, true, "the file"}},
           .handler = cat_op});
    r.add({.name = "mounted",
           .kind = OpKind::probe,
           .ns = "mnt",
           .doc = "Whether a path is a mount point in the caller's mount namespace "
                  "(/proc/self/mountinfo): true or false.",
           .lab = "mountpoint PATH",
           .args = {{"path", ArgType::string, true, "the path, as mountinfo spells it"}},
           .handler = mounted_op});
    r.add({.name = "mounts",
           .kind = OpKind::probe,
           .ns = "mnt",
           .doc = "The mount points at or below a path in the caller's mount namespace, sorted "
                  "(one per mount, so a path mounted twice appears twice).",
           .lab = "findmnt -R -n -o TARGET UNDER",
           .args = {{"under", ArgType::string, true, "the path"}},
           .handler = mounts_op});
    r.add({.name = "mount_propagation",
           .kind = OpKind::probe,
           .ns = "mnt",
           .doc = "The propagation type of the mount on top at a path, from mountinfo's optional "
                  "fields: private, shared, slave, shared,slave or unbindable.",
           .lab = "findmnt -o PROPAGATION PATH",
           .args = {{"path", ArgType::string, true, "a mount point"}},
           .handler = mount_propagation_op});
    r.add({.name = "mount_options",
           .kind = OpKind::probe,
           .ns = "mnt",
           .doc = "The per-mount options of the mount on top at a path, as a list (e.g. [ro, "
                  "nosuid, relatime]).",
           .lab = "findmnt -o OPTIONS PATH",
           .args = {{"path", ArgType::string, true, "a mount point"}},
           .handler = mount_options_op});
    r.add(
        {.name = "clone_fs_peer_cwd",
         .kind = OpKind::probe,
         .ns = "mnt",
         .doc =
             "In a throwaway child: clone(CLONE_FS) a peer that shares its cwd, let the peer "
             "unshare(CLONE_NEWNS) if asked, chdir(PATH) in the parent, and report the peer's cwd.",
         .lab = "# in a child: clone(CLONE_FS) a peer[ that unshares CLONE_NEWNS], chdir(PATH), then read the peer's cwd",
         .args = {{"path", ArgType::string, true, "where the parent moves"},
                  {"unshare_mnt", ArgType::boolean, false,
                   "the peer unshares its mount namespace first", {}, false, " that unshares CLONE_NEWNS"}},
         .handler = clone_fs_peer_cwd_op});
    r.add_visibility("mount", mount_visible);
}

}  // namespace nslab::agent
