// `nslab explain SUITE.EXPERIMENT [--markdown]`: an experiment as the shell session a student would
// type (cli/shell_session.hpp), as text for a terminal or as Markdown for course notes.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "cli/shell_session.hpp"

namespace nslab::cli {

struct ExplainArgs {
    std::string name;  // suite.experiment, or a glob over such names
    std::vector<std::string> paths;
    bool markdown = false;
};

// Headers "Terminal A", commands indented, comments aligned.
void print_session(std::ostream& out, const Session& s);
// A "**Terminal A**" line and a fenced sh block per group.
void print_session_markdown(std::ostream& out, const Session& s);
int explain_command(const ExplainArgs& a);

}  // namespace nslab::cli
