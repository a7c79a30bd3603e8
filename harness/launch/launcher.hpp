// Ways to start a realm. The built-in one asks an agent (the lab's, or a parent realm's) to clone3
// a child. The external ones — unshare(1), bwrap, nsenter, a command template such as a student's
// mini-container — are started by that agent too and start the same agent binary, which reaches
// the runner through an inherited fd (or a socket path); those launchers are what is under test.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/client.hpp"
#include "core/namespace_kind.hpp"

namespace nslab::launch {

struct RealmPlan {
    std::string name;
    unsigned new_mask = 0;                   // kinds to create
    std::vector<std::pair<core::Ns, int>> join;  // kinds to join, with the fd of the target namespace
    std::string uid_map, gid_map;            // "" = map root to the spawner; "none" = leave unmapped
    std::string propagation = "private";     // for a new mount namespace
    bool mount_proc = false;
    std::optional<long long> monotonic_offset, boottime_offset;  // seconds, for a new time namespace
    uid_t spawner_uid = 0;                   // the ids of the agent that starts the realm
    gid_t spawner_gid = 0;
    unsigned observed_kinds = 0;             // kinds the experiment creates, joins or looks at (runner/observed_kinds.hpp)
    bool creator_has_time_offsets = false;   // a realm it is started from set time offsets
};

struct StartedRealm {
    agent::AgentClient client;
    agent::Hello hello;
    core::UniqueFd launcher_pidfd;   // external launchers: the launcher process
    core::UniqueFd launcher_output;  // its stdout and stderr (kept open: closing it could SIGPIPE it)
};

// How to start realms, as the CLI (`--launcher`) or an assignment file says.
struct LauncherConfig {
    std::string kind = "builtin";             // builtin | unshare | bwrap | nsenter | command
    std::vector<std::string> command;         // kind command: the argv template (${agent}, ${realm}, ${flags}, …)
    // kind command: the words `${flags}` expands to, per namespace kind and realm option, for the
    // realm being started (keys: launch::template_flag_keys()). A kind with a flag is created on
    // request; a kind in `creates` always.
    std::map<std::string, std::vector<std::string>> flags;
    unsigned creates = 0;                     // kind command: kinds the command always creates
    bool mounts_proc = false;                 // kind command: it always mounts a fresh /proc
    std::map<std::string, std::string> vars;  // kind command: values of ${name} (e.g. submission)
    bool connect_by_socket = false;           // the agent connects to a socket path (for launchers that close fds)
    std::optional<uid_t> uid;                 // run the launcher as this uid/gid (untrusted code)
    std::optional<gid_t> gid;
    std::map<std::string, long long> limits;  // rlimits for the launcher: cpu_s nproc fsize nofile as core
    std::string label() const;                // "unshare", "command mini_container"
};

// What became of an external launcher that started no working agent (for feedback).
struct LaunchFailure {
    std::optional<int> exit_status;  // it exited with this status
    std::optional<int> signal;       // it was killed by this signal
    bool still_running = false;      // it still ran (no agent before the time limit, or a broken one)
    std::string output;              // the end of its output
};

class Launcher {
public:
    virtual ~Launcher() = default;
    virtual std::string name() const = 0;
    // Why plan cannot be started this way (the experiment is then SKIPped with this reason), or
    // nullopt. Decided from the launcher's known abilities and the machine (is the tool on PATH).
    virtual std::optional<std::string> cannot_start(const RealmPlan& plan) const = 0;
    // Kinds this launcher creates beyond plan.new_mask (bwrap always makes a mount namespace):
    // the topology check lets them be new or not.
    virtual unsigned may_add(const RealmPlan& plan) const = 0;
    // true when the launcher itself is under test: its failure to start a realm, or a wrong
    // topology, is a FAIL; for the built-in launcher it is the harness's fault (BROKEN).
    virtual bool under_test() const = 0;
    // Why this launcher lacks a trait (launch/traits.hpp), or nullopt when it has it.
    virtual std::optional<std::string> lacks(const std::string& trait) const = 0;
    // spawner: the agent in whose namespaces the realm is started (the lab, or a parent realm).
    virtual sys::Result<StartedRealm> start(agent::AgentClient& spawner, const RealmPlan& plan,
                                            agent::Deadline deadline) = 0;
    // After start() failed: what became of the launcher process, when it is one.
    virtual std::optional<LaunchFailure> last_failure() const { return std::nullopt; }
};

// The keys of LauncherConfig::flags: a namespace kind (user, uts, ipc, pid, mnt, net, cgroup,
// time), emitted when the realm creates it; map_root (a new user namespace mapping root to the
// caller), mount_proc, propagation (${propagation}), monotonic and boottime (${monotonic},
// ${boottime}), emitted when the realm asks for them.
struct TemplateFlagKey {
    const char* name;
    const char* meaning;
};
const std::vector<TemplateFlagKey>& template_flag_keys();
bool template_flag_known(const std::string& key);
std::string template_flag_names();  // "user, uts, …"

// A command launcher's argv for plan: the template with ${…} expanded, `${agent}` replaced by
// agent's words and `${flags}` by the flags plan asks for. Contract tests
// (grade/contract_runner.hpp) pass a COMMAND of their own as `agent`.
sys::Result<std::vector<std::string>> expand_command_template(const LauncherConfig& config, const RealmPlan& plan,
                                                             const std::vector<std::string>& agent);

std::unique_ptr<Launcher> make_builtin_launcher();
// Any kind; an unknown kind or a bad template is an error naming it.
sys::Result<std::unique_ptr<Launcher>> make_launcher(const LauncherConfig& config);
// Names accepted by make_launcher and `--launcher`.
const std::vector<std::string>& launcher_kinds();

}  // namespace nslab::launch
