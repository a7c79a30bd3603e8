// "Did you mean": the nearest of the expected words to a misspelt one, for error messages.
#pragma once

#include <string>
#include <vector>

namespace nslab::core {

// " (did you mean 'private'?)" when a candidate is within a few edits of word, else "".
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace nslab::core
