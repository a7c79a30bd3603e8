#include "runner/runner.hpp"

#include <unistd.h>

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <condition_variable>
#include <deque>
#include <memory>
#include <map>
#include <mutex>
#include <thread>

#include "agent/registry.hpp"
#include "core/namespace_limits.hpp"
#include "core/scope_guard.hpp"
#include "launch/lab.hpp"
#include "launch/launcher.hpp"
#include "runner/cgroup_cleanup.hpp"
#include "runner/interrupt.hpp"
#include "runner/machine_facts.hpp"
#include "runner/observed_kinds.hpp"
#include "runner/requirements.hpp"
#include "runner/topology.hpp"
#include "runner/values.hpp"
#include "sys/syscalls.hpp"

namespace nslab::runner {
namespace {

using experiment::Expectation;
using experiment::Experiment;
using experiment::MatcherKind;
using experiment::Step;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// Turns an errno into a hint where the machine, not the experiment, is at fault (as bubblewrap
// does); `kinds` are the namespaces the failed call was creating.
std::string hint_for(const sys::Error& e, unsigned kinds = 0) {
    switch (e.err()) {
        case ENOSPC: return " (" + core::namespace_limit_hint(kinds) + ")";
        case EUSERS: return " (too many nested user namespaces: the limit is 32)";
        case ENOMEM: return " (out of memory, or forking into a PID namespace whose init has exited)";
        case EAGAIN: return " (the lab's task limit may be reached: --max-pids)";
        case EPERM:
        case ENOSYS: {
            // Probable causes found by probing, not by reading the message (`nslab doctor` has the rest).
            const MachineFacts& f = machine_facts();
            if (f.seccomp == 2) return " (probably this machine's seccomp filter: see `nslab doctor`)";
            if (e.err() == ENOSYS) return "";
            auto missing = missing_root_lab_capabilities(f);
            if (f.euid == 0 && !missing.empty())
                return " (probably a missing capability: the runner lacks " + capability_name(missing.front()) +
                       (missing.size() > 1 ? " and more" : "") + "; see `nslab doctor`)";
            return "";
        }
        default: return "";
    }
}

// A lab on its way: its cgroup made and its init cloned, the agent's hello not read yet; or what
// went wrong making them (reported by the experiment that takes it).
struct PendingLab {
    LabCgroup cgroup;
    std::optional<launch::Lab> lab;
    std::string error;  // "" when lab is set
    unsigned kinds = 0;  // the namespaces the lab is made with, for hints
};

// plan: how labs' cgroups are made on this machine (plan_lab_cgroups).
PendingLab begin_pending_lab(const RunOptions& options, const LabCgroupPlan& plan) {
    PendingLab p;
    launch::LabOptions lab_options{.user_namespace = options.lab_in_user_namespace, .copy_on_write_root = options.copy_on_write_root};
    p.kinds = launch::lab_namespaces(lab_options);
    auto cgroup = LabCgroup::create(options.limits, plan, lab_options);
    if (!cgroup.ok()) {
        p.error = "making the lab's cgroup: " + cgroup.error().describe();
        return p;
    }
    p.cgroup = std::move(cgroup).value();
    auto lab = launch::begin_lab(lab_options);
    if (!lab.ok()) p.error = lab.error().describe() + hint_for(lab.error(), p.kinds);
    else p.lab.emplace(std::move(lab).value());
    return p;
}

// Starts labs ahead of the experiments that will use them, on a thread of its own, keeping
// `stock` of them ready: the kernel's work of making a lab (namespaces, the agent's exec, its
// mounts, a cgroup v1 move's RCU grace period) then overlaps experiments instead of preceding
// each. Every lab still serves exactly one experiment. The labs' PR_SET_PDEATHSIG follows this
// thread, which lives until the factory is destroyed; destruction kills the labs nobody took.
class LabFactory {
public:
    LabFactory(const RunOptions& options, size_t stock, size_t most)
        : options_(options),
          plan_(plan_lab_cgroups(options.limits, options.lab_in_user_namespace)),
          stock_(stock),
          most_(most),
          thread_([this] { loop(); }) {}
    ~LabFactory() {
        {
            std::lock_guard lock(mu_);
            done_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }
    PendingLab take() {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return !ready_.empty() || made_ >= most_ || stopped_; });
        if (ready_.empty()) {  // more takers than announced, or the run is being stopped
            lock.unlock();
            return begin_pending_lab(options_, *plan_);
        }
        PendingLab p = std::move(ready_.front());
        ready_.pop_front();
        lock.unlock();
        cv_.notify_all();
        return p;
    }

private:
    void loop() {
        std::unique_lock lock(mu_);
        for (;;) {
            cv_.wait(lock, [this] { return done_ || (ready_.size() < stock_ && made_ < most_); });
            if (done_ || stop_signal()) {
                stopped_ = true;
                cv_.notify_all();
                return;
            }
            ++made_;
            lock.unlock();
            PendingLab p = begin_pending_lab(options_, *plan_);
            lock.lock();
            ready_.push_back(std::move(p));
            cv_.notify_all();
        }
    }
    const RunOptions& options_;
    const std::shared_ptr<const LabCgroupPlan> plan_;
    const size_t stock_, most_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<PendingLab> ready_;
    size_t made_ = 0;
    bool done_ = false, stopped_ = false;
    std::thread thread_;  // last: starts once the rest is built
};

// One experiment's live state. Destruction tears everything down: agents' sockets close, the lab's
// init is SIGKILLed through its pidfd (pid_namespaces(7): that kills every process in the lab), and
// mounts, IPC objects and links go with the lab's namespaces once the last fd to them closes.
class Session {
public:
    Session(const Experiment& e, ExperimentResult& r, Clock::time_point deadline, double limit_s,
            const std::optional<launch::LauncherConfig>& launcher)
        : e_(e), r_(r), deadline_(deadline), limit_s_(limit_s), launcher_config_(launcher) {}

