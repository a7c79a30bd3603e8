// Observed values: rendering, ${alias.field} substitution, and judging a matcher.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "experiment/model.hpp"
#include "sys/result.hpp"

namespace nslab::runner {

using json = nlohmann::json;
using Objects = std::map<std::string, json>;  // `as:` name -> the value its step returned

// How a value reads in a matrix cell: strings bare, lists as [a, b], the rest as JSON.
std::string render(const json& v);
// Replaces ${alias.field} in a string with the field's text.
sys::Result<std::string> substitute(const std::string& text, const Objects& objects);
// Substitutes in every string of a JSON value; a string that is exactly "${x.id}" and whose
// field is a number becomes that number (so integer arguments can be references).
sys::Result<json> substitute_all(const json& v, const Objects& objects);

// The registry's domain check (agent::ArgSpec::check) of each argument of `op` that a ${…}
// reference filled in: "" when every expanded value is allowed, else "'port' = 70000: why". A step
// that expects an error is not held to a kernel limit (ArgSpec::kernel_limit).
std::string check_expanded_args(const std::string& op, const json& written, const json& expanded,
                                bool expects_error = false);

// What a probe answered from one vantage: a value, or the error it failed with (errno and call).
// A failed probe is never judged as if its message were a value: only an `error: ERRNO` matcher
// passes it, and a row that compares with it (same_as, unchanged, ...) does not hold.
struct Observation {
    json value;
    std::optional<sys::Error> error;
    static Observation of_value(json v) { return {std::move(v), std::nullopt}; }
    static Observation of_error(sys::Error e) { return {json(), std::move(e)}; }
    std::string text() const;  // a matrix cell: the rendered value, or "error: CALL: ERRNO (...)"
};

struct Observations {
    const Observation* observed = nullptr;
    const Observation* baseline = nullptr;  // the same probe before the steps (for unchanged/changed)
    const std::map<std::string, Observation>* row = nullptr;  // vantage -> observed, for same_as
    double tolerance = 0;  // the probe's (agent::OpSpec::tolerance): numbers this close are equal
};
// Whether the observation satisfies the matcher. Substitution errors make it fail with text.
bool judge(const experiment::Matcher& m, const Observations& obs, const Objects& objects, std::string& expected_text);

}  // namespace nslab::runner
