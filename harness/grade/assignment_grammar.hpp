// The assignment file's grammar as data: the keys of each mapping and the bounds of its numbers.
// The assignment loader reads files with these tables and `nslab schema --assignment` writes them
// out as JSON Schema, so that the two cannot drift.
#pragma once

#include <string>
#include <vector>

#include "experiment/strict_yaml.hpp"

namespace nslab::grade::grammar {

using strict_yaml::Keys;

const Keys& assignment_keys();  // nslab_assignment, name, title, suites, build, launcher, sandbox, tests
const Keys& build_keys();       // command, timeout
const Keys& launcher_keys();    // command, flags, creates, mounts_proc, connect_by_socket, timeout
const Keys& sandbox_keys();     // uid, gid, cpu_seconds, …
const Keys& test_keys();        // experiment, contract, points, visibility, section, hint

// A number's bounds, inclusive.
struct Bounds {
    double lo, hi;
};
Bounds build_timeout();                          // seconds
Bounds launcher_timeout();                       // seconds, per experiment
Bounds sandbox_bounds(const std::string& key);   // a key of sandbox_keys()
inline constexpr double kMaxPoints = 1000;       // a test's points: more than 0, at most this

}  // namespace nslab::grade::grammar
