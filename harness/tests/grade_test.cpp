// nslab grade, end to end: the reference mini-container scores full marks, contract tests included;
// each buggy variant (reference + one patch) loses exactly the tests its mistake breaks, with
// feedback that names it; hostile submissions are graded with a reason in bounded time and leave
// nothing running; grading the same submission again gives the same grade; and the results.json
// has Gradescope's fields. Runs the real `nslab grade` as a subprocess, as root.
#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const std::string kSource = NSLAB_SOURCE_DIR;
const std::string kAssignment = kSource + "/suites/assignments/td2.yaml";

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

int sh(const std::string& cmd) {
    int st = std::system(cmd.c_str());
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

// A scratch directory outside /tmp (each lab mounts its own tmpfs there), removed at the end.
struct Scratch {
    std::string dir;
    Scratch() {
        char t[] = "/var/tmp/nslab-grade-test-XXXXXX";
        dir = ::mkdtemp(t);
    }
    ~Scratch() { fs::remove_all(dir); }
};

struct Graded {
    int exit_code = -1;
    json results;
    std::string feedback, stdout_text;
    double seconds = 0;
};

Graded grade(const std::string& submission, const std::string& out, const std::string& extra = "") {
    Graded g;
    auto t0 = std::chrono::steady_clock::now();
    std::string cmd = std::string(NSLAB_BIN_DIR) + "/nslab grade --submission " + submission + " --assignment " + kAssignment +
                      " -o " + out + " " + extra + " > " + out + ".stdout 2>&1";
    g.exit_code = sh(cmd);
    g.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    g.stdout_text = slurp(out + ".stdout");
    g.results = json::parse(slurp(out + "/results.json"), nullptr, false);
    g.feedback = slurp(out + "/feedback.md");
    return g;
}

std::set<std::string> failed_tests(const json& results) {
    std::set<std::string> out;
    for (auto& t : results["tests"])
        if (t["status"] != "passed") out.insert(t["name"].get<std::string>());
    return out;
}

// Gradescope's results.json specification: the fields it reads, with their types and values.
void expect_gradescope_shape(const json& r) {
    ASSERT_TRUE(r.is_object());
    static const std::set<std::string> top{"score", "max_score", "execution_time", "output", "output_format", "visibility",
                                           "stdout_visibility", "tests", "extra_data", "leaderboard"};
    for (auto& [k, v] : r.items()) EXPECT_TRUE(top.count(k)) << "unknown top-level field " << k;
    ASSERT_TRUE(r["score"].is_number());
    EXPECT_TRUE(r["max_score"].is_number());
    EXPECT_TRUE(r["execution_time"].is_number_integer());
    EXPECT_TRUE(r["output"].is_string());
    static const std::set<std::string> vis{"hidden", "after_due_date", "after_published", "visible"};
    EXPECT_TRUE(vis.count(r["visibility"].get<std::string>()));
    ASSERT_TRUE(r["tests"].is_array());
    EXPECT_FALSE(r["tests"].empty());
    static const std::set<std::string> test_fields{"score", "max_score", "status", "name", "name_format", "number", "output",
                                                   "output_format", "tags", "visibility", "extra_data"};
    double sum = 0;
    for (auto& t : r["tests"]) {
        for (auto& [k, v] : t.items()) EXPECT_TRUE(test_fields.count(k)) << "unknown test field " << k;
        EXPECT_TRUE(t["name"].is_string());
        EXPECT_TRUE(t["score"].is_number());
        EXPECT_TRUE(t["max_score"].is_number());
        EXPECT_LE(t["score"].get<double>(), t["max_score"].get<double>());
        EXPECT_TRUE(t["status"] == "passed" || t["status"] == "failed");
        EXPECT_TRUE(vis.count(t["visibility"].get<std::string>()));
        EXPECT_TRUE(t["output"].is_string());
        EXPECT_TRUE(t["output_format"] == "md" || t["output_format"] == "text");
        sum += t["score"].get<double>();
    }
    EXPECT_DOUBLE_EQ(sum, r["score"].get<double>());
}

// The processes below this one ("pid uid comm"): as subreaper (GradeTest::SetUp), anything a
// grading left running is re-parented to us. Another user's or test's processes are not counted.
std::vector<std::string> our_descendants() {
    std::map<pid_t, pid_t> parent;
    std::map<pid_t, std::string> what;
    for (auto& entry : std::filesystem::directory_iterator("/proc")) {
        std::string name = entry.path().filename();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream stat(entry.path() / "status");
        pid_t pid = std::stoi(name), ppid = 0;
        std::string line, uid, comm;
        while (std::getline(stat, line)) {
            if (line.rfind("PPid:", 0) == 0) ppid = std::stoi(line.substr(5));
            if (line.rfind("Uid:", 0) == 0) uid = std::to_string(std::stoi(line.substr(4)));
            if (line.rfind("Name:", 0) == 0) comm = line.substr(line.find_first_not_of(" \t", 5));
        }
        parent[pid] = ppid;
        what[pid] = name + " uid " + uid + " " + comm;
    }
    std::vector<std::string> out;
    for (auto& [pid, ppid] : parent)
        for (pid_t p = ppid; p > 1; p = parent.count(p) ? parent[p] : 0)
            if (p == ::getpid()) {
                out.push_back(what[pid]);
                break;
            }
    return out;
}

// No process of a grading and no scratch directory may outlive it.
void expect_nothing_left() {
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    std::string left;
    for (auto& p : our_descendants()) left += p + "\n";
    EXPECT_TRUE(left.empty()) << "a grading's process is still running:\n" << left;
    EXPECT_NE(sh("ls -d /var/tmp/nslab-grade-?????? >/dev/null 2>&1"), 0) << "a grading scratch directory was left";
}

class GradeTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "grading runs submissions as uid 65534: needs root";
        ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    }
    Scratch scratch;
    // reference + patch, as a teacher would rebuild a variant: returns the submission directory.
    std::string variant(const std::string& name) {
        std::string dir = scratch.dir + "/" + name;
        fs::create_directories(dir);
        fs::copy(kSource + "/fixtures/submissions/reference", dir, fs::copy_options::recursive);
        if (name != "reference") {
            EXPECT_EQ(sh("patch -s -p1 -d " + dir + " < " + kSource + "/fixtures/submissions/variants/" + name + ".patch"), 0);
        }
        return dir;
    }
};

