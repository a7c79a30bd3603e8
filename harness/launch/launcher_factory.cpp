#include "launch/launcher.hpp"

#include <filesystem>

namespace nslab::launch {

std::unique_ptr<Launcher> make_unshare_launcher(const LauncherConfig& c);
std::unique_ptr<Launcher> make_bwrap_launcher(const LauncherConfig& c);
std::unique_ptr<Launcher> make_nsenter_launcher(const LauncherConfig& c);
std::unique_ptr<Launcher> make_command_launcher(const LauncherConfig& c);
sys::Status check_command_template(const LauncherConfig& c);

const std::vector<std::string>& launcher_kinds() {
    static const std::vector<std::string> kinds{"builtin", "unshare", "bwrap", "nsenter", "command"};
    return kinds;
}

const std::vector<TemplateFlagKey>& template_flag_keys() {
    static const std::vector<TemplateFlagKey> keys{
        {"user", "the realm creates a user namespace"},
        {"uts", "the realm creates a UTS namespace"},
        {"ipc", "the realm creates an IPC namespace"},
        {"pid", "the realm creates a PID namespace (COMMAND is its PID 1)"},
        {"mnt", "the realm creates a mount namespace"},
        {"net", "the realm creates a network namespace"},
        {"cgroup", "the realm creates a cgroup namespace"},
        {"time", "the realm creates a time namespace"},
        {"map_root", "its new user namespace maps root to the caller's uid and gid"},
        {"mount_proc", "it mounts a fresh /proc"},
        {"propagation", "its new mount namespace gets this propagation (${propagation}: private, slave, shared, unchanged)"},
        {"monotonic", "its new time namespace gets this CLOCK_MONOTONIC offset (${monotonic}, seconds)"},
        {"boottime", "its new time namespace gets this CLOCK_BOOTTIME offset (${boottime}, seconds)"},
    };
    return keys;
}

bool template_flag_known(const std::string& key) {
    for (auto& k : template_flag_keys())
        if (key == k.name) return true;
    return false;
}

std::string template_flag_names() {
    std::string s;
    for (auto& k : template_flag_keys()) s += (s.empty() ? "" : ", ") + std::string(k.name);
    return s;
}

sys::Result<std::unique_ptr<Launcher>> make_launcher(const LauncherConfig& c) {
    if (c.kind == "builtin") return make_builtin_launcher();
    if (c.kind == "unshare") return make_unshare_launcher(c);
    if (c.kind == "bwrap") return make_bwrap_launcher(c);
    if (c.kind == "nsenter") return make_nsenter_launcher(c);
    if (c.kind == "command") {
        NSLAB_TRY(check_command_template(c));
        // setns(2) into a mount namespace moves the cwd to its root (nsenter runs before a joining
        // realm's launcher), so a program named relative to ours is made absolute now.
        LauncherConfig absolute = c;
        std::string& prog = absolute.command.front();
        if (prog.find('/') != std::string::npos && prog.front() != '/' && !prog.starts_with("${"))
            prog = std::filesystem::absolute(prog).lexically_normal().string();
        return make_command_launcher(absolute);
    }
    return sys::Error::message("unknown launcher '" + c.kind + "' (expected: builtin, unshare, bwrap, nsenter, command)");
}

}  // namespace nslab::launch
