// launch / launch_status: the spawner's half of an external launcher (unshare(1), bwrap, nsenter,
// a student's mini-container). The agent starts the launcher's argv in its own namespaces with a
// socket to the runner at a fixed fd (or a listening socket path for launchers that close fds),
// its stdout+stderr on one pipe (or its stderr alone), and hands the runner the launcher's pidfd,
// the socket and the pipe. The agent the launcher starts says hello on that socket like any other.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "agent/agent.hpp"
#include "agent/registry.hpp"
#include "sys/spawn_calls.hpp"
#include "sys/syscalls.hpp"

namespace nslab::agent {
namespace {

// The environment a launcher gets: fixed, so that a run does not depend on the runner's.
std::vector<std::string> launcher_env(const json& args) {
    std::vector<std::string> env{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C",
                                 "HOME=/", "TERM=dumb"};
    if (auto e = args.find("env"); e != args.end() && e->is_object())
        for (auto& [k, v] : e->items())
            if (v.is_string()) env.push_back(k + "=" + v.get<std::string>());
    return env;
}

sys::Result<std::vector<std::pair<int, rlim_t>>> launcher_limits(const json& args) {
    std::vector<std::pair<int, rlim_t>> out;
    auto l = args.find("limits");
    if (l == args.end()) return out;
    if (!l->is_object()) return sys::Error::message("launch: limits must be an object");
    static const std::pair<const char*, int> names[] = {
        {"cpu_s", RLIMIT_CPU}, {"nproc", RLIMIT_NPROC}, {"fsize", RLIMIT_FSIZE},
        {"nofile", RLIMIT_NOFILE}, {"as", RLIMIT_AS}, {"core", RLIMIT_CORE}};
    for (auto& [k, v] : l->items()) {
        const std::pair<const char*, int>* hit = nullptr;
        for (auto& n : names)
            if (k == n.first) hit = &n;
        if (!hit || !v.is_number_integer() || v.get<long long>() < 0)
            return sys::Error::message("launch: bad limit '" + k + "'");
        out.emplace_back(hit->second, static_cast<rlim_t>(v.get<long long>()));
    }
    return out;
}

sys::Result<json> launch(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(auto argv, arg_string_list(c.args, "argv"));
    if (argv.empty()) return sys::Error::message("launch: empty argv");
    int agent_fd = static_cast<int>(arg_int_opt(c.args, "agent_fd").value_or(3));
    if (agent_fd < 3 || agent_fd > 200) return sys::Error::message("launch: agent_fd must be in 3..200");
    std::string socket_path = arg_string_opt(c.args, "socket_path").value_or("");

    sys::SpawnSpec spec;
    spec.argv = argv;
    spec.env = launcher_env(c.args);
    NSLAB_ASSIGN_OR_RETURN(spec.limits, launcher_limits(c.args));
    if (auto u = arg_int_opt(c.args, "uid")) spec.uid = static_cast<uid_t>(*u);
    if (auto g = arg_int_opt(c.args, "gid")) spec.gid = static_cast<gid_t>(*g);
    spec.cwd = arg_string_opt(c.args, "cwd").value_or("");

    core::UniqueFd runner_end, agent_end;
    if (socket_path.empty()) {
        NSLAB_ASSIGN_OR_RETURN(auto socks, sys::socketpair_seqpacket());
        runner_end = core::UniqueFd(socks.first);
        agent_end = core::UniqueFd(socks.second);
        spec.fds.emplace_back(agent_end.get(), agent_fd);
    } else {
        // The agent connects by path; the runner accepts on the listening socket.
        NSLAB_ASSIGN_OR_RETURN(int l, sys::listen_seqpacket(socket_path));
        runner_end = core::UniqueFd(l);
    }
    // Extra fds (e.g. namespaces for nsenter) follow the agent's fd, in the order they came.
    for (size_t i = 0; i < c.fds_in.size(); ++i) spec.fds.emplace_back(c.fds_in[i].get(), agent_fd + 1 + static_cast<int>(i));
    NSLAB_ASSIGN_OR_RETURN(auto out, sys::pipe2(O_CLOEXEC));
    core::UniqueFd out_r(out.first), out_w(out.second);
    // "output": "stderr" sends stdout to /dev/null: a contract test of the launcher's own messages
    // (grade/contract_runner.cpp) looks at its stderr alone.
    std::string output = arg_string_opt(c.args, "output").value_or("both");
    if (output != "both" && output != "stderr") return sys::Error::message("launch: output must be both or stderr");
    spec.stderr_fd = out_w.get();
    spec.stdout_fd = output == "both" ? out_w.get() : -1;

    NSLAB_ASSIGN_OR_RETURN(sys::Spawned s, sys::spawn_process(spec));
    watch_launcher(s.pid);
    c.fds_out.emplace_back(s.pidfd);
    c.fds_out.push_back(std::move(runner_end));
    c.fds_out.push_back(std::move(out_r));
    return json{{"pid", s.pid}};
}

// The launcher's fate, asked with its pidfd attached. Only the spawner (its parent) can reap it.
sys::Result<json> launch_status(OpCall& c) {
    if (c.fds_in.size() != 1) return sys::Error::message("launch_status needs the launcher's pidfd");
    std::optional<int> status;
    if (auto pid = arg_int_opt(c.args, "pid")) status = launcher_exit_status(static_cast<pid_t>(*pid));
    if (!status) {
        NSLAB_ASSIGN_OR_RETURN(status, sys::try_reap_pidfd(c.fds_in[0].get()));
    }
    if (!status) return json{{"running", true}};
    json r{{"running", false}};
    if (WIFEXITED(*status)) r["exit"] = WEXITSTATUS(*status);
    if (WIFSIGNALED(*status)) r["signal"] = WTERMSIG(*status);
    return r;
}

}  // namespace

void register_launch_ops(Registry& r) {
    r.add({.name = "launch",
           .kind = OpKind::action,
           .doc = "Starts an external launcher whose command starts an agent (unshare, bwrap, a template).",
           .internal = true,
           .handler = launch});
    r.add({.name = "launch_status",
           .kind = OpKind::probe,
           .doc = "Whether a launcher started by `launch` still runs, else its exit status.",
           .internal = true,
           .handler = launch_status});
}

}  // namespace nslab::agent
