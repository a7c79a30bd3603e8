// The agent protocol: one JSON document per SOCK_SEQPACKET datagram, fds beside it as SCM_RIGHTS.
//   request  {"op": "hostname", "args": {...}}                       (+ fds the op takes)
//   reply    {"ok": true, "value": ...}  or  {"ok": false, "errno": 1, "call": "...", "error": "..."}
//   hello    {"hello": {"role": "realm", "pid": 1, "ns": ["cgroup", ...]}} + [pidfd, ns fds...]
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "core/unique_fd.hpp"
#include "sys/result.hpp"

namespace nslab::agent {

using json = nlohmann::json;
inline constexpr size_t kMaxMessage = 1 << 20;  // one datagram; command output is capped below it

struct Message {
    json body;
    std::vector<core::UniqueFd> fds;
    bool eof = false;  // the peer closed the socket
};

// How long a side that expects a message soon polls for it before it sleeps. Waking a sleeping
// task on an idle CPU costs ~40-50 us on a VM (an IPI and a halted vCPU), twice per round trip;
// a message already queued when recvmsg(MSG_DONTWAIT) runs costs no wake-up at all. The window
// yields the CPU between tries, so a peer sharing this CPU is never kept from answering.
inline constexpr std::chrono::microseconds kSpinBeforeSleep{50};
// A realm's start (the spawner's reply, then the new agent's hello) takes a few hundred
// microseconds of kernel work, on the CPUs the waiter yields to: polling through it saves the
// wake-ups at its end for ~1 ms of yielding at most, once per realm.
inline constexpr std::chrono::microseconds kSpinForRealmStart{1000};

sys::Status send(int sock, const json& body, std::span<const int> fds = {});
// Polls for up to `spin` (see kSpinBeforeSleep), then blocks up to timeout_ms (<0: forever).
// A timeout is an error with errno ETIMEDOUT.
sys::Result<Message> receive(int sock, int timeout_ms, std::chrono::microseconds spin = {});
// Parses one datagram's bytes; never throws (the decoder the fuzzer drives).
sys::Result<json> decode(std::string_view bytes);

struct Request {
    std::string op;
    json args = json::object();
};
sys::Result<Request> parse_request(const json& body);

json ok_reply(json value);
json error_reply(const sys::Error& e);
// Turns an error reply back into an Error (errno, call, text).
sys::Error error_from_reply(const json& body);

}  // namespace nslab::agent
