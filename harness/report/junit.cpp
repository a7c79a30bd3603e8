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

std::string attr(std::string_view name, std::string_view value) {
    return " " + std::string(name) + "=\"" + xml_escape(value, true) + "\"";
}

std::string attr(std::string_view name, int value) {
    return attr(name, std::to_string(value));
}

std::string seconds(double ms) {
    return fixed(ms / 1000, 3);
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
                 xml_escape(result_details(r), false) + "</failure>\n";
            break;
        case Outcome::broken:
            x += ">\n      <error" + attr("message", r.reason) + attr("type", "BROKEN") + ">" +
                 xml_escape(result_details(r), false) + "</error>\n";
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
        Counts counts;
        for (auto* r : g.cases) counts.add(*r);
        x += "  <testsuite" + attr("name", g.name) + attr("tests", counts.tests) +
             attr("failures", counts.failures) + attr("errors", counts.errors) +
             attr("skipped", counts.skipped) + attr("time", seconds(counts.ms));
        if (!g.cases.front()->file.empty()) x += attr("file", g.cases.front()->file);
        x += ">\n";
        for (auto* r : g.cases) write_case(x, *r);
        x += "  </testsuite>\n";
    }
    x += "</testsuites>\n";
    return x;
}

}  // namespace nslab::report
