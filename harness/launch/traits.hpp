// Launcher traits: behaviours of the way a realm is started that an experiment may rely on
// (`requires: { launcher: [loopback_down] }`). The built-in launcher has them all; an external
// launcher that lacks one SKIPs such experiments, saying which trait and why.
#pragma once

#include <string>
#include <vector>

namespace nslab::launch {

struct LauncherTrait {
    const char* name;
    const char* meaning;
};

// not_execed            the realm's agent is the process that entered the namespaces, with no execve
//                       since (capabilities(7): execve by a non-root uid clears its capabilities)
// loopback_down         a new network namespace's loopback is left as the kernel made it: down
// shares_parent_mounts  a realm without a new mount namespace is in its parent's, and sees its later mounts
// all_capabilities      root of a new user namespace keeps every capability (no bounding-set trimming)
const std::vector<LauncherTrait>& launcher_traits();
bool launcher_trait_known(const std::string& name);
std::string launcher_trait_names();  // "not_execed, loopback_down, …"

}  // namespace nslab::launch