    // labs: where to take a lab started in advance (null: start one now).
    void run(const RunOptions& options, LabFactory* labs);

private:
    struct Realm {
        launch::StartedRealm started;
        launch::Launcher* launcher = nullptr;
    };

    const Experiment& e_;
    ExperimentResult& r_;
    Clock::time_point deadline_;
    const std::string kernel_release_ = sys::uname().release;
    double limit_s_;
    const std::optional<launch::LauncherConfig>& launcher_config_;
    std::map<std::string, std::unique_ptr<launch::Launcher>> launchers_;  // by kind, made on first use
    LabCgroup cgroup_;  // before lab_: removed after the lab's init is gone
    launch::Lab lab_;
    std::optional<LiveLab> live_;  // after lab_: destroyed first, while the pidfd is still open
    std::map<std::string, Realm> realms_;
    Objects objects_;

    // pid_namespaces(7): when the lab's init dies, every process of the lab is killed with it;
    // an agent's closed socket then means that, and the reason says so. The init exits last
    // (zap_pid_ns_processes waits for the others), so give it a moment to become reapable.
    std::string lab_death() {
        if (lab_.init.pidfd() < 0) return "";
        auto st = lab_.init.wait_for(std::chrono::milliseconds(250));
        if (!st.ok() || !*st) return "";
        return "the lab's init " + core::describe_wait_status(**st) + ": ";
    }
    void finish(Outcome o, std::string reason) {
        r_.outcome = o;
        r_.reason = std::move(reason);
    }
    agent::AgentClient& client(const std::string& vantage) {
        return vantage == "host" ? lab_.client : realms_.at(vantage).started.client;
    }
    const agent::Hello& hello(const std::string& vantage) {
        return vantage == "host" ? lab_.hello : realms_.at(vantage).started.hello;
    }
    static bool timed_out(const sys::Error& e) { return e.err() == ETIMEDOUT; }
    std::string time_limit_text() const {
        char buf[64];
        std::snprintf(buf, sizeof buf, "time limit of %g s reached", limit_s_);
        return buf;
    }

    // Each `realm` argument of an op travels as that realm's namespace fds (see agent::OpCall).
    std::vector<int> realm_fds(const std::string& op, const json& args) {
        std::vector<int> fds;
        if (const agent::OpSpec* spec = agent::registry().find(op))
            for (auto& a : spec->args)
                if (a.type == agent::ArgType::realm && args.contains(a.name)) {
                    const auto& target = hello(args[a.name].get<std::string>());
                    for (auto& k : core::namespace_kinds())
                        if (target.ns.fd(k.ns)) fds.push_back(target.ns.fd(k.ns).get());
                }
        return fds;
    }

