// The kernel's own costs, per namespace kind: the floors nslab is measured against.
//   BM_Clone3/<kind>        clone3(CLONE_NEW<kind>) -> child _exit -> waitpid, from this process
//   BM_Unshare/<kind>       unshare(CLONE_NEW<kind>) in a loop, in a forked helper
//   BM_NsCreate/<kind>      clone3 of a child that holds the namespaces, until it runs
//   BM_NsRelease/<kind>     SIGKILL + waitpid of that holder (the synchronous part of teardown)
//   BM_Setns/<kind>         setns(nsfd) into an existing namespace, in a forked helper
//   BM_Setns/all_pidfd      setns(pidfd, every CLONE_NEW* flag at once)
//   BM_Clone3x2/<kind>      two threads each running the BM_Clone3 loop (2 cores)
//   BM_NestedPid/<depth>    clone3(CLONE_NEWPID) from a process at PID-namespace level depth-1
//   BM_NestedUser/<depth>   clone3(CLONE_NEWUSER) from a process at user-namespace level depth-1
//   BM_MntCopy/<mounts>     clone3(CLONE_NEWNS) -> exit -> wait with N extra mounts to copy
// The benchmark process never changes its own namespaces: everything that does runs in a child.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <string>

#include "common.hpp"
#include "core/namespace_kind.hpp"

