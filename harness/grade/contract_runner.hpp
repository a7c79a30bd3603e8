// Running contract tests (grade/contract.hpp): the assignment's launcher run as a program, with a
// COMMAND of the test's own in place of the agent, in a fresh lab of its own, as the sandbox user
// with the sandbox's limits, through the lab agent's launch / launch_status calls. Each verdict
// comes from what the grader observes of processes — the launcher's pidfd and wait status, lines
// COMMAND prints, COMMAND's process found under the launcher — never from the launcher's own text.
#pragma once

#include <string>
#include <vector>

#include "grade/contract.hpp"
#include "launch/launcher.hpp"
#include "runner/lab_cgroup.hpp"
#include "runner/result.hpp"

namespace nslab::grade {

struct ContractSetup {
    // Kind "command", as the experiments get it: vars (submission), uid, gid and limits set.
    launch::LauncherConfig launcher;
    runner::LabLimits limits;  // each test's lab, bounded as the build's and the experiments' are
    double timeout_s = 10;     // each test, from the moment its lab is up
    int jobs = 1;              // tests run at once, each in its own lab
    std::string file;          // the assignment, for results (file:line of each test)
};

// One contract test. PASS or FAIL says what the launcher did; BROKEN only when the grader's own
// part failed (the lab, its cgroup, the agent, the template): never charged to the student.
// reason: what was observed, for every outcome ("the launcher exited with status 0; …").
runner::ExperimentResult run_contract(const ContractInfo& contract, const ContractSetup& setup, int line = 0);

// The tests in the order given, options.jobs at a time; lines: each test's line in the assignment.
std::vector<runner::ExperimentResult> run_contracts(const std::vector<const ContractInfo*>& contracts,
                                                    const std::vector<int>& lines, const ContractSetup& setup);

}  // namespace nslab::grade
