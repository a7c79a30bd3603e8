// Where nslab's time goes: the same work as the nslab families, taken apart.
//   BM_PingPong/<how>          one request/reply between two processes over SOCK_SEQPACKET:
//                              raw         recvmsg into a reused buffer, a 27-byte message
//                              sys         nslab's sys::send_message / sys::recv_message(kMaxMessage)
//                              agent       nslab's agent::send / agent::receive (poll, JSON, the above)
//                              json_reuse  the agent protocol's JSON, but recvmsg into a reused buffer
//                              fresh_1mib  raw, but each receive into a fresh zero-filled 1 MiB string,
//                                          as sys::recv_message did before commit 011f6ad
//                              raw_1cpu, agent_1cpu: both processes on one CPU (no idle-vCPU wake-up)
//   BM_NslabRealmPhases/<kind> the built-in launcher's two steps, done by hand with the public
//                              AgentClient: spawn_reply_us (the spawn_realm call returns the pidfd and
//                              socket) and hello_us (the new agent's hello arrives)
//   BM_NslabLabStart/<agent>   start_lab + teardown with a differently linked nslab-agent (dynamic,
//                              static_libstdcxx; the one nslab uses is static, NSLAB_STATIC_AGENT)
//   BM_NslabAgentExec/<agent>  exec of that agent alone
//   BM_NslabRealmStartAgent/<agent>/uts  BM_NslabRealmStart/uts in a lab run by that agent
//   BM_FreshChild/<piece>      one piece of a realm's own start-up, timed in a freshly forked process:
//                              nothing, touch_64k (16 copy-on-write faults), pidfd_open,
//                              open_namespaces (core::open_namespaces), pidfd_ns_ioctls (the same fds
//                              through ioctl(PIDFD_GET_*_NAMESPACE), Linux 6.11+), send_hello (agent::send_hello)
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "agent/agent.hpp"
#include "agent/protocol.hpp"
#include "common.hpp"
#include "launch/lab.hpp"
#include "launch/launcher.hpp"
#include "sys/syscalls.hpp"

extern char** environ;

namespace nslab::bench {
namespace {

using namespace std::chrono_literals;

enum class How { raw, sys, agent, json_reuse, fresh_1mib };

// sys::recv_message before commit 011f6ad: a fresh zero-filled 1 MiB string per datagram.
ssize_t recv_fresh_1mib(int sock) {
    std::string bytes;
    bytes.resize(agent::kMaxMessage);
    ssize_t n = ::recv(sock, bytes.data(), bytes.size(), 0);
    if (n >= 0) bytes.resize(static_cast<size_t>(n));
    benchmark::DoNotOptimize(bytes.data());
    return n;
}

constexpr char kRequest[] = R"({"args":{},"op":"hostname"})";

// Echo peer: answers every message with a reply of about the size the agent sends for hostname.
[[noreturn]] void echo_loop(int sock, How how) {
    static char buf[65536];
    for (;;) {
        switch (how) {
            case How::raw: {
                ssize_t n = ::recv(sock, buf, sizeof buf, 0);
                if (n <= 0) ::_exit(0);
                const char reply[] = R"({"ok":true,"value":"vm"})";
                if (::send(sock, reply, sizeof reply - 1, MSG_NOSIGNAL) < 0) ::_exit(0);
                break;
            }
            case How::sys: {
                auto m = sys::recv_message(sock, agent::kMaxMessage);
                if (!m.ok() || m->bytes.empty()) ::_exit(0);
                if (!sys::send_message(sock, R"({"ok":true,"value":"vm"})", {}).ok()) ::_exit(0);
                break;
            }
            case How::agent: {
                auto m = agent::receive(sock, -1);
                if (!m.ok() || m->eof) ::_exit(0);
                if (!agent::send(sock, agent::ok_reply("vm")).ok()) ::_exit(0);
                break;
            }
            case How::fresh_1mib: {
                if (recv_fresh_1mib(sock) <= 0) ::_exit(0);
                const char reply[] = R"({"ok":true,"value":"vm"})";
                if (::send(sock, reply, sizeof reply - 1, MSG_NOSIGNAL) < 0) ::_exit(0);
                break;
            }
            case How::json_reuse: {
                struct pollfd p {sock, POLLIN, 0};
                (void)::poll(&p, 1, -1);
                ssize_t n = ::recv(sock, buf, sizeof buf, 0);
                if (n <= 0) ::_exit(0);
                auto body = agent::decode(std::string_view(buf, static_cast<size_t>(n)));
                if (!body.ok()) ::_exit(1);
                std::string out = agent::ok_reply("vm").dump();
                if (::send(sock, out.data(), out.size(), MSG_NOSIGNAL) < 0) ::_exit(0);
                break;
            }
        }
    }
}

void ping_pong(benchmark::State& state, How how) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        state.SkipWithError(("socketpair: " + errno_text(errno)).c_str());
        return;
    }
    pid_t pid = ::fork();
    if (pid == 0) {
        ::close(sv[0]);
        echo_loop(sv[1], how);
    }
    ::close(sv[1]);
    int sock = sv[0];
    static char buf[65536];
    Samples samples(state);
    const agent::json request = agent::json::parse(kRequest);
    for (auto _ : state) {
        double t0 = now_ns();
        bool ok = true;
        switch (how) {
            case How::raw:
                ok = ::send(sock, kRequest, sizeof kRequest - 1, MSG_NOSIGNAL) > 0 && ::recv(sock, buf, sizeof buf, 0) > 0;
                break;
            case How::sys: {
                ok = sys::send_message(sock, kRequest, {}).ok();
                auto m = sys::recv_message(sock, agent::kMaxMessage);
                ok = ok && m.ok() && !m->bytes.empty();
                break;
            }
            case How::agent: {
                ok = agent::send(sock, request).ok();
                auto m = agent::receive(sock, 10000);
                ok = ok && m.ok() && !m->eof;
                break;
            }
            case How::fresh_1mib:
                ok = ::send(sock, kRequest, sizeof kRequest - 1, MSG_NOSIGNAL) > 0 && recv_fresh_1mib(sock) > 0;
                break;
            case How::json_reuse: {
                std::string out = request.dump();
                ok = ::send(sock, out.data(), out.size(), MSG_NOSIGNAL) > 0;
                struct pollfd p {sock, POLLIN, 0};
                (void)::poll(&p, 1, 10000);
                ssize_t n = ::recv(sock, buf, sizeof buf, 0);
                ok = ok && n > 0 && agent::decode(std::string_view(buf, static_cast<size_t>(n))).ok();
                break;
            }
        }
        double t1 = now_ns();
        if (!ok) {
            state.SkipWithError("the echo peer failed");
            break;
        }
        samples.add(t1 - t0);
    }
    ::close(sock);
    wait_child(pid);
    samples.finish();
    add_rate(state);
}

