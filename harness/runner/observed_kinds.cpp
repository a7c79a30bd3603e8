#include "runner/observed_kinds.hpp"

#include <cctype>

#include "agent/registry.hpp"

namespace nslab::runner {
namespace {

// "uts", "pid_for_children", "CLONE_NEWUTS", "CLONE_NEWNS" -> the kind's bit; 0 for anything else.
unsigned kind_named(const std::string& word) {
    std::string w = word;
    if (w.starts_with("CLONE_NEW")) {
        w = w.substr(9);
        for (auto& ch : w) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (w == "ns") w = "mnt";
    }
    if (auto at = w.find("_for_children"); at != std::string::npos) w.erase(at);
    auto ns = core::ns_from_name(w);
    return ns ? core::ns_bit(*ns) : 0u;
}

unsigned kinds_in(const experiment::json& value) {
    unsigned mask = 0;
    if (value.is_string()) mask |= kind_named(value.get<std::string>());
    else if (value.is_array())
        for (auto& v : value) mask |= kinds_in(v);
    return mask;
}

unsigned kinds_of_op(const std::string& op_name, const experiment::json& args) {
    unsigned mask = 0;
    for (const char* key : {"kind", "kinds", "flags", "ns"})
        if (args.contains(key)) mask |= kinds_in(args[key]);
    const agent::OpSpec* op = agent::registry().find(op_name);
    if (op && op->finds_realm_process)
        for (auto& a : op->args)
            if (a.type == agent::ArgType::realm && args.contains(a.name)) mask |= core::ns_bit(core::Ns::pid);
    return mask;
}

}  // namespace

unsigned observed_kinds(const experiment::Experiment& e) {
    unsigned mask = 0;
    for (auto& realm : e.realms) {
        mask |= realm.new_mask;
        for (auto& [kind, target] : realm.join) mask |= kind_named(kind);
    }
    for (auto& step : e.steps) mask |= kinds_of_op(step.op, step.args);
    for (auto& row : e.expect) mask |= kinds_of_op(row.op, row.args);
    return mask;
}

}  // namespace nslab::runner
