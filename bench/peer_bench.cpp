// The peers, as whole processes (posix_spawn + waitpid), the way a student or a script would use them:
//   BM_UnshareCmd/<kind>   unshare(1) --<kind> true   (--fork for pid; "none" = `unshare true`)
//   BM_Bwrap/<kind>        bwrap --unshare-<kind> --dev-bind / / true   ("all" = --unshare-all;
//                          bwrap always makes a mount namespace, and has no time namespace option)
// Skipped with a reason when the tool is missing or fails on this machine.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <optional>
#include <sstream>

#include "common.hpp"

extern char** environ;

namespace nslab::bench {
namespace {

std::optional<std::string> find_on_path(const std::string& tool) {
    const char* path = std::getenv("PATH");
    std::istringstream dirs(path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        std::string p = (dir.empty() ? "." : dir) + "/" + tool;
        if (::access(p.c_str(), X_OK) == 0) return p;
    }
    return std::nullopt;
}

struct Spawned {
    int status = -1;
    std::string err;  // spawn error, or the tool's stderr when capturing
};

// Runs argv with stdout to /dev/null; stderr to /dev/null, or captured when capture is set.
Spawned spawn_wait(const std::vector<std::string>& argv, bool capture) {
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    int p[2] = {-1, -1};
    if (capture && ::pipe2(p, O_CLOEXEC) == 0) posix_spawn_file_actions_adddup2(&fa, p[1], 2);
    else posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    Spawned r;
    pid_t pid;
    int e = posix_spawn(&pid, argv[0].c_str(), &fa, nullptr, cargv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (p[1] >= 0) ::close(p[1]);
    if (e != 0) {
        r.err = "posix_spawn " + argv[0] + ": " + errno_text(e);
    } else {
        if (p[0] >= 0) {
            char buf[512];
            ssize_t n;
            while ((n = ::read(p[0], buf, sizeof buf)) > 0 && r.err.size() < 2000) r.err.append(buf, static_cast<size_t>(n));
        }
        r.status = wait_child(pid);
    }
    if (p[0] >= 0) ::close(p[0]);
    return r;
}

void tool_bench(benchmark::State& state, const std::string& tool, const std::vector<std::string>& args) {
    auto path = find_on_path(tool);
    if (!path) {
        state.SkipWithError((tool + " is not installed (not found on PATH)").c_str());
        return;
    }
    std::vector<std::string> argv{*path};
    argv.insert(argv.end(), args.begin(), args.end());
    // One untimed run that must succeed, so that a tool refused by this machine is a reason, not a number.
    Spawned check = spawn_wait(argv, true);
    if (check.status != 0) {
        std::string why = check.err.empty() ? "exited with wait status " + std::to_string(check.status) : check.err;
        while (!why.empty() && why.back() == '\n') why.pop_back();
        state.SkipWithError((tool + " fails here: " + why).c_str());
        return;
    }
    ChildCpu cpu;
    Samples samples(state);
    for (auto _ : state) {
        double t0 = now_ns();
        Spawned r = spawn_wait(argv, false);
        double t1 = now_ns();
        if (r.status != 0) {
            state.SkipWithError((tool + " failed: status " + std::to_string(r.status) + " " + r.err).c_str());
            break;
        }
        samples.add(t1 - t0);
    }
    samples.finish();
    add_rate(state);
    cpu.finish(state);
}

const std::map<std::string, std::vector<std::string>>& unshare_options() {
    static const std::map<std::string, std::vector<std::string>> m = {
        {"none", {}},
        {"cgroup", {"--cgroup"}},
        {"ipc", {"--ipc"}},
        {"mnt", {"--mount"}},
        {"net", {"--net"}},
        {"pid", {"--pid", "--fork"}},  // unshare(CLONE_NEWPID) moves only children: fork to use it
        {"time", {"--time"}},          // execve enters time_for_children
        {"user", {"--user"}},
        {"uts", {"--uts"}},
        {"all", {"--mount", "--uts", "--ipc", "--net", "--pid", "--fork", "--cgroup", "--time", "--user"}},
    };
    return m;
}

// bwrap(1) always creates a mount namespace; "mnt" is therefore bwrap with no --unshare option.
const std::map<std::string, std::vector<std::string>>& bwrap_options() {
    static const std::map<std::string, std::vector<std::string>> m = {
        {"cgroup", {"--unshare-cgroup"}},
        {"ipc", {"--unshare-ipc"}},
        {"mnt", {}},
        {"net", {"--unshare-net"}},
        {"pid", {"--unshare-pid"}},
        {"user", {"--unshare-user"}},
        {"uts", {"--unshare-uts"}},
        {"all", {"--unshare-all"}},
    };
    return m;
}

template <typename Fn>
benchmark::internal::Benchmark* reg(const std::string& name, Fn&& fn) {
    return benchmark::RegisterBenchmark(name.c_str(), std::forward<Fn>(fn))->UseManualTime()->Unit(benchmark::kMicrosecond);
}

}  // namespace

void register_peer_benchmarks() {
    for (auto& v : variants(kWithNone | kWithAll)) {
        auto it = unshare_options().find(v.name);
        if (it == unshare_options().end()) continue;
        std::vector<std::string> args = it->second;
        args.push_back("true");
        reg("BM_UnshareCmd/" + v.name, [args](benchmark::State& s) { tool_bench(s, "unshare", args); });
    }
    for (auto& v : variants(kWithAll)) {
        auto it = bwrap_options().find(v.name);
        if (it == bwrap_options().end()) {
            std::string why = "bwrap has no option for " + v.name + " namespaces";
            reg("BM_Bwrap/" + v.name, [why](benchmark::State& s) { s.SkipWithError(why.c_str()); });
            continue;
        }
        std::vector<std::string> args = it->second;
        for (const char* a : {"--dev-bind", "/", "/", "true"}) args.push_back(a);
        reg("BM_Bwrap/" + v.name, [args](benchmark::State& s) { tool_bench(s, "bwrap", args); });
    }
}

}  // namespace nslab::bench
