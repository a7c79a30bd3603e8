#include "experiment/strict_yaml.hpp"

#include <yaml-cpp/depthguard.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "core/namespace_kind.hpp"
#include "core/spelling.hpp"

namespace nslab::strict_yaml {
namespace {

// The 1-based line where a second YAML document starts, if any. A first '---' before any content
// only opens the first document.
std::optional<int> second_document_line(const std::string& text) {
    std::istringstream in(text);
    bool content = false, ended = false;
    int n = 0;
    for (std::string line; std::getline(in, line);) {
        ++n;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        bool start = line.rfind("---", 0) == 0 && (line.size() == 3 || line[3] == ' ' || line[3] == '\t');
        bool end = line.rfind("...", 0) == 0 && (line.size() == 3 || line[3] == ' ' || line[3] == '\t');
        size_t first = line.find_first_not_of(" \t");
        bool blank = first == std::string::npos || line[first] == '#';
        if (start) {
            if (content || ended) return n;
            content = true;  // '---' opens the first document
            continue;
        }
        if (end) {
            ended = true;
            continue;
        }
        if (blank || (!content && line[0] == '%')) continue;  // comments, directives
        if (ended) return n;
        content = true;
    }
    return std::nullopt;
}

// yaml-cpp's parser messages, made to say what to fix.
LoadError syntax_error(const std::string& text, const std::string& file, const YAML::Exception& e) {
    int line = e.mark.is_null() ? 1 : e.mark.line + 1;
    int column = e.mark.is_null() ? 1 : e.mark.column + 1;
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    // A tab in indentation is the classic cause of "end of map not found" and friends.
    for (int i = 0; i < static_cast<int>(lines.size()) && i < line; ++i) {
        const std::string& l = lines[static_cast<size_t>(i)];
        size_t indent_end = l.find_first_not_of(" \t");
        if (indent_end != std::string::npos && l.substr(0, indent_end).find('\t') != std::string::npos)
            return {Mark{file, i + 1, 1}, "YAML syntax: a tab indents this line; YAML indents with spaces only"};
    }
    std::string message = "YAML syntax: " + e.msg;
    if (e.msg == "end of sequence flow not found") message += " (a '[' list opened earlier is not closed with ']')";
    else if (e.msg == "end of map flow not found") message += " (a '{' mapping opened earlier is not closed with '}')";
    else if (e.msg == "the referenced anchor is not defined" && line <= static_cast<int>(lines.size())) {
        std::string rest = lines[static_cast<size_t>(line - 1)].substr(static_cast<size_t>(column - 1));
        size_t end = rest.find_first_of(" \t,]}");
        std::string alias = rest.substr(0, end);
        if (alias.size() > 1 && alias[0] == '*')
            message = "YAML: alias '" + alias + "' refers to no anchor; define '&" + alias.substr(1) + "' earlier in the file";
    }
    return {Mark{file, line, column}, message};
}

// The offset of the first byte that does not begin or continue a well-formed UTF-8 sequence
// (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
std::optional<size_t> first_invalid_utf8(const std::string& text) {
    const auto* s = reinterpret_cast<const unsigned char*>(text.data());
    const size_t n = text.size();
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t len;
        unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
        if (c < 0x80) { ++i; continue; }
        if (c >= 0xC2 && c <= 0xDF) len = 2;
        else if (c >= 0xE0 && c <= 0xEF) { len = 3; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
        else if (c >= 0xF0 && c <= 0xF4) { len = 4; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
        else return i;
        if (i + len > n) return i;
        if (s[i + 1] < lo || s[i + 1] > hi) return i;
        for (size_t k = 2; k < len; ++k)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF) return i;
        i += len;
    }
    return std::nullopt;
}

// The first reason the text is no YAML text file, before yaml-cpp sees it.
std::optional<LoadError> check_text(const std::string& text, const std::string& file, const FileKind& kind) {
    if (text.size() > kMaxFileBytes)
        return LoadError{Mark{file, 1, 1}, "the file is larger than 4 MiB; " + kind.one + " is never that big"};
    if (text.find('\0') != std::string::npos) {
        auto line = std::count(text.begin(), text.begin() + static_cast<long>(text.find('\0')), '\n') + 1;
        return LoadError{Mark{file, static_cast<int>(line), 1}, "the file contains a NUL byte: it is not a YAML text file"};
    }
    if (auto bad = first_invalid_utf8(text)) {
        auto before = text.begin() + static_cast<long>(*bad);
        auto line = std::count(text.begin(), before, '\n') + 1;
        size_t line_start = text.rfind('\n', *bad == 0 ? 0 : *bad - 1);
        size_t column = line_start == std::string::npos || *bad == 0 ? *bad + 1 : *bad - line_start;
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned char>(text[*bad]));
        return LoadError{Mark{file, static_cast<int>(line), static_cast<int>(column)},
                         std::string("the file is not valid UTF-8 (byte ") + hex + " here); " + kind.many + " are UTF-8 text"};
    }
    // One document per file. yaml-cpp 0.7's LoadAll can loop forever on malformed input
    // (upstream jbeder/yaml-cpp#1319), so the first document is parsed with Load and a second one
    // found by its separator: a line starting with '---' (or content after '...') at column 0.
    if (auto second = second_document_line(text))
        return LoadError{Mark{file, *second, 1}, "the file holds more than one YAML document (a '---' or '...' "
                                                 "separator at column 1); " + kind.one + " is exactly one"};
    return std::nullopt;
}

std::string fmt(double d) {
    char s[32];
    std::snprintf(s, sizeof s, "%.15g", d);
    return s;
}

}  // namespace

