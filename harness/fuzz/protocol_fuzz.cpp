// libFuzzer target: the agent protocol's decoders. The bytes are one datagram as an agent or the
// runner might receive it: decode, request parsing, error replies, and the runner's reading of a
// hello and of a reply (through a real SOCK_SEQPACKET pair). No op is dispatched: handlers act on
// the kernel.
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "agent/client.hpp"
#include "agent/protocol.hpp"
#include "agent/registry.hpp"
#include "sys/syscalls.hpp"

using namespace nslab;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view bytes(reinterpret_cast<const char*>(data), size);
    auto body = agent::decode(bytes);
    if (body.ok()) {
        auto req = agent::parse_request(*body);
        if (req.ok()) {
            // The argument helpers handlers use must cope with any JSON.
            (void)agent::arg_string(req->args, "name");
            (void)agent::arg_int_opt(req->args, "size");
            (void)agent::arg_string_list(req->args, "kinds");
        }
        (void)agent::error_from_reply(*body).describe();
    }
    // The runner's side: a hello and a reply made of these bytes.
    auto pair = sys::socketpair_seqpacket();
    if (!pair.ok()) return 0;
    core::UniqueFd ours(pair->first), theirs(pair->second);
    if (size <= agent::kMaxMessage) {
        (void)sys::send_message(theirs.get(), bytes, {});
        agent::AgentClient client(std::move(ours), "fuzz");
        auto deadline = agent::Clock::now();
        (void)client.read_hello(deadline);
        (void)sys::send_message(theirs.get(), bytes, {});
        auto reply = client.call("hostname", agent::json::object(), deadline);
        if (reply.ok() && !reply->ok) (void)reply->error.describe();
    }
    return 0;
}
