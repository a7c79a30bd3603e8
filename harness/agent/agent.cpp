#include "agent/agent.hpp"

#include <map>
#include <optional>

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "agent/registry.hpp"
#include "core/namespace_kind.hpp"
#include "sys/nsfs_calls.hpp"
#include "sys/syscalls.hpp"

namespace nslab::agent {

namespace {

// The hello as text in a fixed buffer. A realm sends it from a fresh fork of its spawner, where
// every heap or stack page it writes costs a copy-on-write fault (~3-5 µs on a small VM) and every
// code page it runs for the first time a minor fault: nlohmann objects and their dump() took ~30
// such faults here. The runner parses it with the JSON library like any other message.
class HelloText {
public:
    void add(std::string_view s) {
        if (s.size() > sizeof buf_ - n_) {
            overflow_ = true;
            return;
        }
        std::memcpy(buf_ + n_, s.data(), s.size());
        n_ += s.size();
    }
    void add(long long v) {
        auto r = std::to_chars(buf_ + n_, buf_ + sizeof buf_, v);
        if (r.ec != std::errc()) overflow_ = true;
        else n_ = static_cast<size_t>(r.ptr - buf_);
    }
    bool overflow() const { return overflow_; }
    std::string_view text() const { return {buf_, n_}; }

private:
    char buf_[4096];
    size_t n_ = 0;
    bool overflow_ = false;
};

// This process's namespace of one kind, as a new fd: straight from its pidfd where the kernel
// has the ioctl (6.11+, ~8 µs less per kind than the path walk of /proc/self/ns/<kind>), else
// from /proc. Remembers a kernel without the ioctl.
sys::Result<int> open_own_namespace(int self_pidfd, const core::NamespaceKind& k) {
    static bool no_ioctl = false;
    if (!no_ioctl) {
        auto fd = sys::pidfd_get_namespace(self_pidfd, k.clone_flag);
        if (fd.ok()) return fd;
        int e = fd.error().err();
        if (e != ENOTTY && e != EINVAL && e != EOPNOTSUPP) return fd;
        no_ioctl = true;
    }
    char path[32] = "/proc/self/ns/";
    std::memcpy(path + 14, k.name.data(), std::min(k.name.size(), sizeof path - 15));
    return sys::open(path, O_RDONLY | O_CLOEXEC);
}

}  // namespace

sys::Status send_hello(int sock, std::string_view role, std::string_view lab_json) {
    for (char ch : role)
        if (ch < 'a' || ch > 'z') return sys::Error::message("send_hello: role must be a lowercase word");
    NSLAB_ASSIGN_OR_RETURN(int self_pidfd, sys::pidfd_open(sys::getpid()));
    std::array<core::UniqueFd, core::kNsCount + 1> owned;
    owned[0] = core::UniqueFd(self_pidfd);
    std::array<int, core::kNsCount + 1> fds{self_pidfd};
    size_t n = 1;
    auto ids = sys::getresids();
    HelloText h;
    h.add(R"({"hello":{"role":")");
    h.add(role);
    h.add(R"(","pid":)");
    h.add(static_cast<long long>(sys::getpid()));
    h.add(R"(,"ns":[)");
    for (auto& k : core::namespace_kinds()) {
        if (!core::kernel_has(k.ns)) continue;
        NSLAB_ASSIGN_OR_RETURN(int fd, open_own_namespace(self_pidfd, k));
        owned[n] = core::UniqueFd(fd);
        fds[n] = fd;
        h.add(n == 1 ? "\"" : ",\"");
        h.add(k.name);
        h.add("\"");
        ++n;
    }
    h.add(R"(],"uid":)");
    h.add(static_cast<long long>(ids.euid));
    h.add(R"(,"gid":)");
    h.add(static_cast<long long>(ids.egid));
    if (!lab_json.empty()) {
        h.add(R"(,"lab":)");
        h.add(lab_json);
    }
    h.add("}}");
    if (h.overflow()) return sys::Error::message("send_hello: the hello does not fit its buffer");
    return sys::send_message(sock, h.text(), std::span<const int>(fds.data(), n));
}

void send_setup_error(int sock, const sys::Error& e) {
    (void)send(sock, json{{"hello_error", error_reply(e)}});
}

namespace {

// An agent that is pid 1 of its namespace inherits orphans; reap them between requests so they do
// not pile up as zombies (pid_namespaces(7): init must wait for orphaned children).
std::map<pid_t, std::optional<int>>& launchers() {
    static std::map<pid_t, std::optional<int>> watched;  // the agent is single-threaded
    return watched;
}

// wait(2): waitpid(-1) also reaps a child cloned with no exit signal once it has exec'd, so a
// launcher's status is kept here when this loop is the one that collects it.
void reap_zombies() {
    int status = 0;
    for (;;) {
        auto r = sys::waitpid_any_nohang(&status);
        if (!r.ok() || *r <= 0) return;
        if (auto it = launchers().find(*r); it != launchers().end()) it->second = status;
    }
}

json handle(const json& body, std::vector<core::UniqueFd>& fds_in, std::vector<core::UniqueFd>& fds_out) {
    auto req = parse_request(body);
    if (!req.ok()) return error_reply(req.error());
    const OpSpec* spec = registry().find(req->op);
    if (!spec) return error_reply(sys::Error::message("unknown op '" + req->op + "'"));
    // The registry's domain of each argument, checked here once before any handler (as the loader
    // checks literals and the runner expanded values): no handler meets a value outside its domain,
    // whoever wrote the request. A kernel limit is the kernel's to refuse: a step may pass one on
    // purpose (ArgSpec::kernel_limit).
    for (const ArgSpec& a : spec->args) {
        if (!a.check || a.kernel_limit || !req->args.contains(a.name)) continue;
        json value = req->args[a.name];
        if (a.type == ArgType::integer && value.is_string()) {  // "${x.pid}" expands to text
            const std::string& text = value.get_ref<const std::string&>();
            if (!text.empty() && text.find_first_not_of("-0123456789") == std::string::npos) {
                try {
                    value = std::stoll(text);
                } catch (const std::exception&) {
                }
            }
        }
        if (std::string why = a.check(value); !why.empty())
            return error_reply(sys::Error(EINVAL, req->op + ": '" + a.name + "' = " + value.dump() + ": " + why));
    }
    OpCall call{req->args, fds_in, fds_out};
    try {
        auto r = spec->handler(call);
        if (!r.ok()) return error_reply(r.error());
        return ok_reply(std::move(r).value());
    } catch (const std::exception& e) {
        // nlohmann or the standard library threw on malformed input: an error reply, not a crash.
        return error_reply(sys::Error::message(req->op + ": " + e.what()));
    }
}

}  // namespace

void watch_launcher(pid_t pid) { launchers()[pid] = std::nullopt; }

std::optional<int> launcher_exit_status(pid_t pid) {
    auto it = launchers().find(pid);
    return it == launchers().end() ? std::nullopt : it->second;
}

int serve(int sock) {
    for (;;) {
        // The runner usually sends its next request right after our answer: poll briefly first.
        auto m = receive(sock, -1, kSpinBeforeSleep);
        if (!m.ok()) {
            if (m.error().err() == 0) {  // undecodable request: answer, keep serving
                (void)send(sock, error_reply(m.error()));
                continue;
            }
            return 2;
        }
        if (m->eof) return 0;
        std::vector<core::UniqueFd> fds_out;
        json reply = handle(m->body, m->fds, fds_out);
        std::vector<int> raw;
        for (auto& fd : fds_out) raw.push_back(fd.get());
        if (!send(sock, reply, raw).ok()) return 2;
        reap_zombies();
    }
}

namespace {

sys::Result<int> connect_path(const std::string& path) {
    int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) return sys::Error(errno, "socket(AF_UNIX, SOCK_SEQPACKET)");
    struct sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) {
        ::close(fd);
        return sys::Error(ENAMETOOLONG, "connect(" + path + ")");
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
        int e = errno;
        ::close(fd);
        return sys::Error(e, "connect(" + path + ")");
    }
    return fd;
}

