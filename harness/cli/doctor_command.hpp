// `nslab doctor [PATHS…] [--format json] [--user-lab]`: see doctor_command.cpp.
#pragma once

#include <string>
#include <vector>

namespace nslab::cli {

struct DoctorArgs {
    std::vector<std::string> paths{"suites"};
    std::string format = "pretty";  // pretty | json
    bool user_lab = false;          // as `nslab run --user-lab` would run
};

int doctor_command(const DoctorArgs& args);

}  // namespace nslab::cli
