#include "runner/values.hpp"

#include <cmath>
#include <cstdlib>
#include <optional>
#include <regex>
#include <sstream>

#include "agent/registry.hpp"
#include "experiment/loader.hpp"

namespace nslab::runner {

std::string render(const json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_array()) {
        std::string s = "[";
        for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + render(v[i]);
        return s + "]";
    }
    if (v.is_null()) return "(nothing)";
    return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

sys::Result<std::string> substitute(const std::string& text, const Objects& objects) {
    if (text.find("${") == std::string::npos) return text;
    std::string out;
    size_t pos = 0;
    for (auto& ref : experiment::references_in(text)) {
        std::string token = "${" + ref.alias + "." + ref.field + "}";
        size_t at = text.find(token, pos);
        auto obj = objects.find(ref.alias);
        if (obj == objects.end()) return sys::Error::message("'" + token + "': no step named '" + ref.alias + "' has run");
        if (!obj->second.is_object() || !obj->second.contains(ref.field)) {
            std::string fields;
            if (obj->second.is_object())
                for (auto& [k, _] : obj->second.items()) fields += (fields.empty() ? "" : ", ") + k;
            return sys::Error::message("'" + token + "': the result of '" + ref.alias + "' has no field '" + ref.field +
                                       "' (it has: " + (fields.empty() ? "none" : fields) + ")");
        }
        out += text.substr(pos, at - pos);
        const json& field = obj->second[ref.field];
        std::string value = render(field);
        if (ref.field == "stdout" && !value.empty() && value.back() == '\n') value.pop_back();
        out += value;
        pos = at + token.size();
    }
    out += text.substr(pos);
    return out;
}

std::string check_expanded_args(const std::string& op, const json& written, const json& expanded, bool expects_error) {
    const agent::OpSpec* spec = agent::registry().find(op);
    if (!spec || !written.is_object() || !expanded.is_object()) return "";
    for (const agent::ArgSpec& a : spec->args) {
        if (!a.check || (expects_error && a.kernel_limit) || !written.contains(a.name) || !expanded.contains(a.name)) continue;
        if (written[a.name].dump().find("${") == std::string::npos) continue;  // checked at load time
        json value = expanded[a.name];
        if (a.type == agent::ArgType::integer && value.is_string()) {
            try {
                size_t used = 0;
                long long n = std::stoll(value.get<std::string>(), &used);
                if (used == value.get<std::string>().size()) value = n;
            } catch (const std::exception&) {
            }
        }
        if (std::string why = a.check(value); !why.empty()) return "'" + a.name + "' = " + value.dump() + ": " + why;
    }
    return "";
}

sys::Result<json> substitute_all(const json& v, const Objects& objects) {
    if (v.is_string()) {
        const std::string& s = v.get_ref<const std::string&>();
        auto refs = experiment::references_in(s);
        if (refs.size() == 1 && s == "${" + refs[0].alias + "." + refs[0].field + "}") {
            auto obj = objects.find(refs[0].alias);
            if (obj != objects.end() && obj->second.is_object() && obj->second.contains(refs[0].field) &&
                obj->second[refs[0].field].is_number())
                return obj->second[refs[0].field];
        }
        NSLAB_ASSIGN_OR_RETURN(std::string t, substitute(s, objects));
        return json(t);
    }
    if (v.is_array() || v.is_object()) {
        json out = v;
        for (auto& [k, item] : v.items()) {
            NSLAB_ASSIGN_OR_RETURN(json sub, substitute_all(item, objects));
            if (v.is_array()) out[std::stoul(k)] = sub;
            else out[k] = sub;
        }
        return out;
    }
    return v;
}

namespace {

size_t count_of(const json& v) {
    if (v.is_array()) return v.size();
    std::istringstream in(render(v));
    std::string line;
    size_t n = 0;
    while (std::getline(in, line))
        if (line.find_first_not_of(" \t\r") != std::string::npos) ++n;
    return n;
}

bool contains(const json& observed, const std::string& needle) {
    if (observed.is_array()) {
        for (auto& e : observed)
            if (render(e) == needle) return true;
        return false;
    }
    return render(observed).find(needle) != std::string::npos;
}

bool equal_values(const json& observed, const json& expected) {
    if (expected.is_array()) {
        if (!observed.is_array() || observed.size() != expected.size()) return false;
        for (size_t i = 0; i < expected.size(); ++i)
            if (render(observed[i]) != render(expected[i])) return false;
        return true;
    }
    return render(observed) == render(expected);
}

// Two numbers within `tolerance` of each other are the same measurement; anything else compares
// as the matrix shows it.
// A number, or a YAML scalar that reads as one ("86400", "-10").
std::optional<double> number_in(const json& v) {
    if (v.is_number()) return v.get<double>();
    if (!v.is_string()) return std::nullopt;
    const std::string& s = v.get_ref<const std::string&>();
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(d)) return std::nullopt;
    return d;
}

bool same_value(const json& a, const json& b, double tolerance) {
    if (tolerance > 0)
        if (auto x = number_in(a), y = number_in(b); x && y) return std::fabs(*x - *y) <= tolerance;
    return a == b;
}

std::string tolerance_text(double tolerance) {
    std::ostringstream out;
    out << " ± " << tolerance;
    return out.str();
}

}  // namespace