namespace nslab::bench {
namespace {

// Network namespaces are torn down asynchronously (cleanup_net in a kworker): a loop that made many
// leaves CPU work behind that would slow the next benchmark. Untimed pause, ~0.5 ms per namespace
// made, at most 2 s.
void settle_after_net(const Variant& v, int64_t made) {
    if (!(v.flags & CLONE_NEWNET) || made <= 0) return;
    auto us = std::min<int64_t>(2'000'000, made * 500);
    ::usleep(static_cast<useconds_t>(us));
}

// ---- clone3 -> _exit -> waitpid ---------------------------------------------------------------

void clone3_exit_wait(benchmark::State& state, const Variant& v, bool threaded) {
    ChildCpu cpu;
    Samples samples(state);
    for (auto _ : state) {
        double t0 = now_ns();
        long pid = raw_clone3(static_cast<uint64_t>(v.flags));
        if (pid == 0) ::_exit(0);
        if (pid < 0) {
            state.SkipWithError(("clone3: " + errno_text(static_cast<int>(-pid))).c_str());
            break;
        }
        wait_child(static_cast<pid_t>(pid));
        samples.add(now_ns() - t0);
    }
    samples.finish(threaded);
    add_rate(state);
    // RUSAGE_CHILDREN is per process: with two threads each would count the other's children.
    if (!threaded) cpu.finish(state);
    settle_after_net(v, state.iterations());
}

// ---- unshare() in a loop, in a helper ----------------------------------------------------------

void unshare_loop(benchmark::State& state, const Variant& v) {
    run_helper_benchmark(state, [&](Sink& sink, int64_t n) {
        auto once = [&] {
            double t0 = now_ns();
            int r = ::unshare(v.flags);
            double t1 = now_ns();
            if (r < 0) sink.fail("unshare(" + v.name + ")", errno);
            sink.sample(t1 - t0);
        };
        if (v.flags & CLONE_NEWPID) {
            // pid_namespaces(7): a second unshare(CLONE_NEWPID) fails (EINVAL) once pid_for_children
            // differs from the active namespace, so each sample is one unshare in a fresh process.
            for (int64_t i = 0; i < n; ++i) sink.in_grandchild(once);
        } else if (v.flags & CLONE_NEWUSER) {
            // user_namespaces(7): nesting stops at 32 levels (EUSERS) and an unmapped caller cannot
            // create the next level (EPERM). So: batches of 30 per process, mapping root to root
            // (untimed) between two unshares.
            for (int64_t done = 0; done < n;) {
                int64_t batch = std::min<int64_t>(30, n - done);
                sink.in_grandchild([&] {
                    for (int64_t j = 0; j < batch; ++j) {
                        once();
                        if (int r = map_root_to_root_self()) sink.fail("writing the id maps", -r);
                    }
                });
                done += batch;
            }
        } else {
            // Each unshare also drops the namespace the previous one made (its last user).
            for (int64_t i = 0; i < n; ++i) once();
        }
    });
    settle_after_net(v, state.iterations());
}

// ---- create and hold, then release -------------------------------------------------------------

void hold_release(benchmark::State& state, const Variant& v, bool time_release) {
    ChildCpu cpu;
    Samples samples(state);
    double clone3_total = 0, other_total = 0;
    for (auto _ : state) {
        int ready[2];
        if (::pipe2(ready, O_CLOEXEC) < 0) {
            state.SkipWithError(("pipe2: " + errno_text(errno)).c_str());
            break;
        }
        double t0 = now_ns();
        long pid = raw_clone3(static_cast<uint64_t>(v.flags));
        if (pid == 0) {
            // The holder: say it runs, then wait to be killed.
            char c = 1;
            (void)::write(ready[1], &c, 1);
            for (;;) ::pause();
        }
        double t1 = now_ns();
        ::close(ready[1]);
        if (pid < 0) {
            ::close(ready[0]);
            state.SkipWithError(("clone3: " + errno_text(static_cast<int>(-pid))).c_str());
            break;
        }
        char c;
        (void)::read(ready[0], &c, 1);
        double t2 = now_ns();
        ::close(ready[0]);
        ::kill(static_cast<pid_t>(pid), SIGKILL);
        wait_child(static_cast<pid_t>(pid));
        double t3 = now_ns();
        clone3_total += t1 - t0;
        samples.add(time_release ? t3 - t2 : t2 - t0);
        other_total += time_release ? t2 - t0 : t3 - t2;
    }
    samples.finish();
    add_rate(state);
    cpu.finish(state);
    if (state.iterations() > 0) {
        double n = static_cast<double>(state.iterations());
        state.counters["clone3_us"] = clone3_total / 1e3 / n;
        state.counters[time_release ? "create_us" : "release_us"] = other_total / 1e3 / n;
    }
    settle_after_net(v, state.iterations());
}

// ---- setns into an existing namespace ----------------------------------------------------------

struct Holder {
    pid_t pid = -1;
    int pidfd = -1;
    std::string error;
    ~Holder() {
        if (pid > 0) {
            ::kill(pid, SIGKILL);
            wait_child(pid);
        }
        if (pidfd >= 0) ::close(pidfd);
    }
};

// A child in new namespaces (flags) that waits to be killed.
void start_holder(Holder& h, int flags) {
    int ready[2];
    if (::pipe2(ready, O_CLOEXEC) < 0) {
        h.error = "pipe2: " + errno_text(errno);
        return;
    }
    long pid = raw_clone3(static_cast<uint64_t>(flags) | CLONE_PIDFD, &h.pidfd);
    if (pid == 0) {
        char c = 1;
        (void)::write(ready[1], &c, 1);
        for (;;) ::pause();
    }
    ::close(ready[1]);
    if (pid < 0) {
        h.error = "clone3: " + errno_text(static_cast<int>(-pid));
    } else {
        h.pid = static_cast<pid_t>(pid);
        char c;
        (void)::read(ready[0], &c, 1);
    }
    ::close(ready[0]);
}

void setns_bench(benchmark::State& state, const Variant& v, bool by_pidfd) {
    Holder holder;
    start_holder(holder, v.flags);
    if (!holder.error.empty()) {
        state.SkipWithError(holder.error.c_str());
        return;
    }
    int target = -1, orig = -1;
    if (by_pidfd) {
        target = holder.pidfd;
    } else {
        std::string path = "/proc/" + std::to_string(holder.pid) + "/ns/" + v.name;
        target = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        orig = ::open(("/proc/self/ns/" + v.name).c_str(), O_RDONLY | O_CLOEXEC);
        if (target < 0 || orig < 0) {
            state.SkipWithError(("open " + path + ": " + errno_text(errno)).c_str());
            if (target >= 0) ::close(target);
            if (orig >= 0) ::close(orig);
            return;
        }
    }
    run_helper_benchmark(state, [&](Sink& sink, int64_t n) {
        auto enter = [&] {
            double t0 = now_ns();
            int r = ::setns(target, v.flags);
            double t1 = now_ns();
            if (r < 0) sink.fail("setns(" + v.name + ")", errno);
            sink.sample(t1 - t0);
        };
        if (v.flags & CLONE_NEWUSER) {
            // user_namespaces(7): a process that entered a child user namespace has no capability
            // left in the parent, so it cannot setns back: one entry per fresh process. A fresh
            // process pays ~10 µs of first-touch costs on its first setns whatever the kind, so it
            // first re-enters its own UTS namespace (untimed), then enters the target (timed).
            int own_uts = ::open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
            if (own_uts < 0) sink.fail("open /proc/self/ns/uts", errno);
            for (int64_t i = 0; i < n; ++i)
                sink.in_grandchild([&] {
                    if (::setns(own_uts, CLONE_NEWUTS) < 0) sink.fail("warm-up setns(own uts)", errno);
                    enter();
                });
        } else {
            // Enter (timed), then go back to where we were (untimed), so every setns is a real change.
            for (int64_t i = 0; i < n; ++i) {
                enter();
                if (::setns(orig, v.flags) < 0) sink.fail("setns back to the original " + v.name, errno);
            }
        }
    });
    if (!by_pidfd) {
        ::close(target);
        ::close(orig);
    }
}

// ---- nesting ----------------------------------------------------------------------------------

void nested_pid(benchmark::State& state, int depth) {
    run_helper_benchmark(state, [&](Sink& sink, int64_t n) {
        // Descend: each level unshares CLONE_NEWPID and forks its pid 1, which goes on.
        for (int level = 1; level < depth; ++level) {
            if (::unshare(CLONE_NEWPID) < 0) sink.fail("unshare(CLONE_NEWPID) at level " + std::to_string(level), errno);
            pid_t c = ::fork();
            if (c < 0) sink.fail("fork at level " + std::to_string(level), errno);
            if (c > 0) {
                int st = wait_child(c);
                ::_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 3);
            }
        }
        for (int64_t i = 0; i < n; ++i) {
            double t0 = now_ns();
            long pid = raw_clone3(CLONE_NEWPID);
            if (pid == 0) ::_exit(0);
            if (pid < 0) sink.fail("clone3(CLONE_NEWPID) at depth " + std::to_string(depth), static_cast<int>(-pid));
            wait_child(static_cast<pid_t>(pid));
            sink.sample(now_ns() - t0);
        }
    });
}

void nested_user(benchmark::State& state, int depth) {
    run_helper_benchmark(state, [&](Sink& sink, int64_t n) {
        for (int level = 1; level < depth; ++level) {
            if (::unshare(CLONE_NEWUSER) < 0) sink.fail("unshare(CLONE_NEWUSER) at level " + std::to_string(level), errno);
            if (int r = map_root_to_root_self()) sink.fail("id maps at level " + std::to_string(level), -r);
        }
        for (int64_t i = 0; i < n; ++i) {
            double t0 = now_ns();
            long pid = raw_clone3(CLONE_NEWUSER);
            if (pid == 0) ::_exit(0);
            if (pid < 0) sink.fail("clone3(CLONE_NEWUSER) at depth " + std::to_string(depth), static_cast<int>(-pid));
            wait_child(static_cast<pid_t>(pid));
            sink.sample(now_ns() - t0);
        }
    });
}

// ---- mount namespace copy cost -------------------------------------------------------------------

int count_lines(const char* path) {
    std::ifstream in(path);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) ++n;
    return n;
}

