// The machine-readable report: every field of every result, keys in a fixed order.
#include <cmath>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "report/report.hpp"

namespace nslab::report {

using runner::ExperimentResult;
using ojson = nlohmann::ordered_json;

namespace {

// NaN and infinities have no JSON form; nlohmann would write null, which readers of a number
// field do not expect.
double finite(double v) {
    return std::isfinite(v) ? v : 0.0;
}

ojson step_json(const runner::StepRecord& s) {
    return ojson{{"source", s.source},      {"file", s.mark.file}, {"line", s.mark.line},
                 {"column", s.mark.column}, {"ok", s.ok},          {"detail", s.detail},
                 {"ms", finite(s.ms)}};
}

ojson row_json(const runner::Row& row) {
    ojson cells = ojson::array();
    for (auto& c : row.cells)
        cells.push_back(ojson{{"vantage", c.vantage},
                              {"expected", c.expected},
                              {"observed", c.observed},
                              {"ok", c.ok}});
    return ojson{{"label", row.label},        {"file", row.mark.file}, {"line", row.mark.line},
                 {"column", row.mark.column}, {"why", row.why},        {"ok", row.ok},
                 {"cells", std::move(cells)}};
}

ojson experiment_json(const ExperimentResult& r) {
    ojson steps = ojson::array(), rows = ojson::array();
    for (auto& s : r.steps) steps.push_back(step_json(s));
    for (auto& row : r.rows) rows.push_back(row_json(row));
    ojson e;
    e["suite"] = r.suite;
    e["name"] = r.name;
    e["full_name"] = r.full_name();
    e["file"] = r.file;
    e["line"] = r.line;
    e["summary"] = r.summary;
    e["outcome"] = runner::outcome_name(r.outcome);
    e["reason"] = r.reason;
    e["duration_ms"] = finite(r.duration_ms);
    const runner::PhaseTimes& ph = r.phases;
    e["phases_ms"] = ojson{{"lab", finite(ph.lab)},       {"realms", finite(ph.realms)},
                           {"steps", finite(ph.steps)},   {"expect", finite(ph.expect)},
                           {"teardown", finite(ph.teardown)}};
    e["refs"] = r.refs;
    e["tags"] = r.tags;
    e["vantages"] = r.vantages;
    e["steps"] = std::move(steps);
    e["rows"] = std::move(rows);
    return e;
}

}  // namespace

std::string json_report(const std::vector<ExperimentResult>& results,
                        const runner::RunSummary& summary) {
    ojson doc;
    doc["nslab"] = 1;
    doc["summary"] = ojson{{"passed", summary.passed},   {"failed", summary.failed},
                           {"skipped", summary.skipped}, {"broken", summary.broken},
                           {"total", summary.total()},   {"wall_ms", finite(summary.wall_ms)}};
    ojson experiments = ojson::array();
    for (auto& r : results) experiments.push_back(experiment_json(r));
    doc["experiments"] = std::move(experiments);
    // Text from probes and commands may be any bytes: invalid UTF-8 becomes U+FFFD, never a throw.
    return doc.dump(2, ' ', false, ojson::error_handler_t::replace) + "\n";
}

}  // namespace nslab::report
