// nslab grade: grades one submission against an assignment and writes results.json (Gradescope or
// PrairieLearn), feedback.md and junit.xml. A submission that does not build or start still gets
// a complete results.json (score 0 and the reason); a bad assignment is an error (exit 2); when
// the grader itself cannot run here (its environment, not the submission), results.json says so
// without a score and the exit status is 3, so that no grade is recorded against the student.
#include "cli/grade_command.hpp"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <string_view>

#include "grade/grader.hpp"
#include "grade/reports.hpp"
#include "report/report.hpp"
#include "runner/interrupt.hpp"

namespace nslab::cli {

bool is_assignment_file(const std::string& path) {
    // An assignment names itself in a top-level key near its start; only the first 64 KiB are
    // read, so that a huge file (or /dev/zero) goes on to the suite loader's size error in bounded
    // memory and time.
    constexpr size_t kLookAhead = 64 << 10;
    constexpr std::string_view kKey = "nslab_assignment";
    std::ifstream in(path, std::ios::binary);
    std::string head(kLookAhead, '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<size_t>(in.gcount()));
    for (size_t at = 0; at < head.size();) {
        size_t end = std::min(head.find('\n', at), head.size());
        std::string_view line(head.data() + at, end - at);
        if (line.starts_with(kKey)) {
            size_t i = kKey.size();
            while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
            if (i < line.size() && line[i] == ':') return true;
        }
        at = end + 1;
    }
    return false;
}

int validate_assignment(const std::string& path) {
    auto load = grade::load_assignment(path);
    for (auto& e : load.errors) std::cerr << e << "\n";
    if (!load.assignment) return 2;
    auto resolved = grade::resolve(*load.assignment);
    for (auto& e : resolved.errors) std::cerr << e << "\n";
    if (!resolved.errors.empty()) return 2;
    const grade::Assignment& a = *load.assignment;
    std::cout << "ok: assignment " << a.name << ": " << a.tests.size() << " test(s), " << a.max_score() << " points, from "
              << a.suites.size() << " suite(s)\n";
    return 0;
}

int grade_command(const GradeArgs& args) {
    auto load = grade::load_assignment(args.assignment);
    for (auto& e : load.errors) std::cerr << e << "\n";
    if (!load.assignment) return 2;
    grade::Assignment& a = *load.assignment;
    if (args.timeout > 0) a.test_timeout_s = args.timeout;
    auto resolved = grade::resolve(a);
    for (auto& e : resolved.errors) std::cerr << e << "\n";
    if (!resolved.errors.empty()) return 2;
    std::error_code ec;
    std::filesystem::create_directories(args.output, ec);
    if (ec) {
        std::cerr << "nslab grade: cannot make " << args.output << ": " << ec.message() << "\n";
        return 2;
    }
    grade::Grade g = grade::grade_submission(a, resolved, {.submission = args.submission, .jobs = args.jobs});

    std::vector<runner::ExperimentResult> results;
    for (auto& t : g.tests) results.push_back(t.result);
    auto summary = runner::summarize(results, g.seconds * 1000);
    auto write = [&](const std::string& name, const std::string& text) {
        std::ofstream out(args.output + "/" + name, std::ios::binary | std::ios::trunc);
        out << text;
        if (!out) std::cerr << "nslab grade: cannot write " << args.output << "/" << name << "\n";
        return static_cast<bool>(out);
    };
    bool ok = write("results.json", args.format == "prairielearn" ? grade::prairielearn_json(a, g) : grade::gradescope_json(a, g));
    ok = write("feedback.md", grade::feedback_markdown(a, g)) && ok;
    ok = write("junit.xml", report::junit_xml(results, summary)) && ok;
    if (!g.refused.empty()) {  // results.json and feedback.md above say so, without a score
        std::cout << a.title << ": not graded: " << g.fatal << "\n";
        std::cerr << "nslab grade: " << g.fatal << " (no score recorded; `nslab doctor` says how to fix the machine)\n";
        return 3;
    }
    std::cout << a.title << ": " << g.score << " / " << g.max_score << " points in " << g.seconds << " s";
    if (!g.fatal.empty()) std::cout << " (" << g.fatal << ")";
    std::cout << "\n";
    for (auto& t : g.tests)
        std::cout << "  " << (t.score >= t.test->points ? "PASS" : runner::outcome_name(t.result.outcome)) << "  " << t.score
                  << "/" << t.test->points << "  " << t.test->name()
                  << (t.result.outcome == runner::Outcome::pass || t.result.reason.empty() ? "" : "  — " + t.result.reason.substr(0, 160))
                  << "\n";
    std::cout << "wrote " << args.output << "/results.json, feedback.md, junit.xml\n";
    return ok ? 0 : 2;
}

}  // namespace nslab::cli
