// Which namespace kinds an experiment looks at. A launcher that cannot make a realm exactly as
// planned (one that always adds a kind, like bwrap's mount namespace) may still run an experiment
// that never looks at that kind; one that does look gets a SKIP naming the kind, never a FAIL.
#pragma once

#include "experiment/model.hpp"

namespace nslab::runner {

// The kinds its realms create or join, the kinds its steps and expectations name (a `kind:`
// argument, CLONE_NEW* flags), and pid where an op finds a realm's process in the caller's /proc
// (OpSpec::finds_realm_process): that needs the caller's PID namespace to be as planned.
unsigned observed_kinds(const experiment::Experiment& e);

}  // namespace nslab::runner
