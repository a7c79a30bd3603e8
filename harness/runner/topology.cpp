#include "runner/topology.hpp"

#include <algorithm>

namespace nslab::runner {

std::optional<TopologyProblem> check_topology(const experiment::Experiment& e, const core::NamespaceSet& host,
                                          const std::vector<RealmIdentity>& realms) {
    auto set_of = [&](const std::string& name) -> const core::NamespaceSet* {
        if (name.empty() || name == "host") return &host;
        for (auto& r : realms)
            if (r.spec->name == name) return r.ns;
        return nullptr;
    };
    auto label = [](const std::string& name) { return name.empty() || name == "host" ? std::string("the host") : "realm " + name; };
    for (auto& r : realms) {
        const core::NamespaceSet* parent = set_of(r.spec->parent);
        for (auto& k : core::namespace_kinds()) {
            auto mine = r.ns->id(k.ns);
            if (!mine) continue;  // the kernel lacks this kind
            std::string kind(k.name);
            std::string shown = kind + ":" + mine->str();
            auto joined = std::find_if(r.spec->join.begin(), r.spec->join.end(), [&](auto& j) { return j.first == kind; });
            if (joined != r.spec->join.end()) {
                const core::NamespaceSet* target = set_of(joined->second);
                if (target && target->id(k.ns) != mine)
                    return TopologyProblem{"realm " + r.spec->name + " should share the " + kind + " namespace of " +
                                               label(joined->second) + " but is in " + shown,
                                           r.spec->name, k.ns, false};
                continue;
            }
            bool is_new = r.spec->new_mask & core::ns_bit(k.ns);
            if (!is_new && (r.may_add & core::ns_bit(k.ns))) continue;
            if (!is_new) {
                if (parent->id(k.ns) != mine)
                    return TopologyProblem{"realm " + r.spec->name + " should share the " + kind + " namespace of " +
                                               label(r.spec->parent) + " but has its own (" + shown + ")",
                                           r.spec->name, k.ns, false};
                continue;
            }
            if (parent->id(k.ns) == mine)
                return TopologyProblem{"realm " + r.spec->name + " should have a new " + kind + " namespace but shares the one of " +
                                           label(r.spec->parent) + " (" + shown + ")",
                                       r.spec->name, k.ns, true};
            if (host.id(k.ns) == mine)
                return TopologyProblem{"realm " + r.spec->name + " should have a new " + kind + " namespace but shares the host's (" + shown + ")",
                                       r.spec->name, k.ns, true};
            for (auto& other : realms)
                if (other.spec != r.spec && (other.spec->new_mask & core::ns_bit(k.ns)) && other.ns->id(k.ns) == mine)
                    return TopologyProblem{"realms " + r.spec->name + " and " + other.spec->name + " should each have a new " +
                                               kind + " namespace but share " + shown,
                                           r.spec->name, k.ns, true};
        }
    }
    (void)e;
    return std::nullopt;
}

}  // namespace nslab::runner
