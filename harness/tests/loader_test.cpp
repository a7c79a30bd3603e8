// The strict loader: a corpus of bad files whose first errors are pinned word for word
// (fixtures/bad_yaml/expected_errors.txt), checked through load_paths() and through
// `nslab validate`, and load_text() unit tests for what a file corpus cannot show well.
//
// Adding a bad input takes a file in fixtures/bad_yaml/ and its line in expected_errors.txt:
//     <file name>\t<the first line `nslab validate fixtures/bad_yaml/<file>` prints to stderr>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "experiment/loader.hpp"

#ifndef NSLAB_SOURCE_DIR
#error "NSLAB_SOURCE_DIR must name the repository root"
#endif
#ifndef NSLAB_BIN_DIR
#error "NSLAB_BIN_DIR must name the directory of the nslab executable"
#endif

namespace nslab {
namespace {

namespace fs = std::filesystem;
using experiment::LoadResult;
using experiment::MatcherKind;

constexpr const char* kCorpusDir = "fixtures/bad_yaml";       // relative to the repository root
constexpr const char* kExpectedFile = "expected_errors.txt";  // in kCorpusDir
constexpr const char* kCategoriesFile = "CATEGORIES.md";      // in kCorpusDir: files by kind of bad input
constexpr size_t kMinCorpusFiles = 40;

// One line of expected_errors.txt.
struct BadInput {
    std::string file;   // "syntax_error.yaml"
    std::string error;  // "fixtures/bad_yaml/syntax_error.yaml:10:10: error: ..."
    int line_no = 0;    // in expected_errors.txt
};

// How gtest shows a case when it fails.
void PrintTo(const BadInput& c, std::ostream* os) {
    *os << c.file;
}

std::string corpus_path(const std::string& file) {
    return std::string(kCorpusDir) + "/" + file;
}

fs::path expected_file_path() {
    return fs::path(NSLAB_SOURCE_DIR) / kCorpusDir / kExpectedFile;
}

// Reads expected_errors.txt by its absolute path (test registration runs before any chdir).
// A malformed line becomes a case with an empty error, which the tests then report.
std::vector<BadInput> read_expected_errors() {
    std::vector<BadInput> cases;
    std::ifstream in(expected_file_path());
    std::string line;
    int line_no = 0;
    while (std::getline(in, line)) {
        ++line_no;
        if (line.empty()) continue;
        auto tab = line.find('\t');
        if (tab == std::string::npos)
            cases.push_back({line, "", line_no});
        else
            cases.push_back({line.substr(0, tab), line.substr(tab + 1), line_no});
    }
    return cases;
}

// Test names from file names: "syntax_error.yaml" -> "syntax_error".
std::string case_name(const testing::TestParamInfo<BadInput>& info) {
    std::string stem = fs::path(info.param.file).stem().string();
    std::string name;
    for (char c : stem) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    return name.empty() ? "line_" + std::to_string(info.param.line_no) : name;
}

// Runs with the repository root as working directory, so that paths (and so marks) are relative.
class InRepoRoot : public testing::Test {
  protected:
    void SetUp() override {
        saved_ = fs::current_path();
        fs::current_path(NSLAB_SOURCE_DIR);
    }
    void TearDown() override { fs::current_path(saved_); }

