// Renderers of one result model (runner/result.hpp): one file per format.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "runner/result.hpp"

namespace nslab::report {

struct PrettyOptions {
    bool color = false;         // ANSI colours (only when writing to a terminal)
    bool matrix_on_pass = true;  // draw the visibility matrix for passing experiments too
};

// One experiment: outcome, time, and its visibility matrix (expected vs observed on failure);
// the reason for FAIL/SKIP/BROKEN; failing steps; refs and tags of a failure.
void write_pretty_result(std::ostream& out, const runner::ExperimentResult& r, const PrettyOptions& o);
// The closing lines: BROKEN experiments named, then exactly one line
// "N passed, N failed, N skipped" (BROKEN counted as failed), then the wall time.
void write_pretty_summary(std::ostream& out, const std::vector<runner::ExperimentResult>& results,
                          const runner::RunSummary& summary, const PrettyOptions& o);

// JUnit XML valid against Jenkins xunit's junit-10.xsd: <testsuites name tests failures errors time>
// with one <testsuite name tests failures errors skipped time file> per suite; FAIL ->
// <failure message=...>matrix</failure>, BROKEN -> <error>, SKIP -> <skipped message=...>. The
// schema has no per-testcase file/line, so each failure body starts with "at FILE:LINE".
std::string junit_xml(const std::vector<runner::ExperimentResult>& results, const runner::RunSummary& summary);

// KTAP version 1 (the kernel's Documentation/dev-tools/ktap.rst), as kselftest, KernelCI and LAVA
// read it: one subtest per suite ("# Subtest: SUITE", indented four spaces), one result line per
// experiment: PASS "ok", FAIL "not ok", SKIP "ok … # SKIP reason", BROKEN "not ok … # ERROR
// reason" ("# TIMEOUT" when its time limit passed); a failure's details as "# " lines before it.
std::string ktap(const std::vector<runner::ExperimentResult>& results, const runner::RunSummary& summary);

// JSON: {"nslab": 1, "summary": {...}, "experiments": [{... every field of the result ...}]}.
// Its summary counts FAIL in "failed" and BROKEN in "broken" (the pretty line adds them up).
std::string json_report(const std::vector<runner::ExperimentResult>& results, const runner::RunSummary& summary);

// The experiments of each suite, suites in the order they first appear (JUnit, KTAP).
struct SuiteGroup {
    std::string name;
    std::vector<const runner::ExperimentResult*> cases;
};
std::vector<SuiteGroup> group_by_suite(const std::vector<runner::ExperimentResult>& results);

// What the pretty report shows under an experiment's header line (reason, matrix, failing steps,
// refs, tags), uncoloured, after "at FILE:LINE": the body of a JUnit failure, KTAP diagnostics.
std::string result_details(const runner::ExperimentResult& r);

}  // namespace nslab::report