int usage() {
    std::fprintf(stderr,
                 "usage: nslab-agent [--lab [--cow-root]] (--fd N | --socket PATH)\n"
                 "  Runs an nslab agent that answers the runner's actions and probes.\n"
                 "  --fd N         the SOCK_SEQPACKET socket to the runner is fd N (inherited)\n"
                 "  --socket PATH  connect to the runner's socket at PATH instead\n"
                 "  --lab          act as the lab's init: private mounts, fresh /proc, /sys, /tmp\n"
                 "  --cow-root     with --lab: a copy-on-write root over the machine's / (pivot_root)\n"
                 "  --write-through DIR  with --lab: DIR stays the machine's, writable (repeatable)\n"
                 "  --cgroup-procs FILE  first move into the cgroup (v1) whose cgroup.procs is FILE (repeatable)\n");
    return 2;
}

}  // namespace

int agent_main(int argc, char** argv) {
    int fd = -1;
    std::string socket_path;
    bool lab = false, copy_on_write_root = false;
    std::vector<std::string> procs_files, write_through;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--lab") lab = true;
        else if (a == "--cow-root") copy_on_write_root = true;
        else if (a == "--write-through" && i + 1 < argc) write_through.push_back(argv[++i]);
        else if (a == "--fd" && i + 1 < argc) fd = std::atoi(argv[++i]);
        else if (a == "--socket" && i + 1 < argc) socket_path = argv[++i];
        else if (a == "--cgroup-procs" && i + 1 < argc) procs_files.push_back(argv[++i]);
        else if (a == "agent") continue;  // `nslab agent ...`
        else return usage();
    }
    if (fd < 0 && socket_path.empty()) return usage();
    // cgroups(7), v1: writing 0 to cgroup.procs moves the writer, and its children inherit the
    // cgroup. Before anything else, so that the lab's bounds hold for all it will run.
    std::optional<sys::Error> moving;
    for (auto& procs : procs_files)
        if (auto s = sys::write_file(procs, "0"); !s.ok() && !moving)
            moving = std::move(s).error().context("placing the lab in its cgroup");
    if (!socket_path.empty()) {
        auto c = connect_path(socket_path);
        if (!c.ok()) {
            std::fprintf(stderr, "nslab-agent: %s\n", c.error().describe().c_str());
            return 2;
        }
        fd = *c;
    } else if (!sys::fcntl_getfl(fd).ok()) {
        std::fprintf(stderr, "nslab-agent: fd %d is not open (the launcher closed the fds it inherited)\n", fd);
        return kExitInheritedFdClosed;
    }
    // An agent started by a launcher inherits whatever the launcher held open (nsenter's namespace
    // fds, a student's pipes); they would keep namespaces alive and are not ours: keep stdio and
    // the socket (moved to fd 3) only.
    if (fd != 3) {
        if (!sys::dup2(fd, 3).ok()) return 2;
        ::close(fd);
        fd = 3;
    }
    auto closed = sys::close_range_from(4);
    (void)sys::set_cloexec(fd, true);
    ::signal(SIGPIPE, SIG_IGN);
    if (!closed.ok()) {
        send_setup_error(fd, closed.error());
        return 3;
    }
    if (moving) {
        send_setup_error(fd, *moving);
        return 3;
    }
    std::string lab_json;
    if (lab) {
        auto s = setup_lab(copy_on_write_root, write_through);
        if (!s.ok()) {
            send_setup_error(fd, std::move(s).error().context("setting up the lab"));
            return 3;
        }
        // Bounded, to fit the hello: the first caveats, then how many more.
        constexpr size_t kShown = 16;
        json caveats = json::array();
        for (size_t i = 0; i < s->caveats.size() && i < kShown; ++i) caveats.push_back(s->caveats[i].substr(0, 160));
        if (s->caveats.size() > kShown) caveats.push_back("and " + std::to_string(s->caveats.size() - kShown) + " more");
        lab_json = json{{"copy_on_write", s->copy_on_write}, {"why_not", s->why_not.substr(0, 400)}, {"caveats", caveats}}.dump();
    }
    auto h = send_hello(fd, lab ? "lab" : "realm", lab_json);
    if (!h.ok()) {
        send_setup_error(fd, h.error());
        return 3;
    }
    return serve(fd);
}

}  // namespace nslab::agent
