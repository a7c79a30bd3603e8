#include "agent/agent.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "agent/registry.hpp"
#include "core/namespace_kind.hpp"
#include "sys/syscalls.hpp"

namespace nslab::agent {

sys::Status send_hello(int sock, const std::string& role) {
    NSLAB_ASSIGN_OR_RETURN(int self_pidfd, sys::pidfd_open(sys::getpid()));
    core::UniqueFd pidfd(self_pidfd);
    NSLAB_ASSIGN_OR_RETURN(core::NamespaceSet set, core::open_namespaces());
    std::vector<int> fds{pidfd.get()};
    json kinds = json::array();
    for (auto& k : core::namespace_kinds()) {
        if (!set.fd(k.ns)) continue;
        kinds.push_back(k.name);
        fds.push_back(set.fd(k.ns).get());
    }
    auto ids = sys::getresids();
    json hello = {{"role", role}, {"pid", sys::getpid()}, {"ns", kinds}, {"uid", ids.euid}, {"gid", ids.egid}};
    return send(sock, json{{"hello", hello}}, fds);
}

void send_setup_error(int sock, const sys::Error& e) {
    (void)send(sock, json{{"hello_error", error_reply(e)}});
}

namespace {

// An agent that is pid 1 of its namespace inherits orphans; reap them between requests so they do
// not pile up as zombies (pid_namespaces(7): init must wait for orphaned children).
void reap_zombies() {
    int status = 0;
    for (;;) {
        auto r = sys::waitpid_any_nohang(&status);
        if (!r.ok() || *r <= 0) return;
    }
}

json handle(const json& body, std::vector<core::UniqueFd>& fds_in, std::vector<core::UniqueFd>& fds_out) {
    auto req = parse_request(body);
    if (!req.ok()) return error_reply(req.error());
    const OpSpec* spec = registry().find(req->op);
    if (!spec) return error_reply(sys::Error::message("unknown op '" + req->op + "'"));
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

int serve(int sock) {
    for (;;) {
        auto m = receive(sock, -1);
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
                 "usage: nslab-agent [--lab] (--fd N | --socket PATH)\n"
                 "  Runs an nslab agent that answers the runner's actions and probes.\n"
                 "  --fd N         the SOCK_SEQPACKET socket to the runner is fd N (inherited)\n"
                 "  --socket PATH  connect to the runner's socket at PATH instead\n"
                 "  --lab          act as the lab's init: private mounts, fresh /proc, /sys, /tmp\n");
    return 2;
}

}  // namespace

int agent_main(int argc, char** argv) {
    int fd = -1;
    std::string socket_path;
    bool lab = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--lab") lab = true;
        else if (a == "--fd" && i + 1 < argc) fd = std::atoi(argv[++i]);
        else if (a == "--socket" && i + 1 < argc) socket_path = argv[++i];
        else if (a == "agent") continue;  // `nslab agent ...`
        else return usage();
    }
    if (fd < 0 && socket_path.empty()) return usage();
    if (!socket_path.empty()) {
        auto c = connect_path(socket_path);
        if (!c.ok()) {
            std::fprintf(stderr, "nslab-agent: %s\n", c.error().describe().c_str());
            return 2;
        }
        fd = *c;
    } else if (!sys::fcntl_getfl(fd).ok()) {
        std::fprintf(stderr, "nslab-agent: fd %d is not open\n", fd);
        return 2;
    }
    // An agent started by a launcher inherits whatever the launcher held open (nsenter's namespace
    // fds, a student's pipes); they would keep namespaces alive and are not ours: keep stdio and
    // the socket (moved to fd 3) only.
    if (fd != 3) {
        if (!sys::dup2(fd, 3).ok()) return 2;
        ::close(fd);
        fd = 3;
    }
    (void)sys::close_range_from(4);
    (void)sys::set_cloexec(fd, true);
    ::signal(SIGPIPE, SIG_IGN);
    if (lab) {
        auto s = setup_lab();
        if (!s.ok()) {
            send_setup_error(fd, std::move(s).error().context("setting up the lab"));
            return 3;
        }
    }
    auto h = send_hello(fd, lab ? "lab" : "realm");
    if (!h.ok()) {
        send_setup_error(fd, h.error());
        return 3;
    }
    return serve(fd);
}

}  // namespace nslab::agent
