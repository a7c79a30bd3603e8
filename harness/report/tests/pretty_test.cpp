// The terminal report: header, matrix, failure details and the closing summary.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "report/report.hpp"
#include "report/text_util.hpp"
#include "samples.hpp"

namespace nslab::report {
namespace {

std::string render(const runner::ExperimentResult& r, PrettyOptions o = {}) {
    std::ostringstream out;
    write_pretty_result(out, r, o);
    return out.str();
}

std::string render_summary(const std::vector<runner::ExperimentResult>& results, double wall_ms,
                           PrettyOptions o = {}) {
    std::ostringstream out;
    write_pretty_summary(out, results, runner::summarize(results, wall_ms), o);
    return out.str();
}

std::vector<std::string> lines_of(const std::string& s) {
    std::vector<std::string> lines;
    std::istringstream in(s);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

// The line holding `needle`, or "" (and a test failure) when none does.
std::string line_with(const std::string& text, const std::string& needle) {
    for (auto& line : lines_of(text))
        if (line.find(needle) != std::string::npos) return line;
    ADD_FAILURE() << "no line contains \"" << needle << "\" in:\n" << text;
    return {};
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

// The words of a line (split on runs of spaces).
std::vector<std::string> words_of(const std::string& line) {
    std::vector<std::string> words;
    std::istringstream in(line);
    for (std::string w; in >> w;) words.push_back(w);
    return words;
}

bool all_digits(const std::string& s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "N passed, N failed, N skipped" and nothing else on the line.
bool is_counts_line(const std::string& line) {
    const auto w = words_of(line);
    return w.size() == 6 && all_digits(w[0]) && w[1] == "passed," && all_digits(w[2]) &&
           w[3] == "failed," && all_digits(w[4]) && w[5] == "skipped" &&
           line == w[0] + " passed, " + w[2] + " failed, " + w[4] + " skipped";
}

// s without its ANSI SGR sequences (ESC [ ... m).
std::string strip_ansi(const std::string& s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\x1b' && i + 1 < s.size() && s[i + 1] == '[') {
            i = s.find('m', i);
            if (i == std::string::npos) break;
            continue;
        }
        out += s[i];
    }
    return out;
}

TEST(Pretty, FailingCellShowsExpectedAndObserved) {
    const std::string out = render(samples::fail());
    const std::string row = line_with(out, "✗ expected");
    EXPECT_TRUE(contains(row, "✗ expected programmation, saw virtualisation")) << row;
    EXPECT_TRUE(contains(row, "virtualisation ✓")) << "A's passing cell shares the row: " << row;
    EXPECT_TRUE(contains(row, "buildhost ✓")) << row;
    EXPECT_EQ(row.rfind("    hostname", 0), 0u) << "the row starts with its label: " << row;
}

TEST(Pretty, HeaderHasOutcomeFullNameAndDurationThenIndentedReason) {
    const auto lines = lines_of(render(samples::fail()));
    ASSERT_GE(lines.size(), 2u);
    EXPECT_EQ(lines[0].rfind("FAIL ", 0), 0u) << lines[0];
    EXPECT_TRUE(contains(lines[0], " td2_uts.hostname_isolated_between_siblings ")) << lines[0];
    EXPECT_TRUE(lines[0].ends_with(" 3.1 ms")) << lines[0];
    EXPECT_EQ(lines[1], "    row hostname: B expected programmation, saw virtualisation");
}

TEST(Pretty, HeaderColumnsLineUpAcrossOutcomes) {
    std::vector<std::string> headers;
    for (auto& r : samples::all()) headers.push_back(lines_of(render(r)).at(0));
    for (auto& h : headers) {
        EXPECT_EQ(h.substr(6, 4), "  td") << "names start in one column: " << h;
        EXPECT_EQ(display_width(h), display_width(headers[0])) << "durations end together: " << h;
    }
    EXPECT_TRUE(headers[3].ends_with(" 1.25 s")) << headers[3];
}

TEST(Pretty, MatrixHasVantageColumnsInOrderAndAnUnderline) {
    const auto lines = lines_of(render(samples::fail()));
    auto header = std::find_if(lines.begin(), lines.end(),
                               [](auto& l) { return l.rfind("    expect ", 0) == 0; });
    ASSERT_NE(header, lines.end());
    const auto a = header->find(" A "), b = header->find(" B "), host = header->find(" host");
    ASSERT_NE(a, std::string::npos);
    ASSERT_NE(b, std::string::npos);
    ASSERT_NE(host, std::string::npos);
    EXPECT_LT(a, b);
    EXPECT_LT(b, host);
    const std::string& underline = *(header + 1);
    EXPECT_EQ(underline.rfind("    -", 0), 0u) << underline;
    EXPECT_EQ(underline.find_first_not_of(" -"), std::string::npos) << underline;
    EXPECT_EQ(words_of(underline).size(), 4u) << "one run of dashes per column: " << underline;
    EXPECT_FALSE(contains(underline.substr(4), "   ")) << "columns two spaces apart: " << underline;
    // The columns start where the underline's dashes do.
    EXPECT_EQ(underline.find("  -", 4) + 2, header->find("A"));
}

TEST(Pretty, CellsTheRowDoesNotNameAreDots) {
    const std::string row = line_with(render(samples::fail()), "    domainname");
    EXPECT_EQ(words_of(row),
              (std::vector<std::string>{"domainname", "(none)", "✓", "·", "(none)", "✓"}))
        << "B column is blank for this row: " << row;
}

TEST(Pretty, FailingRowsGetTheirPlaceAndWhyPassingRowsDoNot) {
    const std::string failing = render(samples::fail());
    EXPECT_TRUE(contains(failing,
                         "    ✗ hostname at suites/td2_uts.yaml:29:9\n"
                         "      why: each UTS namespace keeps its own hostname\n"))
        << failing;
    const std::string passing = render(samples::pass());
    EXPECT_FALSE(contains(passing, "why")) << passing;
}

TEST(Pretty, PassShowsMatrixOnlyWhenAskedAndNeverRefsOrTags) {
    const std::string with = render(samples::pass(), {.matrix_on_pass = true});
    EXPECT_TRUE(contains(with, "virtualisation ✓")) << with;
    EXPECT_FALSE(contains(with, "refs:"));
    EXPECT_FALSE(contains(with, "tags:"));
    const std::string without = render(samples::pass(), {.matrix_on_pass = false});
    EXPECT_EQ(lines_of(without).size(), 1u) << without;
    const std::string fail = render(samples::fail(), {.matrix_on_pass = false});
    EXPECT_TRUE(contains(fail, "✗ expected programmation")) << "failures always show the matrix";
}

TEST(Pretty, FailureListsRefsAndTags) {
    const std::string out = render(samples::fail());
    EXPECT_TRUE(contains(out, "\n    refs: TD2 UTS, uts_namespaces(7)\n")) << out;
    EXPECT_TRUE(contains(out, "\n    tags: linux-git:071df104f808\n")) << out;
}

TEST(Pretty, BrokenShowsFailingStepWithPlaceAndDetail) {
    const std::string out = render(samples::broken());
    EXPECT_TRUE(contains(out, "\n    step A: semget failed\n")) << "reason: " << out;
    EXPECT_TRUE(contains(out,
                         "    ✗ step A: sem_create nsems=1 at suites/td3_ipc.yaml:20:9\n"
                         "      semget: Operation not permitted (EPERM)\n"))
        << out;
    EXPECT_TRUE(contains(out, "    tags: flaky-on-ci\n")) << out;
    EXPECT_FALSE(contains(out, "expect ")) << "no observations, no matrix: " << out;
}

TEST(Pretty, PassingStepsAreNotListed) {
    const std::string out = render(samples::fail());
    EXPECT_FALSE(contains(out, "sethostname")) << out;
}

TEST(Pretty, SkipShowsReasonOnly) {
    const auto lines = lines_of(render(samples::skip()));
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0].rfind("SKIP ", 0), 0u);
    EXPECT_EQ(lines[1], "    requires root (running as uid 1000)");
}

TEST(Pretty, LongAndMultiLineValuesBecomeOneShortLine) {
    auto r = samples::fail();
    r.rows[0].cells[1].observed = std::string(100, 'x');
    r.rows[0].cells[0].observed = "line one\nline two\n";
    const std::string out = render(r);
    EXPECT_FALSE(contains(out, std::string(41, 'x'))) << out;
    EXPECT_TRUE(contains(out, "saw " + std::string(39, 'x') + "…")) << out;
    EXPECT_TRUE(contains(out, "line one⏎line two ✓")) << out;
}

TEST(Pretty, EmptyObservedValueIsVisible) {
    auto r = samples::fail();
    r.rows[0].cells[1].observed = "";
    EXPECT_TRUE(contains(render(r), "✗ expected programmation, saw \"\"")) << render(r);
}

TEST(Pretty, ControlCharactersFromProbesCannotReachTheTerminal) {
    auto r = samples::fail();
    r.rows[0].cells[1].observed = "evil\x1b[2Jname\x07";
    r.steps[1].ok = false;
    r.steps[1].detail = "out\x1b]0;title\x07";
    const std::string out = render(r);
    EXPECT_EQ(out.find('\x1b'), std::string::npos) << out;
    EXPECT_EQ(out.find('\x07'), std::string::npos) << out;
    EXPECT_TRUE(contains(out, "saw evil\\x1b[2Jname\\x07")) << out;
}

TEST(Pretty, NoAnsiEscapesWithoutColorSomeWithColor) {
    std::string plain, colored;
    for (auto& r : samples::all()) {
        plain += render(r, {.color = false});
        colored += render(r, {.color = true});
    }
    plain += render_summary(samples::all(), 1230, {.color = false});
    EXPECT_EQ(plain.find('\x1b'), std::string::npos);
    EXPECT_TRUE(contains(colored, "\x1b[32mPASS\x1b[0m"));
    EXPECT_TRUE(contains(colored, "\x1b[31mFAIL\x1b[0m"));
    EXPECT_TRUE(contains(colored, "\x1b[33mSKIP\x1b[0m"));
    EXPECT_TRUE(contains(colored, "\x1b[35mBROKEN\x1b[0m"));
    EXPECT_TRUE(contains(colored, "\x1b[1;31m✗ expected programmation, saw virtualisation\x1b[0m"));
}

TEST(Pretty, ColorDoesNotShiftColumns) {
    for (auto& r : samples::all())
        EXPECT_EQ(strip_ansi(render(r, {.color = true})), render(r, {.color = false}));
}

TEST(Pretty, NoTrailingWhitespace) {
    for (auto& r : samples::all())
        for (auto& line : lines_of(render(r)))
            EXPECT_FALSE(!line.empty() && line.back() == ' ') << "[" << line << "]";
}

TEST(Pretty, LongStepDetailIsCapped) {
    auto r = samples::broken();
    r.steps[0].detail.clear();
    for (int i = 0; i < 30; ++i) r.steps[0].detail += "line " + std::to_string(i) + "\n";
    const std::string out = render(r);
    EXPECT_TRUE(contains(out, "      line 19\n")) << out;
    EXPECT_FALSE(contains(out, "line 20")) << out;
    EXPECT_TRUE(contains(out, "      … 10 more lines\n")) << out;
}

TEST(PrettySummary, ExactlyOneCountsLineThenWallTime) {
    const auto lines = lines_of(render_summary(samples::all(), 1230));
    const auto n = std::count_if(lines.begin(), lines.end(), is_counts_line);
    EXPECT_EQ(n, 1);
    auto it = std::find(lines.begin(), lines.end(), "1 passed, 2 failed, 1 skipped");
    ASSERT_NE(it, lines.end()) << "BROKEN counts as failed";
    ASSERT_NE(it + 1, lines.end());
    EXPECT_EQ(*(it + 1), "in 1.23 s (3.3 experiments/s)");
}

TEST(PrettySummary, NamesBrokenAndFailedExperiments) {
    auto results = samples::all();
    auto second_broken = samples::broken();
    second_broken.name = "another_broken";
    results.push_back(second_broken);
    const auto lines = lines_of(render_summary(results, 500));
    ASSERT_EQ(lines.size(), 4u);
    EXPECT_EQ(lines[0],
              "BROKEN (counted as failed): td3_ipc.sem_visible_in_own_namespace, "
              "td3_ipc.another_broken");
    EXPECT_EQ(lines[1], "FAILED: td2_uts.hostname_isolated_between_siblings");
    EXPECT_EQ(lines[2], "1 passed, 3 failed, 1 skipped");
}

TEST(PrettySummary, AllPassedHasNoNameLines) {
    const auto lines = lines_of(render_summary({samples::pass(), samples::pass()}, 0));
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0], "2 passed, 0 failed, 0 skipped");
    EXPECT_EQ(lines[1], "in 0.00 s") << "no rate without a wall time";
}

TEST(PrettySummary, CountsLineStaysPlainWithColor) {
    const std::string out = render_summary(samples::all(), 1230, {.color = true});
    EXPECT_TRUE(contains(out, "\n1 passed, 2 failed, 1 skipped\n")) << out;
    EXPECT_TRUE(contains(out, "\x1b[35mBROKEN\x1b[0m (counted as failed)"));
}

}  // namespace
}  // namespace nslab::report
