#include "core/namespace_limits.hpp"

#include "core/namespace_kind.hpp"
#include "sys/syscalls.hpp"

namespace nslab::core {

std::string namespace_limit_hint(unsigned mask) {
    // namespaces(7): the limits are per user namespace and checked in every ancestor one too
    // (ucounts), so the reader's own values are the ones that bound the namespaces it creates.
    std::string zero, all;
    for (auto& k : namespace_kinds()) {
        if (mask && !(mask & ns_bit(k.ns))) continue;
        std::string file = "/proc/sys/user/max_" + std::string(k.name) + "_namespaces";
        auto text = sys::read_file(file);
        if (!text.ok()) continue;
        std::string value = *text;
        while (!value.empty() && (value.back() == '\n' || value.back() == ' ')) value.pop_back();
        std::string item = file + " is " + value;
        if (value == "0") zero += (zero.empty() ? "" : ", ") + item;
        all += (all.empty() ? "" : ", ") + item;
    }
    if (!zero.empty()) return "namespace limit reached: " + zero;
    if (!all.empty()) return "namespace limit reached: check " + all + " (and the namespaces already in use)";
    return "namespace limit reached: check /proc/sys/user/max_*_namespaces";
}

}  // namespace nslab::core
