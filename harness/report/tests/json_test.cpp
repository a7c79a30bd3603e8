// The JSON report: every field, parseable, and robust to any bytes in observed values.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "report/report.hpp"
#include "samples.hpp"

namespace nslab::report {
namespace {

using json = nlohmann::json;

json parsed(const std::vector<runner::ExperimentResult>& results, double wall_ms = 1230) {
    const std::string text = json_report(results, runner::summarize(results, wall_ms));
    return json::parse(text);  // throws (and fails the test) if it is not JSON
}

TEST(Json, TopLevelAndSummary) {
    const json doc = parsed(samples::all());
    EXPECT_EQ(doc.at("nslab"), 1);
    EXPECT_EQ(doc.at("summary"), json({{"passed", 1},
                                       {"failed", 1},
                                       {"skipped", 1},
                                       {"broken", 1},
                                       {"total", 4},
                                       {"wall_ms", 1230.0}}));
    ASSERT_EQ(doc.at("experiments").size(), 4u);
}

TEST(Json, PrettyPrintedWithTwoSpacesInFieldOrder) {
    const auto results = samples::all();
    const std::string text = json_report(results, runner::summarize(results, 1));
    EXPECT_EQ(text.rfind("{\n  \"nslab\": 1,\n  \"summary\": {\n    \"passed\": 1,", 0), 0u)
        << text;
    EXPECT_LT(text.find("\"suite\""), text.find("\"full_name\""));
    EXPECT_LT(text.find("\"outcome\""), text.find("\"steps\""));
}

TEST(Json, ExperimentHasEveryField) {
    const json e = parsed(samples::all()).at("experiments").at(1);
    for (auto* key : {"suite", "name", "full_name", "file", "line", "summary", "outcome", "reason",
                      "duration_ms", "refs", "tags", "vantages", "steps", "rows"})
        EXPECT_TRUE(e.contains(key)) << key;
    EXPECT_EQ(e.at("full_name"), "td2_uts.hostname_isolated_between_siblings");
    EXPECT_EQ(e.at("file"), "suites/td2_uts.yaml");
    EXPECT_EQ(e.at("line"), 20);
    EXPECT_EQ(e.at("outcome"), "FAIL");
    EXPECT_EQ(e.at("reason"), "row hostname: B expected programmation, saw virtualisation");
    EXPECT_DOUBLE_EQ(e.at("duration_ms").get<double>(), 3.1);
    EXPECT_EQ(e.at("refs"), json({"TD2 UTS", "uts_namespaces(7)"}));
    EXPECT_EQ(e.at("tags"), json({"linux-git:071df104f808"}));
    EXPECT_EQ(e.at("vantages"), json({"A", "B", "host"}));
}

TEST(Json, RowsAndCells) {
    const json row = parsed(samples::all()).at("experiments").at(1).at("rows").at(0);
    EXPECT_EQ(row.at("label"), "hostname");
    EXPECT_EQ(row.at("file"), "suites/td2_uts.yaml");
    EXPECT_EQ(row.at("line"), 29);
    EXPECT_EQ(row.at("column"), 9);
    EXPECT_EQ(row.at("why"), "each UTS namespace keeps its own hostname");
    EXPECT_EQ(row.at("ok"), false);
    ASSERT_EQ(row.at("cells").size(), 3u);
    EXPECT_EQ(row.at("cells").at(1), json({{"vantage", "B"},
                                           {"expected", "programmation"},
                                           {"observed", "virtualisation"},
                                           {"ok", false}}));
}

TEST(Json, Steps) {
    const json step = parsed(samples::all()).at("experiments").at(3).at("steps").at(0);
    EXPECT_EQ(step, json({{"source", "A: sem_create nsems=1"},
                          {"file", "suites/td3_ipc.yaml"},
                          {"line", 20},
                          {"column", 9},
                          {"ok", false},
                          {"detail", "semget: Operation not permitted (EPERM)\n"},
                          {"ms", 0.4}}));
}

TEST(Json, EmptyListsAreArrays) {
    const json e = parsed({samples::skip()}).at("experiments").at(0);
    EXPECT_TRUE(e.at("steps").is_array());
    EXPECT_TRUE(e.at("refs").is_array());
    EXPECT_TRUE(e.at("rows").at(0).at("cells").is_array());
    EXPECT_TRUE(parsed({}).at("experiments").is_array());
}

TEST(Json, InvalidUtf8AndControlsDoNotThrow) {
    auto r = samples::fail();
    r.rows[0].cells[1].observed = "bad\xff\xfe utf8 \x01\x1b[0m";
    r.reason = "\xc3(";
    std::string text;
    ASSERT_NO_THROW(text = json_report({r}, runner::summarize({r}, 1)));
    const json doc = json::parse(text);
    EXPECT_EQ(doc["experiments"][0]["rows"][0]["cells"][1]["observed"],
              "bad\xEF\xBF\xBD\xEF\xBF\xBD utf8 \x01\x1b[0m");
    EXPECT_EQ(doc["experiments"][0]["reason"], "\xEF\xBF\xBD(");
    EXPECT_EQ(text.find('\x1b'), std::string::npos) << "controls are \\u escapes in the text";
}

TEST(Json, NonFiniteTimesBecomeZero) {
    auto r = samples::pass();
    r.duration_ms = std::numeric_limits<double>::quiet_NaN();
    const json doc = parsed({r}, std::numeric_limits<double>::infinity());
    EXPECT_EQ(doc["experiments"][0]["duration_ms"], 0.0);
    EXPECT_EQ(doc["summary"]["wall_ms"], 0.0);
}

}  // namespace
}  // namespace nslab::report
