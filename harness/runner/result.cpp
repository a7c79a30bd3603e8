#include "runner/result.hpp"

namespace nslab::runner {

std::string outcome_name(Outcome o) {
    switch (o) {
        case Outcome::pass: return "PASS";
        case Outcome::fail: return "FAIL";
        case Outcome::skip: return "SKIP";
        case Outcome::broken: return "BROKEN";
    }
    return "?";
}

RunSummary summarize(const std::vector<ExperimentResult>& results, double wall_ms) {
    RunSummary s;
    s.wall_ms = wall_ms;
    for (auto& r : results) {
        switch (r.outcome) {
            case Outcome::pass: ++s.passed; break;
            case Outcome::fail: ++s.failed; break;
            case Outcome::skip: ++s.skipped; break;
            case Outcome::broken: ++s.broken; break;
        }
    }
    return s;
}

}  // namespace nslab::runner
