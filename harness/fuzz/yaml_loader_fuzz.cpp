// libFuzzer target: the strict YAML loader must answer any bytes with a suite or with errors that
// name file:line:column — never a crash, a hang or an escaped exception.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "experiment/loader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    auto result = nslab::experiment::load_text(text, "fuzz.yaml");
    // Exactly one of: suites, or errors. Errors always carry a position in the file.
    if (result.ok() == result.suites.empty()) std::abort();
    for (auto& e : result.errors)
        if (e.mark.file != "fuzz.yaml" || e.mark.line < 1 || e.mark.column < 1 || e.message.empty()) std::abort();
    return 0;
}
