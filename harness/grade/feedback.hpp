// Feedback that names the real mistake: a lost test is diagnosed from what its failure is about
// (runner::FailureDetail) — the launcher started no COMMAND, ran it twice, made the wrong
// namespaces; a contract test; an expectation — and only an expectation gets the test's own hint.
// When most lost tests share one launcher-level cause, it is said once, first ("fix this first").
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "runner/result.hpp"

namespace nslab::grade {

enum class Cause { none, launcher_start, launcher_twice, topology, not_root, contract, expectation, time_limit, not_run };

struct Diagnosis {
    Cause cause = Cause::none;
    std::string headline;  // one line naming the mistake, in the student's terms
    std::string detail;    // what was seen (exit status, the launcher's last output), may be empty
    std::string hint;      // what it usually means and what to do
    std::string key;       // equal for tests lost to the same launcher-level mistake; "" otherwise
};

// test_hint: the assignment's hint for the test (used for expectations and, when given, contracts);
// contract_hint: the contract table's hint ("" for an experiment); root_inside: the launcher is
// to make COMMAND root of a user namespace of its own (the assignment's launcher creates one), so a
// step that failed where COMMAND is not root is diagnosed as that.
Diagnosis diagnose(const runner::ExperimentResult& r, const std::string& test_hint, const std::string& contract_hint,
                   bool root_inside = false);

// The launcher-level diagnosis shared by most lost tests (at least two, and at least half of
// them), if any.
std::optional<Diagnosis> common_cause(const std::vector<Diagnosis>& lost);

// "CLONE_NEWUTS" for "uts", "CLONE_NEWNS" for "mnt".
std::string clone_flag_name(const std::string& kind);

}  // namespace nslab::grade
