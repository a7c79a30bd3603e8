#include "launch/agent_identity.hpp"

#include <linux/magic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "sys/mount_calls.hpp"
#include "sys/pid_calls.hpp"
#include "sys/syscalls.hpp"

namespace nslab::launch {
namespace {

bool cannot_inspect(const sys::Error& e) { return e.err() == EACCES || e.err() == EPERM; }

// A lab with a copy-on-write root (agent/lab_root.hpp) runs the agent through an overlay, which
// reports its own device and, for a file of a lower layer, that file's inode number (overlayfs:
// "st_ino ... of the lower file"). So the agent seen there is the same inode at the same path of
// the process's root, on an overlay.
bool same_agent_through_overlay(const std::string& proc, const struct ::stat& exe, const struct ::stat& agent,
                                const std::string& agent_path) {
    const std::string seen = proc + "/root" + agent_path;
    auto there = sys::stat_path(seen);
    if (!there.ok() || there->st_dev != exe.st_dev || there->st_ino != exe.st_ino || exe.st_ino != agent.st_ino) return false;
    struct ::statfs fs {};
    return ::statfs(seen.c_str(), &fs) == 0 && fs.f_type == OVERLAYFS_SUPER_MAGIC;
}

}  // namespace

std::optional<std::string> not_the_agent(const agent::Hello& hello, const std::string& agent_path) {
    if (!hello.pidfd.valid()) return "its hello carried no pidfd of itself";
    auto pid = sys::pid_of_pidfd(hello.pidfd.get());
    if (!pid.ok()) return "the process its hello names has already exited";
    std::string proc = "/proc/" + std::to_string(*pid);
    auto agent = sys::stat_path(agent_path);
    if (!agent.ok()) return std::nullopt;  // our own binary is gone: the harness's problem, reported elsewhere
    auto exe = sys::stat_path(proc + "/exe");
    if (!exe.ok()) return cannot_inspect(exe.error()) ? std::nullopt : std::optional<std::string>("its executable cannot be read (" + exe.error().describe() + ")");
    if ((exe->st_dev != agent->st_dev || exe->st_ino != agent->st_ino) && !same_agent_through_overlay(proc, *exe, *agent, agent_path)) {
        auto target = sys::readlink(proc + "/exe");
        return "the process that said hello (pid " + std::to_string(*pid) + ", " + (target.ok() ? *target : std::string("?")) +
               ") is not nslab-agent: a launcher must exec the COMMAND it is given, not answer for it";
    }
    // namespaces(7): two processes share a namespace iff their /proc/PID/ns/KIND have the same
    // device and inode; the hello's fds must be the namespaces of the process it names.
    for (auto& k : core::namespace_kinds()) {
        const auto& said = hello.ns.id(k.ns);
        if (!said) continue;
        auto real = sys::stat_path(proc + "/ns/" + std::string(k.name));
        if (!real.ok()) {
            if (cannot_inspect(real.error())) return std::nullopt;
            return "its " + std::string(k.name) + " namespace cannot be read (" + real.error().describe() + ")";
        }
        if (real->st_dev != said->dev || real->st_ino != said->ino)
            return "the namespaces its hello sent are not those of the process that said it (" + std::string(k.name) + ")";
    }
    // pidfd_send_signal(2) with signal 0 fails with ESRCH once the process is gone: the pid read
    // above was not reused by another process meanwhile.
    if (!sys::pidfd_send_signal(hello.pidfd.get(), 0).ok()) return "the process that said hello has exited";
    return std::nullopt;
}

}  // namespace nslab::launch