const std::set<std::string> kContracts{"contract: exit_status",      "contract: signal_status", "contract: forwards_sigterm",
                                       "contract: forwards_sigint",  "contract: waits_for_command", "contract: keeps_fds",
                                       "contract: unprivileged",     "contract: usage_error"};

TEST_F(GradeTest, ReferenceScoresFullMarks) {
    auto g = grade(variant("reference"), scratch.dir + "/out");
    ASSERT_EQ(g.exit_code, 0) << g.stdout_text;
    expect_gradescope_shape(g.results);
    EXPECT_GT(g.results["max_score"].get<double>(), 0);
    EXPECT_EQ(g.results["score"], g.results["max_score"]) << g.stdout_text;
    EXPECT_TRUE(failed_tests(g.results).empty());
    EXPECT_NE(g.feedback.find("Score: **30 / 30**"), std::string::npos) << g.feedback;
    // The contract tests ran and passed, each with what was observed.
    std::set<std::string> contracts;
    for (auto& t : g.results["tests"])
        if (t["name"].get<std::string>().rfind("contract: ", 0) == 0) {
            contracts.insert(t["name"].get<std::string>());
            EXPECT_EQ(t["status"], "passed") << t.dump(2);
            EXPECT_NE(t["output"].get<std::string>().find("Observed: "), std::string::npos) << t.dump(2);
        }
    EXPECT_EQ(contracts, kContracts);
    EXPECT_NE(g.feedback.find("the launcher exited with status 137"), std::string::npos) << g.feedback;
    std::string junit = slurp(scratch.dir + "/out/junit.xml");
    EXPECT_NE(junit.find("<testcase classname=\"contract\" name=\"waits_for_command\""), std::string::npos) << junit;
    expect_nothing_left();
}

