// The assignment file as JSON Schema (draft 2020-12), generated from the assignment loader's tables
// (grade/assignment_grammar.hpp), the launcher's flag keys and the contract tests: what `nslab schema
// --assignment` writes to docs/schema/assignment.schema.json.
#pragma once

#include "experiment/schema.hpp"

namespace nslab::grade {

experiment::ojson assignment_schema();

}  // namespace nslab::grade
