// Ops that belong to no single namespace kind: shell commands, setns, files, identities, and the
// generic visibility probe that dispatches on an object's kind.
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>

#include <algorithm>

#include "agent/command.hpp"
#include "agent/registry.hpp"
#include "core/namespace_kind.hpp"
#include "sys/syscalls.hpp"

namespace nslab::agent {
namespace {

sys::Result<json> run_op(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string command, arg_string(c.args, "command"));
    NSLAB_ASSIGN_OR_RETURN(CommandResult r, run_shell(command));
    return json{{"exit", r.exit_code}, {"signal", r.signal}, {"stdout", r.out}, {"stderr", r.err}};
}

// setns(2): joins the target realm's namespaces of the listed kinds. The user namespace goes
// first: joining it grants the capabilities that joining the others requires (nsenter does the same).
sys::Result<json> setns_op(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(auto kinds, arg_string_list(c.args, "kinds"));
    NSLAB_ASSIGN_OR_RETURN(RealmNamespaces target, realm_namespaces(c, 0));
    std::vector<std::string> ordered = kinds;
    std::stable_partition(ordered.begin(), ordered.end(), [](const std::string& k) { return k == "user"; });
    for (auto& kind : ordered) {
        auto ns = core::ns_from_name(kind);
        if (!ns) return sys::Error::message("setns: unknown namespace kind '" + kind + "'");
        if (target.of(*ns) < 0) return sys::Error::message("setns: this kernel has no " + kind + " namespaces");
        NSLAB_TRY(sys::setns(target.of(*ns), core::kind_of(*ns).clone_flag));
    }
    return json(kinds);
}

sys::Result<json> ns_id_op(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string kind, arg_string(c.args, "kind"));
    if (!core::ns_from_name(kind)) return sys::Error::message("unknown namespace kind '" + kind + "'");
    NSLAB_ASSIGN_OR_RETURN(struct stat st, sys::stat_path("/proc/self/ns/" + kind));
    return json(kind + ":[" + std::to_string(st.st_ino) + "]");
}

sys::Result<json> visible_op(OpCall& c) {
    auto object = c.args.find("object");
    if (object == c.args.end() || !object->is_object()) return sys::Error::message("visible: no object");
    std::string kind = object->value("kind", "");
    const VisibilityCheck* check = registry().visibility(kind);
    if (!check) return sys::Error::message("visible: no visibility rule for objects of kind '" + kind + "'");
    NSLAB_ASSIGN_OR_RETURN(bool seen, (*check)(*object));
    return json(seen ? "visible" : "hidden");
}

}  // namespace

void register_general_ops(Registry& r) {
    r.add({.name = "run",
           .kind = OpKind::action,
           .doc = "Runs a shell command (/bin/sh -c, LC_ALL=C) in the realm; its exit status, stdout "
                  "and stderr are recorded. As a probe (`run:` in expect), its trimmed stdout is the "
                  "observed value.",
           .lab = "COMMAND",
           .args = {{"command", ArgType::string, true, "the command line"}},
           .handler = run_op});
    r.add({.name = "setns",
           .kind = OpKind::action,
           .doc = "Joins another realm's namespaces of the listed kinds (setns(2) on the namespace "
                  "files that realm had when it started). `target` may name the realm itself to go back.",
           .lab = "nsenter --target TARGET --KINDS",
           .args = {{"target", ArgType::realm, true, "the realm (or host) whose namespaces to join"},
                    {"kinds", ArgType::ns_list, true, "which kinds, e.g. [uts]"}},
           .handler = setns_op});
    r.add({.name = "ns_id",
           .kind = OpKind::probe,
           .doc = "The identity of the caller's namespace of a kind, as readlink /proc/self/ns/KIND prints it.",
           .lab = "readlink /proc/self/ns/KIND",
           .args = {{"kind", ArgType::string, true, "namespace kind, e.g. uts", namespace_kind()}},
           .handler = ns_id_op});
    r.add({.name = "visible",
           .kind = OpKind::probe,
           .doc = "Whether an object made by an earlier step can be seen from here (`see:` in expect).",
           .internal = true,
           .handler = visible_op});
}

}  // namespace nslab::agent
