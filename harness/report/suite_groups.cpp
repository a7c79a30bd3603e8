#include <sstream>

#include "report/report.hpp"
#include "report/text_util.hpp"

namespace nslab::report {

std::vector<SuiteGroup> group_by_suite(const std::vector<runner::ExperimentResult>& results) {
    std::vector<SuiteGroup> groups;
    for (auto& r : results) {
        SuiteGroup* g = nullptr;
        for (auto& candidate : groups)
            if (candidate.name == r.suite) g = &candidate;
        if (g == nullptr) g = &groups.emplace_back(SuiteGroup{.name = r.suite, .cases = {}});
        g->cases.push_back(&r);
    }
    return groups;
}

std::string result_details(const runner::ExperimentResult& r) {
    std::ostringstream pretty;
    write_pretty_result(pretty, r, PrettyOptions{.color = false, .matrix_on_pass = true});
    std::string body = pretty.str();
    const auto header_end = body.find('\n');
    body.erase(0, header_end == std::string::npos ? body.size() : header_end + 1);
    experiment::Mark where{.file = r.file, .line = r.line};
    const std::string at = mark_text(where);
    return (at.empty() ? std::string() : "at " + at + "\n") + body;
}

}  // namespace nslab::report
