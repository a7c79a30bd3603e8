// User and group id maps (user_namespaces(7)): lines "inside outside count".
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "sys/result.hpp"

namespace nslab::core {

struct IdMapLine {
    unsigned inside = 0;
    unsigned outside = 0;
    unsigned count = 0;
    bool operator==(const IdMapLine&) const = default;
};
using IdMap = std::vector<IdMapLine>;

// Parses "0 1000 1\n1 100000 65536" (also ';'-separated). Rejects overlaps and empty counts.
sys::Result<IdMap> parse_id_map(const std::string& text);
std::string format_id_map(const IdMap& map);
// Maps an id through a map ("inside" → "outside"); nullopt-like -1 when unmapped.
long long map_to_outside(const IdMap& map, unsigned inside);
// The reverse: the inside id an outside id maps to, -1 when no line covers it.
long long map_to_inside(const IdMap& map, unsigned outside);

// Writes uid_map and gid_map of process pid (as seen from the writer's /proc).
// user_namespaces(7): each map is written once; an unprivileged writer must first write "deny" to
// setgroups, or gid_map is refused (CVE-2014-8989: setgroups could drop supplementary groups).
sys::Status write_id_maps(const std::string& proc_pid_dir, const IdMap& uids, const IdMap& gids,
                          bool deny_setgroups);

}  // namespace nslab::core
