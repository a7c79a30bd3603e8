// Where nslab's parts are once installed, found from the running executable's own directory
// (/proc/self/exe), so that an install under any prefix, or moved whole, works:
// PREFIX/bin/nslab, PREFIX/libexec/nslab/nslab-agent, PREFIX/share/nslab/suites (GNUInstallDirs).
#pragma once

#include <string>

namespace nslab::launch {

// The directory of /proc/self/exe, symlinks resolved; empty when /proc cannot say.
std::string self_dir();
// PREFIX/libexec/nslab/nslab-agent for an executable in PREFIX/bin; empty when self_dir() is.
std::string installed_agent_path();
// PREFIX/share/nslab/suites for an executable in PREFIX/bin; empty when self_dir() is.
std::string installed_suites_dir();

}  // namespace nslab::launch
