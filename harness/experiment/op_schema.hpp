// The JSON Schema of an action's or a probe's arguments, from its OpSpec: type, required-ness and
// domain (agent::ArgDomain) of each. Part of `nslab schema` (experiment/schema.hpp).
#pragma once

#include <nlohmann/json.hpp>

#include "agent/registry.hpp"

namespace nslab::experiment::schema {

using ojson = nlohmann::ordered_json;

// One argument's value. with_domain false: its type only (a kernel limit in a step that expects
// the kernel to refuse it).
ojson arg(const agent::ArgSpec& a, bool with_domain = true);

// Adds op's arguments to a mapping schema built by object_of() (properties, required), and for an
// action, each kernel limit as a rule that holds unless the step has expect_error.
void add_args(ojson& mapping, const agent::OpSpec& op);

// "Sets the hostname … Lab: `hostname NAME`.": an op's description.
std::string describe(const agent::OpSpec& op);

}  // namespace nslab::experiment::schema
