// KTAP version 1, as the kernel's Documentation/dev-tools/ktap.rst specifies it: a version line,
// a plan "1..N", one result line "<ok|not ok> <number> <description>[ # <directive> <data>]" per
// test; a nested test is its subtests' own KTAP (version line and plan included) indented two
// spaces, followed by the parent's result line at the parent's indentation. Diagnostic lines are
// "# text", placed directly before the result line they explain.
#include <sstream>
#include <string>
#include <vector>

#include "report/report.hpp"
#include "report/text_util.hpp"

namespace nslab::report {

using runner::ExperimentResult;
using runner::Outcome;

namespace {

// ktap.rst: a description "can be any string of words (can't include #)".
std::string description(std::string_view s) {
    std::string out = one_line(s);
    for (char& c : out)
        if (c == '#') c = '_';
    return out.empty() ? "unnamed" : out;
}

void diagnostics(std::ostringstream& out, const std::string& indent, const std::string& text) {
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
        while (!line.empty() && line.back() == ' ') line.pop_back();
        out << indent << "#" << (line.empty() ? "" : " " + one_line(line)) << "\n";
    }
}

// ktap.rst: SKIP may go with "ok"; TIMEOUT and ERROR go with "not ok"; the diagnostic data
// follows the directive on the same line.
std::string result_line(const ExperimentResult& r, int number) {
    std::string head = std::to_string(number) + " " + description(r.name);
    switch (r.outcome) {
        case Outcome::pass: return "ok " + head;
        case Outcome::skip: return "ok " + head + " # SKIP " + one_line(r.reason);
        case Outcome::fail: return "not ok " + head;
        case Outcome::broken: return "not ok " + head + (r.time_limit ? " # TIMEOUT " : " # ERROR ") + one_line(r.reason);
    }
    return "not ok " + head;
}

}  // namespace

std::string ktap(const std::vector<ExperimentResult>& results, const runner::RunSummary& summary) {
    std::ostringstream out;
    const auto groups = group_by_suite(results);
    out << "KTAP version 1\n";
    out << "# nslab: " << results.size() << " experiments in " << groups.size() << " suites\n";
    out << "1.." << groups.size() << "\n";
    int suite_number = 0;
    for (const auto& g : groups) {
        const std::string in = "  ";
        out << in << "KTAP version 1\n";
        out << in << "# Subtest: " << description(g.name) << "\n";
        out << in << "1.." << g.cases.size() << "\n";
        int passed = 0, failed = 0, skipped = 0, broken = 0, number = 0;
        for (const ExperimentResult* r : g.cases) {
            passed += r->outcome == Outcome::pass;
            failed += r->outcome == Outcome::fail;
            skipped += r->outcome == Outcome::skip;
            broken += r->outcome == Outcome::broken;
            if (r->outcome == Outcome::fail || r->outcome == Outcome::broken) {
                diagnostics(out, in, r->full_name() + ": " + runner::outcome_name(r->outcome) + ": " + r->reason);
                diagnostics(out, in, result_details(*r));
            }
            out << in << result_line(*r, ++number) << "\n";
        }
        out << "# " << description(g.name) << ": pass:" << passed << " fail:" << failed << " skip:" << skipped
            << " broken:" << broken << " total:" << g.cases.size() << "\n";
        // ktap.rst: a parent fails when a subtest fails; skips do not fail it, and a parent whose
        // subtests were all skipped is itself marked skipped.
        std::string line = (failed + broken ? "not ok " : "ok ") + std::to_string(++suite_number) + " " + description(g.name);
        if (!failed && !broken && skipped == static_cast<int>(g.cases.size())) line += " # SKIP every experiment skipped";
        out << line << "\n";
    }
    out << "# nslab: pass:" << summary.passed << " fail:" << summary.failed << " skip:" << summary.skipped
        << " broken:" << summary.broken << " total:" << summary.total() << " wall:" << fixed(summary.wall_ms / 1000, 3) << "s\n";
    return out.str();
}

}  // namespace nslab::report
