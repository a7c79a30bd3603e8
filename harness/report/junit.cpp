// JUnit XML, valid against the schema Jenkins' xUnit plugin checks files with (junit-10.xsd):
// that schema allows no `skipped` on <testsuites> and only name/classname/time/group on
// <testcase>, so the experiment's file:line goes into the <testsuite file=...> attribute and the
// text of its failure, error or skip instead.
#include <sstream>
#include <string>
#include <vector>

#include "report/report.hpp"
#include "report/text_util.hpp"

namespace nslab::report {

using runner::ExperimentResult;
using runner::Outcome;

namespace {

struct Counts {
    int tests = 0, failures = 0, errors = 0, skipped = 0;
    double ms = 0;
    void add(const ExperimentResult& r) {
        ++tests;
        failures += r.outcome == Outcome::fail;
        errors += r.outcome == Outcome::broken;
        skipped += r.outcome == Outcome::skip;
        ms += r.duration_ms;
    }
};

struct SuiteGroup {
    std::string name;
    std::vector<const ExperimentResult*> cases;
    Counts counts;
};

// One group per distinct suite, in the order suites first appear.
std::vector<SuiteGroup> group_by_suite(const std::vector<ExperimentResult>& results) {
    std::vector<SuiteGroup> groups;
    for (auto& r : results) {
        SuiteGroup* g = nullptr;
        for (auto& candidate : groups)
            if (candidate.name == r.suite) g = &candidate;
        if (g == nullptr) g = &groups.emplace_back(SuiteGroup{.name = r.suite});
        g->cases.push_back(&r);
        g->counts.add(r);
    }
    return groups;
}

std::string attr(std::string_view name, std::string_view value) {
    return " " + std::string(name) + "=\"" + xml_escape(value, true) + "\"";
}

std::string attr(std::string_view name, int value) {
    return attr(name, std::to_string(value));
}

std::string seconds(double ms) {
    return fixed(ms / 1000, 3);
}

// The text of a <failure> or <error>: where the experiment is written, then what the pretty
// report shows under its header line (reason, matrix, failing steps, refs, tags), uncoloured.
std::string failure_text(const ExperimentResult& r) {
    std::ostringstream pretty;
    write_pretty_result(pretty, r, PrettyOptions{.color = false, .matrix_on_pass = true});
    std::string body = pretty.str();
    const auto header_end = body.find('\n');
    body.erase(0, header_end == std::string::npos ? body.size() : header_end + 1);
    experiment::Mark where{.file = r.file, .line = r.line};
    const std::string at = mark_text(where);
    return (at.empty() ? std::string() : "at " + at + "\n") + body;
}

void write_case(std::string& x, const ExperimentResult& r) {
    x += "    <testcase" + attr("classname", r.suite) + attr("name", r.name) +
         attr("time", seconds(r.duration_ms));
    switch (r.outcome) {
        case Outcome::pass:
            x += "/>\n";
            return;
        case Outcome::skip:
            x += ">\n      <skipped" + attr("message", r.reason) + "/>\n";
            break;
        case Outcome::fail:
            x += ">\n      <failure" + attr("message", r.reason) + attr("type", "FAIL") + ">" +
                 xml_escape(failure_text(r), false) + "</failure>\n";
            break;
        case Outcome::broken:
            x += ">\n      <error" + attr("message", r.reason) + attr("type", "BROKEN") + ">" +
                 xml_escape(failure_text(r), false) + "</error>\n";
            break;
    }
    x += "    </testcase>\n";
}

}  // namespace

std::string junit_xml(const std::vector<ExperimentResult>& results,
                      const runner::RunSummary& summary) {
    // Counts come from the results themselves so that the totals always equal the sum of the
    // <testsuite> elements; the summary gives the run's wall time.
    Counts all;
    for (auto& r : results) all.add(r);
    std::string x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    x += "<testsuites" + attr("name", "nslab") + attr("tests", all.tests) +
         attr("failures", all.failures) + attr("errors", all.errors) +
         attr("time", seconds(summary.wall_ms)) + ">\n";
    for (auto& g : group_by_suite(results)) {
        x += "  <testsuite" + attr("name", g.name) + attr("tests", g.counts.tests) +
             attr("failures", g.counts.failures) + attr("errors", g.counts.errors) +
             attr("skipped", g.counts.skipped) + attr("time", seconds(g.counts.ms));
        if (!g.cases.front()->file.empty()) x += attr("file", g.cases.front()->file);
        x += ">\n";
        for (auto* r : g.cases) write_case(x, *r);
        x += "  </testsuite>\n";
    }
    x += "</testsuites>\n";
    return x;
}

}  // namespace nslab::report