std::optional<std::string> read_bounded(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return std::nullopt;
    std::string text;
    char chunk[1 << 16];
    while (text.size() <= kMaxFileBytes && in.read(chunk, sizeof chunk).gcount() > 0)
        text.append(chunk, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxFileBytes + 1) text.resize(kMaxFileBytes + 1);
    return text;
}

Parsed parse(const std::string& text, const std::string& file, const FileKind& kind) {
    Parsed p;
    if ((p.error = check_text(text, file, kind))) return p;
    p.blank = text.find_first_not_of(" \t\r\n") == std::string::npos;
    try {
        p.root = YAML::Load(text);
    } catch (const YAML::DeepRecursion& e) {
        // yaml-cpp's DepthGuard (depthguard.h, max_depth 2000 parser frames) ends deep nesting
        // before the stack does, but calls it "bad file".
        p.error = LoadError{Mark{file, e.mark.line + 1, e.mark.column + 1},
                            "YAML: nested too deeply (yaml-cpp stops at 2000 parser levels); " + kind.one + " nests a few levels"};
    } catch (const YAML::Exception& e) {
        p.error = syntax_error(text, file, e);
    }
    return p;
}

LoadError exception_error(const std::string& file, const YAML::Exception& e) {
    return {Mark{file, e.mark.is_null() ? 1 : e.mark.line + 1, e.mark.is_null() ? 1 : e.mark.column + 1}, "YAML: " + e.msg};
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
    std::string s;
    for (auto& x : v) s += (s.empty() ? "" : sep) + x;
    return s;
}

std::vector<std::string> names(const Keys& keys) {
    std::vector<std::string> out;
    for (auto& k : keys) out.push_back(k.name);
    return out;
}

std::string join_or(const std::vector<std::string>& words, bool quote) {
    std::string s;
    for (size_t i = 0; i < words.size(); ++i) {
        if (i > 0) s += i + 1 == words.size() ? " or " : ", ";
        s += quote ? "'" + words[i] + "'" : words[i];
    }
    return s;
}

std::string node_kind(const YAML::Node& n) {
    switch (n.Type()) {
        case YAML::NodeType::Null: return "nothing (null)";
        case YAML::NodeType::Scalar: return n.Tag() == "!" ? "a quoted string" : "'" + n.Scalar() + "'";
        case YAML::NodeType::Sequence: return "a list";
        case YAML::NodeType::Map: return "a mapping";
        default: return "nothing";
    }
}

bool plain(const YAML::Node& n) { return n.IsScalar() && n.Tag() != "!"; }

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
    return core::did_you_mean(word, candidates);
}

// ---- Reader ------------------------------------------------------------------------------------

Mark Reader::mark(const YAML::Node& n) const {
    auto m = n.Mark();
    if (m.is_null()) return Mark{file_, 1, 1};
    return Mark{file_, m.line + 1, m.column + 1};
}

void Reader::error(const YAML::Node& n, std::string message) { errors_.push_back({mark(n), std::move(message)}); }

std::optional<std::string> Reader::text(const YAML::Node& n, const std::string& what) {
    if (!n.IsScalar()) {
        error(n, what + " must be a string, not " + node_kind(n));
        return std::nullopt;
    }
    return n.Scalar();
}

std::optional<long long> Reader::integer(const YAML::Node& n, const std::string& what) {
    if (!plain(n)) {
        error(n, what + " must be an integer, not " + node_kind(n));
        return std::nullopt;
    }
    const std::string& s = n.Scalar();
    static const std::regex int_re("[-+]?(0|[1-9][0-9]{0,17})");
    if (!std::regex_match(s, int_re)) {
        error(n, what + " must be an integer, not " + node_kind(n));
        return std::nullopt;
    }
    return std::stoll(s);
}

