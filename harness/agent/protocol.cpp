#include "agent/protocol.hpp"

#include <sys/socket.h>

#include <cerrno>

#include "sys/syscalls.hpp"

namespace nslab::agent {

sys::Status send(int sock, const json& body, std::span<const int> fds) {
    std::string bytes = body.dump(-1, ' ', false, json::error_handler_t::replace);
    if (bytes.size() > kMaxMessage)
        return sys::Error(EMSGSIZE, "agent message of " + std::to_string(bytes.size()) + " bytes");
    return sys::send_message(sock, bytes, fds);
}

sys::Result<json> decode(std::string_view bytes) {
    json body = json::parse(bytes.begin(), bytes.end(), nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded()) return sys::Error::message("agent message is not valid JSON");
    if (!body.is_object()) return sys::Error::message("agent message is not a JSON object");
    return body;
}

namespace {

sys::Result<Message> message_of(sys::Received r) {
    Message m;
    for (int fd : r.fds) m.fds.emplace_back(fd);
    if (r.eof) {
        m.eof = true;
        return m;
    }
    NSLAB_ASSIGN_OR_RETURN(m.body, decode(r.bytes));
    return m;
}

}  // namespace

sys::Result<Message> receive(int sock, int timeout_ms, std::chrono::microseconds spin) {
    if (spin.count() > 0) {
        auto until = std::chrono::steady_clock::now() + spin;
        do {
            auto r = sys::recv_message(sock, kMaxMessage, MSG_DONTWAIT);
            if (r.ok()) return message_of(std::move(r).value());
            if (r.error().err() != EAGAIN) return std::move(r).error();
            sys::yield_cpu();
        } while (std::chrono::steady_clock::now() < until);
    }
    if (timeout_ms >= 0) {  // with no time limit, recvmsg itself blocks: one system call less
        NSLAB_ASSIGN_OR_RETURN(bool ready, sys::poll_readable(sock, timeout_ms));
        if (!ready) return sys::Error(ETIMEDOUT, "waiting for the agent's answer");
    }
    NSLAB_ASSIGN_OR_RETURN(sys::Received r, sys::recv_message(sock, kMaxMessage));
    return message_of(std::move(r));
}

sys::Result<Request> parse_request(const json& body) {
    auto op = body.find("op");
    if (op == body.end() || !op->is_string()) return sys::Error::message("request has no string 'op'");
    Request r;
    r.op = op->get<std::string>();
    auto args = body.find("args");
    if (args != body.end() && !args->is_null()) {
        if (!args->is_object()) return sys::Error::message("request 'args' is not an object");
        r.args = *args;
    }
    return r;
}

json ok_reply(json value) { return json{{"ok", true}, {"value", std::move(value)}}; }

json error_reply(const sys::Error& e) {
    return json{{"ok", false}, {"errno", e.err()}, {"call", e.call()}, {"error", e.describe()}};
}

sys::Error error_from_reply(const json& body) {
    // Wrong types read as absent (json::value would throw): the sender may be anything.
    auto e = body.find("errno"), t = body.find("error");
    long long raw = e != body.end() && e->is_number_integer() ? e->get<long long>() : 0;
    int err = raw > 0 && raw < 4096 ? static_cast<int>(raw) : 0;
    std::string text = t != body.end() && t->is_string() ? t->get<std::string>() : "agent error without text";
    if (err == 0) return sys::Error::message(text);
    // The agent already composed the full text; keep errno for expected-error checks.
    return sys::Error(err, text.substr(0, text.rfind(": " + sys::errno_name(err))));
}

}  // namespace nslab::agent
