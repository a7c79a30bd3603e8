// Leak checks in tests judge only the lab cgroups of the runners the test itself started: every
// runner below this process inherits NSLAB_RUN_TAG=test<PID>, and snapshots take "test<PID>." as
// the prefix of the run ids that count (runner/lab_cgroup.hpp). Another test's labs, running
// beside it under ctest -j or left behind by a runner that test killed, are not this test's leak.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <string>

namespace nslab::test {

// Call before starting any runner (the first call sets the variable).
inline const std::string& tagged_runs() {
    static const std::string prefix = [] {
        std::string tag = "test" + std::to_string(::getpid());
        ::setenv("NSLAB_RUN_TAG", tag.c_str(), 1);
        return tag + ".";
    }();
    return prefix;
}

}  // namespace nslab::test
