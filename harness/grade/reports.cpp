#include "grade/reports.hpp"

#include <cmath>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "grade/feedback.hpp"

namespace nslab::grade {
namespace {

using json = nlohmann::json;

std::string section_of(const TestOutcome& t) {
    if (!t.test->section.empty()) return t.test->section;
    for (auto& r : t.result.refs)
        if (r.rfind("TD2", 0) == 0) return r;
    return t.result.refs.empty() ? "" : t.result.refs.front();
}

std::string status_word(const TestOutcome& t) {
    switch (t.result.outcome) {
        case runner::Outcome::pass: return "passed";
        case runner::Outcome::fail: return "failed";
        case runner::Outcome::skip: return "not run";
        case runner::Outcome::broken: return "could not run";
    }
    return "?";
}

std::string cell_text(std::string s) {
    for (auto& c : s)
        if (c == '|' || c == '\n') c = c == '|' ? '/' : ' ';
    return s.empty() ? "(empty)" : s;
}

std::string points(double p) {
    std::ostringstream o;
    o << p;
    return o.str();
}

// When nothing ran (no build, no launch), every test says why.
std::string fatal_text(const Grade& g) {
    std::string s = "**Not graded: " + g.fatal + ".**\n";
    if (!g.build_output.empty()) s += "\nThe build said (" + g.build_status + "):\n\n```\n" + g.build_output + "\n```\n";
    return s;
}

Diagnosis diagnosis_of(const TestOutcome& t, bool root_inside) {
    return diagnose(t.result, t.test->hint, t.contract ? t.contract->hint : "", root_inside);
}

// The one line that names a lost test's mistake: for an expectation or a contract test the hint
// (it names what to do; what was observed is in the test's own section), else the diagnosis.
std::string mistake_line(const Diagnosis& d) {
    if ((d.cause == Cause::expectation || d.cause == Cause::contract) && !d.hint.empty()) return d.hint;
    return d.headline;
}

// The mistakes behind the visible lost tests, most tests first: each line and the tests it lost.
struct Mistake {
    std::string line;
    Diagnosis d;
    std::vector<std::string> tests;
};
std::vector<Mistake> mistakes_of(const Grade& g, bool root_inside) {
    std::vector<Mistake> out;
    for (auto& t : g.tests) {
        if (t.result.outcome == runner::Outcome::pass || t.test->visibility != "visible") continue;
        Diagnosis d = diagnosis_of(t, root_inside);
        std::string line = mistake_line(d);
        auto same = std::find_if(out.begin(), out.end(), [&](const Mistake& m) {
            return d.key.empty() ? m.d.key.empty() && m.line == line : m.d.key == d.key;
        });
        if (same == out.end()) out.push_back({line, d, {t.test->name()}});
        else same->tests.push_back(t.test->name());
    }
    std::stable_sort(out.begin(), out.end(), [](const Mistake& a, const Mistake& b) { return a.tests.size() > b.tests.size(); });
    return out;
}

std::optional<Diagnosis> common_cause_of(const Grade& g, bool root_inside) {
    std::vector<Diagnosis> lost;
    for (auto& t : g.tests)
        if (t.result.outcome != runner::Outcome::pass && t.test->visibility == "visible") lost.push_back(diagnosis_of(t, root_inside));
    return common_cause(lost);
}

std::string fix_first_text(const Diagnosis& d) {
    std::string s = "**Fix this first:** " + d.headline + "\n";
    if (!d.detail.empty()) s += "\n" + d.detail + "\n";
    if (!d.hint.empty()) s += "\n" + d.hint + "\n";
    return s;
}

}  // namespace

FeedbackContext feedback_context(const Assignment& a, const Grade& g) {
    bool root_inside = a.launcher.creates & core::ns_bit(core::Ns::user);
    return {common_cause_of(g, root_inside), root_inside};
}

std::string test_feedback(const TestOutcome& t, const FeedbackContext& context) {
    const auto& common = context.common;
    const auto& r = t.result;
    std::ostringstream o;
    o << "**" << (r.outcome == runner::Outcome::pass ? "Passed" : "Not passed") << "** (" << points(t.score) << "/"
      << points(t.test->points) << "): " << r.summary << "\n";
    // A contract test's reason is what was observed, whatever the outcome.
    if (t.contract && r.outcome == runner::Outcome::pass && !r.reason.empty()) o << "\nObserved: " << r.reason << "\n";
    if (r.outcome != runner::Outcome::pass) {
        Diagnosis d = diagnosis_of(t, context.root_inside);
        if (common && !d.key.empty() && d.key == common->key) {
            // Said once, first, in the feedback's "Fix this first".
            o << "\nWhat went wrong: " << d.headline << " — the mistake most tests share (see \"Fix this first\" at the top).\n";
            if (!r.reason.empty() && r.reason != d.headline) o << "\nDetails: " << r.reason << "\n";
        } else if (d.cause == Cause::expectation || d.cause == Cause::contract) {
            if (!r.reason.empty()) o << (t.contract ? "\nObserved: " : "\nWhat went wrong: ") << r.reason << "\n";
            bool header = false;
            for (auto& row : r.rows) {
                if (!header) {
                    o << "\n| check | seen from | expected | observed | |\n|---|---|---|---|---|\n";
                    header = true;
                }
                for (auto& c : row.cells)
                    o << "| " << cell_text(row.label) << " | " << (c.vantage == "host" ? "the host" : "realm " + c.vantage) << " | "
                      << cell_text(c.expected) << " | " << cell_text(c.observed) << " | " << (c.ok ? "✓" : "✗") << " |\n";
            }
            for (auto& row : r.rows)
                if (!row.ok && !row.why.empty()) o << "\nWhy: " << row.why << "\n";
            for (auto& s : r.steps)
                if (!s.ok) o << "\nStep `" << s.source << "`: " << s.detail << "\n";
            if (!d.hint.empty()) o << "\nHint: " << d.hint << "\n";
        } else {
            // Not the test's own hint: the launcher failed before the test could look (it did not
            // start COMMAND, ran it twice, made the wrong namespaces) or the test did not finish.
            o << "\nWhat went wrong: " << d.headline << "\n";
            if (!d.detail.empty() && d.detail != d.headline) o << "\n" << d.detail << "\n";
            if (!r.reason.empty() && r.reason != d.headline && r.reason != d.detail) o << "\nDetails: " << r.reason << "\n";
            if (!d.hint.empty()) o << "\nHint: " << d.hint << "\n";
        }
    }
    std::string section = section_of(t);
    if (!section.empty()) o << "\nLab section: " << section << "\n";
    return o.str();
}

// The grader could not run: a results.json with no score and no tests, which Gradescope reports to
// staff as an autograder failure instead of recording a grade against the student.
std::string refusal_json(const Grade& g) {
    json j{{"output", "The grader cannot run here, so this submission was not graded (no points were taken).\n\n" +
                          g.fatal + "\n\nStaff: fix the grader's environment (`nslab doctor` on the grading machine) and regrade."},
           {"output_format", "md"},
           {"visibility", "visible"},
           {"extra_data", {{"nslab_refused", g.refused}}}};
    return j.dump(2) + "\n";
}

std::string gradescope_json(const Assignment& a, const Grade& g) {
    if (!g.refused.empty()) return refusal_json(g);
    auto context = feedback_context(a, g);
    const auto& common = context.common;
    json tests = json::array();
    for (auto& t : g.tests) {
        json x{{"name", t.test->name()},
               {"score", t.score},
               {"max_score", t.test->points},
               {"status", t.score >= t.test->points && t.test->points > 0 ? "passed" : "failed"},
               {"visibility", t.test->visibility},
               {"output_format", "md"},
               {"output", g.fatal.empty() ? test_feedback(t, context) : fatal_text(g)}};
        if (t.score >= t.test->points && t.test->points == 0) x["status"] = "passed";
        tests.push_back(std::move(x));
    }
    std::string output = a.title + ": " + points(g.score) + " / " + points(g.max_score) + " points.";
    if (!g.fatal.empty()) output += "\n\n" + fatal_text(g);
    else if (common) output += "\n\n" + fix_first_text(*common);
    json j{{"score", g.score},
           {"max_score", g.max_score},
           {"execution_time", static_cast<int>(std::ceil(g.seconds))},
           {"output", output},
           {"output_format", "md"},
           {"visibility", "visible"},
           {"stdout_visibility", "hidden"},
           {"tests", tests}};
    return j.dump(2) + "\n";
}

std::string prairielearn_json(const Assignment& a, const Grade& g) {
    // PrairieLearn: gradable false with a message is "this submission could not be graded".
    if (!g.refused.empty()) return json{{"gradable", false}, {"message", g.fatal}}.dump(2) + "\n";
    auto context = feedback_context(a, g);
    const auto& common = context.common;
    json tests = json::array();
    for (auto& t : g.tests)
        tests.push_back({{"name", t.test->name()},
                         {"points", t.score},
                         {"max_points", t.test->points},
                         {"output", g.fatal.empty() ? test_feedback(t, context) : fatal_text(g)}});
    json j{{"gradable", true},
           {"score", g.max_score > 0 ? g.score / g.max_score : 0.0},
           {"message", a.title + ": " + points(g.score) + " / " + points(g.max_score) + " points" +
                           (g.fatal.empty() ? (common ? ". Fix this first: " + common->headline : "") : ". " + g.fatal)},
           {"tests", tests}};
    return j.dump(2) + "\n";
}

std::string feedback_markdown(const Assignment& a, const Grade& g) {
    std::ostringstream o;
    if (!g.refused.empty()) {
        o << "# " << a.title << "\n\n**Not graded: " << g.fatal << ".** No points were taken; the grading "
          << "machine must be fixed first (`nslab doctor` there says how).\n";
        return o.str();
    }
    o << "# " << a.title << "\n\nScore: **" << points(g.score) << " / " << points(g.max_score) << "**\n\n";
    if (!g.fatal.empty()) {
        o << fatal_text(g);
        return o.str();
    }
    // First what to fix, each mistake once with the tests it cost (a student with 13 red tests and
    // one mistake reads one line), then each test.
    auto context = feedback_context(a, g);
    const auto& common = context.common;
    auto mistakes = mistakes_of(g, context.root_inside);
    if (!mistakes.empty()) {
        o << "## What to fix\n\n";
        if (common) o << fix_first_text(*common) << "\n";
        size_t n = 0;
        for (auto& m : mistakes) {
            o << ++n << ". " << m.line << " (" << m.tests.size() << (m.tests.size() == 1 ? " test: " : " tests: ");
            for (size_t i = 0; i < m.tests.size(); ++i) o << (i ? ", " : "") << m.tests[i];
            o << ")\n";
        }
        o << "\n";
    }
    for (auto& t : g.tests) {
        if (t.test->visibility != "visible") continue;  // the others show in Gradescope when their time comes
        o << "## " << (t.result.outcome == runner::Outcome::pass ? "✓ " : "✗ ") << t.test->name() << " — "
          << status_word(t) << "\n\n" << test_feedback(t, context) << "\n";
    }
    return o.str();
}

}  // namespace nslab::grade