agent::Deadline soon() { return agent::Clock::now() + 10s; }

void realm_phases(benchmark::State& state, const Variant& v) {
    auto lab = launch::start_lab({.user_namespace = ::geteuid() != 0}, soon());
    if (!lab.ok()) {
        state.SkipWithError(("starting the lab: " + lab.error().describe()).c_str());
        return;
    }
    agent::json kinds = agent::json::array();
    for (auto& k : core::namespace_kinds())
        if (v.mask & core::ns_bit(k.ns)) kinds.push_back(k.name);
    // What BuiltinLauncher::start sends for a RealmPlan with only new_mask set.
    const agent::json args{{"new", kinds}, {"join", agent::json::array()}, {"propagation", "private"}, {"mount_proc", false}};
    Samples samples(state);
    double reply_total = 0, hello_total = 0;
    for (auto _ : state) {
        double t0 = now_ns();
        auto reply = lab->client.call("spawn_realm", args, soon());
        double t1 = now_ns();
        if (!reply.ok() || !reply->ok || reply->fds.size() != 2) {
            state.SkipWithError(!reply.ok() ? reply.error().describe().c_str()
                                            : !reply->ok ? reply->error.describe().c_str() : "spawn_realm: not 2 fds");
            break;
        }
        agent::AgentClient client(std::move(reply->fds[1]), "realm A");
        auto hello = client.read_hello(soon());
        double t2 = now_ns();
        if (!hello.ok()) {
            state.SkipWithError(hello.error().describe().c_str());
            break;
        }
        samples.add(t2 - t0);
        reply_total += t1 - t0;
        hello_total += t2 - t1;
        client.close();
        int pidfd = reply->fds[0].get();
        (void)::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
        struct pollfd p {pidfd, POLLIN, 0};
        (void)::poll(&p, 1, 5000);
    }
    samples.finish();
    add_rate(state);
    if (state.iterations() > 0) {
        double n = static_cast<double>(state.iterations());
        state.counters["spawn_reply_us"] = reply_total / 1e3 / n;
        state.counters["hello_us"] = hello_total / 1e3 / n;
    }
}