  private:
    fs::path saved_;
};

// What `nslab validate PATH` wrote to stderr, and its exit status (-1 if it did not exit).
struct CliRun {
    int exit_status = -1;
    long max_rss_kib = 0;
    std::string err;
    std::string failure;  // why it could not be run at all
};

CliRun run_validate(const std::string& path) {
    CliRun run;
    std::string bin = std::string(NSLAB_BIN_DIR) + "/nslab";
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        run.failure = "pipe2 failed";
        return run;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
    std::string sub = "validate";
    std::string arg = path;
    std::vector<char*> argv = {bin.data(), sub.data(), arg.data(), nullptr};
    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, bin.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    if (rc != 0) {
        ::close(fds[0]);
        run.failure = "cannot start " + bin + ": " + std::strerror(rc);
        return run;
    }
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        run.err.append(buf, static_cast<size_t>(n));
    }
    ::close(fds[0]);
    int status = 0;
    struct rusage usage {};
    while (::wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
    }
    run.max_rss_kib = usage.ru_maxrss;
    if (WIFEXITED(status)) run.exit_status = WEXITSTATUS(status);
    return run;
}

std::string first_line(const std::string& s) {
    return s.substr(0, s.find('\n'));
}

// ---- the corpus
// ----------------------------------------------------------------------------------

class LoaderBadInput : public InRepoRoot, public testing::WithParamInterface<BadInput> {};

TEST_P(LoaderBadInput, LoadPathsReportsTheRecordedErrorFirst) {
    const BadInput& c = GetParam();
    ASSERT_FALSE(c.error.empty()) << kExpectedFile << ":" << c.line_no
                                  << ": no tab-separated error";
    LoadResult r = experiment::load_paths({corpus_path(c.file)});
    ASSERT_FALSE(r.ok()) << c.file << " loaded without error";
    EXPECT_TRUE(r.suites.empty()) << c.file << ": a file with an error must not yield a suite";
    EXPECT_EQ(r.errors.front().str(), c.error);
}

TEST_P(LoaderBadInput, ValidatePrintsTheRecordedErrorFirstAndExits2) {
    const BadInput& c = GetParam();
    ASSERT_FALSE(c.error.empty()) << kExpectedFile << ":" << c.line_no
                                  << ": no tab-separated error";
    CliRun run = run_validate(corpus_path(c.file));
    ASSERT_TRUE(run.failure.empty()) << run.failure;
    EXPECT_EQ(run.exit_status, 2) << run.err;
    EXPECT_EQ(first_line(run.err), c.error);
}

INSTANTIATE_TEST_SUITE_P(, LoaderBadInput, testing::ValuesIn(read_expected_errors()), case_name);

class LoaderCorpus : public InRepoRoot {};

TEST_F(LoaderCorpus, EveryFileHasExactlyOneRecordedError) {
    std::vector<BadInput> cases = read_expected_errors();
    ASSERT_FALSE(cases.empty()) << "cannot read " << expected_file_path();
    std::set<std::string> listed;
    for (auto& c : cases) {
        EXPECT_TRUE(listed.insert(c.file).second)
            << kExpectedFile << ":" << c.line_no << ": " << c.file << " is listed twice";
        EXPECT_TRUE(fs::is_regular_file(corpus_path(c.file)))
            << kExpectedFile << ":" << c.line_no << ": no file " << corpus_path(c.file);
        EXPECT_EQ(c.error.rfind(corpus_path(c.file) + ":", 0), 0u)
            << kExpectedFile << ":" << c.line_no << ": the error must name " << corpus_path(c.file);
    }
    size_t files = 0;
    for (auto& entry : fs::directory_iterator(kCorpusDir)) {
        std::string name = entry.path().filename().string();
        if (name == kExpectedFile || name == kCategoriesFile) continue;
        ++files;
        EXPECT_TRUE(listed.count(name)) << corpus_path(name) << " has no line in " << kExpectedFile;
        EXPECT_EQ(entry.path().extension().string(), ".yaml")
            << corpus_path(name) << ": corpus files are *.yaml";
    }
    EXPECT_GE(files, kMinCorpusFiles);
}

// CATEGORIES.md sorts the corpus by kind of bad input: "## category" headings, each followed by
// "- `file.yaml`: note" lines. Every file is in exactly one category, and each category the
// issue names has files (the huge file is made at test time, below).
TEST_F(LoaderCorpus, EveryFileIsInOneNamedCategory) {
    std::ifstream in(std::string(kCorpusDir) + "/" + kCategoriesFile);
    ASSERT_TRUE(in) << "cannot read " << kCategoriesFile;
    std::map<std::string, std::vector<std::string>> files_of;
    std::map<std::string, std::string> category_of;
    std::string category;
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("## ", 0) == 0) category = line.substr(3);
        if (line.rfind("- `", 0) != 0) continue;
        std::string file = line.substr(3, line.find('`', 3) - 3);
        ASSERT_FALSE(category.empty()) << file << " is listed before any category";
        EXPECT_TRUE(category_of.emplace(file, category).second) << file << " is in two categories";
        files_of[category].push_back(file);
    }
    for (auto& entry : fs::directory_iterator(kCorpusDir)) {
        std::string name = entry.path().filename().string();
        if (name == kExpectedFile || name == kCategoriesFile) continue;
        EXPECT_TRUE(category_of.count(name)) << name << " is in no category of " << kCategoriesFile;
    }
    for (auto& [file, cat] : category_of) {
        if (file.find(".yaml") == std::string::npos) continue;  // "generated at test time"
        EXPECT_TRUE(fs::is_regular_file(corpus_path(file))) << kCategoriesFile << " lists " << file << ", which is gone";
    }
    for (auto required : {"deep nesting", "huge file", "binary garbage", "anchors and aliases", "wrong types",
                          "invalid UTF-8", "overlong names", "conflicting realm options"})
        EXPECT_FALSE(files_of[required].empty()) << "no file in category '" << required << "'";
}

