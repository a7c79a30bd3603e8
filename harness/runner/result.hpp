// The result model: what one run of an experiment produced. Every report renders this.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "experiment/model.hpp"

namespace nslab::runner {

// PASS: every expectation held. FAIL: the kernel (or a launcher) behaved otherwise than the
// experiment says. SKIP: a precondition is missing on this machine (reason says which, decided by
// probing). BROKEN: the harness or the set-up failed, so nothing was learned.
enum class Outcome { pass, fail, skip, broken };
std::string outcome_name(Outcome o);  // "PASS", "FAIL", "SKIP", "BROKEN"

struct Cell {
    std::string vantage;   // "A", "B", "host"
    std::string expected;  // the matcher, described ("programmation", "hidden", "unchanged")
    std::string observed;  // what was seen, rendered ("programmation", "[0x1a2b3c4d]")
    bool ok = false;
};

struct Row {
    std::string label;  // "hostname", "see seg", "run `ipcs -m`"
    experiment::Mark mark;
    std::string why;
    std::vector<Cell> cells;  // in the experiment's vantage order, only those the row names
    bool ok = false;
};

struct StepRecord {
    std::string source;  // "A: sethostname name=virtualisation"
    experiment::Mark mark;
    bool ok = false;
    std::string detail;  // error text, command output, or the value returned
    double ms = 0;
};

// Where an experiment's time went, in ms; a phase that did not run stays 0.
struct PhaseTimes {
    double lab = 0;       // starting the lab (its cgroup, namespaces, mounts, init and agent), or
                          // waiting for it when nslab run started it in advance
    double realms = 0;    // starting the realms and checking what they are
    double steps = 0;     // baselines and steps
    double expect = 0;    // probing the expectations from every vantage
    double teardown = 0;  // ending every process of the lab and removing its cgroup (handing it
                          // to the run's reaper thread, in nslab run)
};

// What a FAIL is about, so that feedback can name the real mistake rather than repeat the
// test's hint: the launcher under test started no working agent, or started it twice, or made
// the wrong namespaces; a step failed; an expectation did not hold.
enum class FailureKind { none, launcher_start, launcher_twice, topology, step, expectation };
struct FailureDetail {
    FailureKind kind = FailureKind::none;
    std::string realm;  // launcher_*, topology: the realm concerned
    // launcher_start: what became of the launcher, and the end of its output
    std::optional<int> launcher_exit, launcher_signal;
    bool launcher_running = false;
    std::string launcher_output;
    // launcher_start: the launcher never ran (the agent's execve of it failed): that errno
    int launcher_exec_errno = 0;
    // topology: the kind, and whether a new namespace was missing (else one was wrongly new or shared)
    std::string ns_kind;
    bool missing_new = false;
    // step: the step as written, its errno (0: none, e.g. a command's exit status), and the uid the
    // realm's agent has in its own user namespace (not set for the host)
    std::string step;
    int step_errno = 0;
    std::optional<unsigned> realm_uid;
};

struct ExperimentResult {
    std::string suite, name, file, summary;
    int line = 0;
    std::vector<std::string> refs, tags, vantages;
    Outcome outcome = Outcome::broken;
    std::string reason;  // for FAIL/SKIP/BROKEN: one line that says why
    FailureDetail failure;  // for FAIL: what it is about
    bool time_limit = false;  // BROKEN because the experiment's time limit passed (a step or probe hung)
    double duration_ms = 0;
    PhaseTimes phases;
    std::vector<StepRecord> steps;
    std::vector<Row> rows;

    std::string full_name() const { return suite + "." + name; }
};

struct RunSummary {
    int passed = 0, failed = 0, skipped = 0, broken = 0;
    double wall_ms = 0;
    int total() const { return passed + failed + skipped + broken; }
};
RunSummary summarize(const std::vector<ExperimentResult>& results, double wall_ms);

}  // namespace nslab::runner