std::string Observation::text() const { return error ? "error: " + error->describe() : render(value); }

bool judge(const experiment::Matcher& m, const Observations& obs, const Objects& objects, std::string& expected_text) {
    using experiment::MatcherKind;
    expected_text = m.describe();
    json value = m.value;
    if (!value.is_null()) {
        auto sub = substitute_all(value, objects);
        if (!sub.ok()) {
            expected_text += " (" + sub.error().describe() + ")";
            return false;
        }
        value = *sub;
        experiment::Matcher shown = m;
        shown.value = value;
        expected_text = shown.describe();
    }
    const Observation& o = *obs.observed;
    if (m.kind == MatcherKind::error) {
        return o.error && sys::errno_name(o.error->err()) == render(value);
    }
    if (o.error) {
        expected_text += " (the probe failed)";
        return false;
    }
    const json& seen = o.value;
    const bool measured = obs.tolerance > 0 && seen.is_number();
    switch (m.kind) {
        case MatcherKind::equals:
            if (measured && number_in(value)) {
                expected_text += tolerance_text(obs.tolerance);
                return same_value(seen, value, obs.tolerance);
            }
            return equal_values(seen, value);
        case MatcherKind::unchanged:
        case MatcherKind::changed: {
            if (!obs.baseline) return false;
            expected_text += " (was " + obs.baseline->text() + ")";
            if (obs.baseline->error) return false;  // nothing to compare with
            bool same = same_value(seen, obs.baseline->value, obs.tolerance);
            return m.kind == MatcherKind::unchanged ? same : !same;
        }
        case MatcherKind::contains: return contains(seen, render(value));
        case MatcherKind::not_contains: return !contains(seen, render(value));
        case MatcherKind::count: return count_of(seen) == value.get<size_t>();
        case MatcherKind::matches: return std::regex_search(render(seen), std::regex(render(value)));
        case MatcherKind::same_as:
        case MatcherKind::differs_from: {
            auto other = obs.row->find(m.vantage);
            if (other == obs.row->end()) return false;
            expected_text += " (" + other->second.text() + ")";
            if (other->second.error) return false;  // nothing to compare with
            bool same = same_value(seen, other->second.value, obs.tolerance);
            if (measured) expected_text += tolerance_text(obs.tolerance);
            return m.kind == MatcherKind::same_as ? same : !same;
        }
        case MatcherKind::visible: return render(seen) == "visible";
        case MatcherKind::hidden: return render(seen) == "hidden";
        case MatcherKind::error: break;  // judged above
    }
    return false;
}

}  // namespace nslab::runner
