// Hand-built results for the report tests: one of each outcome, across two suites.
#pragma once

#include <string>
#include <vector>

#include "runner/result.hpp"

namespace nslab::report::samples {

using runner::Cell;
using runner::ExperimentResult;
using runner::Outcome;
using runner::Row;
using runner::StepRecord;

inline experiment::Mark at(const std::string& file, int line, int column) {
    return experiment::Mark{.file = file, .line = line, .column = column};
}

// PASS, two rows, A and host.
inline ExperimentResult pass() {
    ExperimentResult r;
    r.suite = "td2_uts";
    r.name = "hostname_seen_where_set";
    r.file = "suites/td2_uts.yaml";
    r.line = 8;
    r.summary = "A hostname set in A is seen in A.";
    r.refs = {"TD2 UTS"};
    r.tags = {"pass-tag"};
    r.vantages = {"A", "host"};
    r.outcome = Outcome::pass;
    r.duration_ms = 2.04;
    r.steps = {StepRecord{.source = "A: sethostname name=virtualisation",
                          .mark = at(r.file, 12, 9),
                          .ok = true,
                          .detail = "",
                          .ms = 0.3}};
    r.rows = {Row{.label = "hostname",
                  .mark = at(r.file, 14, 9),
                  .why = "passing rows keep their why to themselves",
                  .cells = {Cell{"A", "virtualisation", "virtualisation", true},
                            Cell{"host", "unchanged", "buildhost", true}},
                  .ok = true},
              Row{.label = "domainname",
                  .mark = at(r.file, 15, 9),
                  .cells = {Cell{"A", "unchanged", "(none)", true},
                            Cell{"host", "unchanged", "(none)", true}},
                  .ok = true}};
    return r;
}

// FAIL: B's hostname is not what the experiment says; the second row has no B cell.
inline ExperimentResult fail() {
    ExperimentResult r;
    r.suite = "td2_uts";
    r.name = "hostname_isolated_between_siblings";
    r.file = "suites/td2_uts.yaml";
    r.line = 20;
    r.summary = "A hostname set inside a new UTS namespace is seen there only.";
    r.refs = {"TD2 UTS", "uts_namespaces(7)"};
    r.tags = {"linux-git:071df104f808"};
    r.vantages = {"A", "B", "host"};
    r.outcome = Outcome::fail;
    r.reason = "row hostname: B expected programmation, saw virtualisation";
    r.duration_ms = 3.1;
    r.steps = {StepRecord{.source = "A: sethostname name=virtualisation",
                          .mark = at(r.file, 26, 9),
                          .ok = true,
                          .ms = 0.2},
               StepRecord{.source = "B: run `hostname programmation`",
                          .mark = at(r.file, 27, 9),
                          .ok = true,
                          .ms = 1.5}};
    r.rows = {Row{.label = "hostname",
                  .mark = at(r.file, 29, 9),
                  .why = "each UTS namespace keeps its own hostname",
                  .cells = {Cell{"A", "virtualisation", "virtualisation", true},
                            Cell{"B", "programmation", "virtualisation", false},
                            Cell{"host", "unchanged", "buildhost", true}},
                  .ok = false},
              Row{.label = "domainname",
                  .mark = at(r.file, 30, 9),
                  .cells = {Cell{"A", "unchanged", "(none)", true},
                            Cell{"host", "unchanged", "(none)", true}},
                  .ok = true}};
    return r;
}

// SKIP: a requirement is missing; nothing was observed.
inline ExperimentResult skip() {
    ExperimentResult r;
    r.suite = "td3_ipc";
    r.name = "shm_hidden_from_sibling";
    r.file = "suites/td3_ipc.yaml";
    r.line = 5;
    r.vantages = {"A", "B", "host"};
    r.outcome = Outcome::skip;
    r.reason = "requires root (running as uid 1000)";
    r.duration_ms = 0.05;
    r.rows = {Row{.label = "see seg", .mark = at(r.file, 12, 9)}};
    return r;
}

// BROKEN: the step that makes the segment failed, so nothing was learned.
inline ExperimentResult broken() {
    ExperimentResult r;
    r.suite = "td3_ipc";
    r.name = "sem_visible_in_own_namespace";
    r.file = "suites/td3_ipc.yaml";
    r.line = 18;
    r.refs = {"TD3 IPC"};
    r.tags = {"flaky-on-ci"};
    r.vantages = {"A", "host"};
    r.outcome = Outcome::broken;
    r.reason = "step A: semget failed";
    r.duration_ms = 1250;
    r.steps = {StepRecord{.source = "A: sem_create nsems=1",
                          .mark = at(r.file, 20, 9),
                          .ok = false,
                          .detail = "semget: Operation not permitted (EPERM)\n",
                          .ms = 0.4}};
    return r;
}

inline std::vector<ExperimentResult> all() {
    return {pass(), fail(), skip(), broken()};
}

}  // namespace nslab::report::samples
