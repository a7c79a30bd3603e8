// The strict loader: YAML text -> Suite, or errors that each name file:line:column.
#pragma once

#include <string>
#include <vector>

#include "experiment/model.hpp"

namespace nslab::experiment {

struct LoadError {
    Mark mark;
    std::string message;
    std::string str() const;  // "suites/x.yaml:3:5: error: unknown key 'nwe' in realm A (expected one of: ...)"
};

struct LoadResult {
    std::vector<Suite> suites;
    std::vector<LoadError> errors;
    bool ok() const { return errors.empty(); }
};

// One file's text. `file` is how the file is named in marks.
LoadResult load_text(const std::string& text, const std::string& file);
// Files and directories (a directory contributes its *.yaml and *.yml files, sorted). Suite names
// must be unique across everything loaded together.
LoadResult load_paths(const std::vector<std::string>& paths);
// The *.yaml / *.yml files a path stands for (a file stands for itself), sorted.
std::vector<std::string> expand_paths(const std::vector<std::string>& paths, std::vector<LoadError>& errors);

// Shared with the runner: ${alias.field} references in a string, in order.
struct Reference {
    std::string alias, field;
};
std::vector<Reference> references_in(const std::string& text);

}  // namespace nslab::experiment
