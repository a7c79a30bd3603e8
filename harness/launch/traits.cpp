#include "launch/traits.hpp"

namespace nslab::launch {

const std::vector<LauncherTrait>& launcher_traits() {
    static const std::vector<LauncherTrait> traits{
        {"not_execed", "the realm's agent is the process that entered its namespaces, not exec'd since"},
        {"loopback_down", "a new network namespace's loopback stays down, as the kernel creates it"},
        {"shares_parent_mounts", "a realm without a new mount namespace shares its parent's and sees its later mounts"},
        {"all_capabilities", "root of a new user namespace keeps every capability"},
    };
    return traits;
}

bool launcher_trait_known(const std::string& name) {
    for (auto& t : launcher_traits())
        if (name == t.name) return true;
    return false;
}

std::string launcher_trait_names() {
    std::string s;
    for (auto& t : launcher_traits()) s += (s.empty() ? "" : ", ") + std::string(t.name);
    return s;
}

}  // namespace nslab::launch