TEST_F(GradeTest, PrairieLearnScoreIsAFraction) {
    auto g = grade(variant("no_ipc"), scratch.dir + "/out", "--format prairielearn");
    ASSERT_EQ(g.exit_code, 0) << g.stdout_text;
    ASSERT_TRUE(g.results.is_object());
    double s = g.results["score"].get<double>();
    EXPECT_GT(s, 0.0);
    EXPECT_LT(s, 1.0);
    EXPECT_TRUE(g.results["gradable"].get<bool>());
}

struct Mistake {
    std::string name;
    std::set<std::string> failed;  // exactly these tests fail
    std::string named;             // and the feedback says this
    std::string first;             // and the first line of its "What to fix" names the mistake so
};

// The first line of feedback.md's "What to fix": what a student reads first.
std::string first_fix(const std::string& feedback) {
    const std::string heading = "## What to fix\n\n";
    size_t at = feedback.find(heading);
    if (at == std::string::npos) return "";
    at += heading.size();
    return feedback.substr(at, feedback.find('\n', at) - at);
}

const std::set<std::string> kAll{
    "td2_uts.hostname_isolated_between_sibling_uts_namespaces", "td2_uts.host_hostname_change_not_seen_in_new_uts_namespace",
    "td2_ipc.shm_segments_hidden_from_sibling_and_host", "td2_ipc.msg_queue_hidden_from_sibling_and_host",
    "td2_pid.sleep_in_pid_namespace_hidden_from_sibling_seen_by_host", "td2_pid.ps_lists_sleep_only_in_its_namespace_and_on_host",
    "td2_container.bind_mount_in_container_stays_in_it", "td2_container.container_mounts_stay_private_on_a_shared_host",
    "td2_container.container_root_is_uid_0_mapped_to_its_creator", "td2_net.new_network_namespace_has_only_loopback_and_it_is_down",
    "td2_net.udp_datagram_crosses_veth_between_sibling_namespaces", "td2_time.uptime_shows_a_decade_more_in_new_time_namespace",
    "td2_time.absolute_clock_nanosleep_honours_offset"};
const std::set<std::string> kContainer{"td2_container.bind_mount_in_container_stays_in_it",
                                       "td2_container.container_mounts_stay_private_on_a_shared_host",
                                       "td2_container.container_root_is_uid_0_mapped_to_its_creator"};
std::set<std::string> with_container(std::set<std::string> s) {
    s.insert(kContainer.begin(), kContainer.end());
    return s;
}
std::set<std::string> contracts(std::set<std::string> names) {
    std::set<std::string> s;
    for (auto& n : names) s.insert("contract: " + n);
    return s;
}
std::set<std::string> both(std::set<std::string> a, const std::set<std::string>& b) {
    a.insert(b.begin(), b.end());
    return a;
}
// A submission that never starts COMMAND fails every test but the usage check, done before all.
const std::set<std::string> kNeverStarts =
    both(kAll, contracts({"exit_status", "signal_status", "forwards_sigterm", "forwards_sigint", "waits_for_command",
                          "keeps_fds", "unprivileged"}));

void PrintTo(const Mistake& m, std::ostream* os) { *os << m.name; }

class MistakeTest : public GradeTest, public ::testing::WithParamInterface<Mistake> {};

TEST_P(MistakeTest, LosesExactlyTheTestsItsMistakeBreaks) {
    const Mistake& m = GetParam();
    auto g = grade(variant(m.name), scratch.dir + "/out");
    ASSERT_EQ(g.exit_code, 0) << g.stdout_text;
    expect_gradescope_shape(g.results);
    EXPECT_LT(g.results["score"].get<double>(), g.results["max_score"].get<double>());
    EXPECT_EQ(failed_tests(g.results), m.failed) << g.stdout_text;
    EXPECT_NE(g.feedback.find(m.named), std::string::npos) << "feedback does not name the mistake (" << m.named << "):\n" << g.feedback;
    EXPECT_NE(first_fix(g.feedback).find(m.first), std::string::npos)
        << "the first thing to fix is not the mistake (" << m.first << "):\n" << g.feedback;
    expect_nothing_left();
}

