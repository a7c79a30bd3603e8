#include "cli/explain_command.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <iostream>

#include "experiment/loader.hpp"

namespace nslab::cli {
namespace {

std::string join(const std::vector<std::string>& parts) {
    std::string out;
    for (auto& p : parts) out += (out.empty() ? "" : ", ") + p;
    return out;
}

// A line as typed, its comment aligned at `column` (or after the command's own comment).
std::string typed(const SessionLine& l, size_t column) {
    if (l.comment.empty()) return l.command;
    if (l.command.find('#') != std::string::npos) return l.command + "; " + l.comment;
    std::string pad(column > l.command.size() ? column - l.command.size() : 1, ' ');
    return l.command + pad + "# " + l.comment;
}

// Where comments start in a group: after its longest command, within reason.
size_t comment_column(const SessionGroup& g) {
    size_t width = 0;
    for (auto& l : g.lines)
        if (!l.comment.empty() && l.command.find('#') == std::string::npos) width = std::max(width, l.command.size());
    return std::min<size_t>(width, 48) + 3;
}

std::string terminal_name(const std::string& t) { return "Terminal " + t; }

}  // namespace

void print_session(std::ostream& out, const Session& s) {
    out << s.name << "\n    " << s.summary << "\n";
    if (!s.refs.empty()) out << "    refs: " << join(s.refs) << "\n";
    for (auto& g : s.groups) {
        out << "\n" << terminal_name(g.terminal) << "\n";
        size_t column = comment_column(g);
        for (auto& l : g.lines) out << "    " << typed(l, column) << "\n";
    }
}

void print_session_markdown(std::ostream& out, const Session& s) {
    out << "## `" << s.name << "`\n\n" << s.summary << "\n";
    if (!s.refs.empty()) out << "\nRefs: " << join(s.refs) << "\n";
    for (auto& g : s.groups) {
        out << "\n**" << terminal_name(g.terminal) << "**\n\n```sh\n";
        size_t column = comment_column(g);
        for (auto& l : g.lines) out << typed(l, column) << "\n";
        out << "```\n";
    }
}

int explain_command(const ExplainArgs& a) {
    auto loaded = experiment::load_paths(a.paths);
    if (!loaded.ok()) {
        for (auto& e : loaded.errors) std::cerr << e.str() << "\n";
        return 2;
    }
    bool first = true;
    for (auto& suite : loaded.suites)
        for (auto& e : suite.experiments) {
            if (::fnmatch(a.name.c_str(), e.full_name().c_str(), 0) != 0) continue;
            if (!first) std::cout << "\n";
            first = false;
            Session s = shell_session(e);
            a.markdown ? print_session_markdown(std::cout, s) : print_session(std::cout, s);
        }
    if (first) {
        std::cerr << "nslab: no experiment is named '" << a.name << "' (`nslab list` names them: SUITE.EXPERIMENT)\n";
        return 2;
    }
    return 0;
}

}  // namespace nslab::cli
