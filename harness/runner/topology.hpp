// The topology check: before any step, every realm must have exactly the namespaces its experiment
// asked for — new where `new` says so, the target's where it joins, its parent's everywhere else.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/namespace_kind.hpp"
#include "experiment/model.hpp"

namespace nslab::runner {

struct RealmIdentity {
    const experiment::RealmSpec* spec;
    const core::NamespaceSet* ns;
    unsigned may_add = 0;  // kinds its launcher may also create (bwrap's mount namespace): not checked
};

// What is wrong with a realm's namespaces: `text` says it ("realm A should have a new uts
// namespace but shares the host's (uts:[4026531838])"); the rest names it for feedback.
struct TopologyProblem {
    std::string text;
    std::string realm;
    core::Ns kind = core::Ns::uts;
    bool missing_new = false;  // a new namespace was asked for and not made (else one was shared wrongly or added)
};

// nullopt when right.
std::optional<TopologyProblem> check_topology(const experiment::Experiment& e, const core::NamespaceSet& host,
                                          const std::vector<RealmIdentity>& realms);

}  // namespace nslab::runner