void mnt_copy(benchmark::State& state, int mounts) {
    run_helper_benchmark(
        state,
        [&](Sink& sink, int64_t n) {
            // A private mount namespace of the helper's own, with a tmpfs holding `mounts` more tmpfs.
            if (::unshare(CLONE_NEWNS) < 0) sink.fail("unshare(CLONE_NEWNS)", errno);
            if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0) sink.fail("making / private", errno);
            if (::mount("nslab-bench", "/tmp", "tmpfs", 0, "size=1m") < 0) sink.fail("mounting a tmpfs on /tmp", errno);
            for (int i = 0; i < mounts; ++i) {
                std::string dir = "/tmp/m" + std::to_string(i);
                if (::mkdir(dir.c_str(), 0755) < 0) sink.fail("mkdir " + dir, errno);
                if (::mount("nslab-bench", dir.c_str(), "tmpfs", 0, "size=4k") < 0) sink.fail("mounting " + dir, errno);
            }
            for (int64_t i = 0; i < n; ++i) {
                double t0 = now_ns();
                long pid = raw_clone3(CLONE_NEWNS);
                if (pid == 0) ::_exit(0);
                double t1 = now_ns();
                if (pid < 0) sink.fail("clone3(CLONE_NEWNS)", static_cast<int>(-pid));
                wait_child(static_cast<pid_t>(pid));
                sink.sample(now_ns() - t0);
                sink.sample(t1 - t0);
            }
        },
        {"clone3_us"});
    state.counters["mounts"] = count_lines("/proc/self/mountinfo") + 1 + mounts;
}