    sys::Result<launch::Launcher*> launcher_for(const experiment::RealmSpec& spec);
    bool start_realms();
    bool launchers_started_one_agent_each();
    bool run_steps();
    void check_expectations(const std::map<std::pair<size_t, std::string>, Observation>& baselines);
    sys::Result<agent::Reply> probe(const Expectation& x, const std::string& vantage);
    bool record_baselines(std::map<std::pair<size_t, std::string>, Observation>& baselines);
};

void Session::run(const RunOptions& options, LabFactory* labs) {
    auto t = Clock::now();
    // Adds the time since the last lap to `phase`.
    auto lap = [&t](double& phase) {
        phase += ms_since(t);
        t = Clock::now();
    };
    PhaseTimes& ph = r_.phases;
    PendingLab pending =
        labs ? labs->take()
             : begin_pending_lab(options, *plan_lab_cgroups(options.limits, options.lab_in_user_namespace));
    cgroup_ = std::move(pending.cgroup);
    auto hello = pending.lab ? launch::finish_lab(*pending.lab, deadline_) : sys::Status{};
    lap(ph.lab);
    if (!pending.lab) return finish(Outcome::broken, pending.error);
    lab_ = std::move(*pending.lab);
    if (!hello.ok()) return finish(Outcome::broken, hello.error().describe() + hint_for(hello.error(), pending.kinds));
    live_.emplace(lab_.init.pidfd());
    // Decided by the lab itself (it tried): without a copy-on-write root, steps that write outside
    // /tmp would write the machine's own files.
    if (e_.requires_.writable_root && !lab_.hello.copy_on_write_root)
        return finish(Outcome::skip, no_copy_on_write_root(lab_.hello.root_why_not));
    bool realms_ok = start_realms();
    lap(ph.realms);
    if (!realms_ok) return;
    std::map<std::pair<size_t, std::string>, Observation> baselines;
    bool steps_ok = record_baselines(baselines) && run_steps();
    lap(ph.steps);
    if (!steps_ok) return;
    check_expectations(baselines);
    launchers_started_one_agent_each();
    lap(ph.expect);
}

sys::Result<launch::Launcher*> Session::launcher_for(const experiment::RealmSpec& spec) {
    launch::LauncherConfig config = !spec.launcher.empty() || !launcher_config_ ? launch::LauncherConfig{.kind = spec.launcher.empty() ? "builtin" : spec.launcher}
                                                                                : *launcher_config_;
    auto& slot = launchers_[config.kind];
    if (!slot) {
        NSLAB_ASSIGN_OR_RETURN(slot, launch::make_launcher(config));
    }
    return slot.get();
}

// A launcher that started the agent twice shows itself by a second hello on the same socket.
bool Session::launchers_started_one_agent_each() {
    for (auto& spec : e_.realms) {
        Realm& realm = realms_.at(spec.name);
        if (!realm.launcher->under_test()) continue;
        if (int extra = realm.started.client.extra_hellos()) {
            r_.failure = {.kind = FailureKind::launcher_twice, .realm = spec.name};
            finish(Outcome::fail, "launcher " + realm.launcher->name() + " started the agent of realm " + spec.name + " " +
                                      std::to_string(extra + 1) + " times (each start must run exactly one agent)");
            return false;
        }
    }
    return true;
}

bool Session::start_realms() {
    unsigned observed = observed_kinds(e_);
    std::vector<RealmIdentity> ids;
    for (auto& spec : e_.realms) {
        launch::RealmPlan plan;
        plan.name = spec.name;
        plan.new_mask = spec.new_mask;
        plan.uid_map = spec.uid_map;
        plan.gid_map = spec.gid_map;
        plan.propagation = spec.propagation;
        plan.mount_proc = spec.mount_proc;
        plan.monotonic_offset = spec.monotonic_offset;
        plan.boottime_offset = spec.boottime_offset;
        for (auto& [kind, target] : spec.join) {
            core::Ns ns = *core::ns_from_name(kind);
            plan.join.emplace_back(ns, hello(target).ns.fd(ns).get());
        }
        std::string spawner_name = spec.parent.empty() ? "host" : spec.parent;
        const agent::Hello& spawner_hello = hello(spawner_name);
        plan.observed_kinds = observed;
        // time_namespaces(7): a new time namespace starts with its creator's offsets.
        for (std::string up = spec.parent; !up.empty() && !plan.creator_has_time_offsets;) {
            auto parent = std::find_if(e_.realms.begin(), e_.realms.end(), [&](auto& r) { return r.name == up; });
            if (parent == e_.realms.end()) break;
            plan.creator_has_time_offsets = parent->monotonic_offset.value_or(0) != 0 || parent->boottime_offset.value_or(0) != 0;
            up = parent->parent;
        }
        auto launcher = launcher_for(spec);
        if (!launcher.ok()) {
            finish(Outcome::broken, launcher.error().describe());
            return false;
        }
        // An untrusted launcher runs as the configured ids; it maps its own ids, not the spawner's.
        bool configured = spec.launcher.empty() && launcher_config_;
        plan.spawner_uid = configured && launcher_config_->uid ? *launcher_config_->uid : spawner_hello.uid;
        plan.spawner_gid = configured && launcher_config_->gid ? *launcher_config_->gid : spawner_hello.gid;
        for (auto& trait : e_.requires_.launcher)
            if (auto why = (*launcher)->lacks(trait)) {
                finish(Outcome::skip, "launcher " + (*launcher)->name() + " lacks " + trait + ": " + *why);
                return false;
            }
        if (auto reason = (*launcher)->cannot_start(plan)) {
            finish(Outcome::skip, "launcher " + (*launcher)->name() + ": " + *reason);
            return false;
        }
        auto started = (*launcher)->start(client(spawner_name), plan, deadline_);
        if (!started.ok()) {
            bool ours = !(*launcher)->under_test();
            finish(ours ? Outcome::broken : Outcome::fail,
                   lab_death() + started.error().describe() + hint_for(started.error(), plan.new_mask));
            if (!ours) {
                auto& f = r_.failure;
                f.kind = FailureKind::launcher_start;
                f.realm = spec.name;
                if (auto what = (*launcher)->last_failure()) {
                    f.launcher_exit = what->exit_status;
                    f.launcher_signal = what->signal;
                    f.launcher_running = what->still_running;
                    f.launcher_output = what->output;
                } else {
                    f.launcher_exec_errno = started.error().err();  // it never ran: execve failed
                }
            }
            return false;
        }
        unsigned may_add = (*launcher)->may_add(plan);
        realms_.emplace(spec.name, Realm{std::move(started).value(), *launcher});
        ids.push_back({&spec, &realms_.at(spec.name).started.hello.ns, may_add});
    }
    if (auto problem = check_topology(e_, lab_.hello.ns, ids)) {
        // With the built-in launcher a wrong topology is the harness's own fault; with any other
        // it is what the experiment found out about that launcher.
        std::string who;
        for (auto& [name, realm] : realms_)
            if (realm.launcher->under_test()) who = realm.launcher->name();
        if (!who.empty()) {
            // A launcher that ran the agent twice often shows first as a wrong topology (the second
            // copy answered); give a second hello a moment to arrive, as it is the better reason.
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            if (!launchers_started_one_agent_each()) return false;
        }
        if (who.empty()) finish(Outcome::broken, "topology: " + problem->text);
        else {
            finish(Outcome::fail, "launcher " + who + " made the wrong namespaces: " + problem->text);
            r_.failure = {.kind = FailureKind::topology, .realm = problem->realm,
                          .ns_kind = std::string(core::kind_of(problem->kind).name), .missing_new = problem->missing_new};
        }
        return false;
    }
    return launchers_started_one_agent_each();
}

sys::Result<agent::Reply> Session::probe(const Expectation& x, const std::string& vantage) {
    json args = x.args;
    if (x.form == Expectation::Form::see) args = json{{"object", objects_.at(x.object)}};
    auto sub = substitute_all(args, objects_);
    if (!sub.ok()) return std::move(sub).error();
    if (std::string bad = check_expanded_args(x.op, args, *sub); !bad.empty())
        return sys::Error::message(x.mark.str() + ": " + bad);
    auto reply = client(vantage).call(x.op, *sub, deadline_, realm_fds(x.op, *sub));
    if (reply.ok() && reply->ok && x.form == Expectation::Form::run) {
        // A `run:` row observes the command's trimmed stdout.
        std::string out = reply->value.value("stdout", std::string());
        while (!out.empty() && (out.back() == '\n' || out.back() == ' ' || out.back() == '\r')) out.pop_back();
        while (!out.empty() && (out.front() == '\n' || out.front() == ' ')) out.erase(out.begin());
        reply->value = out;
    }
    return reply;
}

bool Session::record_baselines(std::map<std::pair<size_t, std::string>, Observation>& baselines) {
    for (size_t i = 0; i < e_.expect.size(); ++i) {
        const Expectation& x = e_.expect[i];
        if (!x.applies_to_kernel(kernel_release_)) continue;
        for (auto& [vantage, m] : x.cells) {
            if (m.kind != MatcherKind::unchanged && m.kind != MatcherKind::changed) continue;
            auto reply = probe(x, vantage);
            if (!reply.ok()) {
                finish(Outcome::broken, lab_death() + "probing " + x.label() + " from " + vantage + " before the steps: " + reply.error().describe());
                return false;
            }
            baselines[{i, vantage}] = reply->ok ? Observation::of_value(reply->value) : Observation::of_error(reply->error);
        }
    }
    return true;
}

bool Session::run_steps() {
    for (const Step& s : e_.steps) {
        StepRecord rec{.source = s.source, .mark = s.mark};
        auto t0 = Clock::now();
        auto args = substitute_all(s.args, objects_);
        if (args.ok())
            if (std::string bad = check_expanded_args(s.op, s.args, *args, !s.expect_error.empty()); !bad.empty())
                args = sys::Error::message(s.mark.str() + ": " + bad);
        if (!args.ok()) {
            rec.detail = args.error().describe();
            r_.steps.push_back(rec);
            finish(Outcome::broken, "step at line " + std::to_string(s.mark.line) + ": " + rec.detail);
            return false;
        }
        std::vector<int> fds = realm_fds(s.op, *args);
        auto reply = client(s.in).call(s.op, *args, deadline_, fds);
        rec.ms = ms_since(t0);
        if (!reply.ok()) {
            rec.detail = reply.error().describe();
            r_.steps.push_back(rec);
            r_.time_limit = timed_out(reply.error());
            finish(Outcome::broken, timed_out(reply.error()) ? time_limit_text() + " during: " + s.source
                                                : lab_death() + "step `" + s.source + "`: " + rec.detail);
            return false;
        }
        std::string failure;
        if (!s.expect_error.empty()) {
            if (reply->ok) failure = "succeeded, but " + s.expect_error + " was expected";
            else if (sys::errno_name(reply->error.err()) != s.expect_error)
                failure = "failed with " + (reply->error.err() ? sys::errno_name(reply->error.err()) : "no errno") +
                          ", but " + s.expect_error + " was expected: " + reply->error.describe();
            else rec.detail = "failed as expected: " + reply->error.describe();
        } else if (!reply->ok) {
            failure = reply->error.describe() + hint_for(reply->error);
        } else if (s.op == "run") {
            int code = reply->value.value("exit", -1);
            int sig = reply->value.value("signal", 0);
            std::string out = reply->value.value("stdout", std::string()), err = reply->value.value("stderr", std::string());
            rec.detail = "exit " + std::to_string(code) + (out.empty() ? "" : "; stdout: " + out) + (err.empty() ? "" : "; stderr: " + err);
            if (sig) failure = "killed by signal " + std::to_string(sig);
            else if (s.expect_exit && code != *s.expect_exit)
                failure = "exited with " + std::to_string(code) + ", expected " + std::to_string(*s.expect_exit) +
                          (err.empty() ? "" : "; stderr: " + err) + (out.empty() ? "" : "; stdout: " + out);
        } else {
            rec.detail = render(reply->value);
        }
        rec.ok = failure.empty();
        if (!rec.ok) rec.detail = failure;
        r_.steps.push_back(rec);
        if (!rec.ok) {
            r_.failure.kind = FailureKind::step;
            r_.failure.step = s.source;
            r_.failure.step_errno = reply->ok ? 0 : reply->error.err();
            if (s.in != "host") {
                r_.failure.realm = s.in;
                r_.failure.realm_uid = hello(s.in).uid;
            }
            finish(Outcome::fail, "step `" + s.source + "` " + (s.expect_error.empty() && s.op != "run" ? "failed: " : "") + failure);
            return false;
        }
        if (!s.as.empty()) objects_[s.as] = reply->value;
    }
    return true;
}

void Session::check_expectations(const std::map<std::pair<size_t, std::string>, Observation>& baselines) {
    bool all_ok = true;
    std::string first_failure;
    for (size_t i = 0; i < e_.expect.size(); ++i) {
        const Expectation& x = e_.expect[i];
        // A row for other kernels (since:/before:) is neither probed nor shown.
        if (!x.applies_to_kernel(kernel_release_)) continue;
        Row row{.label = x.label(), .mark = x.mark, .why = x.why};
        std::map<std::string, Observation> observed;
        for (auto& [vantage, m] : x.cells) {
            auto reply = probe(x, vantage);
            if (!reply.ok()) {
                r_.time_limit = timed_out(reply.error());
                return finish(Outcome::broken, (timed_out(reply.error()) ? time_limit_text() : lab_death() + reply.error().describe()) + " (probing " +
                                                   x.label() + " from " + vantage + ")");
            }
            observed[vantage] = reply->ok ? Observation::of_value(reply->value) : Observation::of_error(reply->error);
        }
        row.ok = true;
        for (auto& [vantage, m] : x.cells) {
            Cell cell{.vantage = vantage, .observed = observed[vantage].text()};
            auto base = baselines.find({i, vantage});
            const agent::OpSpec* spec = agent::registry().find(x.op);
            Observations obs{&observed[vantage], base == baselines.end() ? nullptr : &base->second, &observed,
                             spec ? spec->tolerance : 0};
            cell.ok = judge(m, obs, objects_, cell.expected);
            if (!cell.ok && first_failure.empty())
                first_failure = x.label() + " from " + vantage + ": expected " + cell.expected + ", saw " + cell.observed;
            row.ok = row.ok && cell.ok;
            row.cells.push_back(std::move(cell));
        }
        all_ok = all_ok && row.ok;
        r_.rows.push_back(std::move(row));
    }
    if (all_ok) finish(Outcome::pass, "");
    else {
        r_.failure.kind = FailureKind::expectation;
        finish(Outcome::fail, first_failure);
    }
}

// Ends finished experiments' labs on a thread of its own, so that a worker goes on to its next
// experiment while the kernel kills the last one's processes and frees its namespaces. The
// destructor waits for every lab handed over: nothing outlives the run.
class Reaper {
public:
    Reaper() : thread_([this] { loop(); }) {}
    ~Reaper() {
        {
            std::lock_guard lock(mu_);
            done_ = true;
        }
        cv_.notify_one();
        thread_.join();
    }
    void take(std::unique_ptr<Session> s) {
        {
            std::lock_guard lock(mu_);
            queue_.push_back(std::move(s));
        }
        cv_.notify_one();
    }

private:
    void loop() {
        std::unique_lock lock(mu_);
        for (;;) {
            cv_.wait(lock, [this] { return done_ || !queue_.empty(); });
            if (queue_.empty()) return;  // done_, and nothing left
            std::unique_ptr<Session> s = std::move(queue_.front());
            queue_.pop_front();
            lock.unlock();
            s.reset();  // ~Session: SIGKILL the lab's init, reap it, remove its cgroup
            lock.lock();
        }
    }
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::unique_ptr<Session>> queue_;
    bool done_ = false;
    std::thread thread_;  // last: starts once the rest is built
};

// One experiment. With a factory, its lab was started in advance; with a reaper, its lab is torn
// down there rather than before this returns.
ExperimentResult run_one(const Experiment& e, const RunOptions& options, LabFactory* labs, Reaper* reaper) {
    ExperimentResult r;
    r.suite = e.suite;
    r.name = e.name;
    r.file = e.mark.file;
    r.line = e.mark.line;
    r.summary = e.summary;
    r.refs = e.refs;
    r.tags = e.tags;
    r.vantages = e.vantages();
    auto t0 = Clock::now();
    if (!options.no_lab.empty()) {
        r.outcome = Outcome::broken;
        r.reason = options.no_lab;
        r.duration_ms = ms_since(t0);
        return r;
    }
    if (auto reason = unmet_requirement(e, options.lab_in_user_namespace, options.root_unavailable, options.copy_on_write_root)) {
        r.outcome = Outcome::skip;
        r.reason = *reason;
        r.duration_ms = ms_since(t0);
        return r;
    }
    double limit = options.timeout_s.value_or(e.timeout_s.value_or(options.default_timeout_s)) * options.time_scale;
    auto deadline = t0 + std::chrono::microseconds(static_cast<long long>(limit * 1e6));
    if (int sig = stop_signal()) {
        r.outcome = Outcome::broken;
        r.reason = std::string("not run: the run was interrupted by SIG") + (sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
        return r;
    }
    Clock::time_point teardown_start;
    try {
        auto session = std::make_unique<Session>(e, r, deadline, limit, options.launcher);
        session->run(options, labs);
        teardown_start = Clock::now();
        if (reaper) reaper->take(std::move(session));
    } catch (const std::exception& ex) {
        teardown_start = Clock::now();
        r.outcome = Outcome::broken;
        r.reason = std::string("harness error: ") + ex.what();
    }
    // A lab whose runner died is gone; a cgroup it made is not (cgroups belong to no namespace).
    // run_all sweeps once before and once after its experiments instead.
    if (!reaper) remove_dead_lab_cgroups(lab_cgroup_parents(options.limits));
    r.phases.teardown = ms_since(teardown_start);
    if (int sig = stop_signal(); sig && r.outcome != Outcome::pass && r.outcome != Outcome::skip) {
        // The lab was killed under it: say why rather than "the agent exited".
        r.outcome = Outcome::broken;
        r.reason = std::string("interrupted by SIG") + (sigabbrev_np(sig) ? sigabbrev_np(sig) : "?") + " (" + r.reason + ")";
    }
    r.duration_ms = ms_since(t0);
    return r;
}

}  // namespace

RunOptions default_options(bool user_lab) {
    RunOptions o;
    LabModeChoice choice = choose_lab_mode(machine_facts(), user_lab);
    o.lab_in_user_namespace = choice.mode == LabMode::user_namespace || (choice.mode == LabMode::none && ::geteuid() != 0);
    o.root_unavailable = choice.root_unavailable;
    o.no_lab = choice.none_reason;
    return o;
}

ExperimentResult run_experiment(const Experiment& e, const RunOptions& options) {
    return run_one(e, options, nullptr, nullptr);
}

std::vector<ExperimentResult> run_all(const std::vector<const Experiment*>& experiments, const RunOptions& options,
                                      const std::function<void(const ExperimentResult&)>& on_result) {
    std::vector<ExperimentResult> results(experiments.size());
    std::vector<bool> done(experiments.size(), false);
    std::mutex mu;
    std::condition_variable cv;
    std::atomic<size_t> next{0};
    size_t reported = 0;
    std::vector<std::string> cgroup_parents = lab_cgroup_parents(options.limits);
    remove_dead_lab_cgroups(cgroup_parents);
    // Swept after the reaper is done: declared before it, destroyed after it.
    core::ScopeGuard sweep([&] { remove_dead_lab_cgroups(cgroup_parents); });
    int jobs = std::max(1, std::min<int>(options.jobs, static_cast<int>(experiments.size())));
    // Destroyed in reverse: the reaper (every used lab ended), then the factory (labs nobody took).
    LabFactory labs(options, static_cast<size_t>(jobs), experiments.size());
    Reaper reaper;
    auto worker = [&] {
        for (;;) {
            size_t i = next.fetch_add(1);
            if (i >= experiments.size()) return;
            ExperimentResult r = run_one(*experiments[i], options, &labs, &reaper);
            std::lock_guard lock(mu);
            results[i] = std::move(r);
            done[i] = true;
            // Report in catalogue order: flush every finished result at the head of the queue.
            while (reported < experiments.size() && done[reported]) {
                if (on_result) on_result(results[reported]);
                ++reported;
            }
            cv.notify_all();
        }
    };
    std::vector<std::thread> threads;
    for (int j = 1; j < jobs; ++j) threads.emplace_back(worker);
    worker();
    for (auto& t : threads) t.join();
    return results;
}

}  // namespace nslab::runner
