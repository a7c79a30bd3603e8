// The registry of actions and probes: each is declared once, with its arguments, what it needs and
// its documentation. The agent executes from it; the YAML loader validates against it; `nslab list
// --actions` and docs/reference.md are generated from it.
#pragma once

#include <array>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/protocol.hpp"
#include "core/namespace_kind.hpp"

namespace nslab::agent {

enum class ArgType { string, integer, boolean, string_list, ns_list, realm };
std::string arg_type_name(ArgType t);

// An argument's domain as data, for what cannot run a check: `nslab schema` writes it as JSON
// Schema. Each part that is set narrows the value; a check fills what it can express.
struct ArgDomain {
    std::vector<std::string> values;       // one of these words (each item, for a list)
    std::optional<long long> min, max;     // an integer in [min, max] (for a string argument: its number form)
    std::optional<size_t> max_length;      // a non-empty string of at most this many bytes
    std::string pattern;                   // an ECMAScript regex the whole string matches
};

// The values an argument may take: "" when `value` is one of them, else why not (naming the
// allowed ones). The loader applies it to literal values (file:line:col, exit 2) and the runner to
// values a ${…} reference expanded to, so a handler never meets a value outside its domain and a
// bad value is an error in the file, not a FAIL of the kernel.
struct ArgCheck {
    std::function<std::string(const json& value)> test;
    ArgDomain domain;
    std::string operator()(const json& value) const { return test(value); }
    explicit operator bool() const { return static_cast<bool>(test); }
};
ArgCheck one_of(std::vector<std::string> allowed);  // a string (or each string of a list) among these
ArgCheck int_range(long long min, long long max);   // an integer in [min, max]
ArgCheck signal_value();                             // TERM, SIGTERM, term, 15, or 0
ArgCheck max_bytes(size_t n, std::string what);      // a string of at most n bytes (what: "an interface name")
ArgCheck namespace_kind(bool or_for_children = false);  // uts, ipc, … (and pid_for_children, time_for_children)
ArgCheck ipv4(bool with_prefix);                     // 10.0.0.1, or 10.0.0.1/24 when with_prefix
ArgCheck ipc_key();                                  // 0x1234abcd, 4660 or IPC_PRIVATE, within 32 bits
ArgCheck mq_name();                                  // /name: one leading slash, no other, at most NAME_MAX bytes
// "TERM", "SIGTERM", "term", "15" or "0" (kill -0) -> the signal number; nullopt when none.
std::optional<int> parse_signal(const std::string& text);

struct ArgSpec {
    std::string name;
    ArgType type = ArgType::string;
    bool required = true;
    std::string doc;
    ArgCheck check = {};  // empty: any value of the type
    // The check is a limit the kernel enforces (a hostname's 64 bytes): a step that expects an
    // error may pass what the kernel must refuse, to show that it does.
    bool kernel_limit = false;
    // A boolean: the words it adds to the op's `lab` command when true, written there as an
    // optional part ("-l" for `umount [-l] TARGET`).
    std::string lab_flag = {};
    // The op creates or writes this path. The loader allows it outside the lab's own trees
    // (/tmp, /dev/shm, /dev/mqueue, /proc, /sys) only in an experiment that declares
    // `requires: { writable_root: true }`, which runs only where the lab's / is copy-on-write.
    bool writes = false;
};

enum class OpKind { action, probe };

// What an op's handler gets: its args (validated by the loader, checked again here), fds the runner
// attached, and room for fds to send back.
//
// For every argument of type `realm` (in the order the spec lists them) the runner attaches that
// realm's namespace fds as its agent reported them at start: one per kind this kernel has, in the
// order of core::namespace_kinds(). realm_namespaces() hands them out.
struct OpCall {
    const json& args;
    std::vector<core::UniqueFd>& fds_in;
    std::vector<core::UniqueFd>& fds_out;
};

// The namespace fds of the index-th `realm` argument of this call (not owned: OpCall owns them).
struct RealmNamespaces {
    std::array<int, core::kNsCount> fd{};  // -1 where the kernel lacks the kind
    int of(core::Ns ns) const { return fd[static_cast<size_t>(ns)]; }
};
sys::Result<RealmNamespaces> realm_namespaces(const OpCall& call, size_t index);
using Handler = std::function<sys::Result<json>(OpCall&)>;

struct OpSpec {
    std::string name;
    OpKind kind = OpKind::probe;
    std::string ns;   // the namespace kind it exercises ("uts"), or "" for general ops
    std::string doc;  // one sentence
    std::string lab;  // the shell command of the lab it mirrors, e.g. "hostname NAME" (agent/lab_command.hpp)
    std::vector<ArgSpec> args;
    bool creates_object = false;  // an action whose value is an object a step may name with `as:`
    // For such an action: the command that shows whether its object is there, as a `see:` row
    // asks from each vantage ("ipcs -m | grep ${AS.key}"; ${AS.…} is the step's result).
    std::string lab_see = {};
    bool internal = false;        // used by the harness itself, not written in YAML
    // It finds a `realm` argument's process in the caller's /proc (as lsns does): what it sees
    // depends on the caller's PID namespace and /proc, so a launcher that adds a PID namespace
    // the experiment did not plan cannot run it (runner/observed_kinds.hpp).
    bool finds_realm_process = false;
    // A probe that measures (seconds between clocks): a number in a cell holds when the observed
    // number is within this much of it, also for same_as/differs_from/unchanged/changed. 0: exact.
    double tolerance = 0;
    Handler handler;
};

// Checks whether an object (the value an action returned) is visible from this process.
using VisibilityCheck = std::function<sys::Result<bool>(const json& object)>;

class Registry {
public:
    void add(OpSpec spec);
    void add_visibility(std::string object_kind, VisibilityCheck check);
    const OpSpec* find(const std::string& name) const;
    const VisibilityCheck* visibility(const std::string& object_kind) const;
    const std::map<std::string, OpSpec>& ops() const { return ops_; }
    std::vector<std::string> object_kinds() const;

private:
    std::map<std::string, OpSpec> ops_;
    std::map<std::string, VisibilityCheck> visibility_;
};

// The registry with every namespace kind's ops (built once, on first use).
const Registry& registry();

// Argument helpers for handlers: they re-check types so that a hand-written request cannot crash
// the agent.
sys::Result<std::string> arg_string(const json& args, const std::string& name);
std::optional<std::string> arg_string_opt(const json& args, const std::string& name);
sys::Result<long long> arg_int(const json& args, const std::string& name);
std::optional<long long> arg_int_opt(const json& args, const std::string& name);
sys::Result<std::vector<std::string>> arg_string_list(const json& args, const std::string& name);

// Each namespace kind's file registers its ops.
void register_general_ops(Registry& r);
void register_uts_ops(Registry& r);
void register_ipc_ops(Registry& r);
void register_mount_ops(Registry& r);
void register_pid_ops(Registry& r);
void register_pid_signal_ops(Registry& r);
void register_user_ops(Registry& r);
void register_time_ops(Registry& r);
void register_net_ops(Registry& r);
void register_cgroup_ops(Registry& r);
void register_nsfs_ops(Registry& r);
void register_realm_ops(Registry& r);
void register_launch_ops(Registry& r);

}  // namespace nslab::agent
