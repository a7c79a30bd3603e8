#include "agent/lab_command.hpp"

#include <algorithm>
#include <cctype>
#include <regex>

#include "core/namespace_kind.hpp"

namespace nslab::agent {
namespace {

bool is_upper_start(char c) { return c >= 'A' && c <= 'Z'; }
bool is_upper_part(char c) { return is_upper_start(c) || (c >= '0' && c <= '9') || c == '_'; }
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

const ArgSpec* arg_named(const OpSpec& op, const std::string& name) {
    for (auto& a : op.args)
        if (a.name == name) return &a;
    return nullptr;
}

// The placeholders of a text: maximal runs of capitals, digits and _ that start with a capital,
// are not followed by a small letter ("CapEff" and "NSpid" hold none) and name an argument of op.
struct Placeholder {
    size_t at, size;
    const ArgSpec* arg;
};
std::vector<Placeholder> placeholders(const std::string& text, const OpSpec& op) {
    std::vector<Placeholder> out;
    for (size_t i = 0; i < text.size();) {
        if (!is_upper_start(text[i]) || (i > 0 && is_upper_part(text[i - 1]))) {
            ++i;
            continue;
        }
        size_t end = i;
        while (end < text.size() && is_upper_part(text[end])) ++end;
        bool touches_lower = end < text.size() && is_lower(text[end]);
        if (const ArgSpec* a = touches_lower ? nullptr : arg_named(op, lower(text.substr(i, end - i))))
            out.push_back({i, end - i, a});
        i = end;
    }
    return out;
}

// A shell word for a value: as is when nothing in it is special, else quoted (double quotes
// when it holds a ${…} the shell must expand).
std::string shell_word(const std::string& value) {
    static const std::string plain = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-";
    static const std::regex variable("\\$\\{[a-z][a-z0-9_]*\\}");
    std::string rest = std::regex_replace(value, variable, "v");  // ${seg_id} expands to a plain word
    if (!value.empty() && rest.find_first_not_of(plain) == std::string::npos) return value;
    // A newline or a tab would break the line: bash's $'…' spells them.
    if (value.find_first_of("\n\t\r") != std::string::npos) {
        std::string out = "$'";
        for (char c : value)
            out += c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" : c == '\'' ? "\\'" : c == '\\' ? "\\\\" : std::string(1, c);
        return out + "'";
    }
    if (value.find("${") != std::string::npos && value.find_first_of("\"`\\") == std::string::npos) return "\"" + value + "\"";
    std::string out = "'";
    for (char c : value) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

std::string item_text(const json& v, const ArgSpec& a, bool after_dashes) {
    if (a.type == ArgType::realm && v.is_string()) {
        const std::string& realm = v.get_ref<const std::string&>();
        return realm == "host" ? "1" : "$" + realm_pid_variable(realm);
    }
    std::string text = v.is_string() ? shell_references(v.get<std::string>()) : v.dump();
    if (after_dashes && text == "mnt") return "mount";  // unshare(1) and nsenter(1) spell it --mount
    return a.name == "command" || !v.is_string() ? text : shell_word(text);
}

// The value of a placeholder, given what is glued before it ("--", "-" or "").
std::string value_text(const json& v, const ArgSpec& a, const std::string& dashes) {
    if (!v.is_array()) return item_text(v, a, !dashes.empty());
    std::string out;
    for (auto& item : v) {
        if (!out.empty()) out += dashes.empty() ? "," : " " + dashes;
        out += item_text(item, a, !dashes.empty());
    }
    return out;
}

// A text without optional parts, its placeholders filled in (a missing one stays as written).
std::string fill(const std::string& text, const OpSpec& op, const json& args) {
    std::string out;
    size_t from = 0;
    for (auto& p : placeholders(text, op)) {
        std::string before = text.substr(from, p.at - from);
        std::string dashes;
        bool glued = p.at >= 1 && text[p.at - 1] == '-' && (p.at < 2 || text[p.at - 2] == '-' || text[p.at - 2] == ' ');
        if (glued) dashes = p.at >= 2 && text[p.at - 2] == '-' ? "--" : "-";
        out += before;
        auto v = args.find(p.arg->name);
        out += v == args.end() ? text.substr(p.at, p.size) : value_text(*v, *p.arg, dashes);
        from = p.at + p.size;
    }
    return out + shell_references(text.substr(from));
}

// Whether an alternative of an optional part holds for these arguments.
bool holds(const std::string& alt, const OpSpec& op, const json& args) {
    for (auto& p : placeholders(alt, op))
        if (!args.contains(p.arg->name) || args[p.arg->name] == false) return false;
    for (auto& a : op.args) {
        if (a.lab_flag.empty()) continue;
        bool negated = a.lab_flag[0] == '!';
        if (alt != (negated ? a.lab_flag.substr(1) : a.lab_flag)) continue;
        auto v = args.find(a.name);
        bool given_true = v != args.end() && *v == true, given_false = v != args.end() && *v == false;
        return negated ? !given_false : given_true;
    }
    return true;
}

std::vector<std::string> alternatives(const std::string& part) {
    std::vector<std::string> out;
    size_t from = 0;
    for (size_t bar; (bar = part.find('|', from)) != std::string::npos; from = bar + 1) out.push_back(part.substr(from, bar - from));
    out.push_back(part.substr(from));
    return out;
}

}  // namespace

std::string realm_pid_variable(const std::string& realm) { return "PID_" + realm; }

std::string shell_references(const std::string& text) {
    static const std::regex ref("\\$\\{([a-z][a-z0-9_]*)\\.([a-z_]+)\\}");
    // The runner substitutes references even inside '…'; the shell expands a variable only in "…".
    static const std::regex quoted("'([^'\"`\\\\$]*\\$\\{[a-z][a-z0-9_]*\\.[a-z_]+\\}[^'\"`\\\\]*)'");
    std::string out;
    auto from = text.cbegin();
    for (std::sregex_iterator it(text.begin(), text.end(), quoted), end; it != end; ++it) {
        std::string inside = (*it)[1].str();
        bool only_references = std::regex_replace(inside, ref, "").find('$') == std::string::npos;
        out.append(from, (*it)[0].first);
        out += only_references ? "\"" + inside + "\"" : (*it)[0].str();
        from = (*it)[0].second;
    }
    out.append(from, text.cend());
    return std::regex_replace(out, ref, "$${$1_$2}");
}

std::string lab_command(const std::string& templ, const OpSpec& op, const json& args, const std::string& as) {
    std::string text = templ;
    for (size_t at; !as.empty() && (at = text.find("${AS.")) != std::string::npos;) text.replace(at, 5, "${" + as + ".");
    std::string out;
    for (size_t i = 0; i < text.size();) {
        size_t open = text.find('[', i);
        if (open == std::string::npos) {
            out += fill(text.substr(i), op, args);
            break;
        }
        out += fill(text.substr(i, open - i), op, args);
        size_t close = text.find(']', open);
        if (close == std::string::npos) close = text.size();  // lab_template_error() reports it
        std::string chosen;
        bool written = false;
        for (auto& alt : alternatives(text.substr(open + 1, close - open - 1)))
            if (holds(alt, op, args)) {
                chosen = fill(alt, op, args);
                written = true;
                break;
            }
        // A part left out takes one of the spaces around it along.
        if (!written && !out.empty() && out.back() == ' ' && (close + 1 >= text.size() || text[close + 1] == ' ')) out.pop_back();
        out += chosen;
        i = close + 1;
    }
    return out;
}

std::string lab_command(const OpSpec& op, const json& args) { return lab_command(op.lab, op, args); }

std::string lab_template_error(const std::string& templ, const OpSpec& op) {
    for (size_t open = templ.find('['); open != std::string::npos; open = templ.find('[', open + 1)) {
        size_t close = templ.find(']', open);
        if (close == std::string::npos || templ.find('[', open + 1) < close) return "'[' at " + std::to_string(open) + " is not closed";
        auto alts = alternatives(templ.substr(open + 1, close - open - 1));
        bool flag = std::any_of(op.args.begin(), op.args.end(), [&](const ArgSpec& a) {
            return !a.lab_flag.empty() && (a.lab_flag == alts[0] || a.lab_flag == "!" + alts[0]);
        });
        if (alts.size() == 1 && placeholders(alts[0], op).empty() && !flag)
            return "optional part [" + alts[0] + "] names no argument and is no argument's lab_flag";
    }
    return "";
}

}  // namespace nslab::agent
