#include "runner/interrupt.hpp"

#include <signal.h>

#include <atomic>
#include <mutex>
#include <set>

#include "sys/syscalls.hpp"

namespace nslab::runner {
namespace {

std::atomic<int> g_signal{0};
std::mutex g_mu;
std::set<int>& live_pidfds() {
    static std::set<int> fds;
    return fds;
}

}  // namespace

void request_stop(int sig) {
    g_signal.store(sig);
    std::lock_guard lock(g_mu);
    // pid_namespaces(7): killing a PID namespace's init kills every process in it.
    for (int fd : live_pidfds()) (void)sys::pidfd_send_signal(fd, SIGKILL);
}

int stop_signal() { return g_signal.load(); }

LiveLab::LiveLab(int pidfd) : pidfd_(pidfd) {
    std::lock_guard lock(g_mu);
    live_pidfds().insert(pidfd_);
    // A stop that came while this lab was starting must still reach it.
    if (g_signal.load() != 0) (void)sys::pidfd_send_signal(pidfd_, SIGKILL);
}

LiveLab::~LiveLab() {
    std::lock_guard lock(g_mu);
    live_pidfds().erase(pidfd_);
}

}  // namespace nslab::runner
