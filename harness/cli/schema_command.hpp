// `nslab schema [--assignment] [-o FILE]`: the JSON Schema of the experiment file (or of the
// assignment file), generated from the registry and the loaders' tables.
#pragma once

#include <string>

namespace nslab::cli {

struct SchemaArgs {
    bool assignment = false;
    std::string output;  // "" or "-": stdout
};

int schema_command(const SchemaArgs& a);

}  // namespace nslab::cli
