#include "common.hpp"

#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/namespace_kind.hpp"

namespace nslab::bench {

std::vector<Variant> variants(unsigned which) {
    std::vector<Variant> out;
    if (which & kWithNone) out.push_back({"none", 0, 0});
    Variant all{"all", 0, 0};
    for (auto& k : core::namespace_kinds()) {
        if (!core::kernel_has(k.ns)) continue;
        out.push_back({std::string(k.name), core::ns_bit(k.ns), k.clone_flag});
        all.mask |= core::ns_bit(k.ns);
    }
    all.flags = core::clone_flags_of(all.mask);
    if (which & kWithAll) out.push_back(all);
    return out;
}

Variant lab_variant() {
    Variant v{"lab", 0, 0};
    for (auto ns : {core::Ns::mnt, core::Ns::uts, core::Ns::ipc, core::Ns::pid, core::Ns::net, core::Ns::cgroup})
        if (core::kernel_has(ns)) v.mask |= core::ns_bit(ns);
    v.flags = core::clone_flags_of(v.mask);
    return v;
}

namespace {
double percentile(std::vector<double>& v, double q) {
    if (v.empty()) return 0;
    size_t k = static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
    std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
    return v[k];
}
}  // namespace

void Samples::finish(bool per_thread) {
    auto flags = per_thread ? benchmark::Counter::kAvgThreads : benchmark::Counter::kDefaults;
    state_.counters["p50_us"] = benchmark::Counter(percentile(ns_, 0.5) / 1e3, flags);
    state_.counters["p90_us"] = benchmark::Counter(percentile(ns_, 0.9) / 1e3, flags);
}

void add_rate(benchmark::State& state) {
    state.counters["ops/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

double children_cpu_us() {
    struct rusage ru {};
    ::getrusage(RUSAGE_CHILDREN, &ru);
    auto us = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) * 1e6 + static_cast<double>(tv.tv_usec); };
    return us(ru.ru_utime) + us(ru.ru_stime);
}

void ChildCpu::finish(benchmark::State& state) const {
    if (state.iterations() == 0) return;
    state.counters["child_cpu_us"] =
        benchmark::Counter((children_cpu_us() - start_) / static_cast<double>(state.iterations()));
}

long raw_clone3(uint64_t flags, int* pidfd) {
    struct clone_args args {};
    args.flags = flags;
    args.exit_signal = SIGCHLD;
    if (pidfd) args.pidfd = reinterpret_cast<uint64_t>(pidfd);
    long r = ::syscall(SYS_clone3, &args, sizeof args);
    return r < 0 ? -errno : r;
}

int wait_child(pid_t pid) {
    int status = 0;
    for (;;) {
        if (::waitpid(pid, &status, 0) == pid) return status;
        if (errno != EINTR) return -errno;
    }
}

std::string errno_text(int err) {
    const char* name = strerrorname_np(err);
    return std::string(name ? name : "E?") + " (" + strerror(err) + ")";
}

// ---- the helper ----------------------------------------------------------------------------

namespace {
void write_all(int fd, const void* data, size_t len) {
    auto* p = static_cast<const char*>(data);
    while (len > 0) {
        ssize_t n = ::write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            ::_exit(2);  // the benchmark went away
        }
        p += n;
        len -= static_cast<size_t>(n);
    }
}
}  // namespace

void Sink::sample(double ns) {
    buf_.push_back(ns);
    if (buf_.size() >= 1024) flush();
}

void Sink::sample_now(double ns) { write_all(fd_, &ns, sizeof ns); }

void Sink::flush() {
    if (!buf_.empty()) write_all(fd_, buf_.data(), buf_.size() * sizeof(double));
    buf_.clear();
}

void Sink::fail(const std::string& what, int err) {
    flush();
    double marker = std::numeric_limits<double>::quiet_NaN();
    std::string text = err ? what + ": " + errno_text(err) : what;
    write_all(fd_, &marker, sizeof marker);
    write_all(fd_, text.data(), text.size());
    ::_exit(1);
}

