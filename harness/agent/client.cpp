#include "agent/client.hpp"

#include <cerrno>

#include "sys/syscalls.hpp"

namespace nslab::agent {

int remaining_ms(Deadline deadline) {
    // Rounded up, so that a wait never ends before the deadline it was given.
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left <= 0 ? 0 : static_cast<int>(left);
}

namespace {

sys::Result<Message> receive_before(int sock, Deadline deadline, const std::string& label,
                                    std::chrono::microseconds spin = {}) {
    auto m = receive(sock, remaining_ms(deadline), spin);
    if (!m.ok()) {
        if (m.error().err() == ETIMEDOUT)
            return sys::Error(ETIMEDOUT, "no answer from the agent of " + label + " before the time limit");
        // A SEQPACKET peer that dies with our request unread resets the connection.
        if (m.error().err() == ECONNRESET || m.error().err() == EPIPE)
            return sys::Error::message("the agent of " + label + " exited (connection reset)");
        return std::move(m).error().context("agent of " + label);
    }
    if (m->eof) return sys::Error::message("the agent of " + label + " exited (connection closed)");
    return m;
}

}  // namespace

sys::Result<Hello> AgentClient::read_hello(Deadline deadline, std::chrono::microseconds spin) {
    NSLAB_ASSIGN_OR_RETURN(Message m, receive_before(sock_.get(), deadline, label_, spin));
    if (auto e = m.body.find("hello_error"); e != m.body.end())
        return error_from_reply(*e).context("starting " + label_);
    auto h = m.body.find("hello");
    if (h == m.body.end() || !h->is_object()) return sys::Error::message("agent of " + label_ + " sent no hello");
    Hello hello;
    try {
        hello.role = h->value("role", "");
        hello.pid = h->value("pid", -1);
        hello.uid = h->value("uid", 0u);
        hello.gid = h->value("gid", 0u);
        if (auto lab = h->find("lab"); lab != h->end() && lab->is_object()) {
            hello.copy_on_write_root = lab->value("copy_on_write", false);
            hello.root_why_not = lab->value("why_not", "");
            hello.root_caveats = lab->value("caveats", std::vector<std::string>{});
        }
        auto kinds = h->at("ns");
        if (m.fds.size() != kinds.size() + 1)
            return sys::Error::message("agent of " + label_ + " sent " + std::to_string(m.fds.size()) +
                                       " fds for " + std::to_string(kinds.size()) + " namespaces and a pidfd");
        hello.pidfd = std::move(m.fds[0]);
        for (size_t i = 0; i < kinds.size(); ++i) {
            auto ns = core::ns_from_name(kinds[i].get<std::string>());
            if (!ns) return sys::Error::message("agent of " + label_ + " named an unknown namespace kind");
            auto idx = static_cast<size_t>(*ns);
            NSLAB_ASSIGN_OR_RETURN(hello.ns.ids[idx], core::ns_id_of_fd(m.fds[i + 1].get()));
            hello.ns.fds[idx] = std::move(m.fds[i + 1]);
        }
    } catch (const std::exception& e) {
        return sys::Error::message("agent of " + label_ + " sent a malformed hello: " + e.what());
    }
    return hello;
}

sys::Result<Reply> AgentClient::call(const std::string& op, const json& args, Deadline deadline,
                                     std::span<const int> fds, std::chrono::microseconds spin) {
    if (!sock_) return sys::Error::message("the agent of " + label_ + " is not connected");
    auto sent = send(sock_.get(), json{{"op", op}, {"args", args}}, fds);
    if (!sent.ok()) {
        if (sent.error().err() == EPIPE || sent.error().err() == ECONNRESET)
            return sys::Error::message("the agent of " + label_ + " exited (connection closed)");
        return std::move(sent).error().context("asking the agent of " + label_ + " to " + op);
    }
    Message m;
    for (;;) {
        // Most ops answer within tens of microseconds: poll for the answer before sleeping.
        NSLAB_ASSIGN_OR_RETURN(m, receive_before(sock_.get(), deadline, label_, spin));
        if (!m.body.contains("hello") && !m.body.contains("hello_error")) break;
        ++extra_hellos_;
    }
    Reply r;
    // Whatever answers is not trusted to send well-typed JSON (a launcher under test may speak on
    // the socket): a field of the wrong type reads as absent, never as an exception.
    auto ok = m.body.find("ok");
    r.ok = ok != m.body.end() && ok->is_boolean() && ok->get<bool>();
    r.fds = std::move(m.fds);
    if (r.ok) r.value = m.body.value("value", json());
    else r.error = error_from_reply(m.body);
    return r;
}

int AgentClient::extra_hellos() {
    while (sock_) {
        auto ready = sys::poll_readable(sock_.get(), 0);
        if (!ready.ok() || !*ready) break;
        auto m = receive(sock_.get(), 0);
        if (!m.ok() || m->eof) break;
        if (m->body.contains("hello") || m->body.contains("hello_error")) ++extra_hellos_;
    }
    return extra_hellos_;
}

}  // namespace nslab::agent
