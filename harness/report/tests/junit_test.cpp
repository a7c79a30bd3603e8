// JUnit XML: counts, attributes, escaping, and that a real XML parser accepts the document.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "report/report.hpp"
#include "samples.hpp"

namespace nslab::report {
namespace {

using namespace std::string_literals;

std::string render(const std::vector<runner::ExperimentResult>& results, double wall_ms = 1230) {
    return junit_xml(results, runner::summarize(results, wall_ms));
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

// The opening tag of the first element `tag` whose text contains `needle`.
std::string open_tag(const std::string& xml, const std::string& tag,
                     const std::string& needle = "") {
    for (std::size_t at = xml.find("<" + tag + " "); at != std::string::npos;
         at = xml.find("<" + tag + " ", at + 1)) {
        const std::string t = xml.substr(at, xml.find('>', at) - at + 1);
        if (contains(t, needle)) return t;
    }
    ADD_FAILURE() << "no <" << tag << "> with " << needle << " in:\n" << xml;
    return {};
}

// s with every `from` replaced by `to`.
std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
        s.replace(at, from.size(), to);
    return s;
}

// A file under the test temp directory, removed when the test is done with it.
struct TempFile {
    std::string path;
    TempFile(const std::string& name, const std::string& text)
        : path(::testing::TempDir() + "nslab_report_" + std::to_string(::getpid()) + "_" + name) {
        std::ofstream(path, std::ios::binary) << text;
    }
    ~TempFile() { std::remove(path.c_str()); }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
};

bool have_python() {
    return std::system("python3 -c 'import xml.etree.ElementTree' >/dev/null 2>&1") == 0;
}

// Parses the file with Python's XML parser and checks it against the constraints of the JUnit
// schema Jenkins' xUnit plugin validates with (attributes allowed and required per element, child
// elements, the time pattern) and that the totals add up. Exit status 0 when all hold; quiet
// keeps the reason of a rejection off stderr.
int python_check(const std::string& xml_path, bool quiet = false) {
    static const char* script = R"PY(
import re, sys, xml.etree.ElementTree as E
root = E.parse(sys.argv[1]).getroot()
def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)
def attrs(el, allowed, required=()):
    extra, missing = set(el.attrib) - set(allowed), set(required) - set(el.attrib)
    if extra or missing:
        fail(f"<{el.tag}> extra {sorted(extra)} missing {sorted(missing)}")
def time_ok(el):
    if "time" in el.attrib and not re.fullmatch(r"[0-9]+(\.[0-9]+)?", el.get("time")):
        fail(f"<{el.tag}> time={el.get('time')!r}")
if root.tag != "testsuites":
    fail("root " + root.tag)
attrs(root, {"name", "time", "tests", "failures", "errors"})
time_ok(root)
totals = {"tests": 0, "failures": 0, "errors": 0}
for suite in root:
    if suite.tag != "testsuite":
        fail("child of testsuites: " + suite.tag)
    attrs(suite, {"name", "tests", "failures", "errors", "group", "time", "skipped", "timestamp",
                  "hostname", "id", "package", "file", "log", "url"},
          {"name", "tests", "failures", "errors"})
    time_ok(suite)
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for case in suite:
        if case.tag != "testcase":
            fail("child of testsuite: " + case.tag)
        attrs(case, {"name", "time", "classname", "group"}, {"name"})
        time_ok(case)
        counts["tests"] += 1
        for child in case:
            kind = {"failure": "failures", "error": "errors", "skipped": "skipped"}.get(child.tag)
            if kind is None and child.tag not in ("system-out", "system-err"):
                fail("child of testcase: " + child.tag)
            attrs(child, {"type", "message"})
            if kind:
                counts[kind] += 1
    for k, v in counts.items():
        if int(suite.get(k, "0")) != v:
            fail(f"suite {suite.get('name')}: {k}={suite.get(k)} but {v} found")
    for k in totals:
        totals[k] += counts[k]
for k, v in totals.items():
    if int(root.get(k)) != v:
        fail(f"testsuites {k}={root.get(k)} but {v} found")
)PY";
    const TempFile check("check.py", script);
    const int status = std::system(
        ("python3 " + check.path + " " + xml_path + (quiet ? " 2>/dev/null" : "")).c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(Junit, PrologAndRootTotals) {
    const std::string xml = render(samples::all());
    EXPECT_EQ(xml.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites ", 0), 0u) << xml;
    EXPECT_EQ(open_tag(xml, "testsuites"),
              R"(<testsuites name="nslab" tests="4" failures="1" errors="1" time="1.230">)");
    EXPECT_TRUE(xml.ends_with("</testsuites>\n"));
}

TEST(Junit, OneSuiteElementPerSuiteInFirstSeenOrder) {
    // Interleaved: td2, td3, td2, td3.
    const std::string xml =
        render({samples::pass(), samples::skip(), samples::fail(), samples::broken()});
    const auto td2 = xml.find("<testsuite name=\"td2_uts\""),
               td3 = xml.find("<testsuite name=\"td3_ipc\"");
    ASSERT_NE(td2, std::string::npos);
    ASSERT_NE(td3, std::string::npos);
    EXPECT_LT(td2, td3);
    EXPECT_EQ(xml.find("<testsuite name=\"td2_uts\"", td2 + 1), std::string::npos);
    EXPECT_EQ(open_tag(xml, "testsuite", "td2_uts"),
              R"(<testsuite name="td2_uts" tests="2" failures="1" errors="0" skipped="0" )"
              R"(time="0.005" file="suites/td2_uts.yaml">)");
    EXPECT_EQ(open_tag(xml, "testsuite", "td3_ipc"),
              R"(<testsuite name="td3_ipc" tests="2" failures="0" errors="1" skipped="1" )"
              R"(time="1.250" file="suites/td3_ipc.yaml">)");
}

TEST(Junit, TestcaseAttributesAndOutcomeElements) {
    const std::string xml = render(samples::all());
    EXPECT_TRUE(contains(xml, R"(<testcase classname="td2_uts" name="hostname_seen_where_set" )"
                              R"(time="0.002"/>)"))
        << xml;
    EXPECT_EQ(open_tag(xml, "testcase", "hostname_isolated"),
              R"(<testcase classname="td2_uts" name="hostname_isolated_between_siblings" )"
              R"(time="0.003">)");
    EXPECT_TRUE(contains(xml, R"(<failure message="row hostname: B expected programmation, )"
                              R"(saw virtualisation" type="FAIL">)"));
    EXPECT_TRUE(contains(xml, R"(<error message="step A: semget failed" type="BROKEN">)"));
    EXPECT_TRUE(contains(xml, R"x(<skipped message="requires root (running as uid 1000)"/>)x"));
}

TEST(Junit, FailureTextCarriesPlaceMatrixAndSteps) {
    const std::string xml = render(samples::all());
    const auto start = xml.find("type=\"FAIL\">");
    const auto end = xml.find("</failure>");
    ASSERT_LT(start, end);
    const std::string body = xml.substr(start, end - start);
    EXPECT_TRUE(contains(body, ">at suites/td2_uts.yaml:20\n")) << body;
    EXPECT_TRUE(contains(body, "✗ expected programmation, saw virtualisation")) << body;
    EXPECT_TRUE(contains(body, "refs: TD2 UTS, uts_namespaces(7)")) << body;

    const auto error = xml.substr(xml.find("type=\"BROKEN\">"));
    EXPECT_TRUE(contains(error, "✗ step A: sem_create nsems=1 at suites/td3_ipc.yaml:20:9"));
    EXPECT_EQ(xml.find('\x1b'), std::string::npos);
}

TEST(Junit, EscapesMarkupInAttributesAndText) {
    auto r = samples::fail();
    r.reason = R"(a<b & "c" > 'd')";
    r.rows[0].cells[1].observed = "</failure><x a=\"1\">&amp;";
    const std::string xml = render({r});
    EXPECT_TRUE(contains(xml, R"(message="a&lt;b &amp; &quot;c&quot; &gt; &apos;d&apos;")")) << xml;
    EXPECT_TRUE(contains(xml, "saw &lt;/failure&gt;&lt;x a=&quot;1&quot;&gt;&amp;amp;")) << xml;
    EXPECT_EQ(xml.find("</failure><x"), std::string::npos);
}

TEST(Junit, MultiLineReasonKeepsItsLineBreaksInTheAttribute) {
    auto r = samples::broken();
    r.reason = "line one\nline two\ttabbed";
    EXPECT_TRUE(contains(render({r}), R"(message="line one&#10;line two&#9;tabbed")"));
}

TEST(Junit, InvalidCharactersAreReplacedNotEmitted) {
    auto r = samples::fail();
    r.reason = "nul\0here \x01 bad\xff utf8"s;
    r.name = "name_with_\x02";
    r.rows[0].cells[1].observed = "ctl\x01\x1b[0m\xc3(";
    const std::string xml = render({r});
    for (char c : {'\0', '\x01', '\x02', '\x1b'})
        EXPECT_EQ(xml.find(c), std::string::npos) << "control " << int(c);
    EXPECT_EQ(xml.find('\xff'), std::string::npos);
    EXPECT_TRUE(contains(xml, "message=\"nul\xEF\xBF\xBDhere \xEF\xBF\xBD bad\xEF\xBF\xBD utf8\""))
        << xml;
}

TEST(Junit, ParsesAndMatchesTheJenkinsSchemaConstraints) {
    if (!have_python()) GTEST_SKIP() << "python3 with xml.etree is not installed";
    auto weird = samples::fail();
    weird.suite = "weird";
    weird.reason = "<&>\"' \x01\x1f\x7f \xff\xfe \xed\xa0\x80 (surrogate) \xef\xbf\xbe";
    weird.rows[0].cells[1].observed = "\x1b[31mred\x1b[0m\r\nnext\x0b\x0c";
    weird.steps[1].ok = false;
    weird.steps[1].detail = "\0nul\x08"s + "\xc0\xaf";
    auto results = samples::all();
    results.push_back(weird);
    EXPECT_EQ(python_check(TempFile("all.xml", render(results)).path), 0);
    EXPECT_EQ(python_check(TempFile("empty.xml", render({}, 0)).path), 0);
}

TEST(Junit, CheckerRejectsWhatXunitWould) {
    // The checker itself must be able to fail: a <testcase file=...> and a bad count.
    if (!have_python()) GTEST_SKIP() << "python3 with xml.etree is not installed";
    std::string xml = render({samples::pass()});
    std::string with_file = replace_all(xml, "<testcase ", "<testcase file=\"x\" ");
    EXPECT_NE(python_check(TempFile("file_attr.xml", with_file).path, true), 0);
    std::string bad_count = replace_all(xml, "tests=\"1\"", "tests=\"2\"");
    EXPECT_NE(python_check(TempFile("bad_count.xml", bad_count).path, true), 0);
    EXPECT_NE(python_check(TempFile("broken.xml", xml.substr(0, xml.size() / 2)).path, true), 0);
}

TEST(Junit, EmptyRunIsAValidEmptyDocument) {
    EXPECT_EQ(render({}, 0),
              "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
              "<testsuites name=\"nslab\" tests=\"0\" failures=\"0\" errors=\"0\" time=\"0.000\">\n"
              "</testsuites>\n");
}

}  // namespace
}  // namespace nslab::report
