// The runner's side of an agent connection: requests with a deadline, replies with fds.
#pragma once

#include <chrono>
#include <span>
#include <string>
#include <vector>

#include "agent/protocol.hpp"
#include "core/namespace_kind.hpp"
#include "core/unique_fd.hpp"

namespace nslab::agent {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

// What an agent said about itself when it started.
struct Hello {
    std::string role;
    pid_t pid = -1;  // as the agent sees itself
    uid_t uid = 0;
    gid_t gid = 0;
    core::UniqueFd pidfd;
    core::NamespaceSet ns;
    // A lab's: whether its `/` is copy-on-write (agent/lab_root.hpp), else why not, and the parts
    // of it kept read-only.
    bool copy_on_write_root = false;
    std::string root_why_not;
    std::vector<std::string> root_caveats;
};

// The answer to one request. A failed op (the kernel said no) is an answer, not a transport error:
// `ok` is false and `error` holds errno and the call.
struct Reply {
    bool ok = false;
    json value;
    sys::Error error;
    std::vector<core::UniqueFd> fds;
};

class AgentClient {
public:
    AgentClient() = default;
    AgentClient(core::UniqueFd sock, std::string label) : sock_(std::move(sock)), label_(std::move(label)) {}

    // Reads the hello; a setup error the agent sent comes back as an Error. spin: how long to
    // poll for it before sleeping (see kSpinBeforeSleep; kSpinForRealmStart for a realm's).
    sys::Result<Hello> read_hello(Deadline deadline, std::chrono::microseconds spin = {});
    // Transport failures (timeout, agent gone, garbage) are Errors; op failures are Reply{ok=false}.
    sys::Result<Reply> call(const std::string& op, const json& args, Deadline deadline,
                            std::span<const int> fds = {}, std::chrono::microseconds spin = kSpinBeforeSleep);
    const std::string& label() const { return label_; }
    // Hellos that came after the first one: another agent shares this socket (a launcher that
    // started the agent twice). call() skips them; this reads any that are already waiting.
    int extra_hellos();
    bool connected() const { return sock_.valid(); }
    void close() { sock_.reset(); }

private:
    core::UniqueFd sock_;
    std::string label_;
    int extra_hellos_ = 0;
};

int remaining_ms(Deadline deadline);

}  // namespace nslab::agent
