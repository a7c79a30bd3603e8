#include "launch/launcher.hpp"

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

sys::Result<std::unique_ptr<Launcher>> make_launcher(const LauncherConfig& c) {
    if (c.kind == "builtin") return make_builtin_launcher();
    if (c.kind == "unshare") return make_unshare_launcher(c);
    if (c.kind == "bwrap") return make_bwrap_launcher(c);
    if (c.kind == "nsenter") return make_nsenter_launcher(c);
    if (c.kind == "command") {
        NSLAB_TRY(check_command_template(c));
        return make_command_launcher(c);
    }
    return sys::Error::message("unknown launcher '" + c.kind + "' (expected: builtin, unshare, bwrap, nsenter, command)");
}

}  // namespace nslab::launch
