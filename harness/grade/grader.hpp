// Grading one submission: copy it into a scratch directory the sandbox user owns, build it inside a
// lab as that user, run the assignment's experiments with its launcher template, and score them.
#pragma once

#include <string>
#include <vector>

#include "experiment/loader.hpp"
#include "grade/assignment.hpp"
#include "grade/contract.hpp"
#include "runner/result.hpp"

namespace nslab::grade {

struct GradeOptions {
    std::string submission;             // the student's directory
    int jobs = 2;
    std::string scratch_root = "/var/tmp";  // not /tmp: each lab mounts its own tmpfs there
};

struct TestOutcome {
    const AssignmentTest* test = nullptr;
    // A contract test's entry in the table (its summary and default hint); null for an experiment.
    // Its result is suite "contract", name the contract's, and reason what was observed.
    const ContractInfo* contract = nullptr;
    runner::ExperimentResult result;
    double score = 0;
};

struct Grade {
    double score = 0, max_score = 0;
    bool built = true;
    std::string build_status;  // "exit 0", "exit 2", "killed by SIGKILL", "time limit of 120 s reached"
    std::string build_output;  // its end, capped by the sandbox's output_bytes
    std::string fatal;         // why no test could run ("" when they ran)
    // The grader cannot run here (its own environment failed, not the submission): why and the
    // fix, for the teacher. No score is given; `nslab grade` exits 3 (ARCHITECTURE.md §6).
    std::string refused;
    std::vector<TestOutcome> tests;
    double seconds = 0;
};

// The experiments the assignment names, from its suites, and its contract tests, from the table;
// errors name the test's file:line:column. Both vectors follow assignment.tests: each test is
// either an experiment (contracts[i] null) or a contract test (experiments[i] null).
struct ResolvedAssignment {
    experiment::LoadResult loaded;
    std::vector<const experiment::Experiment*> experiments;
    std::vector<const ContractInfo*> contracts;
    std::vector<std::string> errors;
};
ResolvedAssignment resolve(const Assignment& a);

Grade grade_submission(const Assignment& a, const ResolvedAssignment& r, const GradeOptions& options);

}  // namespace nslab::grade