// 50 MB of keys is refused with the size error naming the file, and the loader reads only what
// the limit needs (bounded memory), whatever the file's size.
TEST_F(LoaderCorpus, HugeFileIsRefusedInBoundedMemory) {
    std::string path = "/tmp/nslab-huge-" + std::to_string(::getpid()) + ".yaml";
    {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << "nslab: 1\nsuite: huge\ntitle: Fifty megabytes of keys\n";
        char line[32];
        for (int i = 0; out.tellp() < 50LL * 1000 * 1000; ++i) {
            int n = std::snprintf(line, sizeof line, "key_%08d: value\n", i);
            out.write(line, n);
        }
        ASSERT_TRUE(out.good());
    }
    CliRun run = run_validate(path);
    ::unlink(path.c_str());
    ASSERT_TRUE(run.failure.empty()) << run.failure;
    EXPECT_EQ(run.exit_status, 2) << run.err;
    EXPECT_EQ(first_line(run.err), path + ":1:1: error: the file is larger than 4 MiB; a suite is never that big");
    // Relative to a small bad file (sanitizer builds start larger): reading 50 MB would show.
    CliRun small = run_validate(corpus_path("empty.yaml"));
    EXPECT_LT(run.max_rss_kib, small.max_rss_kib + 16 * 1024)
        << "validate grew by more than 16 MiB for a 50 MB file; a small file: " << small.max_rss_kib << " KiB";
}

// ---- load_text ---------------------------------------------------------------------------------

constexpr const char* kFile = "t.yaml";

// A suite around one experiment whose body (realms, steps, expect) is given, indented by 4.
std::string suite_with(const std::string& body) {
    return "nslab: 1\n"
           "suite: unit\n"
           "title: Unit\n"
           "experiments:\n"
           "  - name: one\n"
           "    summary: One experiment.\n" +
           body;
}

// load_text() of suite_with(body), where body starts on a line of its own (the first newline is
// dropped): the body's first line is line 7 of the file.
LoadResult load_body(const std::string& body) {
    return experiment::load_text(suite_with(body.substr(body.rfind('\n', 0) == 0 ? 1 : 0)), kFile);
}

const experiment::Experiment& only_experiment(const LoadResult& r) {
    static const experiment::Experiment none;
    if (r.suites.size() != 1 || r.suites[0].experiments.size() != 1) {
        ADD_FAILURE() << "expected one suite with one experiment";
        return none;
    }
    return r.suites[0].experiments[0];
}

std::string errors_of(const LoadResult& r) {
    std::string s;
    for (auto& e : r.errors) s += e.str() + "\n";
    return s;
}

