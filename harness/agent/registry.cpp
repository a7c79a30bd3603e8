#include "agent/registry.hpp"

#include <arpa/inet.h>
#include <limits.h>
#include <signal.h>
#include <string.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "core/spelling.hpp"

namespace nslab::agent {

std::optional<int> parse_signal(const std::string& text) {
    std::string name = text;
    for (auto& ch : name) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (name.rfind("SIG", 0) == 0) name = name.substr(3);
    if (!name.empty() && name.size() < 4 && std::all_of(name.begin(), name.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }))
        return std::stoi(name) < NSIG ? std::optional<int>(std::stoi(name)) : std::nullopt;
    for (int sig = 1; sig < NSIG; ++sig)
        if (sigabbrev_np(sig) && name == sigabbrev_np(sig)) return sig;
    return std::nullopt;
}

ArgCheck one_of(std::vector<std::string> allowed) {
    ArgDomain domain{.values = allowed};
    auto test = [allowed = std::move(allowed)](const json& value) -> std::string {
        std::vector<json> items = value.is_array() ? value.get<std::vector<json>>() : std::vector<json>{value};
        for (auto& item : items) {
            std::string v = item.is_string() ? item.get<std::string>() : item.dump();
            if (std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
                std::string list;
                for (auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
                return "'" + v + "' is not one of " + list + core::did_you_mean(v, allowed);
            }
        }
        return "";
    };
    return {test, std::move(domain)};
}

ArgCheck int_range(long long min, long long max) {
    auto test = [min, max](const json& value) -> std::string {
        if (!value.is_number_integer()) return "'" + value.dump() + "' is not an integer";
        long long v = value.get<long long>();
        if (v < min || v > max) return std::to_string(v) + " is outside " + std::to_string(min) + ".." + std::to_string(max);
        return "";
    };
    return {test, ArgDomain{.min = min, .max = max}};
}

// A regex that matches `word` in any case ("[Tt][Ee][Rr][Mm]"): JSON Schema patterns take no flags.
static std::string any_case(const std::string& word) {
    std::string out;
    for (char c : word) {
        char lo = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        char up = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        out += lo == up ? std::string(1, c) : std::string("[") + up + lo + "]";
    }
    return out;
}

ArgCheck signal_value() {
    auto test = [](const json& value) -> std::string {
        std::string v = value.is_string() ? value.get<std::string>() : value.dump();
        return parse_signal(v) ? "" : "'" + v + "' is not a signal (a name such as TERM, KILL, USR1, SIGTERM, or a number below " +
                                          std::to_string(NSIG) + ")";
    };
    // The names parse_signal() knows, in any case and with or without SIG, or a number below NSIG.
    std::string names;
    for (int sig = 1; sig < NSIG; ++sig)
        if (const char* n = sigabbrev_np(sig)) names += (names.empty() ? "" : "|") + any_case(n);
    return {test, ArgDomain{.min = 0, .max = NSIG - 1, .pattern = "^(" + any_case("SIG") + ")?(" + names + ")$|^[0-9]{1,3}$"}};
}

ArgCheck max_bytes(size_t n, std::string what) {
    auto test = [n, what = std::move(what)](const json& value) -> std::string {
        if (!value.is_string()) return "";
        size_t size = value.get_ref<const std::string&>().size();
        if (size == 0) return "an empty string is not " + what;
        if (size > n) return std::to_string(size) + " bytes is longer than " + what + " may be (" + std::to_string(n) + ")";
        return "";
    };
    return {test, ArgDomain{.max_length = n}};
}

ArgCheck namespace_kind(bool or_for_children) {
    std::vector<std::string> names;
    for (auto& k : core::namespace_kinds()) {
        names.emplace_back(k.name);
        if (or_for_children && !k.for_children.empty()) names.emplace_back(k.for_children);
    }
    return one_of(std::move(names));
}

ArgCheck ipv4(bool with_prefix) {
    auto test = [with_prefix](const json& value) -> std::string {
        if (!value.is_string()) return "";
        const std::string& text = value.get_ref<const std::string&>();
        std::string addr = text, shape = with_prefix ? "an IPv4 address with a prefix length, e.g. 10.200.0.1/24"
                                                      : "an IPv4 address, e.g. 10.200.0.1";
        if (with_prefix) {
            auto slash = text.find('/');
            if (slash == std::string::npos) return "'" + text + "' is not " + shape;
            std::string len = text.substr(slash + 1);
            if (len.empty() || len.size() > 2 || len.find_first_not_of("0123456789") != std::string::npos || std::stoi(len) > 32)
                return "'" + text + "' is not " + shape;
            addr = text.substr(0, slash);
        }
        struct in_addr parsed {};
        if (::inet_pton(AF_INET, addr.c_str(), &parsed) != 1) return "'" + text + "' is not " + shape;
        return "";
    };
    // inet_pton(3): four decimal octets, no leading zero.
    const std::string octet = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
    std::string pattern = "^(" + octet + "\\.){3}" + octet + (with_prefix ? "/(3[0-2]|[12]?[0-9]|0[0-9])" : "") + "$";
    return {test, ArgDomain{.pattern = pattern}};
}

ArgCheck ipc_key() {
    auto test = [](const json& value) -> std::string {
        if (!value.is_string()) return "";
        const std::string& text = value.get_ref<const std::string&>();
        if (text == "IPC_PRIVATE") return "";
        // svipc(7): a key is a key_t, 32 bits; written in hex (0x…, as ipcs(1) shows it) or decimal.
        bool hex = text.starts_with("0x") || text.starts_with("0X");
        std::string digits = hex ? text.substr(2) : text;
        const char* allowed = hex ? "0123456789abcdefABCDEF" : "0123456789";
        if (digits.empty() || digits.find_first_not_of(allowed) != std::string::npos || digits.size() > (hex ? 8u : 10u) ||
            std::stoull(digits, nullptr, hex ? 16 : 10) > 0xffffffffull)
            return "'" + text + "' is not an IPC key (0x1234abcd, a decimal number, or IPC_PRIVATE)";
        return "";
    };
    // A plain 0x1234abcd is a number to YAML (and to an editor): the integer form is a key too.
    return {test, ArgDomain{.min = 0, .max = 0xffffffffLL, .pattern = "^(0[xX][0-9a-fA-F]{1,8}|[0-9]{1,10}|IPC_PRIVATE)$"}};
}

ArgCheck mq_name() {
    auto test = [](const json& value) -> std::string {
        if (!value.is_string()) return "";
        const std::string& text = value.get_ref<const std::string&>();
        // mq_overview(7): "/somename": an initial slash, up to NAME_MAX characters, no other slash.
        if (text.size() < 2 || text[0] != '/' || text.find('/', 1) != std::string::npos || text.size() - 1 > NAME_MAX)
            return "'" + text + "' is not a message queue name (/name, one slash, at most " + std::to_string(NAME_MAX) + " bytes)";
        return "";
    };
    return {test, ArgDomain{.pattern = "^/[^/]{1," + std::to_string(NAME_MAX) + "}$"}};
}

std::string arg_type_name(ArgType t) {
    switch (t) {
        case ArgType::string: return "string";
        case ArgType::integer: return "integer";
        case ArgType::boolean: return "boolean";
        case ArgType::string_list: return "list of strings";
        case ArgType::ns_list: return "list of namespace kinds";
        case ArgType::realm: return "realm name";
    }
    return "?";
}

void Registry::add(OpSpec spec) {
    std::string name = spec.name;
    // Two kinds registering one name is a programming error: fail loudly at start-up, in every
    // binary and test, rather than let the second op vanish.
    if (!ops_.emplace(name, std::move(spec)).second) throw std::logic_error("op '" + name + "' is registered twice");
}

void Registry::add_visibility(std::string object_kind, VisibilityCheck check) {
    std::string kind = object_kind;
    if (!visibility_.emplace(std::move(object_kind), std::move(check)).second)
        throw std::logic_error("visibility rule for '" + kind + "' is registered twice");
}

const OpSpec* Registry::find(const std::string& name) const {
    auto it = ops_.find(name);
    return it == ops_.end() ? nullptr : &it->second;
}

const VisibilityCheck* Registry::visibility(const std::string& object_kind) const {
    auto it = visibility_.find(object_kind);
    return it == visibility_.end() ? nullptr : &it->second;
}

std::vector<std::string> Registry::object_kinds() const {
    std::vector<std::string> kinds;
    for (auto& [k, _] : visibility_) kinds.push_back(k);
    return kinds;
}

const Registry& registry() {
    static const Registry r = [] {
        Registry reg;
        register_general_ops(reg);
        register_uts_ops(reg);
        register_ipc_ops(reg);
        register_mount_ops(reg);
        register_pid_ops(reg);
        register_pid_signal_ops(reg);
        register_user_ops(reg);
        register_time_ops(reg);
        register_net_ops(reg);
        register_cgroup_ops(reg);
        register_nsfs_ops(reg);
        register_realm_ops(reg);
        register_launch_ops(reg);
        return reg;
    }();
    return r;
}

sys::Result<RealmNamespaces> realm_namespaces(const OpCall& call, size_t index) {
    size_t per_realm = 0;
    for (auto& k : core::namespace_kinds())
        if (core::kernel_has(k.ns)) ++per_realm;
    if (call.fds_in.size() < (index + 1) * per_realm)
        return sys::Error::message("expected the namespace fds of realm argument #" + std::to_string(index + 1) + ", got " +
                                   std::to_string(call.fds_in.size()) + " fds");
    RealmNamespaces out;
    out.fd.fill(-1);
    size_t at = index * per_realm;
    for (auto& k : core::namespace_kinds())
        if (core::kernel_has(k.ns)) out.fd[static_cast<size_t>(k.ns)] = call.fds_in[at++].get();
    return out;
}

sys::Result<std::string> arg_string(const json& args, const std::string& name) {
    auto it = args.find(name);
    if (it == args.end() || !it->is_string())
        return sys::Error::message("argument '" + name + "' must be a string");
    return it->get<std::string>();
}

std::optional<std::string> arg_string_opt(const json& args, const std::string& name) {
    auto it = args.find(name);
    if (it == args.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
}

sys::Result<long long> arg_int(const json& args, const std::string& name) {
    auto it = args.find(name);
    if (it == args.end() || !it->is_number_integer())
        return sys::Error::message("argument '" + name + "' must be an integer");
    return it->get<long long>();
}

std::optional<long long> arg_int_opt(const json& args, const std::string& name) {
    auto it = args.find(name);
    if (it == args.end() || !it->is_number_integer()) return std::nullopt;
    return it->get<long long>();
}

sys::Result<std::vector<std::string>> arg_string_list(const json& args, const std::string& name) {
    auto it = args.find(name);
    if (it == args.end() || !it->is_array())
        return sys::Error::message("argument '" + name + "' must be a list of strings");
    std::vector<std::string> out;
    for (auto& v : *it) {
        if (!v.is_string()) return sys::Error::message("argument '" + name + "' must be a list of strings");
        out.push_back(v.get<std::string>());
    }
    return out;
}

}  // namespace nslab::agent
