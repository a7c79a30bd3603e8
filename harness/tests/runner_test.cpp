// The runner against the kernel: wrong expectations FAIL with a readable matrix, faults end as
// BROKEN within bounded time and the run goes on, and nothing the runner starts outlives it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <sstream>

#include "experiment/loader.hpp"
#include "report/report.hpp"
#include "runner/requirements.hpp"
#include "runner/runner.hpp"
#include "runner/topology.hpp"
#include "runner/values.hpp"

namespace nslab {
namespace {

using namespace std::chrono_literals;
using runner::Outcome;

std::string source(const std::string& rel) { return std::string(NSLAB_SOURCE_DIR) + "/" + rel; }

experiment::LoadResult must_load(const std::string& rel) {
    auto loaded = experiment::load_paths({source(rel)});
    for (auto& e : loaded.errors) ADD_FAILURE() << e.str();
    return loaded;
}

std::vector<const experiment::Experiment*> all_of(const experiment::LoadResult& loaded) {
    std::vector<const experiment::Experiment*> v;
    for (auto& s : loaded.suites)
        for (auto& e : s.experiments) v.push_back(&e);
    return v;
}

// A suite "t" of one experiment "e" whose other fields (indented by four) are `fields`.
experiment::LoadResult one_experiment(const std::string& fields) {
    return experiment::load_text("nslab: 1\nsuite: t\ntitle: t\nexperiments:\n  - name: e\n    summary: s" + fields,
                                 "t.yaml");
}

std::string pretty(const runner::ExperimentResult& r) {
    std::ostringstream out;
    report::write_pretty_result(out, r, {.color = false});
    return out.str();
}

// Every experiment of the deliberately wrong fixtures must FAIL (not pass, not break), with a
// failing cell whose expectation and observation both appear in the matrix.
TEST(WrongExpectations, EachFailsWithAClearMatrix) {
    for (auto file : {"fixtures/wrong_expectations/td2_uts_wrong.yaml", "fixtures/wrong_expectations/td2_ipc_wrong.yaml"}) {
        auto loaded = must_load(file);
        auto experiments = all_of(loaded);
        ASSERT_FALSE(experiments.empty()) << file;
        for (auto* e : experiments) {
            auto r = runner::run_experiment(*e, runner::default_options());
            std::string text = pretty(r);
            EXPECT_EQ(r.outcome, Outcome::fail) << e->full_name() << "\n" << text;
            bool found_bad_cell = false;
            for (auto& row : r.rows)
                for (auto& cell : row.cells)
                    if (!cell.ok) {
                        found_bad_cell = true;
                        EXPECT_NE(text.find("expected " + cell.expected + ", saw " + cell.observed), std::string::npos)
                            << "the matrix should show the failing cell:\n" << text;
                    }
            EXPECT_TRUE(found_bad_cell) << e->full_name() << " failed without a failing cell:\n" << text;
            EXPECT_FALSE(r.reason.empty());
        }
    }
}

TEST(Faults, HangingStepIsBrokenAtTheTimeLimitAndTheRunGoesOn) {
    auto loaded = must_load("fixtures/faults/hang.yaml");
    auto t0 = std::chrono::steady_clock::now();
    auto results = runner::run_all(all_of(loaded), runner::default_options(), nullptr);
    auto elapsed = std::chrono::steady_clock::now() - t0;
    ASSERT_EQ(results.size(), 2u);
    EXPECT_EQ(results[0].outcome, Outcome::broken) << pretty(results[0]);
    EXPECT_NE(results[0].reason.find("time limit of 1 s"), std::string::npos) << results[0].reason;
    EXPECT_EQ(results[1].outcome, Outcome::pass) << pretty(results[1]);
    EXPECT_LT(elapsed, 5s) << "the hung experiment was not cut off at its 1 s limit";
}

TEST(Faults, TimeoutOptionOverridesTheFile) {
    auto loaded = must_load("fixtures/faults/hang.yaml");
    auto options = runner::default_options();
    options.timeout_s = 0.3;
    auto t0 = std::chrono::steady_clock::now();
    auto r = runner::run_experiment(*all_of(loaded)[0], options);
    EXPECT_EQ(r.outcome, Outcome::broken);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
}

TEST(Faults, TimeScaleMultipliesTheLimit) {
    auto loaded = must_load("fixtures/faults/hang.yaml");
    auto options = runner::default_options();
    options.timeout_s = 0.2;
    options.time_scale = 3;
    auto r = runner::run_experiment(*all_of(loaded)[0], options);
    EXPECT_EQ(r.outcome, Outcome::broken);
    EXPECT_TRUE(r.time_limit);
    EXPECT_NE(r.reason.find("time limit of 0.6 s"), std::string::npos) << r.reason;
}

// A row holds only on the kernels of its since:/before: range; the others are neither probed nor
// judged, and an experiment none of whose rows holds here is a SKIP that names the ranges.
TEST(KernelRanges, OnlyTheRowsForThisKernelAreJudged) {
    auto loaded = one_experiment(R"(
    realms: { A: { new: [uts] } }
    steps: [ { in: A, do: sethostname, name: ranged } ]
    expect:
      - { probe: hostname, A: ranged, host: unchanged, since: "3.0" }
      - { probe: hostname, A: something_else, host: ranged, before: "3.0" }
)");
    ASSERT_TRUE(loaded.ok());
    auto r = runner::run_experiment(loaded.suites[0].experiments[0], runner::default_options());
    EXPECT_EQ(r.outcome, Outcome::pass) << pretty(r);
    ASSERT_EQ(r.rows.size(), 1u) << pretty(r);
    EXPECT_EQ(r.rows[0].label, "hostname [kernel >= 3.0]");
}

TEST(KernelRanges, NoRowForThisKernelIsASkipNamingTheRanges) {
    auto loaded = one_experiment(R"(
    realms: { A: { new: [uts] } }
    expect:
      - { probe: hostname, A: unchanged, since: "999.1" }
      - { probe: hostname, A: unchanged, before: "2.6" }
)");
    ASSERT_TRUE(loaded.ok());
    auto r = runner::run_experiment(loaded.suites[0].experiments[0], runner::default_options());
    EXPECT_EQ(r.outcome, Outcome::skip) << pretty(r);
    EXPECT_NE(r.reason.find("kernel >= 999.1, kernel < 2.6"), std::string::npos) << r.reason;
}

// An argument whose ${…} reference expands outside the registry's domain is an error in the file
// (BROKEN, naming where), never a step failure judged as the kernel's (FAIL).
TEST(ArgumentDomains, AnExpandedValueOutsideTheDomainIsBrokenNotFail) {
    auto loaded = one_experiment(R"(
    realms: { A: { new: [net] } }
    steps:
      - { in: A, run: "true", as: r }
      - { in: A, do: udp_listen, port: "${r.exit}" }
    expect:
      - { probe: hostname, A: unchanged }
)");
    ASSERT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors[0].str());
    auto r = runner::run_experiment(loaded.suites[0].experiments[0], runner::default_options());
    EXPECT_EQ(r.outcome, Outcome::broken) << pretty(r);
    EXPECT_NE(r.reason.find("t.yaml:10:9: 'port' = 0: 0 is outside 1..65535"), std::string::npos) << r.reason;
}

TEST(KernelRanges, ReleasesCompareByTheirNumericParts) {
    EXPECT_TRUE(experiment::kernel_at_least("6.1.0-57-amd64", "6.1"));
    EXPECT_FALSE(experiment::kernel_at_least("6.1.0-57-amd64", "6.2"));
    EXPECT_TRUE(experiment::kernel_at_least("6.12.118+deb12-amd64", "6.2"));
    EXPECT_TRUE(experiment::kernel_at_least("6.18.44-fc-v1252", "6.18"));
    EXPECT_FALSE(experiment::kernel_at_least("5.19.17", "6.0"));
    experiment::Expectation x;
    x.since_kernel = "6.2";
    x.before_kernel = "6.6";
    EXPECT_FALSE(x.applies_to_kernel("6.1.0-57-amd64"));
    EXPECT_TRUE(x.applies_to_kernel("6.2.0"));
    EXPECT_TRUE(x.applies_to_kernel("6.5.13-rc1"));
    EXPECT_FALSE(x.applies_to_kernel("6.6"));
    EXPECT_EQ(x.kernel_range(), "6.2 <= kernel < 6.6");
}

TEST(Faults, AgentKilledMidStepIsBrokenNotHung) {
    auto loaded = must_load("fixtures/faults/agent_killed.yaml");
    auto t0 = std::chrono::steady_clock::now();
    auto r = runner::run_experiment(*all_of(loaded)[0], runner::default_options());
    EXPECT_EQ(r.outcome, Outcome::broken) << pretty(r);
    EXPECT_NE(r.reason.find("exited"), std::string::npos) << r.reason;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

TEST(Topology, JoinedNamespacePassesTheCheck) {
    auto loaded = must_load("fixtures/faults/topology_wrong.yaml");
    auto r = runner::run_experiment(*all_of(loaded)[0], runner::default_options());
    EXPECT_EQ(r.outcome, Outcome::pass) << pretty(r);
}

// `requires: { root: true }` asks for root's full lab: a lab owned by a user namespace (--user-lab,
// or any run as non-root) maps a single id, so such experiments are skipped, with the reason.
TEST(Requirements, RootMeansALabWithRootsFullPrivileges) {
    auto loaded = one_experiment(R"(
    requires: { root: true }
    expect: [ { probe: hostname, host: { matches: "." } } ]
)");
    ASSERT_TRUE(loaded.ok());
    const auto& e = loaded.suites[0].experiments[0];
    auto in_userns = runner::unmet_requirement(e, /*lab_in_user_namespace=*/true);
    ASSERT_TRUE(in_userns);
    EXPECT_NE(in_userns->find(::geteuid() == 0 ? "owned by a user namespace" : "needs root on the machine"),
              std::string::npos) << *in_userns;
    auto plain = runner::unmet_requirement(e, /*lab_in_user_namespace=*/false);
    EXPECT_EQ(plain.has_value(), ::geteuid() != 0) << plain.value_or("");
}

// time_namespaces(7): a negative offset may not take the namespace's clock below zero. On a machine
// younger than the offset (a CI guest just booted) that is a SKIP naming the clock, never a BROKEN.
TEST(Requirements, NegativeTimeOffsetNeedsAMachineOlderThanIt) {
    struct timespec now{};
    ASSERT_EQ(::clock_gettime(CLOCK_BOOTTIME, &now), 0);
    const long long older_than_the_machine = now.tv_sec + 3600;
    auto too_far = one_experiment(R"(
    realms: { A: { new: [time], time_offsets: { boottime: -)" + std::to_string(older_than_the_machine) + R"( } } }
    expect: [ { probe: hostname, A: { matches: "." } } ]
)");
    ASSERT_TRUE(too_far.ok());
    auto reason = runner::unmet_requirement(too_far.suites[0].experiments[0], /*lab_in_user_namespace=*/false);
    ASSERT_TRUE(reason);
    EXPECT_NE(reason->find("realm A's boottime offset is -" + std::to_string(older_than_the_machine)), std::string::npos) << *reason;
    EXPECT_NE(reason->find("below zero"), std::string::npos) << *reason;

    auto one_second = one_experiment(R"(
    realms: { A: { new: [time], time_offsets: { monotonic: -1, boottime: -1 } } }
    expect: [ { probe: hostname, A: { matches: "." } } ]
)");
    ASSERT_TRUE(one_second.ok());
    // A machine that can run this test has been up more than a second.
    auto none = runner::unmet_requirement(one_second.suites[0].experiments[0], /*lab_in_user_namespace=*/false);
    EXPECT_FALSE(none && none->find("below zero") != std::string::npos) << none.value_or("");
}

// The check itself, on hand-made identities: it must name the realm, the kind and the reason.
TEST(Topology, ReportsARealmThatSharesWhatShouldBeNew) {
    auto loaded = one_experiment(R"(
    realms: { A: { new: [uts] }, B: { new: [uts] } }
    expect: [ { probe: hostname, A: x } ]
)");
    ASSERT_TRUE(loaded.ok());
    const auto& e = loaded.suites[0].experiments[0];
    core::NamespaceSet host, a, b;
    for (size_t i = 0; i < core::kNsCount; ++i) {
        host.ids[i] = core::NsId{1, 100 + i};
        a.ids[i] = host.ids[i];
        b.ids[i] = host.ids[i];
    }
    auto uts = static_cast<size_t>(core::Ns::uts);
    a.ids[uts] = core::NsId{1, 500};
    b.ids[uts] = core::NsId{1, 501};
    std::vector<runner::RealmIdentity> ids{{&e.realms[0], &a}, {&e.realms[1], &b}};
    EXPECT_EQ(runner::check_topology(e, host, ids), std::nullopt);

    b.ids[uts] = host.ids[uts];  // B "forgot" CLONE_NEWUTS
    auto problem = runner::check_topology(e, host, ids);
    ASSERT_TRUE(problem);
    EXPECT_NE(problem->text.find("realm B should have a new uts namespace"), std::string::npos) << problem->text;
    EXPECT_EQ(problem->realm, "B");
    EXPECT_EQ(problem->kind, core::Ns::uts);
    EXPECT_TRUE(problem->missing_new);

    b.ids[uts] = a.ids[uts];  // A and B in one namespace
    problem = runner::check_topology(e, host, ids);
    ASSERT_TRUE(problem);
    EXPECT_NE(problem->text.find("share uts:[500]"), std::string::npos) << problem->text;

    b.ids[uts] = core::NsId{1, 501};
    b.ids[static_cast<size_t>(core::Ns::ipc)] = core::NsId{1, 777};  // an ipc namespace nobody asked for
    problem = runner::check_topology(e, host, ids);
    ASSERT_TRUE(problem);
    EXPECT_NE(problem->text.find("realm B should share the ipc namespace of the host but has its own"), std::string::npos)
        << problem->text;
    EXPECT_EQ(problem->kind, core::Ns::ipc);
    EXPECT_FALSE(problem->missing_new);
}

TEST(Values, SubstituteReplacesFieldsAndNamesWhatIsMissing) {
    runner::Objects objects{{"seg", {{"kind", "shm"}, {"key", "0x0000abcd"}, {"id", 3}}}};
    EXPECT_EQ(*runner::substitute("ipcs -m -i ${seg.id} # ${seg.key}", objects), "ipcs -m -i 3 # 0x0000abcd");
    EXPECT_EQ(*runner::substitute_all(runner::json("${seg.id}"), objects), runner::json(3));
    auto missing = runner::substitute("${seg.size}", objects);
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.error().describe().find("has no field 'size' (it has: id, key, kind)"), std::string::npos)
        << missing.error().describe();
}

TEST(Values, MatchersJudgeObservations) {
    using experiment::Matcher;
    using experiment::MatcherKind;
    runner::Objects none;
    std::string shown;
    runner::json list = {"0x1", "0x2"};
    auto judge = [&](Matcher m, const runner::json& value, const runner::json* base_value = nullptr,
                     const std::map<std::string, runner::json>* row_values = nullptr) {
        auto seen = runner::Observation::of_value(value);
        std::optional<runner::Observation> base;
        if (base_value) base = runner::Observation::of_value(*base_value);
        std::map<std::string, runner::Observation> row;
        if (row_values)
            for (auto& [k, v] : *row_values) row[k] = runner::Observation::of_value(v);
        return runner::judge(m, {&seen, base ? &*base : nullptr, &row}, none, shown);
    };
    EXPECT_TRUE(judge({.kind = MatcherKind::count, .value = 2}, list));
    EXPECT_FALSE(judge({.kind = MatcherKind::count, .value = 3}, list));
    EXPECT_TRUE(judge({.kind = MatcherKind::contains, .value = "0x2"}, list));
    EXPECT_FALSE(judge({.kind = MatcherKind::contains, .value = "0x"}, list)) << "list membership, not substring";
    EXPECT_TRUE(judge({.kind = MatcherKind::contains, .value = "irtu"}, runner::json("virtualisation")));
    EXPECT_TRUE(judge({.kind = MatcherKind::matches, .value = "^virt"}, runner::json("virtualisation")));
    runner::json before = "vm";
    EXPECT_TRUE(judge({.kind = MatcherKind::unchanged}, runner::json("vm"), &before));
    EXPECT_FALSE(judge({.kind = MatcherKind::unchanged}, runner::json("x"), &before));
    EXPECT_NE(shown.find("was vm"), std::string::npos);
    std::map<std::string, runner::json> row{{"A", "uts:[1]"}, {"host", "uts:[2]"}};
    EXPECT_TRUE(judge({.kind = MatcherKind::differs_from, .vantage = "host"}, row["A"], nullptr, &row));
    EXPECT_FALSE(judge({.kind = MatcherKind::same_as, .vantage = "host"}, row["A"], nullptr, &row));
    EXPECT_TRUE(judge({.kind = MatcherKind::equals, .value = "3"}, runner::json(3)));
}

// A failed probe is an error, not a value: only `error: ERRNO` passes it, and no comparison with
// it holds — before, `unchanged`, `same_as` and `not_contains` passed on the text "error: ...".
TEST(Values, AFailedProbePassesOnlyItsErrorMatcher) {
    using experiment::Matcher;
    using experiment::MatcherKind;
    runner::Objects none;
    std::string shown;
    auto failed = runner::Observation::of_error(sys::Error(EPERM, "sethostname(x)"));
    auto value = runner::Observation::of_value("vm");
    std::map<std::string, runner::Observation> row{{"A", failed}, {"B", failed}, {"host", value}};
    auto judge = [&](Matcher m, const runner::Observation& seen, const runner::Observation* base = nullptr) {
        return runner::judge(m, {&seen, base, &row}, none, shown);
    };
    EXPECT_TRUE(judge({.kind = MatcherKind::error, .value = "EPERM"}, failed));
    EXPECT_FALSE(judge({.kind = MatcherKind::error, .value = "EACCES"}, failed));
    EXPECT_FALSE(judge({.kind = MatcherKind::error, .value = "EPERM"}, value)) << "a value is not an error";
    EXPECT_FALSE(judge({.kind = MatcherKind::unchanged}, failed, &failed)) << "two failures are not an unchanged value";
    EXPECT_FALSE(judge({.kind = MatcherKind::unchanged}, value, &failed));
    EXPECT_FALSE(judge({.kind = MatcherKind::same_as, .vantage = "B"}, failed));
    EXPECT_FALSE(judge({.kind = MatcherKind::differs_from, .vantage = "A"}, value));
    EXPECT_FALSE(judge({.kind = MatcherKind::not_contains, .value = "x"}, failed));
    EXPECT_NE(shown.find("the probe failed"), std::string::npos) << shown;
    EXPECT_FALSE(judge({.kind = MatcherKind::matches, .value = "EPERM"}, failed)) << "errors are matched by errno, not text";
    EXPECT_EQ(failed.text().rfind("error: sethostname(x): EPERM", 0), 0u) << failed.text();
}

// A measured shift (clock_ahead, unshare_time_shift) holds within the probe's tolerance: a slow
// machine's milliseconds pass, a kernel that ignored a 10 s offset does not.
TEST(Values, MeasuredNumbersAreJudgedWithinTheProbesTolerance) {
    using experiment::Matcher;
    using experiment::MatcherKind;
    runner::Objects none;
    std::string shown;
    auto judge = [&](Matcher m, const runner::json& value, double tolerance,
                     const std::map<std::string, runner::json>* row_values = nullptr) {
        auto seen = runner::Observation::of_value(value);
        std::map<std::string, runner::Observation> row;
        if (row_values)
            for (auto& [k, v] : *row_values) row[k] = runner::Observation::of_value(v);
        return runner::judge(m, {.observed = &seen, .row = &row, .tolerance = tolerance}, none, shown);
    };
    EXPECT_TRUE(judge({.kind = MatcherKind::equals, .value = "86400"}, runner::json(86399.992), 2.0));
    EXPECT_NE(shown.find("86400 ± 2"), std::string::npos) << shown;
    EXPECT_TRUE(judge({.kind = MatcherKind::equals, .value = "-10"}, runner::json(-11.5), 2.0));
    EXPECT_FALSE(judge({.kind = MatcherKind::equals, .value = "-10"}, runner::json(0.001), 2.0));
    EXPECT_FALSE(judge({.kind = MatcherKind::equals, .value = "86400"}, runner::json(0.3), 2.0));
    EXPECT_FALSE(judge({.kind = MatcherKind::equals, .value = "86400"}, runner::json(86399.992), 0))
        << "without a tolerance the comparison is exact";
    std::map<std::string, runner::json> row{{"A", 3600.004}, {"B", 3599.998}, {"host", 0.001}};
    EXPECT_TRUE(judge({.kind = MatcherKind::same_as, .vantage = "B"}, row["A"], 2.0, &row));
    EXPECT_TRUE(judge({.kind = MatcherKind::differs_from, .vantage = "host"}, row["A"], 2.0, &row));
    EXPECT_FALSE(judge({.kind = MatcherKind::differs_from, .vantage = "B"}, row["A"], 2.0, &row));
}

}  // namespace
}  // namespace nslab