std::vector<std::string> realm_names(const experiment::Experiment& e) {
    std::vector<std::string> names;
    for (auto& r : e.realms) names.push_back(r.name);
    return names;
}

TEST(LoaderAccepts, MinimalSuiteWithRealmsOrderedParentsFirst) {
    LoadResult r = load_body(R"(
    realms:
      INNER: { new: [uts], parent: MIDDLE }
      MIDDLE: { new: [uts], parent: OUTER }
      OUTER: { new: [uts] }
      SIDE: { new: [ipc] }
    expect:
      - { probe: hostname, INNER: unchanged }
)");
    ASSERT_TRUE(r.ok()) << errors_of(r);
    ASSERT_EQ(r.suites.size(), 1u);
    EXPECT_EQ(r.suites[0].name, "unit");
    EXPECT_EQ(r.suites[0].title, "Unit");
    EXPECT_EQ(r.suites[0].file, kFile);
    const auto& e = only_experiment(r);
    EXPECT_EQ(e.full_name(), "unit.one");
    EXPECT_EQ(realm_names(e), (std::vector<std::string>{"OUTER", "SIDE", "MIDDLE", "INNER"}));
    EXPECT_EQ(e.vantages(), (std::vector<std::string>{"OUTER", "SIDE", "MIDDLE", "INNER", "host"}));
    ASSERT_NE(e.realm("INNER"), nullptr);
    EXPECT_EQ(e.realm("INNER")->parent, "MIDDLE");
    EXPECT_EQ(e.realm("OUTER")->parent, "");
}

TEST(LoaderAccepts, ParentHostMeansStartedFromTheHost) {
    LoadResult r = load_body(R"(
    realms:
      A: { new: [uts], parent: host }
    expect:
      - { probe: hostname, A: unchanged }
)");
    ASSERT_TRUE(r.ok()) << errors_of(r);
    ASSERT_NE(only_experiment(r).realm("A"), nullptr);
    EXPECT_EQ(only_experiment(r).realm("A")->parent, "");
}

TEST(LoaderAccepts, CellsAreSortedIntoRealmOrder) {
    LoadResult r = load_body(R"(
    realms:
      B: { new: [uts], parent: A }
      A: { new: [uts] }
    expect:
      - { probe: hostname, host: unchanged, B: b, A: a }
)");
    ASSERT_TRUE(r.ok()) << errors_of(r);
    const auto& e = only_experiment(r);
    ASSERT_EQ(e.expect.size(), 1u);
    std::vector<std::string> columns;
    for (auto& [vantage, m] : e.expect[0].cells) columns.push_back(vantage);
    EXPECT_EQ(columns, (std::vector<std::string>{"A", "B", "host"}));
}

TEST(LoaderAccepts, ReferenceToAnEarlierStepsResult) {
    LoadResult r = load_body(R"(
    realms:
      A: { new: [ipc] }
    steps:
      - { in: A, do: shm_create, size: 128, as: seg }
      - { in: A, do: shm_attach, id: "${seg.id}" }
      - { in: A, run: "ipcs -m -i ${seg.id}" }
    expect:
      - { see: seg, A: visible, host: hidden }
      - { run: "echo ${seg.id}", A: { matches: "^[0-9]+$" } }
)");
    ASSERT_TRUE(r.ok()) << errors_of(r);
    const auto& e = only_experiment(r);
    ASSERT_EQ(e.steps.size(), 3u);
    EXPECT_EQ(e.steps[0].as, "seg");
    EXPECT_EQ(e.steps[0].args["size"], 128);
    EXPECT_EQ(e.steps[1].args["id"], "${seg.id}");
    EXPECT_EQ(e.steps[2].op, "run");
    EXPECT_EQ(e.steps[2].args["command"], "ipcs -m -i ${seg.id}");
    ASSERT_EQ(e.expect.size(), 2u);
    EXPECT_EQ(e.expect[0].form, experiment::Expectation::Form::see);
    EXPECT_EQ(e.expect[0].object, "seg");
}

