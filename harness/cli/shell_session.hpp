// An experiment as the shell session a student would type (`nslab explain`): a terminal per realm
// and one for the host, each realm entered with unshare(1)/nsenter(1), then the steps and the
// expectations in order, each as the lab's command for its action or probe (the registry's `lab`,
// agent/lab_command.hpp) with what it must show as a comment.
#pragma once

#include <string>
#include <vector>

#include "experiment/model.hpp"

namespace nslab::cli {

// What stands where an op has no lab command (a test asserts the catalogue has none).
inline constexpr const char* kNoCommand = "(no command)";

struct SessionLine {
    std::string command;
    std::string comment;  // "expect: virtualisation"; "" when none
};

// Consecutive lines typed in one terminal.
struct SessionGroup {
    std::string terminal;  // "host", or a realm's name
    std::vector<SessionLine> lines;
};

struct Session {
    std::string name;     // suite.experiment
    std::string summary;
    std::vector<std::string> refs;
    std::vector<SessionGroup> groups;
    std::vector<std::string> gaps;  // the ops written as kNoCommand, with where
};

Session shell_session(const experiment::Experiment& e);

}  // namespace nslab::cli
