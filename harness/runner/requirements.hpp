// Decides SKIP by probing the machine, never by reading error text.
#pragma once

#include <optional>
#include <string>

#include "experiment/model.hpp"

namespace nslab::runner {

// The reason this machine cannot run the experiment, or nullopt if it can. root_unavailable: why
// this run has no root's own lab (RunOptions::root_unavailable), said to experiments that need one.
// copy_on_write_root: the run asks its labs for a copy-on-write `/` (RunOptions; the lab may still
// be unable to make one, which the runner learns from its hello).
std::optional<std::string> unmet_requirement(const experiment::Experiment& e, bool lab_in_user_namespace,
                                             const std::string& root_unavailable = "", bool copy_on_write_root = true);

// The SKIP reason of a `writable_root` experiment in a lab that said it has no copy-on-write root
// (agent::Hello::root_why_not): the runner and `nslab doctor` say the same.
std::string no_copy_on_write_root(const std::string& why_not);

// Probed once (machine_facts): can this process create a user namespace?
bool can_create_user_namespace();
// "5.15.0-91-generic" >= "5.6"? (experiment/model.hpp)
using experiment::kernel_at_least;

}  // namespace nslab::runner
