// KTAP: the output is checked against the grammar of the kernel's Documentation/dev-tools/ktap.rst
// by a small validator (itself tested on documents it must reject), then line by line.
#include <gtest/gtest.h>

#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "report/report.hpp"
#include "samples.hpp"

namespace nslab::report {
namespace {

// ktap.rst, as rules: every (sub)test list starts with "KTAP version 1" then a plan "1..N" at its
// indentation (two spaces per level); results "<ok|not ok> <n> [<description>][ # [<directive>]
// [<data>]]" number 1..N in order, descriptions hold no '#'; a nested list is followed by its
// parent's result line one level out; TIMEOUT and ERROR go with "not ok"; a parent with a failing
// subtest is "not ok". "# " lines are diagnostics and may appear anywhere.
class KtapChecker {
public:
    explicit KtapChecker(const std::string& text) {
        std::istringstream in(text);
        for (std::string l; std::getline(in, l);) lines_.push_back(l);
    }
    // "" when valid, else the first violation with its line number.
    std::string check() {
        size_t i = 0;
        bool failed = false;
        if (auto e = list(i, 0, failed)) return *e;
        skip_diagnostics(i);
        if (i != lines_.size()) return at(i, "text after the top-level list");
        return "";
    }

private:
    std::vector<std::string> lines_;

    std::string at(size_t i, const std::string& what) const {
        return "line " + std::to_string(i + 1) + ": " + what + (i < lines_.size() ? ": '" + lines_[i] + "'" : "");
    }
    static std::string spaces(int level) { return std::string(2 * level, ' '); }
    bool is(size_t i, int level, const std::string& prefix) const {
        return i < lines_.size() && lines_[i].rfind(spaces(level) + prefix, 0) == 0 &&
               (lines_[i].size() == spaces(level).size() || lines_[i][spaces(level).size()] != ' ');
    }
    // ktap.rst: "Diagnostic lines can be anywhere in the test output."
    void skip_diagnostics(size_t& i) const {
        while (i < lines_.size() && lines_[i].find_first_not_of(' ') != std::string::npos &&
               lines_[i][lines_[i].find_first_not_of(' ')] == '#')
            ++i;
    }

