// The agent protocol's receive: the polling window before sleeping must not change what arrives.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/socket.h>

#include <chrono>
#include <thread>

#include "agent/protocol.hpp"
#include "sys/syscalls.hpp"

namespace nslab {
namespace {

using namespace std::chrono_literals;

struct SocketPair {
    core::UniqueFd a, b;
    SocketPair() {
        int sv[2];
        EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
        a.reset(sv[0]);
        b.reset(sv[1]);
    }
};

TEST(Receive, AMessageQueuedBeforeTheCallArrivesWithItsFds) {
    SocketPair p;
    auto pipe = sys::pipe2(O_CLOEXEC);
    ASSERT_TRUE(pipe.ok());
    core::UniqueFd r(pipe->first), w(pipe->second);
    int fds[] = {r.get()};
    ASSERT_TRUE(agent::send(p.a.get(), {{"op", "hostname"}}, fds).ok());
    auto m = agent::receive(p.b.get(), 1000, agent::kSpinBeforeSleep);
    ASSERT_TRUE(m.ok()) << m.error().describe();
    EXPECT_EQ(m->body.value("op", ""), "hostname");
    ASSERT_EQ(m->fds.size(), 1u);
    EXPECT_GE(m->fds[0].get(), 0);
}

TEST(Receive, AMessageSentAfterThePollingWindowIsStillReceived) {
    SocketPair p;
    std::thread late([&] {
        std::this_thread::sleep_for(20ms);  // far past the 50 us window: the blocking path gets it
        (void)agent::send(p.a.get(), {{"ok", true}, {"value", 7}});
    });
    auto m = agent::receive(p.b.get(), 5000, agent::kSpinBeforeSleep);
    late.join();
    ASSERT_TRUE(m.ok()) << m.error().describe();
    EXPECT_EQ(m->body.value("value", 0), 7);
}

TEST(Receive, APeerThatClosesWhileWePollIsEndOfFile) {
    SocketPair p;
    p.a.reset();
    auto m = agent::receive(p.b.get(), 1000, agent::kSpinBeforeSleep);
    ASSERT_TRUE(m.ok()) << m.error().describe();
    EXPECT_TRUE(m->eof);
}

TEST(Receive, NothingAtAllIsATimeoutAfterThePollingWindow) {
    SocketPair p;
    auto t0 = std::chrono::steady_clock::now();
    auto m = agent::receive(p.b.get(), 30, agent::kSpinBeforeSleep);
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.error().err(), ETIMEDOUT);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 30ms);
}

TEST(Receive, AnUndecodableMessageIsAnErrorNotACrash) {
    SocketPair p;
    ASSERT_TRUE(sys::send_message(p.a.get(), "not json", {}).ok());
    auto m = agent::receive(p.b.get(), 1000, agent::kSpinBeforeSleep);
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.error().describe().find("not valid JSON"), std::string::npos);
}

}  // namespace
}  // namespace nslab