INSTANTIATE_TEST_SUITE_P(
    Variants, MistakeTest,
    ::testing::Values(
        Mistake{"no_uts", with_container({"td2_uts.hostname_isolated_between_sibling_uts_namespaces",
                                          "td2_uts.host_hostname_change_not_seen_in_new_uts_namespace"}),
                "should have a new uts namespace", "CLONE_NEWUTS is missing"},
        Mistake{"no_ipc", with_container({"td2_ipc.shm_segments_hidden_from_sibling_and_host",
                                          "td2_ipc.msg_queue_hidden_from_sibling_and_host"}),
                "should have a new ipc namespace", "CLONE_NEWIPC is missing"},
        Mistake{"no_net", with_container({"td2_net.new_network_namespace_has_only_loopback_and_it_is_down",
                                          "td2_net.udp_datagram_crosses_veth_between_sibling_namespaces"}),
                "should have a new net namespace", "CLONE_NEWNET is missing"},
        Mistake{"no_fresh_proc", {"td2_pid.sleep_in_pid_namespace_hidden_from_sibling_seen_by_host",
                                  "td2_pid.ps_lists_sleep_only_in_its_namespace_and_on_host"},
                "mount a fresh proc on /proc", "a fresh proc mounted on /proc"},
        Mistake{"mounts_not_private", {"td2_container.container_mounts_stay_private_on_a_shared_host"}, "MS_REC | MS_PRIVATE", "MS_REC | MS_PRIVATE"},
        Mistake{"late_time_offsets", {"td2_time.uptime_shows_a_decade_more_in_new_time_namespace",
                                      "td2_time.absolute_clock_nanosleep_honours_offset"},
                "before creating the child", "before creating the child"},
        Mistake{"root_to_root", {"td2_uts.hostname_isolated_between_sibling_uts_namespaces",
                                 "td2_container.bind_mount_in_container_stays_in_it",
                                 "td2_container.container_root_is_uid_0_mapped_to_its_creator",
                                 "td2_net.udp_datagram_crosses_veth_between_sibling_namespaces"},
                "uid from A: expected 0, saw 65534", "runs as uid 65534 in its user namespace, not as root"},
        // These two never start COMMAND: every test fails with the program's own error message.
        Mistake{"gid_map_without_setgroups", kNeverStarts, "it exited with status 1", "/proc/self/gid_map: Operation not permitted"},
        Mistake{"pid_no_fork", kNeverStarts, "it exited with status 1", "mounting a fresh proc on /proc: Operation not permitted"},
        // One per contract test (variants/README.md): only the contract tests catch these.
        Mistake{"no_wait", contracts({"exit_status", "signal_status", "forwards_sigterm", "forwards_sigint", "waits_for_command"}),
                "waitpid() for the child that runs COMMAND", "Wait for COMMAND (waitpid)"},
        Mistake{"exit_zero", contracts({"exit_status", "signal_status"}),
                "COMMAND ran and exits with status 7; the launcher exited with status 0", "Wait for COMMAND (waitpid) and exit with WEXITSTATUS"},
        Mistake{"no_signal_status", contracts({"signal_status"}), "the launcher exited with status 0 (128 + 9 = 137 expected)", "128 + WTERMSIG(status)"},
        Mistake{"no_signal_forward", contracts({"forwards_sigterm", "forwards_sigint"}),
                "COMMAND never got the SIGTERM sent to the launcher; the launcher was killed by signal 15 (SIGTERM)", "Catch SIGTERM in the launcher and send it on to COMMAND"},
        Mistake{"no_usage_check", contracts({"usage_error"}), "it was killed by signal 11 (SIGSEGV)", "Check argc and every option before using them"},
        // The grader's agent reaches it through the fd it closes: every experiment fails too.
        Mistake{"closes_fds", both(kAll, contracts({"keeps_fds"})), "fd 3, a socket the launcher inherited, was closed in COMMAND", "closes the file descriptors it inherits"},
        // The grader runs it unprivileged, where it never starts COMMAND; as root it works.
        Mistake{"root_only", kNeverStarts, "as uid 65534 the launcher running `true` exited with status 1", "unshare(CLONE_NEWTIME): Operation not permitted"}),
    [](const auto& param_info) { return param_info.param.name; });

