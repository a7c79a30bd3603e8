// The suite file's grammar as data: the keys of each mapping and the words some keys take. The
// loader reads files with these tables and `nslab schema` writes them out as JSON Schema, so that
// a key added to one is in the other.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "experiment/strict_yaml.hpp"

namespace nslab::experiment::grammar {

using strict_yaml::Key;
using strict_yaml::Keys;

const Keys& suite_keys();        // nslab, suite, title, description, experiments
const Keys& experiment_keys();   // name, summary, refs, tags, requires, timeout, realms, steps, expect
const Keys& requires_keys();     // root, userns, posix_mq, writable_sysfs, writable_root, kernel, tools, launcher
const Keys& realm_keys();        // new, parent, join, uid_map, …
const Keys& time_offset_keys();  // monotonic, boottime
const Keys& step_keys();         // every key of a step that is not an action's argument
const Keys& run_step_keys();     // the keys a `run:` step takes
const Keys& row_forms();         // probe, see, run: an expectation has exactly one
const Keys& row_keys();          // why, since, before: besides its form, cells and arguments
const Keys& matcher_keys();      // equals, contains, …: the one key of a matcher mapping

// A realm key that needs a new namespace of a kind ("mount_proc" needs "mnt").
const std::vector<std::pair<std::string, std::string>>& realm_key_needs();
const std::vector<std::string>& propagations();     // private, slave, shared, unchanged
const std::vector<std::string>& realm_launchers();  // builtin, unshare, bwrap, nsenter
const std::vector<std::string>& change_words();     // unchanged, changed: a cell's plain words
const std::vector<std::string>& see_words();        // visible, hidden: a `see:` row's cells

// The names' shapes, as the loader checks them (also the schema's patterns).
inline constexpr const char* kLowerNamePattern = "^[a-z0-9_]{1,64}$";        // suite and experiment names
inline constexpr const char* kRealmNamePattern = "^[A-Z][A-Z0-9_]{0,31}$";    // realm names
inline constexpr const char* kAliasPattern = "^[a-z][a-z0-9_]{0,31}$";        // `as:` names
inline constexpr const char* kVersionPattern = "^[0-9]+(\\.[0-9]+){0,2}$";    // kernel versions

}  // namespace nslab::experiment::grammar
