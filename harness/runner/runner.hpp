// The runner: one experiment in one fresh lab — realms, topology check, steps, expectations — and
// many experiments on N threads. The runner process never changes its own namespaces.
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include "experiment/model.hpp"
#include "launch/launcher.hpp"
#include "runner/lab_cgroup.hpp"
#include "runner/result.hpp"

namespace nslab::runner {

struct RunOptions {
    std::optional<double> timeout_s;  // overrides every experiment's own limit
    double default_timeout_s = 10;
    // Every time limit (the experiment's, the default, --timeout) is multiplied by this: a machine
    // 20 times slower (QEMU without KVM) gets 20 times as long, and what it finds stays the same.
    double time_scale = 1;
    // Own each lab by a new user namespace: required when not root, possible as root.
    bool lab_in_user_namespace = false;
    // Why an experiment that needs root's own lab cannot have one in this run, with the fix
    // (runner/machine_facts.hpp choose_lab_mode); "" when it can.
    std::string root_unavailable;
    // Why no lab at all can be made here (cause and fix): every experiment is BROKEN with it.
    std::string no_lab;
    // Give each lab a copy-on-write `/` (agent/lab_root.hpp), so that no write reaches the
    // machine's files; false (`--lab-root host`): the machine's `/`, with only /tmp its own.
    bool copy_on_write_root = true;
    int jobs = 1;
    // Start every realm this way instead of as its file says (`nslab run --launcher unshare`,
    // or an assignment's command template when grading).
    std::optional<launch::LauncherConfig> launcher;
    // Per-lab bounds on tasks and memory (`--max-pids`, `--max-memory`): see runner/lab_cgroup.hpp.
    LabLimits limits;
};

// Labs as this machine allows (machine_facts, choose_lab_mode): root's own when the runner is
// root with the capabilities they need, else owned by a user namespace; user_lab asks for the
// latter even as root.
RunOptions default_options(bool user_lab = false);

ExperimentResult run_experiment(const experiment::Experiment& e, const RunOptions& options);

// Runs experiments on options.jobs threads; on_result is called once per experiment, in the
// order given, as soon as it and all before it are done (so output streams in catalogue order).
std::vector<ExperimentResult> run_all(const std::vector<const experiment::Experiment*>& experiments,
                                      const RunOptions& options,
                                      const std::function<void(const ExperimentResult&)>& on_result);

}  // namespace nslab::runner