// A kernel limit (a hostname's 64 bytes) binds steps that expect success; a step that expects
// the kernel to refuse may pass what it must refuse — that is what it shows.
TEST(LoaderAccepts, AStepExpectingAnErrorMayPassWhatTheKernelMustRefuse) {
    std::string long_name(65, 'h');
    LoadResult r = load_body(R"(
    realms:
      A: { new: [uts] }
    steps:
      - { in: A, do: sethostname, name: )" + long_name + R"(, expect_error: EINVAL }
    expect:
      - { probe: hostname, A: unchanged, host: unchanged }
)");
    ASSERT_TRUE(r.ok()) << errors_of(r);
    r = load_body(R"(
    realms:
      A: { new: [uts] }
    steps:
      - { in: A, do: sethostname, name: )" + long_name + R"( }
    expect:
      - { probe: hostname, A: unchanged, host: unchanged }
)");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(errors_of(r).find("65 bytes is longer than a hostname may be (64)"), std::string::npos) << errors_of(r);
    // Not a kernel limit: the loader's domain holds whatever the step expects.
    r = load_body(R"(
    realms:
      A: { new: [net] }
    steps:
      - { in: A, do: udp_listen, port: 70000, expect_error: EINVAL }
    expect:
      - { probe: hostname, A: unchanged, host: unchanged }
)");
    EXPECT_FALSE(r.ok());
}

TEST(LoaderBadText, ReferenceBeforeTheStepThatNamesIt) {
    LoadResult r = load_body(R"(
    realms:
      A: { new: [ipc] }
    steps:
      - { in: A, run: "ipcs -m -i ${seg.id}" }
      - { in: A, do: shm_create, as: seg }
    expect:
      - { see: seg, A: visible }
)");
    ASSERT_EQ(r.errors.size(), 1u) << errors_of(r);
    EXPECT_EQ(
        r.errors[0].str(),
        "t.yaml:10:23: error: '${seg.id}' names 'seg', which no earlier step defines with 'as:'");
}

TEST(LoaderAccepts, MatcherKinds) {
    LoadResult r = load_body(R"(
    realms:
      A: { new: [ipc] }
      B: { new: [ipc] }
      C: {}
    expect:
      - probe: shm_list
        A: unchanged
        B: { count: 3 }
        C: { same_as: host }
        host: { differs_from: B }
      - probe: hostname
        A: changed
        B: { equals: unchanged }
        C: { contains: lab }
        host: { matches: "^h" }
)");
    ASSERT_TRUE(r.ok()) << errors_of(r);
    const auto& e = only_experiment(r);
    ASSERT_EQ(e.expect.size(), 2u);
    const auto& row = e.expect[0].cells;
    ASSERT_EQ(row.size(), 4u);
    EXPECT_EQ(row[0].second.kind, MatcherKind::unchanged);
    EXPECT_EQ(row[1].second.kind, MatcherKind::count);
    EXPECT_EQ(row[1].second.value, 3);
    EXPECT_TRUE(row[1].second.value.is_number_integer());
    EXPECT_EQ(row[2].second.kind, MatcherKind::same_as);
    EXPECT_EQ(row[2].second.vantage, "host");
    EXPECT_EQ(row[3].second.kind, MatcherKind::differs_from);
    EXPECT_EQ(row[3].second.vantage, "B");
    const auto& row2 = e.expect[1].cells;
    ASSERT_EQ(row2.size(), 4u);
    EXPECT_EQ(row2[0].second.kind, MatcherKind::changed);
    EXPECT_EQ(row2[1].second.kind, MatcherKind::equals);
    EXPECT_EQ(row2[1].second.value, "unchanged");
    EXPECT_EQ(row2[2].second.kind, MatcherKind::contains);
    EXPECT_EQ(row2[2].second.value, "lab");
    EXPECT_EQ(row2[3].second.kind, MatcherKind::matches);
    EXPECT_EQ(row2[3].second.value, "^h");
}

