// What a grade is written as: Gradescope's results.json, PrairieLearn's (score in [0, 1]), and a
// Markdown feedback a student reads (expected against observed from A, B and the host, the reason,
// the lab section and the teacher's hint).
#pragma once

#include <string>

#include <optional>

#include "grade/assignment.hpp"
#include "grade/feedback.hpp"
#include "grade/grader.hpp"

namespace nslab::grade {

// https://gradescope-autograders.readthedocs.io/en/latest/specs/ — score, max_score,
// execution_time, output, tests[{name, score, max_score, status, output, output_format, visibility}].
std::string gradescope_json(const Assignment& a, const Grade& g);
// https://prairielearn.readthedocs.io (external grading): score is a fraction, tests carry points.
std::string prairielearn_json(const Assignment& a, const Grade& g);
std::string feedback_markdown(const Assignment& a, const Grade& g);
// How a test's feedback is told: the launcher-level mistake most lost tests share (said once at
// the top; a test lost to it refers to it instead), and whether the assignment's launcher is to
// make COMMAND root of a user namespace of its own (grade/feedback.hpp).
struct FeedbackContext {
    std::optional<Diagnosis> common;
    bool root_inside = false;
};
FeedbackContext feedback_context(const Assignment& a, const Grade& g);
// The feedback of one test (also each Gradescope test's output).
std::string test_feedback(const TestOutcome& t, const FeedbackContext& context = {});

}  // namespace nslab::grade