std::string beside_self(const std::string& name) {
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return name;
    std::string self(buf, static_cast<size_t>(n));
    return self.substr(0, self.rfind('/') + 1) + name;
}

void lab_start_with(benchmark::State& state, const std::string& agent_name) {
    std::string agent = beside_self(agent_name);
    if (::access(agent.c_str(), X_OK) != 0) {
        state.SkipWithError((agent + " was not built").c_str());
        return;
    }
    Samples samples(state);
    double start_total = 0, teardown_total = 0;
    for (auto _ : state) {
        double t0 = now_ns();
        auto lab = launch::start_lab({.user_namespace = ::geteuid() != 0, .agent_path = agent}, soon());
        double t1 = now_ns();
        if (!lab.ok()) {
            state.SkipWithError(("starting the lab: " + lab.error().describe()).c_str());
            break;
        }
        lab->init.kill_and_reap();
        lab->client.close();
        double t2 = now_ns();
        samples.add(t2 - t0);
        start_total += t1 - t0;
        teardown_total += t2 - t1;
    }
    samples.finish();
    add_rate(state);
    if (state.iterations() > 0) {
        double n = static_cast<double>(state.iterations());
        state.counters["start_us"] = start_total / 1e3 / n;
        state.counters["teardown_us"] = teardown_total / 1e3 / n;
    }
}

// BM_NslabRealmStart/uts in a lab whose agent is linked otherwise: a dynamic agent's fork has more
// mappings to copy and more shared-library pages to fault in before its hello.
void realm_start_with(benchmark::State& state, const std::string& agent_name, unsigned mask) {
    std::string agent = beside_self(agent_name);
    if (::access(agent.c_str(), X_OK) != 0) {
        state.SkipWithError((agent + " was not built").c_str());
        return;
    }
    auto lab = launch::start_lab({.user_namespace = ::geteuid() != 0, .agent_path = agent}, soon());
    if (!lab.ok()) {
        state.SkipWithError(("starting the lab: " + lab.error().describe()).c_str());
        return;
    }
    auto launcher = launch::make_builtin_launcher();
    Samples samples(state);
    for (auto _ : state) {
        double t0 = now_ns();
        auto realm = launcher->start(lab->client, {.name = "A", .new_mask = mask}, soon());
        double t1 = now_ns();
        if (!realm.ok()) {
            state.SkipWithError(realm.error().describe().c_str());
            break;
        }
        samples.add(t1 - t0);
        int pidfd = realm->hello.pidfd.get();
        realm->client.close();
        (void)::syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
        struct pollfd p {pidfd, POLLIN, 0};
        (void)::poll(&p, 1, 5000);
    }
    samples.finish();
    add_rate(state);
}

void agent_exec_with(benchmark::State& state, const std::string& agent_name) {
    std::string agent = beside_self(agent_name);
    if (::access(agent.c_str(), X_OK) != 0) {
        state.SkipWithError((agent + " was not built").c_str());
        return;
    }
    agent_exec_of(state, agent);
}

// ---- the realm's own work, in a fresh process ----------------------------------------------------
// A realm is a fork of its spawner that sets itself up and says hello; the clone3 floor's child only
// exits. Each sample here is one piece of that work, timed inside a freshly forked process (so with
// the same first-touch costs: copy-on-write faults, PLT lazy binding, new /proc/<pid> dentries).
enum class Piece { nothing, open_namespaces, pidfd_ns_ioctls, send_hello, touch_64k, pidfd_open };

// linux/pidfd.h (Linux 6.11+; Debian 12's headers are older): namespace fds straight from a pidfd.
constexpr unsigned long pidfd_get_ns_ioctl(core::Ns ns) {
    constexpr unsigned long kMagic = 0xFF;
    unsigned nr = 0;
    switch (ns) {
        case core::Ns::cgroup: nr = 1; break;
        case core::Ns::ipc: nr = 2; break;
        case core::Ns::mnt: nr = 3; break;
        case core::Ns::net: nr = 4; break;
        case core::Ns::pid: nr = 5; break;
        case core::Ns::time: nr = 7; break;
        case core::Ns::user: nr = 9; break;
        case core::Ns::uts: nr = 10; break;
    }
    return _IO(kMagic, nr);
}