    // A list at `level`; failed says whether one of its results is a failure.
    std::optional<std::string> list(size_t& i, int level, bool& failed) {
        if (!is(i, level, "KTAP version 1") || lines_[i] != spaces(level) + "KTAP version 1")
            return at(i, "expected 'KTAP version 1' at indentation " + std::to_string(2 * level));
        ++i;
        skip_diagnostics(i);
        static const std::regex plan_re("1\\.\\.([0-9]+)");
        std::smatch m;
        std::string plan_text = i < lines_.size() ? lines_[i].substr(std::min(lines_[i].size(), spaces(level).size())) : "";
        if (!is(i, level, "1..") || !std::regex_match(plan_text, m, plan_re)) return at(i, "expected a plan 1..N");
        const int planned = std::stoi(m[1]);
        ++i;
        static const std::regex result_re("(ok|not ok) ([0-9]+)( [^#]*)?( # ?([A-Z]+)?( .*)?)?");
        int number = 0;
        while (number < planned) {
            skip_diagnostics(i);
            bool sub_failed = false;
            if (is(i, level + 1, "KTAP version 1")) {
                if (auto e = list(i, level + 1, sub_failed)) return e;
                skip_diagnostics(i);
            }
            std::string text = i < lines_.size() && is(i, level, "") ? lines_[i].substr(spaces(level).size()) : "";
            if (!std::regex_match(text, m, result_re)) return at(i, "expected result line " + std::to_string(number + 1));
            if (std::stoi(m[2]) != ++number) return at(i, "result numbered out of order");
            const bool ok = m[1] == "ok";
            const std::string directive = m[5];
            if (!directive.empty() && directive != "SKIP" && directive != "TODO" && directive != "XFAIL" &&
                directive != "TIMEOUT" && directive != "ERROR")
                return at(i, "unknown directive " + directive);
            if ((directive == "TIMEOUT" || directive == "ERROR") && ok) return at(i, directive + " with ok");
            if (sub_failed && ok) return at(i, "a parent whose subtest failed is ok");
            failed = failed || (!ok && directive != "SKIP");
            ++i;
        }
        return std::nullopt;
    }
};

std::string render(const std::vector<runner::ExperimentResult>& results) {
    return ktap(results, runner::summarize(results, 1500));
}

TEST(KtapChecker, RejectsWhatTheSpecForbids) {
    EXPECT_EQ(KtapChecker("KTAP version 1\n1..1\nok 1 a\n").check(), "");
    EXPECT_NE(KtapChecker("1..1\nok 1 a\n").check(), "");                             // no version line
    EXPECT_NE(KtapChecker("KTAP version 1\n1..2\nok 1 a\n").check(), "");             // plan says 2
    EXPECT_NE(KtapChecker("KTAP version 1\n1..2\nok 1 a\nok 3 b\n").check(), "");     // numbering
    EXPECT_NE(KtapChecker("KTAP version 1\n1..1\nok 1 a # TIMEOUT 3 s\n").check(), "");  // ok + TIMEOUT
    EXPECT_NE(KtapChecker("KTAP version 1\n1..1\nok 1 a # WHATEVER\n").check(), "");
    EXPECT_NE(KtapChecker("KTAP version 1\n1..1\n  KTAP version 1\n  1..1\n  not ok 1 a\nok 1 s\n").check(), "");
    EXPECT_NE(KtapChecker("KTAP version 1\n1..1\n    KTAP version 1\n    1..1\n    ok 1 a\nok 1 s\n").check(), "");  // 4 spaces
    EXPECT_EQ(KtapChecker("KTAP version 1\n1..1\n  KTAP version 1\n  1..1\n  # why\n  not ok 1 a\n# s failed\nnot ok 1 s\n").check(), "");
}

TEST(Ktap, EveryOutcomeFollowsTheGrammar) {
    auto results = samples::all();
    results.push_back(samples::broken());
    results.back().name = "hung_step";
    results.back().time_limit = true;
    results.back().reason = "time limit of 10 s reached during: A: sleep";
    std::string text = render(results);
    EXPECT_EQ(KtapChecker(text).check(), "") << text;
}

TEST(Ktap, SuitesAreSubtestsAndExperimentsTheirResults) {
    std::string text = render(samples::all());
    EXPECT_EQ(text.rfind("KTAP version 1\n", 0), 0u) << text;
    EXPECT_NE(text.find("\n1..2\n"), std::string::npos) << text;  // two suites
    EXPECT_NE(text.find("\n  # Subtest: td2_uts\n  1..2\n"), std::string::npos) << text;
    EXPECT_NE(text.find("\n  ok 1 hostname_seen_where_set\n"), std::string::npos) << text;
    EXPECT_NE(text.find("\n  not ok 2 hostname_isolated_between_siblings\n"), std::string::npos) << text;
    EXPECT_NE(text.find("\nnot ok 1 td2_uts\n"), std::string::npos) << text;
    EXPECT_NE(text.find("\n  ok 1 shm_hidden_from_sibling # SKIP requires root (running as uid 1000)\n"), std::string::npos) << text;
    EXPECT_NE(text.find("\n  not ok 2 sem_visible_in_own_namespace # ERROR step A: semget failed\n"), std::string::npos) << text;
    EXPECT_NE(text.find("\n# nslab: pass:1 fail:1 skip:1 broken:1 total:4"), std::string::npos) << text;
}

TEST(Ktap, AFailureExplainsItselfInDiagnosticsBeforeItsResult) {
    std::string text = render({samples::fail()});
    size_t result = text.find("  not ok 1 hostname_isolated_between_siblings");
    size_t why = text.find("  # td2_uts.hostname_isolated_between_siblings: FAIL: ");
    size_t where = text.find("  # at suites/td2_uts.yaml:20");
    ASSERT_NE(result, std::string::npos) << text;
    EXPECT_LT(why, result) << text;
    EXPECT_LT(where, result) << text;
}

TEST(Ktap, APassingOrSkippedSuiteIsOkAndAllSkippedIsMarkedSkip) {
    std::string passing = render({samples::pass()});
    EXPECT_NE(passing.find("\nok 1 td2_uts\n"), std::string::npos) << passing;
    std::string skipped = render({samples::skip()});
    EXPECT_NE(skipped.find("\nok 1 td3_ipc # SKIP"), std::string::npos) << skipped;
    EXPECT_EQ(KtapChecker(skipped).check(), "") << skipped;
}

TEST(Ktap, NamesAndReasonsCannotBreakTheLine) {
    auto r = samples::skip();
    r.name = "odd#name";
    r.reason = "first line\nsecond # line";
    std::string text = render({r});
    EXPECT_EQ(KtapChecker(text).check(), "") << text;
    EXPECT_NE(text.find("ok 1 odd_name # SKIP first line"), std::string::npos) << text;
}

}  // namespace
}  // namespace nslab::report