TEST(LoaderAccepts, PlainNumberIsAHostnameString) {
    LoadResult r = load_body(R"(
    realms:
      A: { new: [uts] }
    steps:
      - { in: A, do: sethostname, name: 123 }
    expect:
      - { probe: hostname, A: 123, host: unchanged }
)");
    ASSERT_TRUE(r.ok()) << errors_of(r);
    const auto& e = only_experiment(r);
    ASSERT_EQ(e.steps.size(), 1u);
    EXPECT_TRUE(e.steps[0].args["name"].is_string());
    EXPECT_EQ(e.steps[0].args["name"], "123");
    ASSERT_EQ(e.expect.size(), 1u);
    EXPECT_EQ(e.expect[0].cells[0].second.kind, MatcherKind::equals);
    EXPECT_EQ(e.expect[0].cells[0].second.value, "123");
}

TEST(LoaderBadText, QuotedNumberWhereAnIntegerIsNeeded) {
    LoadResult r = load_body(R"(
    realms:
      A: { new: [ipc] }
    steps:
      - { in: A, do: shm_create, size: "128" }
    expect:
      - { probe: shm_list, A: { count: 1 } }
)");
    ASSERT_EQ(r.errors.size(), 1u) << errors_of(r);
    EXPECT_TRUE(r.suites.empty());
    EXPECT_EQ(
        r.errors[0].str(),
        "t.yaml:10:40: error: 'size' of action shm_create must be an integer, not a quoted string");
}

TEST(LoaderBadText, QuotedCountInAMatcher) {
    LoadResult r = load_body(R"(
    realms:
      A: { new: [ipc] }
    expect:
      - { probe: shm_list, A: { count: "3" } }
)");
    ASSERT_EQ(r.errors.size(), 1u) << errors_of(r);
    EXPECT_EQ(r.errors[0].str(),
              "t.yaml:10:40: error: 'count' in the A cell of expectation #1 must be an integer, "
              "not a quoted string");
}

TEST(LoaderMarks, AreOneBased) {
    // The first character of the file is line 1, column 1.
    LoadResult bad = experiment::load_text("bogus: 1\n", kFile);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.errors[0].mark.file, kFile);
    EXPECT_EQ(bad.errors[0].mark.line, 1);
    EXPECT_EQ(bad.errors[0].mark.column, 1);
    EXPECT_EQ(bad.errors[0].str().rfind("t.yaml:1:1: error: unknown key 'bogus' in the suite", 0),
              0u)
        << bad.errors[0].str();

    LoadResult r = load_body(R"(
    realms:
      A: { new: [uts] }
    steps:
      - { in: A, do: sethostname, name: x }
    expect:
      - { probe: hostname, A: x }
)");
    ASSERT_TRUE(r.ok()) << errors_of(r);
    const auto& e = only_experiment(r);
    EXPECT_EQ(e.mark.str(), "t.yaml:5:11");  // the name's value
    ASSERT_EQ(e.realms.size(), 1u);
    EXPECT_EQ(e.realms[0].mark.str(), "t.yaml:8:7");  // the realm's key
    ASSERT_EQ(e.steps.size(), 1u);
    EXPECT_EQ(e.steps[0].mark.str(), "t.yaml:10:9");  // the step's '{'
    ASSERT_EQ(e.expect.size(), 1u);
    EXPECT_EQ(e.expect[0].mark.str(), "t.yaml:12:9");
    EXPECT_EQ(e.expect[0].cells[0].second.mark.str(), "t.yaml:12:31");  // the cell's value
}

TEST(LoaderMarks, SyntaxErrorsAreOneBasedToo) {
    LoadResult r = experiment::load_text("nslab: [1\n", kFile);
    ASSERT_EQ(r.errors.size(), 1u) << errors_of(r);
    EXPECT_GE(r.errors[0].mark.line, 1);
    EXPECT_GE(r.errors[0].mark.column, 1);
    EXPECT_EQ(r.errors[0].message.rfind("YAML syntax: ", 0), 0u) << r.errors[0].str();
}

}  // namespace
}  // namespace nslab
