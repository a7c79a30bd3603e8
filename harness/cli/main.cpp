// nslab: run, list and validate namespace experiments; start an agent.
//   exit status: 0 all passed or skipped, 1 a failure (FAIL or BROKEN), 2 bad input or harness error.
#include <CLI/CLI.hpp>
#include <fnmatch.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>
#include <tuple>

#include "agent/agent.hpp"
#include "cli/doctor_command.hpp"
#include "cli/explain_command.hpp"
#include "cli/grade_command.hpp"
#include "cli/listing.hpp"
#include "cli/schema_command.hpp"
#include "cli/self_doc.hpp"
#include "experiment/loader.hpp"
#include "launch/installed.hpp"
#include "report/report.hpp"
#include "runner/interrupt.hpp"
#include "runner/machine_facts.hpp"
#include "runner/machine_state.hpp"
#include "runner/runner.hpp"

namespace nslab::cli {
namespace {

constexpr int kExitFailed = 1;
constexpr int kExitBadInput = 2;

void print_load_errors(const experiment::LoadResult& loaded) {
    for (auto& e : loaded.errors) std::cerr << e.str() << "\n";
}

std::vector<const experiment::Experiment*> select(const experiment::LoadResult& loaded, const std::string& filter) {
    std::vector<const experiment::Experiment*> out;
    for (auto& s : loaded.suites)
        for (auto& e : s.experiments)
            if (filter.empty() || ::fnmatch(filter.c_str(), e.full_name().c_str(), 0) == 0) out.push_back(&e);
    return out;
}

struct RunArgs {
    std::vector<std::string> paths;
    std::string filter;
    int jobs = 1;
    std::string format = "pretty";
    std::string output;
    double timeout = 0;
    double time_scale = 1;
    std::vector<std::string> reports;  // FORMAT:PATH, each written besides --format's output
    bool quiet_pass = false;
    bool user_lab = false;
    std::string lab_root = "overlay";  // overlay | host
    bool check_leaks = false;
    std::string launcher;                   // builtin | unshare | bwrap | nsenter | command
    std::string launcher_command;           // the template: a JSON array, or words split at spaces
    std::vector<std::string> launcher_creates;
    std::vector<std::string> launcher_flags;  // KEY=WORDS, words split at spaces
    bool launcher_mounts_proc = false;
    bool launcher_socket = false;
    unsigned long long max_pids = runner::LabLimits{}.max_pids;
    std::string max_memory;
    std::string cgroup_parent;
};

// The --launcher options as a launcher configuration; nullopt when every realm keeps its own.
std::optional<launch::LauncherConfig> launcher_config(const RunArgs& a, std::string& error) {
    if (a.launcher.empty()) {
        if (!a.launcher_command.empty()) error = "--launcher-command needs --launcher command";
        if (!a.launcher_flags.empty()) error = "--launcher-flag needs --launcher command";
        return std::nullopt;
    }
    launch::LauncherConfig c{.kind = a.launcher, .mounts_proc = a.launcher_mounts_proc, .connect_by_socket = a.launcher_socket};
    if (!a.launcher_command.empty() && a.launcher_command.front() == '[') {
        auto words = nlohmann::json::parse(a.launcher_command, nullptr, false);
        if (!words.is_array()) {
            error = "--launcher-command: not a JSON array of strings: " + a.launcher_command;
            return std::nullopt;
        }
        for (auto& w : words) {
            if (!w.is_string()) {
                error = "--launcher-command: not a JSON array of strings: " + a.launcher_command;
                return std::nullopt;
            }
            c.command.push_back(w.get<std::string>());
        }
    } else {
        std::istringstream in(a.launcher_command);
        for (std::string w; in >> w;) c.command.push_back(w);
    }
    for (auto& k : a.launcher_creates) {
        auto ns = core::ns_from_name(k);
        if (!ns) {
            error = "--launcher-creates: unknown namespace kind '" + k + "'";
            return std::nullopt;
        }
        c.creates |= core::ns_bit(*ns);
    }
    for (auto& f : a.launcher_flags) {
        auto eq = f.find('=');
        if (eq == std::string::npos || eq == 0) {
            error = "--launcher-flag: expected KEY=WORDS (e.g. 'pid=--pid --fork'), not '" + f + "'";
            return std::nullopt;
        }
        std::string key = f.substr(0, eq);
        if (c.flags.count(key)) {
            error = "--launcher-flag: '" + key + "' is given twice";
            return std::nullopt;
        }
        std::istringstream in(f.substr(eq + 1));
        auto& words = c.flags[key];
        for (std::string w; in >> w;) words.push_back(w);
    }
    auto made = launch::make_launcher(c);  // checks the kind and the template now, not per experiment
    if (!made.ok()) error = made.error().describe();
    return c;
}

// "268435456", "256M", "1G", "64K" -> bytes; nullopt when malformed.
std::optional<unsigned long long> parse_bytes(const std::string& text) {
    size_t used = 0;
    unsigned long long n = 0;
    try {
        n = std::stoull(text, &used);
    } catch (const std::exception&) {
        return std::nullopt;
    }
    std::string unit = text.substr(used);
    if (unit == "" || unit == "B") return n;
    if (unit == "K" || unit == "KiB") return n << 10;
    if (unit == "M" || unit == "MiB") return n << 20;
    if (unit == "G" || unit == "GiB") return n << 30;
    return std::nullopt;
}

// SIGINT/SIGTERM are taken by a thread of their own (blocked everywhere else): the first stops the
// run cleanly — live labs killed, the report still written — and a second one exits at once.
// pid_namespaces(7): a PID namespace's init (nslab as a container's PID 1) gets no signal whose
// disposition is the default; a blocked signal that sigwait() takes is delivered all the same.
void start_signal_thread() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::thread([set] {
        for (int count = 0;; ++count) {
            int sig = 0;
            if (sigwait(&set, &sig) != 0) continue;
            if (count > 0) std::_Exit(128 + sig);  // labs die with us (PR_SET_PDEATHSIG)
            std::cerr << "nslab: " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << ": stopping; the report follows\n";
            runner::request_stop(sig);
        }
    }).detach();
}

int run_command(const RunArgs& a) {
    start_signal_thread();  // first: SIGTERM must stop a run from its start, also as PID 1
    auto loaded = experiment::load_paths(a.paths);
    if (!loaded.ok()) {
        print_load_errors(loaded);
        std::cerr << "nslab: " << loaded.errors.size() << " error(s) in the experiment files; nothing was run\n";
        return kExitBadInput;
    }
    auto chosen = select(loaded, a.filter);
    if (chosen.empty()) {
        std::cerr << "nslab: no experiment matches" << (a.filter.empty() ? "" : " --filter '" + a.filter + "'") << "\n";
        return kExitBadInput;
    }
    std::string launcher_error;
    auto launcher = launcher_config(a, launcher_error);
    if (!launcher_error.empty()) {
        std::cerr << "nslab: " << launcher_error << "\n";
        return kExitBadInput;
    }
    runner::RunOptions options = runner::default_options(a.user_lab);
    // What this machine allows, said once before the results (the details: `nslab doctor`).
    if (auto choice = runner::choose_lab_mode(runner::machine_facts(), a.user_lab); !choice.summary.empty())
        std::cerr << "nslab: " << choice.summary << " (`nslab doctor` says more)\n";
    options.jobs = a.jobs;
    options.copy_on_write_root = a.lab_root == "overlay";
    if (a.timeout > 0) options.timeout_s = a.timeout;
    options.time_scale = a.time_scale;
    options.launcher = launcher;
    options.limits.max_pids = a.max_pids;
    options.limits.cgroup_parent = a.cgroup_parent;
    if (!a.max_memory.empty()) {
        auto bytes = parse_bytes(a.max_memory);
        if (!bytes) {
            std::cerr << "nslab: --max-memory " << a.max_memory << ": not a size (bytes, or with K, M, G)\n";
            return kExitBadInput;
        }
        options.limits.max_memory = *bytes;
    }
    runner::MachineState before;
    const auto cgroup_parents = runner::lab_cgroup_parents(options.limits);
    if (a.check_leaks) {
        // As subreaper, a process that escaped a lab would be re-parented to us, and seen.
        ::prctl(PR_SET_CHILD_SUBREAPER, 1);
        before = runner::snapshot_machine(cgroup_parents);
    }

    // The matrix goes to stdout; a machine format goes to --output (or stdout when pretty is not shown).
    bool pretty_to_stdout = a.format == "pretty" || !a.output.empty();
    report::PrettyOptions pretty{.color = ::isatty(1) != 0, .matrix_on_pass = !a.quiet_pass};
    auto t0 = std::chrono::steady_clock::now();
    auto results = runner::run_all(chosen, options, [&](const runner::ExperimentResult& r) {
        if (pretty_to_stdout) {
            report::write_pretty_result(std::cout, r, pretty);
            std::cout.flush();
        }
    });
    double wall = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    auto summary = runner::summarize(results, wall);
    // The after-snapshot comes before the reports are written: a report is the run's output, not a leak.
    std::vector<std::string> leaks, leak_notes;
    if (a.check_leaks) {
        while (::waitpid(-1, nullptr, WNOHANG) > 0) {
        }
        auto after = runner::snapshot_machine(cgroup_parents);
        leaks = runner::describe_leaks(before, after);
        leak_notes = runner::describe_limits(after);
    }
    if (pretty_to_stdout) report::write_pretty_summary(std::cout, results, summary, pretty);

    auto render = [&](const std::string& format) {
        if (format == "junit") return report::junit_xml(results, summary);
        if (format == "ktap") return report::ktap(results, summary);
        return report::json_report(results, summary);
    };
    auto write_report = [&](const std::string& format, const std::string& path) {
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out << render(format);
        if (!out) std::cerr << "nslab: cannot write " << path << "\n";
        return static_cast<bool>(out);
    };
    if (a.format != "pretty") {
        if (a.output.empty() || a.output == "-") std::cout << render(a.format);
        else if (!write_report(a.format, a.output)) return kExitBadInput;
    }
    for (auto& spec : a.reports) {
        auto colon = spec.find(':');
        if (!write_report(spec.substr(0, colon), spec.substr(colon + 1))) return kExitBadInput;
    }
    int code = summary.failed + summary.broken > 0 ? kExitFailed : 0;
    if (a.check_leaks) {
        for (auto& l : leaks) std::cout << "LEAK: " << l << "\n";
        if (!leaks.empty()) code = kExitFailed;
        else
            std::cout << "no leaks: hostname, mounts, IPC objects, links, processes and the files under /etc, /run, "
                         "/var/tmp and /root are as before the run\n";
        for (auto& n : leak_notes) std::cout << "leak check: " << n << "\n";
    }
    if (int sig = runner::stop_signal()) return 128 + sig;
    return code;
}

int validate_command(const std::vector<std::string>& all_paths) {
    // Assignments (`nslab_assignment: 1`) are checked as assignments, suites as suites.
    std::vector<std::string> paths;
    int assignments_code = 0;
    for (auto& p : all_paths) {
        if (std::filesystem::is_regular_file(p) && is_assignment_file(p)) {
            assignments_code = std::max(assignments_code, validate_assignment(p));
        } else {
            paths.push_back(p);
        }
    }
    if (paths.empty()) return assignments_code;
    auto loaded = experiment::load_paths(paths);
    print_load_errors(loaded);
    size_t n = 0;
    for (auto& s : loaded.suites) n += s.experiments.size();
    if (!loaded.ok()) {
        std::cerr << "nslab: " << loaded.errors.size() << " error(s)\n";
        return kExitBadInput;
    }
    std::cout << "ok: " << loaded.suites.size() << " suite(s), " << n << " experiment(s)\n";
    return assignments_code;
}

int list_command(const std::vector<std::string>& paths, const std::string& filter, const std::string& what) {
    if (what == "actions" || what == "probes") {
        print_registry(std::cout, what == "actions");
        return 0;
    }
    auto loaded = experiment::load_paths(paths);
    if (!loaded.ok()) {
        print_load_errors(loaded);
        return kExitBadInput;
    }
    for (auto* e : select(loaded, filter)) std::cout << e->full_name() << "\t" << e->summary << "\n";
    return 0;
}

// The suites read when a command is given no paths: ./suites when it exists (a checkout), else
// those installed with nslab; nullopt (and why, on stderr) when neither is there.
std::optional<std::vector<std::string>> default_suites() {
    std::error_code ec;
    if (std::filesystem::is_directory("suites", ec)) return std::vector<std::string>{"suites"};
    std::string installed = launch::installed_suites_dir();
    if (!installed.empty() && std::filesystem::is_directory(installed, ec)) return std::vector<std::string>{installed};
    std::cerr << "nslab: no paths given, and no suites here (./suites) nor installed ("
              << (installed.empty() ? "/proc/self/exe cannot be read" : installed) << "); name suite files or directories\n";
    return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
    // `nslab agent ...` is the agent itself: no CLI11, so that external launchers may pass it anything.
    if (argc >= 2 && std::string(argv[1]) == "agent") return agent::agent_main(argc - 1, argv + 1);

    CLI::App app{"nslab: Linux namespace experiments, run in throwaway labs"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "nslab " NSLAB_VERSION);

    const std::string suites_paths = "Suite files or directories (default: ./suites if it exists, else the installed suites)";
    RunArgs run;
    auto* run_cmd = app.add_subcommand("run", "Run experiments and print their visibility matrices");
    auto* run_paths = run_cmd->add_option("paths", run.paths, suites_paths);
    run_cmd->add_option("--filter", run.filter, "Glob over suite.experiment names (e.g. 'td2_uts.*')");
    run_cmd->add_option("-j,--jobs", run.jobs, "Experiments run at once")->check(CLI::Range(1, 64));
    run_cmd->add_option("--format", run.format, "pretty, junit, json or ktap")
        ->check(CLI::IsMember({"pretty", "junit", "json", "ktap"}));
    run_cmd->add_option("-o,--output", run.output, "Write the junit/json/ktap report here (the matrix still goes to stdout)");
    run_cmd->add_option("--report", run.reports,
                        "Also write a report as FORMAT:PATH (junit, json or ktap); may be repeated")
        ->allow_extra_args(false)
        ->check([](const std::string& v) -> std::string {
            auto colon = v.find(':');
            std::string format = v.substr(0, colon);
            if (colon == std::string::npos || colon + 1 == v.size()) return "expected FORMAT:PATH, e.g. junit:results.xml";
            if (format != "junit" && format != "json" && format != "ktap") return "unknown format '" + format + "' (junit, json or ktap)";
            return "";
        });
    run_cmd->add_option("--timeout", run.timeout, "Time limit per experiment, seconds (overrides the files)")
        ->check(CLI::Range(0.1, 3600.0));
    run_cmd->add_option("--time-scale", run.time_scale,
                        "Multiply every time limit by this (a slow machine: 20 under QEMU without KVM)")
        ->check(CLI::Range(0.1, 1000.0));
    run_cmd->add_flag("--quiet-pass", run.quiet_pass, "Draw matrices only for experiments that did not pass");
    run_cmd->add_flag("--user-lab", run.user_lab, "Own each lab by a user namespace even as root");
    run_cmd->add_option("--lab-root", run.lab_root,
                        "overlay: each lab's / is copy-on-write over the machine's, so no write reaches its files "
                        "(default); host: the machine's /, with only /tmp the lab's own (experiments that write "
                        "elsewhere SKIP)")
        ->check(CLI::IsMember({"overlay", "host"}));
    run_cmd->add_option("--launcher", run.launcher,
                        "Start every realm with this launcher: builtin, unshare, bwrap, nsenter or command")
        ->check(CLI::IsMember(launch::launcher_kinds()));
    run_cmd->add_option("--launcher-command", run.launcher_command,
                        "With --launcher command: the command template, as a JSON array or words split at "
                        "spaces, e.g. '/path/mini_container --hostname ${hostname} -- ${agent}'");
    run_cmd->add_option("--launcher-creates", run.launcher_creates,
                        "With --launcher command: the namespace kinds the command always creates")
        ->delimiter(',');
    run_cmd->add_option("--launcher-flag", run.launcher_flags,
                        "With --launcher command: KEY=WORDS, what ${flags} becomes when a realm asks for KEY "
                        "(a namespace kind, map_root, mount_proc, propagation, monotonic, boottime), e.g. "
                        "'pid=--pid --fork' 'monotonic=--monotonic ${monotonic}'; repeatable")
        ->allow_extra_args(false);
    run_cmd->add_flag("--launcher-mounts-proc", run.launcher_mounts_proc,
                      "With --launcher command: the command always mounts a fresh /proc");
    run_cmd->add_flag("--launcher-socket", run.launcher_socket,
                      "The agent connects to a socket path instead of an inherited fd (for launchers that close fds)");
    run_cmd->add_option("--max-pids", run.max_pids,
                        "Tasks per lab (cgroup pids.max, else RLIMIT_NPROC when not root); 0: no bound")
        ->capture_default_str();
    run_cmd->add_option("--max-memory", run.max_memory, "Memory per lab (cgroup memory.max), e.g. 256M; default none");
    run_cmd->add_option("--cgroup-parent", run.cgroup_parent,
                        "A cgroup v2 directory to make the labs' cgroups in (default: probed)");
    run_cmd->add_flag("--check-leaks", run.check_leaks,
                      "Snapshot hostname, mounts, IPC objects, links, processes and files (/etc, /run, /var/tmp, /root) "
                      "before and after; fail naming any leak");

    std::vector<std::string> validate_paths;
    auto* validate_cmd = app.add_subcommand("validate", "Check experiment files without running them");
    auto* validate_paths_opt = validate_cmd->add_option(
        "paths", validate_paths, "Suite files or directories, or assignment files (default: as for run)");

    std::vector<std::string> list_paths;
    std::string list_filter;
    bool list_actions = false, list_probes = false, list_markdown = false, list_catalogue = false;
    auto* list_cmd = app.add_subcommand("list", "List experiments, or the registry's actions and probes");
    auto* list_paths_opt = list_cmd->add_option("paths", list_paths, suites_paths);
    list_cmd->add_option("--filter", list_filter, "Glob over suite.experiment names");
    list_cmd->add_flag("--actions", list_actions, "List the actions steps can do");
    list_cmd->add_flag("--probes", list_probes, "List the probes expectations can use");
    list_cmd->add_flag("--markdown", list_markdown, "Print the action/probe reference as Markdown (docs/reference.md)");
    list_cmd->add_flag("--catalogue-markdown", list_catalogue, "Print the experiments as Markdown (docs/catalogue.md)");

    GradeArgs grade;
    auto* grade_cmd = app.add_subcommand("grade", "Grade a submission (a student's launcher) against an assignment");
    grade_cmd->add_option("--submission", grade.submission, "The submission's directory")->required();
    grade_cmd->add_option("--assignment", grade.assignment, "The assignment file, e.g. suites/assignments/td2.yaml")->required();
    grade_cmd->add_option("-o,--output", grade.output, "Where results.json, feedback.md and junit.xml go")->capture_default_str();
    grade_cmd->add_option("--format", grade.format, "results.json for gradescope or prairielearn")
        ->check(CLI::IsMember({"gradescope", "prairielearn"}))
        ->capture_default_str();
    grade_cmd->add_option("-j,--jobs", grade.jobs, "Experiments run at once")->check(CLI::Range(1, 64));
    grade_cmd->add_option("--timeout", grade.timeout, "Time limit per experiment, seconds (overrides the assignment)")
        ->check(CLI::Range(0.1, 600.0));

    cli::DoctorArgs doctor;
    auto* doctor_cmd = app.add_subcommand("doctor", "Say what this machine lets nslab do, what is missing, what it costs and the fix");
    auto* doctor_paths = doctor_cmd->add_option("paths", doctor.paths,
                                                "Suite files or directories to cost (default: as for run)");
    doctor_cmd->add_option("--format", doctor.format, "pretty or json")->check(CLI::IsMember({"pretty", "json"}));
    doctor_cmd->add_flag("--user-lab", doctor.user_lab, "As `nslab run --user-lab` would run");

    cli::ExplainArgs explain;
    auto* explain_cmd = app.add_subcommand("explain", "Print an experiment as the shell session a student would type, a terminal per realm");
    explain_cmd->add_option("name", explain.name, "SUITE.EXPERIMENT (a glob picks several)")->required();
    auto* explain_paths = explain_cmd->add_option("paths", explain.paths, suites_paths);
    explain_cmd->add_flag("--markdown", explain.markdown, "As Markdown, for course notes");

    cli::SchemaArgs schema;
    auto* schema_cmd = app.add_subcommand("schema", "Write the JSON Schema of the experiment file (docs/schema/experiment.schema.json)");
    schema_cmd->add_flag("--assignment", schema.assignment, "The assignment file's schema instead (docs/schema/assignment.schema.json)");
    schema_cmd->add_option("-o,--output", schema.output, "Write it here instead of stdout");

    app.add_subcommand("agent", "Run an agent (for launchers): nslab agent [--lab] --fd N | --socket PATH");
    // Hidden (group ""): the build makes nslab.1 and the bash completion from this very definition.
    auto* man_cmd = app.add_subcommand("help-man", "Print the man page, nslab.1")->group("");
    auto* completion_cmd = app.add_subcommand("help-bash-completion", "Print the bash completion script")->group("");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int code = app.exit(e);
        return code == 0 ? 0 : kExitBadInput;
    }
    if (*man_cmd) {
        write_man_page(std::cout, app, NSLAB_VERSION);
        return 0;
    }
    if (*completion_cmd) {
        write_bash_completion(std::cout, app);
        return 0;
    }
    // Paths not given: ./suites, else the installed suites (list needs none for the registry).
    bool list_needs_suites = !list_actions && !list_probes && !list_markdown;
    for (auto [cmd, opt, paths] : {std::tuple{run_cmd, run_paths, &run.paths},
                                   std::tuple{validate_cmd, validate_paths_opt, &validate_paths},
                                   std::tuple{list_cmd, list_paths_opt, &list_paths},
                                   std::tuple{doctor_cmd, doctor_paths, &doctor.paths},
                                   std::tuple{explain_cmd, explain_paths, &explain.paths}}) {
        if (!*cmd || opt->count() > 0 || (cmd == list_cmd && !list_needs_suites)) continue;
        auto found = default_suites();
        if (!found && cmd != doctor_cmd) return kExitBadInput;  // doctor still says what the machine allows
        *paths = found.value_or(std::vector<std::string>{});
    }
    try {
        if (*run_cmd) return run_command(run);
        if (*validate_cmd) return validate_command(validate_paths);
        if (*grade_cmd) return grade_command(grade);
        if (*doctor_cmd) return cli::doctor_command(doctor);
        if (*schema_cmd) return cli::schema_command(schema);
        if (*explain_cmd) return cli::explain_command(explain);
        if (*list_cmd && list_markdown) {
            print_registry_markdown(std::cout);
            return 0;
        }
        if (*list_cmd && list_catalogue) {
            auto loaded = experiment::load_paths(list_paths);
            print_load_errors(loaded);
            if (!loaded.ok()) return kExitBadInput;
            print_catalogue_markdown(std::cout, loaded.suites);
            return 0;
        }
        if (*list_cmd) return list_command(list_paths, list_filter, list_actions ? "actions" : list_probes ? "probes" : "experiments");
    } catch (const std::exception& e) {
        std::cerr << "nslab: internal error: " << e.what() << "\n";
        return kExitBadInput;
    }
    return kExitBadInput;
}

}  // namespace nslab::cli

int main(int argc, char** argv) { return nslab::cli::main(argc, argv); }