void Sink::in_grandchild(const std::function<void()>& fn) {
    flush();
    pid_t pid = ::fork();
    if (pid < 0) fail("fork", errno);
    if (pid == 0) {
        buf_.clear();
        fn();
        flush();
        ::_exit(0);
    }
    int st = wait_child(pid);
    if (st < 0) fail("waitpid", -st);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 1) ::_exit(1);  // it reported why
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail("a grandchild of the helper ended with status " + std::to_string(st), 0);
}

HelperResult run_helper(const std::function<void(Sink&)>& body) {
    HelperResult r;
    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0) return {{}, "pipe2: " + errno_text(errno)};
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) {
        ::close(p[0]);
        ::close(p[1]);
        return {{}, "fork: " + errno_text(errno)};
    }
    if (pid == 0) {
        ::close(p[0]);
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(2);
        Sink sink(p[1]);
        try {
            body(sink);
        } catch (const std::exception& e) {
            sink.fail(std::string("exception: ") + e.what(), 0);
        }
        sink.flush();
        ::_exit(0);
    }
    ::close(p[1]);
    std::string bytes;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(p[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        bytes.append(buf, static_cast<size_t>(n));
    }
    ::close(p[0]);
    int st = wait_child(pid);
    size_t i = 0;
    for (; i + sizeof(double) <= bytes.size(); i += sizeof(double)) {
        double d;
        std::memcpy(&d, bytes.data() + i, sizeof d);
        if (std::isnan(d)) {
            r.error = bytes.substr(i + sizeof(double));
            break;
        }
        r.samples.push_back(d);
    }
    if (r.error.empty() && !(WIFEXITED(st) && WEXITSTATUS(st) == 0))
        r.error = "the helper process ended with wait status " + std::to_string(st);
    return r;
}

void run_helper_benchmark(benchmark::State& state, const std::function<void(Sink&, int64_t)>& body,
                          const std::vector<std::string>& extra) {
    const int64_t n = state.max_iterations;
    const size_t per = 1 + extra.size();
    HelperResult r = run_helper([&](Sink& s) { body(s, n); });
    if (r.error.empty() && r.samples.size() < static_cast<size_t>(n) * per)
        r.error = "the helper reported " + std::to_string(r.samples.size()) + " of " +
                  std::to_string(static_cast<size_t>(n) * per) + " values";
    if (!r.error.empty()) {
        state.SkipWithError(r.error.c_str());
        return;
    }
    Samples samples(state);
    std::vector<double> sums(extra.size(), 0);
    size_t i = 0;
    for (auto _ : state) {
        samples.add(r.samples[i * per]);
        for (size_t j = 0; j < extra.size(); ++j) sums[j] += r.samples[i * per + 1 + j];
        ++i;
    }
    samples.finish();
    add_rate(state);
    for (size_t j = 0; j < extra.size(); ++j)
        state.counters[extra[j]] = benchmark::Counter(sums[j] / 1e3 / static_cast<double>(n));
}

PinToOneCpu::PinToOneCpu() {
    static_assert(sizeof(old_) >= sizeof(cpu_set_t));
    auto* old = reinterpret_cast<cpu_set_t*>(old_);
    saved_ = ::sched_getaffinity(0, sizeof(cpu_set_t), old) == 0;
    cpu_ = ::sched_getcpu();
    if (cpu_ < 0) return;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu_, &one);
    if (::sched_setaffinity(0, sizeof one, &one) != 0) cpu_ = -1;
}

PinToOneCpu::~PinToOneCpu() {
    if (saved_) (void)::sched_setaffinity(0, sizeof(cpu_set_t), reinterpret_cast<cpu_set_t*>(old_));
}

int map_root_to_root_self() {
    auto put = [](const char* path, const char* text) {
        int fd = ::open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0) return -errno;
        ssize_t n = ::write(fd, text, std::strlen(text));
        int e = errno;
        ::close(fd);
        return n < 0 ? -e : 0;
    };
    // user_namespaces(7): setgroups must be denied before an unprivileged gid_map write.
    if (int r = put("/proc/self/setgroups", "deny")) return r;
    if (int r = put("/proc/self/uid_map", "0 0 1")) return r;
    return put("/proc/self/gid_map", "0 0 1");
}

}  // namespace nslab::bench
