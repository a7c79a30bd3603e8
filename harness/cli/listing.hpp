// Renders the action/probe registry for `nslab list --actions|--probes` and docs/reference.md.
#pragma once

#include <ostream>

namespace nslab::cli {

void print_registry(std::ostream& out, bool actions);
// The Markdown reference of every action and probe (docs/reference.md is generated from it).
void print_registry_markdown(std::ostream& out);

}  // namespace nslab::cli