template <typename Fn>
benchmark::internal::Benchmark* reg(const std::string& name, Fn&& fn) {
    return benchmark::RegisterBenchmark(name.c_str(), std::forward<Fn>(fn))->UseManualTime()->Unit(benchmark::kMicrosecond);
}

}  // namespace

void register_kernel_benchmarks() {
    auto all = variants(kWithNone | kWithAll);
    auto kinds_all = variants(kWithAll);
    auto with_lab = all;
    with_lab.push_back(lab_variant());

    for (auto& v : with_lab)
        reg("BM_Clone3/" + v.name, [v](benchmark::State& s) { clone3_exit_wait(s, v, false); });
    for (auto& v : kinds_all) {
        auto* b = reg("BM_Unshare/" + v.name, [v](benchmark::State& s) { unshare_loop(s, v); });
        if (v.flags & CLONE_NEWPID) b->Iterations(kForkPerSampleIterations);  // a process per sample
    }
    for (auto& v : kinds_all)
        reg("BM_NsCreate/" + v.name, [v](benchmark::State& s) { hold_release(s, v, false); });
    for (auto& v : kinds_all)
        reg("BM_NsRelease/" + v.name, [v](benchmark::State& s) { hold_release(s, v, true); });
    for (auto& v : variants(0)) {
        auto* b = reg("BM_Setns/" + v.name, [v](benchmark::State& s) { setns_bench(s, v, false); });
        if (v.flags & CLONE_NEWUSER) b->Iterations(kForkPerSampleIterations);  // a process per sample
    }
    Variant every = kinds_all.back();
    reg("BM_Setns/all_pidfd", [every](benchmark::State& s) { setns_bench(s, every, true); })
        ->Iterations(kForkPerSampleIterations);
    // The floor with every process on one CPU (see PinToOneCpu).
    for (auto& v : variants(0))
        if (v.name == "uts")
            reg("BM_Clone3/uts_1cpu", [v](benchmark::State& s) {
                PinToOneCpu pin;
                clone3_exit_wait(s, v, false);
            });
    for (auto& v : with_lab)
        reg("BM_Clone3x2/" + v.name, [v](benchmark::State& s) { clone3_exit_wait(s, v, true); })->Threads(2);
    for (int d : {1, 8, 32}) reg("BM_NestedPid/" + std::to_string(d), [d](benchmark::State& s) { nested_pid(s, d); });
    for (int d : {1, 8, 32}) reg("BM_NestedUser/" + std::to_string(d), [d](benchmark::State& s) { nested_user(s, d); });
    for (int m : {0, 10, 100, 1000}) reg("BM_MntCopy/" + std::to_string(m), [m](benchmark::State& s) { mnt_copy(s, m); });
}

}  // namespace nslab::bench
