#include "core/id_map.hpp"

#include <sstream>

#include "sys/syscalls.hpp"

namespace nslab::core {

sys::Result<IdMap> parse_id_map(const std::string& text) {
    IdMap map;
    std::string normalized = text;
    for (auto& c : normalized)
        if (c == ';') c = '\n';
    std::istringstream lines(normalized);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.find_first_not_of(" \t") == std::string::npos) continue;
        std::istringstream fields(line);
        long long a = -1, b = -1, c = -1;
        std::string extra;
        if (!(fields >> a >> b >> c) || (fields >> extra))
            return sys::Error::message("id map line '" + line + "' is not 'inside outside count'");
        if (a < 0 || b < 0 || c <= 0 || a > 4294967294LL || b > 4294967294LL || c > 4294967295LL)
            return sys::Error::message("id map line '" + line + "' has an id out of range or a zero count");
        map.push_back({static_cast<unsigned>(a), static_cast<unsigned>(b), static_cast<unsigned>(c)});
    }
    if (map.empty()) return sys::Error::message("id map is empty");
    for (size_t i = 0; i < map.size(); ++i)
        for (size_t j = i + 1; j < map.size(); ++j) {
            auto overlap = [](unsigned s1, unsigned c1, unsigned s2, unsigned c2) {
                return static_cast<unsigned long long>(s1) < static_cast<unsigned long long>(s2) + c2 &&
                       static_cast<unsigned long long>(s2) < static_cast<unsigned long long>(s1) + c1;
            };
            // user_namespaces(7): ranges may not overlap on either side.
            if (overlap(map[i].inside, map[i].count, map[j].inside, map[j].count) ||
                overlap(map[i].outside, map[i].count, map[j].outside, map[j].count))
                return sys::Error::message("id map lines " + std::to_string(i + 1) + " and " +
                                           std::to_string(j + 1) + " overlap");
        }
    return map;
}

std::string format_id_map(const IdMap& map) {
    std::string s;
    for (auto& l : map)
        s += std::to_string(l.inside) + " " + std::to_string(l.outside) + " " + std::to_string(l.count) + "\n";
    return s;
}

long long map_to_outside(const IdMap& map, unsigned inside) {
    for (auto& l : map)
        if (inside >= l.inside && inside - l.inside < l.count) return static_cast<long long>(l.outside) + (inside - l.inside);
    return -1;
}

long long map_to_inside(const IdMap& map, unsigned outside) {
    for (auto& l : map)
        if (outside >= l.outside && outside - l.outside < l.count) return static_cast<long long>(l.inside) + (outside - l.outside);
    return -1;
}

sys::Status write_id_maps(const std::string& proc_pid_dir, const IdMap& uids, const IdMap& gids,
                          bool deny_setgroups) {
    NSLAB_TRY(sys::write_file(proc_pid_dir + "/uid_map", format_id_map(uids)).context("writing uid_map"));
    if (deny_setgroups)
        NSLAB_TRY(sys::write_file(proc_pid_dir + "/setgroups", "deny").context("writing setgroups"));
    NSLAB_TRY(sys::write_file(proc_pid_dir + "/gid_map", format_id_map(gids)).context("writing gid_map"));
    return {};
}

}  // namespace nslab::core
