// The strict YAML layer that suites and assignments share: a file read in bounded memory, its text
// refused unless it is one UTF-8 YAML document, and typed readers that refuse what yaml-cpp would
// coerce or keep quiet about (`ture` for a boolean, `.nan` for a number, a duplicate key). Every
// error names file:line:column.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "experiment/loader.hpp"

namespace nslab::strict_yaml {

using experiment::LoadError;
using experiment::Mark;

constexpr size_t kMaxFileBytes = 4 << 20;

// What the file holds, as the text checks' messages name it: {"a suite", "suites"}.
struct FileKind {
    std::string one;
    std::string many;
};

// One key of a mapping in a file's grammar: the loaders walk mappings with tables of these and
// `nslab schema` writes the same tables out, so that the two cannot drift.
struct Key {
    std::string name;
    bool required = false;
    std::string doc;  // one line, for the schema's descriptions
};
using Keys = std::vector<Key>;
std::vector<std::string> names(const Keys& keys);
// "a, b or c" (quote: "'a', 'b' or 'c'"), as messages list alternatives.
std::string join_or(const std::vector<std::string>& words, bool quote = false);

// A file's text, read up to one byte past kMaxFileBytes (so that parse() refuses it by size in
// bounded memory); nullopt with errno set when it cannot be read.
std::optional<std::string> read_bounded(const std::string& file);

// The text as one YAML document, or the first reason it is not one: larger than kMaxFileBytes, a
// NUL byte, invalid UTF-8, a second document, a syntax error, nesting too deep.
struct Parsed {
    YAML::Node root;
    std::optional<LoadError> error;
    bool blank = false;  // nothing but whitespace (a null root then means "the file is empty")
};
Parsed parse(const std::string& text, const std::string& file, const FileKind& kind);

// A yaml-cpp exception thrown while walking a tree, at its mark.
LoadError exception_error(const std::string& file, const YAML::Exception& e);

// For messages.
std::string join(const std::vector<std::string>& v, const std::string& sep = ", ");
std::string node_kind(const YAML::Node& n);  // "a list", "'ture'", "nothing (null)"
bool plain(const YAML::Node& n);             // an unquoted scalar
// " (did you mean 'sethostname'?)" when one candidate is close, else "".
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

// Typed readers over one file's tree. Each error goes to `errors` and the reader returns nullopt
// (or false), so that a loader reports every mistake of a file at once.
class Reader {
public:
    Reader(std::string file, std::vector<LoadError>& errors) : file_(std::move(file)), errors_(errors) {}

    Mark mark(const YAML::Node& n) const;
    void error(const YAML::Node& n, std::string message);

    std::optional<std::string> text(const YAML::Node& n, const std::string& what);
    std::optional<long long> integer(const YAML::Node& n, const std::string& what);
    std::optional<long long> integer_in(const YAML::Node& n, const std::string& what, long long lo, long long hi);
    // Plain decimals only: no exponent, no .nan, no .inf.
    std::optional<double> number(const YAML::Node& n, const std::string& what);
    std::optional<double> number_in(const YAML::Node& n, const std::string& what, double lo, double hi);
    // Only `true` or `false`.
    std::optional<bool> boolean(const YAML::Node& n, const std::string& what);
    std::optional<std::vector<std::string>> text_list(const YAML::Node& n, const std::string& what);
    // Namespace kind names, each at most once, as a mask of core::ns_bit.
    std::optional<unsigned> ns_list(const YAML::Node& n, const std::string& what);

    // Walks a mapping: every key must be a scalar, unique, and accepted by `on_key` (which returns
    // false for an unknown key). Returns false if the node is not a mapping.
    using KeyHandler = std::function<bool(const std::string& name, const YAML::Node& key, const YAML::Node& value)>;
    bool walk_map(const YAML::Node& n, const std::string& what, const KeyHandler& on_key,
                  const std::vector<std::string>& expected_keys);
    // A mapping's entries after checking its keys against a fixed list; their key nodes are then
    // in keys_.
    std::optional<std::map<std::string, YAML::Node>> fields(const YAML::Node& n, const std::string& what,
                                                            const std::vector<std::string>& allowed);
    const YAML::Node* required(const std::map<std::string, YAML::Node>& got, const std::string& key,
                               const YAML::Node& parent, const std::string& what);

protected:
    std::string file_;
    std::vector<LoadError>& errors_;
    std::map<std::string, YAML::Node> keys_;  // the key nodes of the mapping fields() last read
};

}  // namespace nslab::strict_yaml
