// The man page and the bash completion, generated from the CLI's own definition (its commands,
// options, descriptions and allowed values), so that neither can drift from `nslab --help`.
#pragma once

#include <CLI/CLI.hpp>

#include <ostream>

namespace nslab::cli {

// nslab.1 in man(7) troff; commands in a group named "" (hidden) are left out.
void write_man_page(std::ostream& out, const CLI::App& app, const std::string& version);
// A bash completion script: commands, their options, allowed values, files for paths, and the
// experiment names (`nslab list`) for --filter.
void write_bash_completion(std::ostream& out, const CLI::App& app);

}  // namespace nslab::cli