// Hostile submissions: each gets a score and a reason, in bounded time, and nothing stays behind.
struct Hostile {
    std::string name;
    std::string reason;  // in results.json
    double score = 0;
};

void PrintTo(const Hostile& h, std::ostream* os) { *os << h.name; }

class HostileTest : public GradeTest, public ::testing::WithParamInterface<Hostile> {};

TEST_P(HostileTest, GradedWithAReasonInBoundedTime) {
    const Hostile& h = GetParam();
    std::string dir = scratch.dir + "/" + h.name;
    fs::copy(kSource + "/fixtures/submissions/hostile/" + h.name, dir, fs::copy_options::recursive);
    auto g = grade(dir, scratch.dir + "/out", "--timeout 3");
    ASSERT_EQ(g.exit_code, 0) << g.stdout_text;
    expect_gradescope_shape(g.results);
    EXPECT_EQ(g.results["score"].get<double>(), h.score) << g.stdout_text;
    EXPECT_NE(g.results.dump().find(h.reason), std::string::npos) << "no reason '" << h.reason << "' in " << g.results.dump(2);
    // 13 experiments and 8 contract tests at 3 s each on 2 workers, plus build and labs (about
    // 40 s for those that never start COMMAND): a hang would take far longer.
    EXPECT_LT(g.seconds, 90.0);
    expect_nothing_left();
    EXPECT_NE(sh("ls /tmp/kill_grader_escape* >/dev/null 2>&1"), 0) << "the submission wrote outside its sandbox";
}

INSTANTIATE_TEST_SUITE_P(Submissions, HostileTest,
                         ::testing::Values(Hostile{"does_not_build", "did not build"},
                                           Hostile{"infinite_loop", "did not start the agent before the time limit"},
                                           Hostile{"output_flood", "did not start the agent before the time limit"},
                                           Hostile{"fork_bomb", "launcher command mini_container"},
                                           // It execs COMMAND in its own place: the contract
                                           // tests about the program alone pass (hostile/README.md).
                                           Hostile{"kill_grader", "should have a new", 6}),
                         [](const auto& param_info) { return param_info.param.name; });

// Issue #15 item 5: the same submission graded again gets the same score and fails the same tests,
// on a loaded machine too (verdicts wait on events with generous deadlines, never on fixed sleeps).
// The reference, and two variants whose contract tests race their launcher: no_wait ends while
// COMMAND runs, no_signal_forward dies of the signal it should forward.
TEST_F(GradeTest, SameSubmissionSameGrade) {
    for (std::string name : {"reference", "no_wait", "no_signal_forward"}) {
        std::string dir = variant(name);
        std::optional<double> first_score;
        std::set<std::string> first_failed;
        for (int i = 0; i < 5; ++i) {
            auto g = grade(dir, scratch.dir + "/out-" + name + "-" + std::to_string(i));
            ASSERT_EQ(g.exit_code, 0) << g.stdout_text;
            double score = g.results["score"].get<double>();
            auto failed = failed_tests(g.results);
            if (!first_score) {
                first_score = score;
                first_failed = failed;
                continue;
            }
            EXPECT_EQ(score, *first_score) << name << ", grading " << i + 1 << ":\n" << g.stdout_text;
            EXPECT_EQ(failed, first_failed) << name << ", grading " << i + 1 << ":\n" << g.stdout_text;
        }
        EXPECT_EQ(first_failed.empty(), name == "reference") << name;
    }
    expect_nothing_left();
}

}  // namespace
