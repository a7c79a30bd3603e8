// Stopping a run: a signal (SIGINT, SIGTERM) asks every experiment to stop. Live labs are killed
// at once through their pidfds, experiments not yet started are not started, and the report that
// follows is complete: each experiment says how it ended.
#pragma once

namespace nslab::runner {

// Async-signal-unsafe: call from an ordinary thread (the CLI's signal thread), not a handler.
void request_stop(int sig);
// The signal that asked the run to stop, or 0.
int stop_signal();

// While alive, a lab's init can be killed by request_stop(). Construct after the lab started;
// destroy before its pidfd closes.
class LiveLab {
public:
    explicit LiveLab(int pidfd);
    ~LiveLab();
    LiveLab(const LiveLab&) = delete;
    LiveLab& operator=(const LiveLab&) = delete;

private:
    int pidfd_;
};

}  // namespace nslab::runner
