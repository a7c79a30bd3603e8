#include "grade/assignment_grammar.hpp"

#include <stdexcept>

namespace nslab::grade::grammar {

// The order of each table is the order the loader's messages list the keys in.

const Keys& assignment_keys() {
    static const Keys k{
        {"nslab_assignment", true, "The assignment schema version: 1."},
        {"name", true, "The assignment's name."},
        {"title", true, "One line, shown to students."},
        {"suites", true, "Suite files, relative to this file, that the tests' experiments come from."},
        {"build", false, "How the submission is built, as the sandbox user."},
        {"launcher", true, "The command that starts each realm: the student's program."},
        {"sandbox", false, "The user and limits the submission runs under."},
        {"tests", true, "What is graded, in order."},
    };
    return k;
}

const Keys& build_keys() {
    static const Keys k{
        {"command", false, "The argv run in the submission's copy, e.g. [make]."},
        {"timeout", false, "Seconds."},
    };
    return k;
}

const Keys& launcher_keys() {
    static const Keys k{
        {"command", true, "The argv that starts a realm; \"${agent}\" must be a word of its own."},
        {"flags", false, "What ${flags} becomes when a realm asks for a namespace kind or an option."},
        {"creates", false, "The namespace kinds the command always creates."},
        {"mounts_proc", false, "The command always mounts a fresh /proc."},
        {"connect_by_socket", false, "The agent connects to a socket path (for launchers that close fds)."},
        {"timeout", false, "Seconds per experiment."},
    };
    return k;
}

const Keys& sandbox_keys() {
    static const Keys k{
        {"uid", false, "The submission runs as this uid (never 0)."},
        {"gid", false, "... and this gid (never 0)."},
        {"cpu_seconds", false, "RLIMIT_CPU of every submission process."},
        {"max_pids", false, "Tasks per lab."},
        {"max_memory", false, "Bytes per lab (0: no bound)."},
        {"file_size", false, "RLIMIT_FSIZE, bytes."},
        {"output_bytes", false, "How much of the build's output is kept."},
    };
    return k;
}

const Keys& test_keys() {
    static const Keys k{
        {"experiment", false, "suite.experiment, from the assignment's suites."},
        {"contract", false, "A contract test of the launcher itself."},
        {"points", false, "More than 0, at most 1000 (default 1)."},
        {"visibility", false, "When the student sees the result (Gradescope's visibilities)."},
        {"section", false, "The lab section that explains it, for feedback."},
        {"hint", false, "Shown to the student when the test does not pass."},
    };
    return k;
}

Bounds build_timeout() { return {1, 3600}; }
Bounds launcher_timeout() { return {1, 600}; }

Bounds sandbox_bounds(const std::string& key) {
    if (key == "uid" || key == "gid") return {1, 4294967294.0};
    if (key == "cpu_seconds") return {1, 3600};
    if (key == "max_pids") return {8, 1 << 20};
    if (key == "max_memory") return {0, 1'000'000'000'000.0};
    if (key == "file_size") return {4096, 1'000'000'000'000.0};
    if (key == "output_bytes") return {1024, 1 << 26};
    throw std::logic_error("sandbox key '" + key + "' has no bounds");
}

}  // namespace nslab::grade::grammar
