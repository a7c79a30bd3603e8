#include "experiment/op_schema.hpp"

#include "experiment/schema.hpp"

namespace nslab::experiment::schema {
namespace {

// A value that holds a ${NAME.FIELD} reference: checked once the runner has expanded it.
ojson reference(bool anchored) {
    return {{"type", "string"}, {"pattern", std::string(anchored ? "^" : "") + "\\$\\{[a-z][a-z0-9_]*\\.[a-z_]+\\}"}};
}

// The forms a string argument's domain allows (the loader reads any scalar as a string).
ojson string_domain(const agent::ArgDomain& d) {
    ojson alternatives = ojson::array();
    if (!d.values.empty()) alternatives.push_back({{"enum", d.values}});
    if (!d.pattern.empty() || d.max_length) {
        ojson s{{"type", "string"}};
        if (!d.pattern.empty()) s["pattern"] = d.pattern;
        if (d.max_length) s["minLength"] = 1, s["maxLength"] = *d.max_length;
        alternatives.push_back(s);
    }
    // A plain number is a string of digits to the loader: within any length limit, and the
    // number form of a domain that has one (signal 15, IPC key 4660).
    if (d.min || d.max) {
        ojson i{{"type", "integer"}};
        if (d.min) i["minimum"] = *d.min;
        if (d.max) i["maximum"] = *d.max;
        alternatives.push_back(i);
    } else if (d.max_length && d.values.empty() && d.pattern.empty()) {
        alternatives.push_back({{"type", ojson::array({"number", "boolean"})}});
    }
    alternatives.push_back(reference(false));
    return {{"anyOf", alternatives}};
}

ojson integer_domain(const agent::ArgDomain& d) {
    ojson i{{"type", "integer"}};
    if (d.min) i["minimum"] = *d.min;
    if (d.max) i["maximum"] = *d.max;
    return {{"anyOf", ojson::array({i, reference(true)})}};
}

}  // namespace

ojson arg(const agent::ArgSpec& a, bool with_domain) {
    ojson s;
    bool domain = with_domain && a.check;
    switch (a.type) {
        case agent::ArgType::string:
            s = domain ? string_domain(a.check.domain) : text();
            break;
        case agent::ArgType::integer:
            s = integer_domain(domain ? a.check.domain : agent::ArgDomain{});
            break;
        case agent::ArgType::boolean:
            s = {{"type", "boolean"}};
            break;
        case agent::ArgType::string_list:
            s = {{"type", "array"}, {"items", domain ? string_domain(a.check.domain) : text()}};
            break;
        case agent::ArgType::ns_list:
            s = ns_list();
            break;
        case agent::ArgType::realm:
            s = def_ref("vantage");
            break;
    }
    ojson out{{"description", a.doc}};
    out.update(s);
    return out;
}

void add_args(ojson& mapping, const agent::OpSpec& op) {
    bool action = op.kind == agent::OpKind::action;
    for (auto& a : op.args) {
        bool limit = action && a.kernel_limit && a.check;
        mapping["properties"][a.name] = arg(a, !limit);
        if (a.required) mapping["required"].push_back(a.name);
        if (limit)
            mapping["allOf"].push_back({{"if", {{"not", {{"required", {"expect_error"}}}}}},
                                        {"then", {{"properties", {{a.name, arg(a)}}}}}});
    }
}

std::string describe(const agent::OpSpec& op) {
    return op.doc + (op.lab.empty() ? "" : " Lab: `" + op.lab + "`.");
}

}  // namespace nslab::experiment::schema
