// The experiment file as JSON Schema (draft 2020-12), generated from the registry of actions and
// probes and from the loader's own tables (experiment/grammar.hpp): what `nslab schema` writes to
// docs/schema/experiment.schema.json, for editors with the YAML language server.
//
// The schema accepts every file the loader accepts and refuses what it can express of the rest:
// unknown keys, wrong types, missing keys, unknown actions and probes, values outside a domain.
// What needs the whole file (a realm named before it exists, a cycle, an alias) stays the loader's.
#pragma once

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "experiment/strict_yaml.hpp"

namespace nslab::experiment {

using ojson = nlohmann::ordered_json;

ojson experiment_schema();

// Schema building blocks, shared with the assignment schema.
namespace schema {
// A mapping whose keys are exactly `keys` (required ones required), each with its shape and doc.
// Throws std::logic_error when a key has no shape or a shape no key: the tables and the schema
// must name the same keys.
ojson object_of(const strict_yaml::Keys& keys, std::map<std::string, ojson> shapes);
ojson def_ref(const std::string& def);  // {"$ref": "#/$defs/<def>"}
// Any scalar: the loader reads a plain 12 or true as the text "12" or "true".
ojson text();
ojson text_list();
ojson ns_list();  // namespace kinds, each at most once
}  // namespace schema

}  // namespace nslab::experiment
