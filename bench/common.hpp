// Shared pieces of nslab_bench: the namespace variants (from the core table), per-iteration samples
// reported as manual time with p50/p90 counters, raw clone3, and the forked helper process that runs
// namespace-changing loops so that the benchmark process itself never changes its namespaces.
#pragma once

#include <benchmark/benchmark.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace nslab::bench {

// ---- variants -------------------------------------------------------------------------------
// One per namespace kind of core::namespace_kinds(), plus "none" (flags 0) and "all" (every kind
// the kernel has). `mask` is in core::ns_bit() terms, `flags` the CLONE_NEW* bits.
struct Variant {
    std::string name;
    unsigned mask = 0;
    int flags = 0;
};
enum VariantSet : unsigned { kWithNone = 1, kWithAll = 2 };
std::vector<Variant> variants(unsigned which);
// The namespaces an nslab lab is made of (launch::start_lab, as root): mnt uts ipc pid net cgroup.
Variant lab_variant();

// ---- clocks ---------------------------------------------------------------------------------
inline double now_ns() {
    struct timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// ---- samples --------------------------------------------------------------------------------
// Every benchmark times each iteration itself (UseManualTime): a parent blocked in waitpid or in a
// socket read accrues no CPU time, and a helper process reports durations measured inside it.
// finish() adds the per-repetition percentiles p50_us and p90_us as counters.
class Samples {
public:
    explicit Samples(benchmark::State& state) : state_(state) { ns_.reserve(static_cast<size_t>(state.max_iterations)); }
    // Records one iteration; call once per loop turn.
    void add(double ns) {
        state_.SetIterationTime(ns * 1e-9);
        ns_.push_back(ns);
    }
    void finish(bool per_thread = false);

private:
    benchmark::State& state_;
    std::vector<double> ns_;
};

// Adds the counter "ops/s": iterations per second of measured (manual) time.
void add_rate(benchmark::State& state);

// getrusage(RUSAGE_CHILDREN) user+sys in µs: reaped children (and what they reaped).
double children_cpu_us();
class ChildCpu {
public:
    ChildCpu() : start_(children_cpu_us()) {}
    // Sets counter child_cpu_us: reaped children's CPU per iteration.
    void finish(benchmark::State& state) const;

private:
    double start_;
};

// ---- processes ------------------------------------------------------------------------------
// clone3(2) with SIGCHLD as exit signal; pidfd filled when flags has CLONE_PIDFD. Returns the pid (0 in
// the child) or -errno. The child of a copy of this process may only make system calls.
long raw_clone3(uint64_t flags, int* pidfd = nullptr);
// Waits for pid; returns its wait status or -errno.
int wait_child(pid_t pid);
// "Skipped: <reason>" helpers use this: strerror with the errno name.
std::string errno_text(int err);

// A forked helper process that produces one sample (ns) per benchmark iteration. The body runs in
// the forked child (a copy of this single-threaded process); it reports each sample through the
// Sink (also from grandchildren it forks: a sample is one 8-byte write, atomic on a pipe) and calls
// fail() on error. The helper is killed if the benchmark process dies.
class Sink {
public:
    explicit Sink(int fd) : fd_(fd) {}
    void sample(double ns);          // buffered
    void sample_now(double ns);      // unbuffered: for grandchildren that _exit next
    void flush();
    [[noreturn]] void fail(const std::string& what, int err);
    // Forks a grandchild that runs fn (which must report its sample with sample_now) and waits
    // for it; fails the helper if the grandchild fails.
    void in_grandchild(const std::function<void()>& fn);

private:
    int fd_;
    std::vector<double> buf_;
};

struct HelperResult {
    std::vector<double> samples;
    std::string error;  // non-empty: the helper failed
};
HelperResult run_helper(const std::function<void(Sink&)>& body);

// Runs the helper for state.max_iterations iterations and reports them as iteration times; skips the
// benchmark with the helper's error. Per iteration the body sends 1 + extra.size() values (ns): the
// iteration time, then one value per name in `extra`, reported as counters (mean, in µs).
void run_helper_benchmark(benchmark::State& state, const std::function<void(Sink&, int64_t n)>& body,
                          const std::vector<std::string>& extra = {});

// Single-line id maps 0 -> 0 for a process that has just unshared a user namespace (its own
// /proc/self files): lets it create the next nested user namespace. Returns 0 or -errno.
int map_root_to_root_self();

// Samples per repetition for benchmarks that fork a process per sample: Google Benchmark sizes a run
// by the time measured, which here is a small part of the wall time (the fork is not timed).
inline constexpr int64_t kForkPerSampleIterations = 300;

// Pins this process (and so every child it starts from now on) to the CPU it runs on, and restores
// the affinity on destruction. On this VM a halted idle vCPU takes ~80 µs to wake, so a round trip
// between two processes on two CPUs pays that twice; the *_1cpu variants take it out.
class PinToOneCpu {
public:
    PinToOneCpu();
    ~PinToOneCpu();
    PinToOneCpu(const PinToOneCpu&) = delete;
    PinToOneCpu& operator=(const PinToOneCpu&) = delete;
    int cpu() const { return cpu_; }

private:
    int cpu_ = -1;
    bool saved_ = false;
    unsigned char old_[128] = {};  // a cpu_set_t
};

// exec of an agent binary that exits at once (its --fd is not open): exec, loading and static
// initialisers, timed per sample (nslab_bench.cpp).
void agent_exec_of(benchmark::State& state, const std::string& agent);

// ---- registration ---------------------------------------------------------------------------
void register_kernel_benchmarks();
void register_nslab_benchmarks();
void register_peer_benchmarks();
void register_breakdown_benchmarks();

}  // namespace nslab::bench
