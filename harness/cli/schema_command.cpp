#include "cli/schema_command.hpp"

#include <fstream>
#include <iostream>

#include "experiment/schema.hpp"
#include "grade/assignment_schema.hpp"

namespace nslab::cli {

int schema_command(const SchemaArgs& a) {
    auto schema = a.assignment ? grade::assignment_schema() : experiment::experiment_schema();
    std::string text = schema.dump(2) + "\n";
    if (a.output.empty() || a.output == "-") {
        std::cout << text;
        return 0;
    }
    std::ofstream out(a.output, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) {
        std::cerr << "nslab: cannot write " << a.output << "\n";
        return 2;
    }
    return 0;
}

}  // namespace nslab::cli
