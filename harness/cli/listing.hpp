// Renders the action/probe registry for `nslab list --actions|--probes` and docs/reference.md.
#pragma once

#include <ostream>
#include <vector>

#include "experiment/model.hpp"

namespace nslab::cli {

void print_registry(std::ostream& out, bool actions);
// The Markdown reference of every action and probe (docs/reference.md is generated from it).
void print_registry_markdown(std::ostream& out);
// The catalogue as Markdown (docs/catalogue.md): a count per suite and per namespace kind, then
// every experiment with its summary, the namespaces its realms create, and its refs.
void print_catalogue_markdown(std::ostream& out, const std::vector<experiment::Suite>& suites);

}  // namespace nslab::cli
