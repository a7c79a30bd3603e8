// The experiment model: what a suite file says once the strict loader has checked it.
// The schema is written out in docs/schema.md.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace nslab::experiment {

using json = nlohmann::json;

// Where something stands in its file (1-based line and column).
struct Mark {
    std::string file;
    int line = 0;
    int column = 0;
    std::string str() const;  // "suites/td2_uts.yaml:12:7"
};

// How one cell of an expectation row is judged.
enum class MatcherKind {
    equals,        // observed == value (a scalar, or a list for list-valued probes)
    unchanged,     // observed == the same probe's value before the steps ran
    changed,       // observed != that value
    contains,      // a list holds the element / a string holds the substring
    not_contains,  // the opposite
    count,         // a list has N elements (a string: N non-empty lines)
    matches,       // a string matches the ECMAScript regex (search)
    same_as,       // observed == what vantage `realm` observed in this row
    differs_from,  // observed != what vantage `realm` observed in this row
    visible,       // `see:` rows: the object can be seen from here
    hidden,        // `see:` rows: it cannot
    error,         // the probe failed with errno `value` ("EPERM"); the only matcher a failed probe passes
};
std::string matcher_kind_name(MatcherKind k);

struct Matcher {
    MatcherKind kind = MatcherKind::equals;
    json value;           // for equals/contains/not_contains/count/matches/error (strings may hold ${alias.field})
    std::string vantage;  // for same_as / differs_from
    Mark mark;
    std::string describe() const;  // "virtualisation", "unchanged", "contains 0x1234", ...
};

struct RealmSpec {
    std::string name;  // [A-Z][A-Z0-9_]*
    Mark mark;
    unsigned new_mask = 0;                      // core::ns_bit() of each new kind
    std::string parent;                         // "" = started from the host; else a realm's name
    Mark parent_mark;                           // where `parent` is written (for errors)
    std::vector<std::pair<std::string, std::string>> join;  // (kind, realm or "host") to share
    std::vector<Mark> join_marks;               // where each join target is written
    std::string uid_map, gid_map;               // "" = map root to the parent's ids; "none"
    std::string propagation = "private";        // private | slave | shared | unchanged
    bool mount_proc = false;
    std::optional<long long> monotonic_offset, boottime_offset;
    // "" = the run's launcher (builtin unless `--launcher` or an assignment says otherwise); a
    // realm that names one keeps it under --launcher: scaffolding, such as a shared parent.
    std::string launcher;
};

struct Step {
    Mark mark;
    std::string in;       // realm name or "host"
    std::string op;       // registry action ("run" for `run:` steps)
    json args = json::object();
    std::string as;       // names the action's result for later `see:` and ${as.field}
    std::string expect_error;  // "EPERM": the step must fail with this errno
    std::optional<int> expect_exit = 0;  // `run:` steps: required exit status; nullopt = any
    std::string source;   // the step as written, for reports ("A: sethostname name=virtualisation")
};

struct Expectation {
    Mark mark;
    enum class Form { probe, see, run } form = Form::probe;
    std::string op;       // the probe ("visible" for see, "run" for run)
    json args = json::object();
    std::string object;   // see: the alias of the object
    std::vector<std::pair<std::string, Matcher>> cells;  // vantage ("A", "host") -> matcher, as written
    std::string why;      // optional explanation shown with the row
    // The kernels the row holds for: since <= release < before ("" = unbounded). Where a kernel
    // changed a behaviour, one row per range keeps the older kernels' behaviour asserted too.
    std::string since_kernel, before_kernel;
    bool applies_to_kernel(const std::string& release) const;
    std::string kernel_range() const;  // "kernel >= 6.2", "kernel < 6.2", "" when unbounded
    std::string label() const;  // "hostname", "see seg", "run `ipcs -m`", then " [kernel < 6.2]"
};

// Whether a kernel release ("6.1.0-57-amd64", "6.18.44-fc") is at least `minimum` ("6.2"),
// comparing the numeric prefix of each dot-separated part.
bool kernel_at_least(const std::string& release, const std::string& minimum);

struct Requirements {
    bool root = false;               // real root on the machine
    bool userns = false;             // user namespaces can be created here
    bool posix_mq = false;           // the kernel has POSIX message queues (CONFIG_POSIX_MQUEUE)
    bool writable_sysfs = false;     // a realm mounts a read-write sysfs (not where /sys is locked read-only)
    bool writable_root = false;      // steps write outside /tmp: the lab's `/` must be copy-on-write
    std::string kernel;              // minimum kernel release, e.g. "5.6"
    std::vector<std::string> tools;  // programs that must be on PATH
    // What the experiment relies on in the way its realms are started (see launch::launcher_traits()):
    // e.g. "loopback_down". A launcher without one of them SKIPs the experiment, saying why.
    std::vector<std::string> launcher;
};

struct Experiment {
    std::string suite;
    std::string name;  // [a-z0-9_]+
    Mark mark;
    std::string summary;
    std::vector<std::string> refs;
    std::vector<std::string> tags;
    Requirements requires_;
    std::optional<double> timeout_s;
    std::vector<RealmSpec> realms;  // parents before children
    std::vector<Step> steps;
    std::vector<Expectation> expect;

    std::string full_name() const { return suite + "." + name; }
    const RealmSpec* realm(const std::string& name) const;
    // The columns of its matrix: realms in order, then "host".
    std::vector<std::string> vantages() const;
};

struct Suite {
    std::string file;
    std::string name;
    std::string title;
    std::string description;
    std::vector<Experiment> experiments;
};

}  // namespace nslab::experiment
