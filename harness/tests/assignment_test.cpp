// The assignment loader on texts a file corpus shows less well: what it accepts ends up in the
// Assignment (launcher flags, strict booleans), and the size limit it shares with the suite
// loader. The bad-file corpus (fixtures/bad_assignments) is checked through `nslab validate` by
// harness/tests/validate_assignments_test.sh.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "grade/assignment.hpp"

#ifndef NSLAB_SOURCE_DIR
#error "NSLAB_SOURCE_DIR must name the repository root"
#endif

namespace nslab {
namespace {

namespace fs = std::filesystem;

// A scratch directory, removed with everything in it.
class AssignmentLoader : public testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("nslab-assignment-test-" + std::to_string(::getpid()));
        fs::create_directories(dir_);
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    // An assignment with this launcher section (indented by 2) and one test, loaded.
    grade::AssignmentLoad load_with_launcher(const std::string& launcher, const std::string& test = "points: 1") {
        return load_text("nslab_assignment: 1\n"
                         "name: unit\n"
                         "title: Unit\n"
                         "suites: [" NSLAB_SOURCE_DIR "/suites/td2_uts.yaml]\n"
                         "launcher:\n" +
                         launcher +
                         "tests:\n"
                         "  - experiment: td2_uts.hostname_isolated_between_sibling_uts_namespaces\n"
                         "    " + test + "\n");
    }
    grade::AssignmentLoad load_text(const std::string& text) {
        std::string path = (dir_ / "a.yaml").string();
        std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
        return grade::load_assignment(path);
    }
    std::string first_error(const grade::AssignmentLoad& l) {
        if (l.errors.empty()) return "";
        std::string e = l.errors.front();
        return e.substr(e.find(": ") + 2);  // without "file:line:column"
    }
    fs::path dir_;
};

TEST_F(AssignmentLoader, FlagsAreParsedIntoTheLauncherConfiguration) {
    auto l = load_with_launcher(
        "  command: [\"${submission}/mini_container\", \"${flags}\", \"--\", \"${agent}\"]\n"
        "  flags: { user: --user, map_root: --map-root-user, uts: --uts, pid: [--pid, --fork], mount_proc: --mount-proc,\n"
        "           monotonic: [--monotonic, \"${monotonic}\"], propagation: \"--propagation=${propagation}\" }\n"
        "  mounts_proc: true\n"
        "  connect_by_socket: false\n",
        "points: 0.5");
    ASSERT_TRUE(l.assignment) << (l.errors.empty() ? "" : l.errors.front());
    const auto& c = l.assignment->launcher;
    EXPECT_EQ(c.kind, "command");
    using Words = std::vector<std::string>;
    EXPECT_EQ(c.flags.size(), 7u);
    EXPECT_EQ(c.flags.at("user"), Words{"--user"});
    EXPECT_EQ(c.flags.at("map_root"), Words{"--map-root-user"});
    EXPECT_EQ(c.flags.at("pid"), (Words{"--pid", "--fork"}));
    EXPECT_EQ(c.flags.at("monotonic"), (Words{"--monotonic", "${monotonic}"}));
    EXPECT_EQ(c.flags.at("propagation"), Words{"--propagation=${propagation}"});
    EXPECT_TRUE(c.mounts_proc);
    EXPECT_FALSE(c.connect_by_socket);
    EXPECT_EQ(l.assignment->tests.at(0).points, 0.5);
}

TEST_F(AssignmentLoader, BooleansAreTrueOrFalseOnly) {
    for (const char* word : {"ture", "yes", "1", "\"true\""}) {
        auto l = load_with_launcher(std::string("  command: [/bin/false, \"${agent}\"]\n  connect_by_socket: ") + word + "\n");
        EXPECT_FALSE(l.assignment) << word;
        EXPECT_EQ(first_error(l).rfind("'launcher: connect_by_socket' must be true or false, not ", 0), 0u) << first_error(l);
    }
}

TEST_F(AssignmentLoader, PointsAreFinitePositiveNumbers) {
    for (const char* points : {"0", "-1", ".nan", ".inf", "-.inf", "1e3", "\"2\"", "1001"}) {
        auto l = load_with_launcher("  command: [/bin/false, \"${agent}\"]\n", std::string("points: ") + points);
        EXPECT_FALSE(l.assignment) << points;
        EXPECT_EQ(first_error(l).rfind("'points' must be ", 0), 0u) << points << ": " << first_error(l);
    }
}

TEST_F(AssignmentLoader, AgentAndFlagsAreWordsOfTheirOwnInTheCommandOnly) {
    struct Case {
        const char* launcher;
        const char* error;
    } cases[] = {
        {"  command: [/bin/false, \"--agent=${agent}\"]\n",
         "${agent} must be a word of its own in 'launcher: command', not part of '--agent=${agent}'"},
        {"  command: [/bin/false, \"-f${flags}\", \"${agent}\"]\n  flags: { uts: --uts }\n",
         "${flags} must be a word of its own in 'launcher: command', not part of '-f${flags}'"},
        {"  command: [/bin/false, \"${flags}\", \"${agent}\"]\n  flags: { uts: \"${flags}\" }\n",
         "unknown variable ${flags} in 'launcher: flags: uts' (${flags} belongs in 'launcher: command') (expected: "
         "${realm}, ${hostname}, ${monotonic}, ${boottime}, ${propagation}, ${uid}, ${gid}, ${submission})"},
        {"  command: [/bin/false, \"${realm\", \"${agent}\"]\n", "unclosed '${' in 'launcher: command' word '${realm'"},
        {"  command: []\n", "'launcher: command' is empty: it is the argv that starts each realm"},
        {"  command: [/bin/false, \"${agent}\"]\n  flags: { pid: [] }\n",
         "'launcher: flags: pid' is empty: give the word(s) that ask the launcher for it, or leave the key out"},
    };
    for (auto& c : cases) {
        auto l = load_with_launcher(c.launcher);
        EXPECT_FALSE(l.assignment) << c.launcher;
        EXPECT_EQ(first_error(l), c.error) << c.launcher;
    }
}

TEST_F(AssignmentLoader, TheShippedAssignmentLoads) {
    auto l = grade::load_assignment(NSLAB_SOURCE_DIR "/suites/assignments/td2.yaml");
    EXPECT_TRUE(l.assignment) << (l.errors.empty() ? "" : l.errors.front());
}

// The size limit the suite loader has, read in bounded memory: a file past it is refused by size.
TEST_F(AssignmentLoader, HugeFileIsRefusedBySize) {
    std::string path = (dir_ / "huge.yaml").string();
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << "nslab_assignment: 1\n";
        for (int i = 0; out.tellp() < 5LL * 1000 * 1000; ++i) out << "key_" << i << ": value\n";
    }
    auto l = grade::load_assignment(path);
    EXPECT_FALSE(l.assignment);
    ASSERT_EQ(l.errors.size(), 1u);
    EXPECT_EQ(l.errors.front(), path + ":1:1: the file is larger than 4 MiB; an assignment is never that big");
}

TEST_F(AssignmentLoader, UnreadableFileIsAnErrorNamingIt) {
    auto l = grade::load_assignment((dir_ / "missing.yaml").string());
    EXPECT_FALSE(l.assignment);
    ASSERT_EQ(l.errors.size(), 1u);
    EXPECT_EQ(l.errors.front(), (dir_ / "missing.yaml").string() + ": cannot read the file: No such file or directory");
}

}  // namespace
}  // namespace nslab
