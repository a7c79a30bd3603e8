#include "launch/installed.hpp"

#include <unistd.h>

#include <filesystem>

// Relative paths from the install's bin directory, computed by CMake from GNUInstallDirs.
#ifndef NSLAB_BIN_TO_LIBEXEC
#define NSLAB_BIN_TO_LIBEXEC "../libexec/nslab"
#endif
#ifndef NSLAB_BIN_TO_DATA
#define NSLAB_BIN_TO_DATA "../share/nslab"
#endif

namespace nslab::launch {
namespace {

std::string from_self(const char* relative, const char* name) {
    std::string dir = self_dir();
    if (dir.empty()) return "";
    return (std::filesystem::path(dir) / relative / name).lexically_normal().string();
}

}  // namespace

std::string self_dir() {
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return "";
    std::string self(buf, static_cast<size_t>(n));
    size_t slash = self.rfind('/');
    if (slash == std::string::npos) return "";
    return slash == 0 ? "/" : self.substr(0, slash);
}

std::string installed_agent_path() { return from_self(NSLAB_BIN_TO_LIBEXEC, "nslab-agent"); }

std::string installed_suites_dir() { return from_self(NSLAB_BIN_TO_DATA, "suites"); }

}  // namespace nslab::launch