std::optional<long long> Reader::integer_in(const YAML::Node& n, const std::string& what, long long lo, long long hi) {
    auto v = integer(n, what);
    if (v && (*v < lo || *v > hi)) {
        error(n, what + " must be between " + std::to_string(lo) + " and " + std::to_string(hi));
        return std::nullopt;
    }
    return v;
}

std::optional<double> Reader::number(const YAML::Node& n, const std::string& what) {
    if (!plain(n)) {
        error(n, what + " must be a number, not " + node_kind(n));
        return std::nullopt;
    }
    static const std::regex num_re("[-+]?([0-9]{1,9})(\\.[0-9]{1,9})?");
    if (!std::regex_match(n.Scalar(), num_re)) {
        error(n, what + " must be a number, not " + node_kind(n));
        return std::nullopt;
    }
    return std::stod(n.Scalar());
}

std::optional<double> Reader::number_in(const YAML::Node& n, const std::string& what, double lo, double hi) {
    auto v = number(n, what);
    if (v && (*v < lo || *v > hi)) {
        error(n, what + " must be between " + fmt(lo) + " and " + fmt(hi));
        return std::nullopt;
    }
    return v;
}

std::optional<bool> Reader::boolean(const YAML::Node& n, const std::string& what) {
    if (plain(n) && (n.Scalar() == "true" || n.Scalar() == "false")) return n.Scalar() == "true";
    error(n, what + " must be true or false, not " + node_kind(n));
    return std::nullopt;
}

std::optional<std::vector<std::string>> Reader::text_list(const YAML::Node& n, const std::string& what) {
    if (!n.IsSequence()) {
        error(n, what + " must be a list of strings, not " + node_kind(n));
        return std::nullopt;
    }
    std::vector<std::string> out;
    bool ok = true;
    for (const auto& item : n) {
        auto s = text(item, "each entry of " + what);
        if (s) out.push_back(*s);
        else ok = false;
    }
    if (!ok) return std::nullopt;
    return out;
}

std::optional<unsigned> Reader::ns_list(const YAML::Node& n, const std::string& what) {
    auto names = text_list(n, what);
    if (!names) return std::nullopt;
    unsigned mask = 0;
    size_t i = 0;
    for (const auto& item : n) {
        const std::string& name = (*names)[i++];
        auto ns = core::ns_from_name(name);
        if (!ns) {
            std::string hint = name == "mount" ? " (did you mean 'mnt'?)" : name == "network" ? " (did you mean 'net'?)" : "";
            error(item, "unknown namespace kind '" + name + "'" + hint + " in " + what +
                            " (expected one of: cgroup, ipc, mnt, net, pid, time, user, uts)");
            return std::nullopt;
        }
        if (mask & core::ns_bit(*ns)) {
            error(item, "namespace kind '" + name + "' is listed twice in " + what);
            return std::nullopt;
        }
        mask |= core::ns_bit(*ns);
    }
    return mask;
}

bool Reader::walk_map(const YAML::Node& n, const std::string& what, const KeyHandler& on_key,
                      const std::vector<std::string>& expected_keys) {
    if (!n.IsMap()) {
        error(n, what + " must be a mapping, not " + node_kind(n));
        return false;
    }
    std::set<std::string> seen;
    for (auto it = n.begin(); it != n.end(); ++it) {
        const YAML::Node key = it->first;  // a copy: it-> yields a temporary proxy
        if (!key.IsScalar()) {
            error(key, "a key in " + what + " must be a plain word, not " + node_kind(key));
            continue;
        }
        const std::string k = key.Scalar();
        if (!seen.insert(k).second) {
            error(key, "duplicate key '" + k + "' in " + what);
            continue;
        }
        if (!on_key(k, key, it->second))
            error(key, "unknown key '" + k + "' in " + what + did_you_mean(k, expected_keys) +
                           (expected_keys.empty() ? "" : " (expected one of: " + join(expected_keys) + ")"));
    }
    return true;
}

std::optional<std::map<std::string, YAML::Node>> Reader::fields(const YAML::Node& n, const std::string& what,
                                                                const std::vector<std::string>& allowed) {
    std::map<std::string, YAML::Node> got;
    keys_.clear();
    bool is_map = walk_map(
        n, what,
        [&](const std::string& k, const YAML::Node& key, const YAML::Node& v) {
            if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) return false;
            got.emplace(k, v);
            keys_.emplace(k, key);
            return true;
        },
        allowed);
    if (!is_map) return std::nullopt;
    return got;
}

const YAML::Node* Reader::required(const std::map<std::string, YAML::Node>& got, const std::string& key,
                                   const YAML::Node& parent, const std::string& what) {
    auto it = got.find(key);
    if (it == got.end()) {
        error(parent, what + " has no '" + key + "'");
        return nullptr;
    }
    return &it->second;
}

}  // namespace nslab::strict_yaml
