#include "launch/external_launcher.hpp"

#include <poll.h>
#include <unistd.h>

#include <random>

#include "core/id_map.hpp"
#include "launch/agent_identity.hpp"
#include "launch/lab.hpp"
#include "sys/spawn_calls.hpp"
#include "sys/syscalls.hpp"

namespace nslab::launch {
namespace {

constexpr int kAgentFd = 3;              // the agent's socket in the launcher (nsenter's fds follow)
constexpr size_t kOutputTail = 2048;     // how much of a launcher's output a failure quotes

std::string quote_argv(const std::vector<std::string>& argv) {
    std::string s;
    for (auto& a : argv) {
        if (!s.empty()) s += ' ';
        bool plain = !a.empty() && a.find_first_of(" \t\n'\"$\\") == std::string::npos;
        s += plain ? a : "'" + a + "'";
    }
    return s;
}

// Collects a launcher's output without ever blocking on it: the last kOutputTail bytes.
class OutputTail {
public:
    explicit OutputTail(int fd) : fd_(fd) {}
    void drain() {
        if (fd_ < 0) return;
        char buf[4096];
        for (;;) {
            auto ready = sys::poll_readable(fd_, 0);
            if (!ready.ok() || !*ready) return;
            auto n = sys::read(fd_, buf, sizeof buf);
            if (!n.ok() || *n == 0) {
                fd_ = -1;  // end of file: every writer is gone
                return;
            }
            text_.append(buf, *n);
            if (text_.size() > 2 * kOutputTail) {
                text_.erase(0, text_.size() - kOutputTail);
                cut_ = true;
            }
        }
    }
    std::string text() const {
        std::string t = text_.size() > kOutputTail ? text_.substr(text_.size() - kOutputTail) : text_;
        while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
        return (cut_ || text_.size() > kOutputTail ? "…" : "") + t;
    }

private:
    int fd_;
    std::string text_;
    bool cut_ = false;
};

std::string random_socket_path() {
    std::random_device rd;
    char buf[64];
    std::snprintf(buf, sizeof buf, "/tmp/nslab-agent-%08x%08x.sock", rd(), rd());
    return buf;
}

}  // namespace

bool on_path(const std::string& tool) {
    for (const char* dir : {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"})
        if (::access((std::string(dir) + "/" + tool).c_str(), X_OK) == 0) return true;
    return false;
}

std::vector<std::string> nsenter_prefix(const RealmPlan& plan) {
    if (plan.join.empty()) return {};
    // nsenter(1) enters the user namespace first when one is given; --preserve-credentials keeps
    // our ids as the built-in launcher does (setns(2) alone changes no ids).
    std::vector<std::string> argv{"nsenter", "--preserve-credentials"};
    int fd = kAgentFd + 1;
    for (auto& [ns, unused] : plan.join) {
        std::string opt = ns == core::Ns::mnt ? "mount" : std::string(core::kind_of(ns).name);
        argv.push_back("--" + opt + "=/proc/self/fd/" + std::to_string(fd++));
    }
    argv.push_back("--");
    return argv;
}

std::optional<unsigned> own_id_mapped_to(const std::string& map, unsigned spawner_id) {
    if (map.empty()) return 0u;
    if (map == "none") return std::nullopt;
    auto parsed = core::parse_id_map(map);
    if (!parsed.ok() || parsed->size() != 1) return std::nullopt;
    auto& line = parsed->front();
    if (line.count != 1 || line.outside != spawner_id) return std::nullopt;
    return line.inside;
}

std::optional<std::string> own_ids_only(const std::string& tool, const RealmPlan& plan) {
    if (!(plan.new_mask & core::ns_bit(core::Ns::user))) return std::nullopt;
    if (plan.uid_map == "none" || plan.gid_map == "none")
        return tool + " always writes id maps; realm " + plan.name + " asks for none";
    if (!own_id_mapped_to(plan.uid_map, plan.spawner_uid) || !own_id_mapped_to(plan.gid_map, plan.spawner_gid))
        return tool + " maps only the caller's own uid and gid (one line, count 1); realm " + plan.name +
               " asks for uid_map \"" + plan.uid_map + "\"";
    return std::nullopt;
}

std::string kinds_text(unsigned mask) {
    std::string s;
    for (auto& k : core::namespace_kinds())
        if (mask & core::ns_bit(k.ns)) s += (s.empty() ? "" : ", ") + std::string(k.name);
    return s;
}

std::optional<std::string> ExternalLauncher::lacks(const std::string& trait) const {
    if (trait == "not_execed") return "it execs the realm's agent, and capabilities(7) clears a non-root uid's capabilities at execve";
    return std::nullopt;
}

std::string LauncherConfig::label() const {
    if (kind != "command" || command.empty()) return kind;
    std::string prog = command.front();
    return "command " + prog.substr(prog.rfind('/') + 1);
}

sys::Result<StartedRealm> ExternalLauncher::start(agent::AgentClient& spawner, const RealmPlan& plan,
                                                  agent::Deadline deadline) {
    last_failure_.reset();
    NSLAB_ASSIGN_OR_RETURN(std::string agent_path, find_agent_binary());
    std::string socket_path = config_.connect_by_socket ? random_socket_path() : "";
    std::vector<std::string> agent_argv{agent_path};
    if (socket_path.empty()) agent_argv.insert(agent_argv.end(), {"--fd", std::to_string(kAgentFd)});
    else agent_argv.insert(agent_argv.end(), {"--socket", socket_path});
    NSLAB_ASSIGN_OR_RETURN(std::vector<std::string> argv, command_for(plan, agent_argv));
    std::vector<std::string> full = nsenter_prefix(plan);
    full.insert(full.end(), argv.begin(), argv.end());

    agent::json args{{"argv", full}, {"agent_fd", kAgentFd}};
    if (!socket_path.empty()) args["socket_path"] = socket_path;
    if (config_.uid) args["uid"] = *config_.uid;
    if (config_.gid) args["gid"] = *config_.gid;
    if (!config_.limits.empty()) args["limits"] = config_.limits;
    std::vector<int> fds;
    for (auto& [ns, fd] : plan.join) fds.push_back(fd);
    std::string who = "launcher " + config_.label() + " (`" + quote_argv(full) + "`)";
    NSLAB_ASSIGN_OR_RETURN(agent::Reply reply, spawner.call("launch", args, deadline, fds));
    if (!reply.ok) return std::move(reply.error).context("starting " + who + " for realm " + plan.name);
    if (reply.fds.size() != 3) return sys::Error::message("launch returned " + std::to_string(reply.fds.size()) + " fds, not 3");

    StartedRealm realm;
    long long launcher_pid = reply.value.value("pid", -1LL);
    realm.launcher_pidfd = std::move(reply.fds[0]);
    core::UniqueFd sock = std::move(reply.fds[1]);
    realm.launcher_output = std::move(reply.fds[2]);
    OutputTail output(realm.launcher_output.get());

    // Wait for the agent — its connection, then its hello — reading the launcher's output meanwhile
    // so that a chatty launcher never blocks on a full pipe before its agent starts.
    std::string failure;
    int sock_fd = sock.get();
    bool listening = !socket_path.empty();
    for (;;) {
        struct pollfd p[2] = {{sock_fd, POLLIN, 0}, {realm.launcher_output.get(), POLLIN, 0}};
        int left = agent::remaining_ms(deadline);
        auto ready = sys::poll_fds(p, 2, left);
        if (!ready.ok()) return std::move(ready).error();
        output.drain();
        if (p[0].revents) {
            if (!listening) break;
            auto conn = sys::accept_before(sock_fd, 0);
            if (!conn.ok()) return std::move(conn).error().context(who);
            sock = core::UniqueFd(*conn);
            sock_fd = sock.get();
            listening = false;
            continue;
        }
        if (*ready == 0 && left == 0) {
            failure = "did not start the agent before the time limit";
            break;
        }
    }
    if (failure.empty()) {
        if (auto closed = sys::peer_closed(sock.get()); closed.ok() && *closed)
            failure = "ended before any agent said hello (every copy of the agent's socket was closed)";
    }
    if (failure.empty()) {
        realm.client = agent::AgentClient(std::move(sock), "realm " + plan.name);
        auto hello = realm.client.read_hello(deadline);
        if (hello.ok()) {
            realm.hello = std::move(hello).value();
            // Not one answer is trusted before the hello is known to come from our agent.
            auto impostor = not_the_agent(realm.hello, agent_path);
            if (!impostor) return realm;
            return sys::Error::message(who + " did not run the agent it was given for realm " + plan.name + ": " + *impostor);
        }
        failure = "started an agent that failed: " + hello.error().describe();
    }
    // Say what became of the launcher: its exit status, or that it still runs. A launcher whose
    // agent socket closed is usually on its way out: give it a moment (its pidfd turns readable
    // when it has exited), reading its last words meanwhile.
    agent::Deadline grace = std::max(deadline, agent::Clock::now()) + std::chrono::seconds(1);
    int pidfd = realm.launcher_pidfd.get();
    for (auto until = std::min(grace, agent::Clock::now() + std::chrono::milliseconds(500));;) {
        struct pollfd p[2] = {{pidfd, POLLIN, 0}, {realm.launcher_output.get(), POLLIN, 0}};
        auto ready = sys::poll_fds(p, 2, agent::remaining_ms(until));
        output.drain();
        if (!ready.ok() || *ready == 0 || p[0].revents) break;
    }
    auto status = spawner.call("launch_status", agent::json{{"pid", launcher_pid}}, grace, std::span<const int>(&pidfd, 1));
    std::string fate;
    LaunchFailure what;
    if (!status.ok()) fate = "its status is unknown (" + status.error().describe() + ")";
    else if (!status->ok) fate = "its status is unknown (" + status->error.describe() + ")";
    else {
        auto& v = status->value;
        if (v.value("running", false)) {
            fate = "it is still running";
            what.still_running = true;
        } else if (v.contains("signal")) {
            what.signal = v["signal"].get<int>();
            fate = "it was killed by signal " + std::to_string(*what.signal);
        } else {
            what.exit_status = v.value("exit", -1);
            fate = "it exited with status " + std::to_string(*what.exit_status);
        }
    }
    output.drain();
    std::string tail = output.text();
    what.output = tail;
    last_failure_ = std::move(what);
    return sys::Error::message(who + " " + failure + (fate.empty() ? "" : "; " + fate) +
                               (tail.empty() ? "; it printed nothing" : "; its output ends with: " + tail));
}

}  // namespace nslab::launch
