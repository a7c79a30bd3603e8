// The per-user-namespace limits on namespaces (namespaces(7), /proc/sys/user/max_*_namespaces):
// creating a namespace past one fails with ENOSPC. This turns that errno into a hint that names
// the limit, as bubblewrap does.
#pragma once

#include <string>

namespace nslab::core {

// "namespace limit reached: /proc/sys/user/max_uts_namespaces is 0" when a limit of a kind in
// `mask` (all kinds when 0) is 0; else every such limit with its value.
std::string namespace_limit_hint(unsigned mask);

}  // namespace nslab::core
