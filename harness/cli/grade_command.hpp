#pragma once

#include <string>

namespace nslab::cli {

struct GradeArgs {
    std::string submission;
    std::string assignment;
    std::string output = "nslab-grade";
    std::string format = "gradescope";  // or prairielearn
    int jobs = 2;
    double timeout = 0;  // > 0: overrides the assignment's time limit per experiment
};

int grade_command(const GradeArgs& args);

}  // namespace nslab::cli
