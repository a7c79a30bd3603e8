// The grammar tables (experiment/grammar.hpp) that the loader and `nslab schema` share: a key the
// tables call required is one the loader refuses a file without, and one they call optional it
// does without.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "experiment/grammar.hpp"
#include "experiment/loader.hpp"

namespace nslab {
namespace {

namespace grammar = experiment::grammar;

// A small valid suite, key by key, so that each key can be left out.
const std::map<std::string, std::string> kSuite{
    {"nslab", "nslab: 1\n"}, {"suite", "suite: s\n"}, {"title", "title: t\n"}, {"description", "description: d\n"}};
const std::map<std::string, std::string> kExperiment{
    {"name", "    name: e\n"},           {"summary", "    summary: x\n"},        {"refs", "    refs: [r]\n"},
    {"tags", "    tags: [t]\n"},         {"requires", "    requires: { root: false }\n"},
    {"timeout", "    timeout: 5\n"},     {"realms", "    realms: { A: { new: [uts] } }\n"},
    {"steps", "    steps: [{ in: host, run: 'true' }]\n"},
    {"expect", "    expect: [{ probe: hostname, host: x }]\n"}};

std::string suite_without(const std::string& left_out) {
    std::string text;
    for (auto& k : grammar::suite_keys())
        if (k.name != left_out && kSuite.count(k.name)) text += kSuite.at(k.name);
    if (left_out == "experiments") return text;
    text += "experiments:\n  -\n";
    for (auto& k : grammar::experiment_keys())
        if (k.name != left_out) text += kExperiment.at(k.name);
    return text;
}

TEST(LoaderGrammar, TheTablesRequireWhatTheLoaderRequires) {
    ASSERT_TRUE(experiment::load_text(suite_without(""), "all.yaml").ok()) << suite_without("");
    for (const auto* keys : {&grammar::suite_keys(), &grammar::experiment_keys()})
        for (auto& k : *keys) {
            if (k.name == "expect") continue;  // required unless a step has expect_error: the schema says so apart
            auto loaded = experiment::load_text(suite_without(k.name), k.name + ".yaml");
            EXPECT_EQ(loaded.ok(), !k.required) << "without '" << k.name << "': "
                                                << (loaded.errors.empty() ? "loads" : loaded.errors[0].str());
        }
}

TEST(LoaderGrammar, AStepNeedsWhatTheTablesRequire) {
    for (auto& k : grammar::step_keys()) {
        std::string step = k.name == "in" ? "{ run: 'true' }" : "{ in: host, run: 'true' }";
        std::string text = suite_without("steps");
        text.insert(text.find("    expect:"), "    steps: [" + step + "]\n");
        EXPECT_EQ(experiment::load_text(text, "step.yaml").ok(), !k.required) << k.name;
    }
}

}  // namespace
}  // namespace nslab
