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

// Whether a file is an assignment (its top level has `nslab_assignment:`), not a suite.
bool is_assignment_file(const std::string& path);
// `nslab validate` of an assignment: its keys, its suites, and that every test names an
// experiment of them; errors as file:line:column. 0, or 2 on any error.
int validate_assignment(const std::string& path);

}  // namespace nslab::cli
