// An assignment: which experiments grade a submission, for how many points, started through which
// launcher template, built how, and sandboxed how. Loaded strictly from YAML (file:line:column).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "experiment/model.hpp"
#include "launch/launcher.hpp"

namespace nslab::grade {

// Gradescope's visibilities: shown at once, never, after the due date, after grades are published.
inline const std::vector<std::string>& visibilities() {
    static const std::vector<std::string> v{"visible", "hidden", "after_due_date", "after_published"};
    return v;
}

struct AssignmentTest {
    std::string experiment;  // suite.name; empty for a contract test
    std::string contract;    // a contract test of the launcher itself (grade/contract.hpp); empty for an experiment
    double points = 1;
    std::string visibility = "visible";
    std::string section;  // the lab section that explains it, for feedback ("TD2 UTS")
    std::string hint;     // shown to the student when the test does not pass
    experiment::Mark mark;
    // As reports name it: the experiment's suite.name, or "contract: exit_status".
    std::string name() const { return contract.empty() ? experiment : "contract: " + contract; }
};

struct Sandbox {
    uid_t uid = 65534;  // the submission's code runs as this user, never as root
    gid_t gid = 65534;
    long long cpu_seconds = 20;         // RLIMIT_CPU of every submission process
    long long max_pids = 256;           // tasks per lab (pids cgroup, or RLIMIT_NPROC)
    long long max_memory = 512ll << 20; // bytes per lab (memory cgroup), 0 = none
    long long file_size = 64ll << 20;   // RLIMIT_FSIZE
    long long output_bytes = 64 << 10;  // how much of the build's output is kept
};

struct Assignment {
    std::string file;
    std::string name, title;
    std::vector<std::string> suites;    // paths, resolved against the assignment's directory
    std::vector<std::string> build;     // argv run in the submission's copy; empty = nothing to build
    double build_timeout_s = 120;
    double test_timeout_s = 10;         // per experiment
    launch::LauncherConfig launcher;    // kind "command"
    Sandbox sandbox;
    std::vector<AssignmentTest> tests;
    double max_score() const;
};

struct AssignmentLoad {
    std::optional<Assignment> assignment;
    std::vector<std::string> errors;  // "file:line:column: message"
};

AssignmentLoad load_assignment(const std::string& path);

}  // namespace nslab::grade
