#include "experiment/schema.hpp"

#include <stdexcept>

#include "agent/registry.hpp"
#include "core/namespace_kind.hpp"
#include "experiment/grammar.hpp"
#include "experiment/op_schema.hpp"
#include "launch/traits.hpp"

namespace nslab::experiment {
namespace schema {

ojson object_of(const strict_yaml::Keys& keys, std::map<std::string, ojson> shapes) {
    ojson out{{"type", "object"}, {"properties", ojson::object()}};
    ojson required = ojson::array();
    for (auto& k : keys) {
        auto shape = shapes.find(k.name);
        if (shape == shapes.end()) throw std::logic_error("schema: key '" + k.name + "' of the grammar has no shape");
        ojson p{{"description", k.doc}};
        p.update(shape->second);
        out["properties"][k.name] = p;
        if (k.required) required.push_back(k.name);
        shapes.erase(shape);
    }
    if (!shapes.empty()) throw std::logic_error("schema: shape for '" + shapes.begin()->first + "', which no table has");
    if (!required.empty()) out["required"] = required;
    out["additionalProperties"] = false;
    return out;
}

ojson def_ref(const std::string& def) { return {{"$ref", "#/$defs/" + def}}; }
ojson text() { return def_ref("text"); }
ojson text_list() { return def_ref("text_list"); }
ojson ns_list() { return def_ref("ns_list"); }

}  // namespace schema

namespace {

using namespace schema;
namespace g = grammar;

ojson pattern(const char* p) { return {{"type", "string"}, {"pattern", p}}; }

std::vector<std::string> kinds(bool with_pid = true) {
    std::vector<std::string> out;
    for (auto& k : core::namespace_kinds())
        if (with_pid || k.ns != core::Ns::pid) out.emplace_back(k.name);
    return out;
}

std::vector<std::string> ops(agent::OpKind kind) {
    std::vector<std::string> out;
    for (auto& [name, op] : agent::registry().ops())
        if (op.kind == kind && !op.internal && name != "run") out.push_back(name);
    return out;
}

// The defs every part refers to: scalars, names, kinds.
void basic_defs(ojson& defs) {
    defs["text"] = {{"description", "Any scalar: the loader reads a plain 12 or true as the text \"12\" or \"true\"."},
                    {"type", ojson::array({"string", "number", "boolean"})}};
    defs["text_list"] = {{"type", "array"}, {"items", text()}};
    defs["name"] = {{"anyOf", ojson::array({pattern(g::kLowerNamePattern), {{"type", "integer"}, {"minimum", 0}}})}};
    defs["realm_name"] = pattern(g::kRealmNamePattern);
    defs["vantage"] = {{"description", "A realm of this experiment, or host."},
                       {"anyOf", ojson::array({{{"const", "host"}}, def_ref("realm_name")})}};
    defs["alias"] = pattern(g::kAliasPattern);
    defs["version"] = {{"description", "A kernel release such as \"6.2\"."},
                       {"anyOf", ojson::array({pattern(g::kVersionPattern), {{"type", "number"}, {"minimum", 0}}})}};
    defs["errno"] = {{"description", "An errno name such as EPERM."}, {"type", "string"}, {"pattern", "^E[A-Z0-9]+$"}};
    defs["ns_kind"] = {{"enum", kinds()}};
    defs["ns_list"] = {{"type", "array"}, {"items", def_ref("ns_kind")}, {"uniqueItems", true}};
    // core::parse_id_map(): lines of three numbers (';' separates them), none, or "" for the default.
    const std::string line = "[ \\t]*[0-9]+[ \\t]+[0-9]+[ \\t]+[0-9]+[ \\t]*";
    defs["id_map"] = {{"type", "string"}, {"pattern", "^(|none|[\\s;]*" + line + "([;\\n][\\s;]*" + line + ")*[\\s;]*)$"}};
}

ojson requires_schema() {
    std::vector<std::string> traits;
    for (auto& t : launch::launcher_traits()) traits.emplace_back(t.name);
    ojson boolean{{"type", "boolean"}};
    return object_of(g::requires_keys(), {{"root", boolean}, {"userns", boolean}, {"posix_mq", boolean}, {"writable_sysfs", boolean}, {"writable_root", boolean},
                                          {"kernel", def_ref("version")}, {"tools", text_list()},
                                          {"launcher", {{"type", "array"}, {"items", {{"enum", traits}}}}}});
}

ojson realm_schema() {
    ojson offset{{"type", "integer"}};
    ojson r = object_of(g::realm_keys(),
                        {{"new", ns_list()},
                         {"parent", def_ref("vantage")},
                         {"join", {{"type", "object"}, {"propertyNames", {{"enum", kinds(/*with_pid=*/false)}}},
                                   {"additionalProperties", def_ref("vantage")}}},
                         {"uid_map", def_ref("id_map")},
                         {"gid_map", def_ref("id_map")},
                         {"propagation", {{"enum", g::propagations()}}},
                         {"mount_proc", {{"type", "boolean"}}},
                         {"time_offsets", object_of(g::time_offset_keys(), {{"monotonic", offset}, {"boottime", offset}})},
                         {"launcher", {{"enum", g::realm_launchers()}}}});
    // A key that needs a new namespace of a kind; a kind both new and joined.
    for (auto& [key, kind] : g::realm_key_needs())
        r["dependentSchemas"][key] = {{"required", {"new"}}, {"properties", {{"new", {{"contains", {{"const", kind}}}}}}}};
    for (auto& kind : kinds(false))
        r["allOf"].push_back({{"if", {{"required", {"new"}}, {"properties", {{"new", {{"contains", {{"const", kind}}}}}}}}},
                              {"then", {{"properties", {{"join", {{"not", {{"required", {kind}}}}}}}}}}});
    return r;
}

// Step keys by name, for the run form and the action forms.
std::map<std::string, ojson> step_shapes(const strict_yaml::Keys& keys) {
    std::map<std::string, ojson> all{{"in", def_ref("vantage")},
                                     {"do", ojson::object()},
                                     {"run", text()},
                                     {"as", def_ref("alias")},
                                     {"expect_error", def_ref("errno")},
                                     {"exit", {{"anyOf", ojson::array({{{"type", "integer"}, {"minimum", 0}, {"maximum", 255}},
                                                                       {{"const", "any"}}})}}}};
    std::map<std::string, ojson> out;
    for (auto& k : keys) out[k.name] = all.at(k.name);
    return out;
}

void step_defs(ojson& defs) {
    defs["run_step"] = object_of(g::run_step_keys(), step_shapes(g::run_step_keys()));
    strict_yaml::Keys action_keys;
    for (auto& k : g::step_keys())
        if (k.name != "run" && k.name != "exit") action_keys.push_back(k);
    ojson step{{"type", "object"},
               {"properties", {{"in", def_ref("vantage")}, {"do", {{"enum", ops(agent::OpKind::action)}}}, {"run", text()}}},
               {"required", {"in"}},
               {"oneOf", ojson::array({{{"required", {"do"}}}, {{"required", {"run"}}}})},
               {"allOf", ojson::array({{{"if", {{"required", {"run"}}}}, {"then", def_ref("run_step")}}})}};
    for (auto& name : ops(agent::OpKind::action)) {
        const auto& op = *agent::registry().find(name);
        auto shapes = step_shapes(action_keys);
        shapes["do"] = {{"const", name}};
        ojson s{{"description", describe(op)}};
        s.update(object_of(action_keys, shapes));
        s["required"].push_back("do");
        add_args(s, op);
        defs["do_" + name] = s;
        step["allOf"].push_back({{"if", {{"required", {"do"}}, {"properties", {{"do", {{"const", name}}}}}}}, {"then", def_ref("do_" + name)}});
    }
    defs["step"] = step;
}

ojson matcher_schema() {
    ojson m = object_of(g::matcher_keys(), {{"equals", {{"anyOf", ojson::array({text(), text_list()})}}},
                                            {"contains", text()},
                                            {"not_contains", text()},
                                            {"count", {{"type", "integer"}, {"minimum", 0}}},
                                            {"matches", text()},
                                            {"same_as", def_ref("vantage")},
                                            {"differs_from", def_ref("vantage")},
                                            {"error", def_ref("errno")}});
    m["minProperties"] = 1;
    m["maxProperties"] = 1;
    return {{"description", "A value, a list, unchanged or changed, or one matcher such as {contains: x}."},
            {"anyOf", ojson::array({text(), text_list(), m})}};
}

// A row of one form: that form's key, why/since/before, a cell per vantage (at least one), and
// for a probe its arguments.
ojson row_of(const std::string& form, const ojson& form_shape, const std::string& cell) {
    strict_yaml::Keys keys;
    for (auto& k : g::row_forms())
        if (k.name == form) keys.push_back(k);
    for (auto& k : g::row_keys()) keys.push_back(k);
    keys.push_back({"host", false, "The host's cell."});
    ojson r = object_of(keys, {{form, form_shape}, {"why", text()}, {"since", def_ref("version")}, {"before", def_ref("version")}, {"host", def_ref(cell)}});
    r["required"] = {form};
    r["patternProperties"] = {{g::kRealmNamePattern, def_ref(cell)}};
    ojson has_host{{"required", {"host"}}};
    ojson no_realm_key{{"propertyNames", {{"not", pattern(g::kRealmNamePattern)}}}};
    ojson has_realm_key{{"not", no_realm_key}};
    r["anyOf"] = ojson::array({has_host, has_realm_key});
    return r;
}

void row_defs(ojson& defs) {
    defs["matcher"] = matcher_schema();
    defs["see_cell"] = {{"enum", g::see_words()}};
    defs["see_row"] = row_of("see", def_ref("alias"), "see_cell");
    defs["run_row"] = row_of("run", text(), "matcher");
    ojson row{{"type", "object"},
              {"properties", {{"probe", {{"enum", ops(agent::OpKind::probe)}}}, {"see", def_ref("alias")}, {"run", text()}}},
              {"oneOf", ojson::array()},
              {"allOf", ojson::array({{{"if", {{"required", {"see"}}}}, {"then", def_ref("see_row")}},
                                      {{"if", {{"required", {"run"}}}}, {"then", def_ref("run_row")}}})}};
    for (auto& k : g::row_forms()) row["oneOf"].push_back({{"required", {k.name}}});
    for (auto& name : ops(agent::OpKind::probe)) {
        const auto& op = *agent::registry().find(name);
        ojson s{{"description", describe(op)}};
        s.update(row_of("probe", {{"const", name}}, "matcher"));
        add_args(s, op);
        defs["probe_" + name] = s;
        row["allOf"].push_back({{"if", {{"required", {"probe"}}, {"properties", {{"probe", {{"const", name}}}}}}}, {"then", def_ref("probe_" + name)}});
    }
    defs["row"] = row;
}

ojson experiment_def() {
    ojson e = object_of(g::experiment_keys(),
                        {{"name", def_ref("name")},
                         {"summary", text()},
                         {"refs", text_list()},
                         {"tags", text_list()},
                         {"requires", def_ref("requires")},
                         {"timeout", {{"type", "number"}, {"exclusiveMinimum", 0}, {"maximum", 600}}},
                         {"realms", {{"type", "object"}, {"propertyNames", def_ref("realm_name")}, {"additionalProperties", def_ref("realm")}}},
                         {"steps", {{"type", "array"}, {"items", def_ref("step")}}},
                         {"expect", {{"type", "array"}, {"items", def_ref("row")}}}});
    // It asserts something: a row, or a step that expects an error.
    ojson has_rows{{"required", {"expect"}}, {"properties", {{"expect", {{"minItems", 1}}}}}};
    ojson error_step{{"contains", {{"required", {"expect_error"}}}}};
    ojson has_error_step{{"required", {"steps"}}, {"properties", {{"steps", error_step}}}};
    e["anyOf"] = ojson::array({has_rows, has_error_step});
    return e;
}

}  // namespace

ojson experiment_schema() {
    ojson defs = ojson::object();
    basic_defs(defs);
    defs["requires"] = requires_schema();
    defs["realm"] = realm_schema();
    step_defs(defs);
    row_defs(defs);
    defs["experiment"] = experiment_def();
    ojson s{{"$schema", "https://json-schema.org/draft/2020-12/schema"},
            {"title", "nslab experiment file (nslab: 1)"},
            {"description", "A suite of namespace experiments. Generated by `nslab schema` from the registry and the loader's "
                            "tables; do not edit. docs/schema.md describes the format."}};
    s.update(object_of(g::suite_keys(), {{"nslab", {{"const", 1}}},
                                         {"suite", def_ref("name")},
                                         {"title", text()},
                                         {"description", text()},
                                         {"experiments", {{"type", "array"}, {"minItems", 1}, {"items", def_ref("experiment")}}}}));
    s["$defs"] = defs;
    return s;
}

}  // namespace nslab::experiment
