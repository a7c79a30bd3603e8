// nsfs namespace ops: being written for the catalogue issue (issue 3).
#include "agent/registry.hpp"

namespace nslab::agent {

void register_nsfs_ops(Registry&) {}

}  // namespace nslab::agent