void fresh_child(benchmark::State& state, Piece piece) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        state.SkipWithError(("socketpair: " + errno_text(errno)).c_str());
        return;
    }
    run_helper_benchmark(state, [&](Sink& sink, int64_t n) {
        static char drain[65536];
        for (int64_t i = 0; i < n; ++i) {
            sink.in_grandchild([&] {
                double t0 = now_ns();
                switch (piece) {
                    case Piece::nothing:
                        break;
                    case Piece::open_namespaces: {
                        auto set = core::open_namespaces();
                        if (!set.ok()) sink.fail(set.error().describe(), 0);
                        break;
                    }
                    case Piece::pidfd_ns_ioctls: {
                        // What core::open_namespaces() gets, without walking /proc: a pidfd of
                        // ourselves, one ioctl per kind, an fstat for the identity.
                        long pidfd = ::syscall(SYS_pidfd_open, ::getpid(), 0);
                        if (pidfd < 0) sink.fail("pidfd_open", errno);
                        for (auto& k : core::namespace_kinds()) {
                            int fd = ::ioctl(static_cast<int>(pidfd), pidfd_get_ns_ioctl(k.ns), 0);
                            if (fd < 0) sink.fail("ioctl(PIDFD_GET_*_NAMESPACE) for " + std::string(k.name), errno);
                            struct stat st;
                            if (::fstat(fd, &st) < 0) sink.fail("fstat", errno);
                        }
                        break;
                    }
                    case Piece::send_hello: {
                        auto h = agent::send_hello(sv[1], "realm");
                        if (!h.ok()) sink.fail(h.error().describe(), 0);
                        break;
                    }
                    case Piece::touch_64k: {
                        // 16 pages of the heap this process inherited: 16 copy-on-write faults.
                        static char heap_like[65536];
                        for (size_t off = 0; off < sizeof heap_like; off += 4096) heap_like[off] = 1;
                        benchmark::DoNotOptimize(heap_like[0]);
                        break;
                    }
                    case Piece::pidfd_open: {
                        long fd = ::syscall(SYS_pidfd_open, ::getpid(), 0);
                        if (fd < 0) sink.fail("pidfd_open", errno);
                        break;
                    }
                }
                sink.sample(now_ns() - t0);
            });
            if (piece == Piece::send_hello) {
                // Drain the hello (and close the fds it carried) outside the timing.
                auto m = sys::recv_message(sv[0], sizeof drain);
                if (m.ok())
                    for (int fd : m->fds) ::close(fd);
            }
        }
    });
    ::close(sv[0]);
    ::close(sv[1]);
}

template <typename Fn>
benchmark::internal::Benchmark* reg(const std::string& name, Fn&& fn) {
    return benchmark::RegisterBenchmark(name.c_str(), std::forward<Fn>(fn))->UseManualTime()->Unit(benchmark::kMicrosecond);
}

}  // namespace

void register_breakdown_benchmarks() {
    for (auto [name, how] : {std::pair{"raw", How::raw}, {"sys", How::sys}, {"agent", How::agent}, {"json_reuse", How::json_reuse},
                             {"fresh_1mib", How::fresh_1mib}})
        reg(std::string("BM_PingPong/") + name, [how = how](benchmark::State& s) { ping_pong(s, how); });
    for (auto [name, how] : {std::pair{"raw_1cpu", How::raw}, {"agent_1cpu", How::agent}})
        reg(std::string("BM_PingPong/") + name, [how = how](benchmark::State& s) {
            PinToOneCpu pin;
            ping_pong(s, how);
        });
    for (auto& v : variants(kWithNone | kWithAll))
        reg("BM_NslabRealmPhases/" + v.name, [v](benchmark::State& s) { realm_phases(s, v); });
    unsigned uts = core::ns_bit(core::Ns::uts);
    for (const char* a : {"dynamic", "static_libstdcxx"}) {
        std::string file = std::string("nslab-agent-") + a;
        reg(std::string("BM_NslabLabStart/") + a, [file](benchmark::State& s) { lab_start_with(s, file); });
        reg(std::string("BM_NslabAgentExec/") + a, [file](benchmark::State& s) { agent_exec_with(s, file); });
        reg(std::string("BM_NslabRealmStartAgent/") + a + "/uts",
            [file, uts](benchmark::State& s) { realm_start_with(s, file, uts); });
    }
    for (auto [name, piece] : {std::pair{"nothing", Piece::nothing}, {"touch_64k", Piece::touch_64k},
                               {"pidfd_open", Piece::pidfd_open}, {"open_namespaces", Piece::open_namespaces},
                               {"pidfd_ns_ioctls", Piece::pidfd_ns_ioctls},
                               {"send_hello", Piece::send_hello}})
        reg(std::string("BM_FreshChild/") + name, [piece = piece](benchmark::State& s) { fresh_child(s, piece); })
            ->Iterations(kForkPerSampleIterations);
}

}  // namespace nslab::bench
