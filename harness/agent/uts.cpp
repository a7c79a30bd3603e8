// UTS namespace ops (uts_namespaces(7)): hostname and NIS domain name are per UTS namespace.
#include <limits.h>

#include "agent/registry.hpp"
#include "sys/syscalls.hpp"

namespace nslab::agent {

void register_uts_ops(Registry& r) {
    r.add({.name = "sethostname",
           .kind = OpKind::action,
           .ns = "uts",
           .doc = "Sets the hostname of the caller's UTS namespace.",
           .lab = "hostname NAME",
           .args = {{"name", ArgType::string, true, "the new hostname (at most 64 bytes)",
                     max_bytes(HOST_NAME_MAX, "a hostname"), /*kernel_limit=*/true}},
           .handler = [](OpCall& c) -> sys::Result<json> {
               NSLAB_ASSIGN_OR_RETURN(std::string name, arg_string(c.args, "name"));
               NSLAB_TRY(sys::sethostname(name));
               return json(name);
           }});
    r.add({.name = "setdomainname",
           .kind = OpKind::action,
           .ns = "uts",
           .doc = "Sets the NIS domain name of the caller's UTS namespace.",
           .lab = "domainname NAME",
           .args = {{"name", ArgType::string, true, "the new domain name (at most 64 bytes)",
                     max_bytes(64, "a domain name"), /*kernel_limit=*/true}},
           .handler = [](OpCall& c) -> sys::Result<json> {
               NSLAB_ASSIGN_OR_RETURN(std::string name, arg_string(c.args, "name"));
               NSLAB_TRY(sys::setdomainname(name));
               return json(name);
           }});
    r.add({.name = "hostname",
           .kind = OpKind::probe,
           .ns = "uts",
           .doc = "The hostname as uname(2) reports it to the caller.",
           .lab = "hostname",
           .handler = [](OpCall&) -> sys::Result<json> {
               NSLAB_ASSIGN_OR_RETURN(std::string h, sys::gethostname());
               return json(h);
           }});
    r.add({.name = "domainname",
           .kind = OpKind::probe,
           .ns = "uts",
           .doc = "The NIS domain name as uname(2) reports it to the caller.",
           .lab = "domainname",
           .handler = [](OpCall&) -> sys::Result<json> {
               NSLAB_ASSIGN_OR_RETURN(std::string d, sys::getdomainname());
               return json(d);
           }});
}

}  // namespace nslab::agent
