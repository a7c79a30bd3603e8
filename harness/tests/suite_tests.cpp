// Registers one GoogleTest test per experiment of the suites at start-up, so `ctest` lists and runs
// each experiment by name. A file that does not load becomes a failing test that prints its errors:
// never a crash and never a silently missing test. Diagnostics go to stderr: gtest_discover_tests
// parses stdout.
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <sstream>

#include "experiment/loader.hpp"
#include "report/report.hpp"
#include "runner/runner.hpp"

#ifndef NSLAB_SUITES_DIR
#define NSLAB_SUITES_DIR "suites"
#endif

namespace nslab {
namespace {

class ExperimentTest : public testing::Test {
public:
    explicit ExperimentTest(const experiment::Experiment* e) : e_(e) {}
    void TestBody() override {
        runner::RunOptions options = runner::default_options();
        if (const char* t = std::getenv("NSLAB_TIMEOUT")) options.timeout_s = std::atof(t);
        runner::ExperimentResult r = runner::run_experiment(*e_, options);
        std::ostringstream text;
        report::write_pretty_result(text, r, {.color = false, .matrix_on_pass = true});
        std::cerr << text.str();
        switch (r.outcome) {
            case runner::Outcome::pass: return;
            case runner::Outcome::skip: GTEST_SKIP() << r.reason;
            case runner::Outcome::fail: FAIL() << "FAIL: " << r.reason << "\n" << text.str();
            case runner::Outcome::broken: FAIL() << "BROKEN: " << r.reason << "\n" << text.str();
        }
    }

private:
    const experiment::Experiment* e_;
};

class LoadErrorTest : public testing::Test {
public:
    explicit LoadErrorTest(std::string text) : text_(std::move(text)) {}
    void TestBody() override { FAIL() << text_; }

private:
    std::string text_;
};

std::string test_safe(std::string s) {
    for (auto& c : s)
        if (!isalnum(static_cast<unsigned char>(c))) c = '_';
    return s;
}

// Kept alive for the whole process: the tests point into it.
experiment::LoadResult& catalogue() {
    static experiment::LoadResult loaded;
    return loaded;
}

void register_catalogue(const std::vector<std::string>& paths) {
    std::vector<experiment::LoadError> expand_errors;
    auto files = experiment::expand_paths(paths, expand_errors);
    for (auto& e : expand_errors)
        testing::RegisterTest("nslab_load_error", test_safe(e.mark.file).c_str(), nullptr, nullptr, __FILE__, __LINE__,
                              [text = e.str()]() -> testing::Test* { return new LoadErrorTest(text); });
    auto& all = catalogue();
    all = experiment::load_paths(files);
    // One failing test per broken file, named after it, carrying all of its errors.
    std::map<std::string, std::string> by_file;
    for (auto& e : all.errors) by_file[e.mark.file] += e.str() + "\n";
    for (auto& [file, text] : by_file) {
        std::cerr << text;
        std::string stem = file.substr(file.rfind('/') + 1);
        testing::RegisterTest("nslab_load_error", test_safe(stem).c_str(), nullptr, nullptr, file.c_str(), 1,
                              [t = text]() -> testing::Test* { return new LoadErrorTest(t); });
    }
    for (auto& s : all.suites)
        for (auto& e : s.experiments)
            testing::RegisterTest(s.name.c_str(), e.name.c_str(), nullptr, nullptr, e.mark.file.c_str(), e.mark.line,
                                  [p = &e]() -> testing::Test* { return new ExperimentTest(p); });
}

}  // namespace
}  // namespace nslab

int main(int argc, char** argv) {
    testing::InitGoogleTest(&argc, argv);
    // NSLAB_SUITES (':'-separated files or directories) overrides the catalogue the build knows.
    std::vector<std::string> paths;
    if (const char* env = std::getenv("NSLAB_SUITES"); env && *env) {
        std::stringstream in(env);
        std::string p;
        while (std::getline(in, p, ':'))
            if (!p.empty()) paths.push_back(p);
    } else {
        paths.push_back(NSLAB_SUITES_DIR);
    }
    nslab::register_catalogue(paths);
    return RUN_ALL_TESTS();
}
