#include "experiment/model.hpp"

#include <sstream>

namespace nslab::experiment {

std::string Mark::str() const {
    return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

std::string matcher_kind_name(MatcherKind k) {
    switch (k) {
        case MatcherKind::equals: return "equals";
        case MatcherKind::unchanged: return "unchanged";
        case MatcherKind::changed: return "changed";
        case MatcherKind::contains: return "contains";
        case MatcherKind::not_contains: return "not_contains";
        case MatcherKind::count: return "count";
        case MatcherKind::matches: return "matches";
        case MatcherKind::same_as: return "same_as";
        case MatcherKind::differs_from: return "differs_from";
        case MatcherKind::visible: return "visible";
        case MatcherKind::hidden: return "hidden";
        case MatcherKind::error: return "error";
    }
    return "?";
}

namespace {
std::string text_of(const json& v) {
    if (v.is_string()) return v.get<std::string>();
    return v.dump();
}
}  // namespace

std::string Matcher::describe() const {
    switch (kind) {
        case MatcherKind::equals: return text_of(value);
        case MatcherKind::unchanged:
        case MatcherKind::changed:
        case MatcherKind::visible:
        case MatcherKind::hidden: return matcher_kind_name(kind);
        case MatcherKind::contains: return "contains " + text_of(value);
        case MatcherKind::not_contains: return "lacks " + text_of(value);
        case MatcherKind::count: return "count " + text_of(value);
        case MatcherKind::matches: return "matches /" + text_of(value) + "/";
        case MatcherKind::same_as: return "same as " + vantage;
        case MatcherKind::differs_from: return "differs from " + vantage;
        case MatcherKind::error: return "error " + text_of(value);
    }
    return "?";
}

bool kernel_at_least(const std::string& release, const std::string& minimum) {
    auto parts = [](const std::string& s) {
        std::vector<long> v;
        std::istringstream in(s);
        std::string piece;
        while (std::getline(in, piece, '.')) {
            size_t used = 0;
            try {
                v.push_back(std::stol(piece, &used));
            } catch (...) {
                break;
            }
            if (used != piece.size()) break;  // "18-fc-v657": the numeric prefix ends the version
        }
        while (v.size() < 3) v.push_back(0);
        return v;
    };
    return parts(release) >= parts(minimum);
}

bool Expectation::applies_to_kernel(const std::string& release) const {
    return (since_kernel.empty() || kernel_at_least(release, since_kernel)) &&
           (before_kernel.empty() || !kernel_at_least(release, before_kernel));
}

std::string Expectation::kernel_range() const {
    if (!since_kernel.empty() && !before_kernel.empty()) return since_kernel + " <= kernel < " + before_kernel;
    if (!since_kernel.empty()) return "kernel >= " + since_kernel;
    if (!before_kernel.empty()) return "kernel < " + before_kernel;
    return "";
}

std::string Expectation::label() const {
    std::string s;
    switch (form) {
        case Form::see: s = "see " + object; break;
        case Form::run: s = "run `" + args.value("command", std::string()) + "`"; break;
        case Form::probe:
            s = op;
            for (auto& [k, v] : args.items()) s += " " + k + "=" + text_of(v);
            break;
    }
    if (std::string range = kernel_range(); !range.empty()) s += " [" + range + "]";
    return s;
}

const RealmSpec* Experiment::realm(const std::string& realm_name) const {
    for (auto& r : realms)
        if (r.name == realm_name) return &r;
    return nullptr;
}

std::vector<std::string> Experiment::vantages() const {
    std::vector<std::string> v;
    for (auto& r : realms) v.push_back(r.name);
    v.push_back("host");
    return v;
}

}  // namespace nslab::experiment
