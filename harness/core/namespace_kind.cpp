#include "core/namespace_kind.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sys/syscalls.hpp"

namespace nslab::core {
namespace {

constexpr std::array<NamespaceKind, kNsCount> kKinds = {{
    {Ns::cgroup, "cgroup", CLONE_NEWCGROUP, "", "cgroup_namespaces(7)"},
    {Ns::ipc, "ipc", CLONE_NEWIPC, "", "ipc_namespaces(7)"},
    {Ns::mnt, "mnt", CLONE_NEWNS, "", "mount_namespaces(7)"},
    {Ns::net, "net", CLONE_NEWNET, "", "network_namespaces(7)"},
    {Ns::pid, "pid", CLONE_NEWPID, "pid_for_children", "pid_namespaces(7)"},
    {Ns::time, "time", CLONE_NEWTIME, "time_for_children", "time_namespaces(7)"},
    {Ns::user, "user", CLONE_NEWUSER, "", "user_namespaces(7)"},
    {Ns::uts, "uts", CLONE_NEWUTS, "", "uts_namespaces(7)"},
}};

}  // namespace

std::span<const NamespaceKind> namespace_kinds() { return kKinds; }

const NamespaceKind& kind_of(Ns ns) { return kKinds[static_cast<size_t>(ns)]; }

std::optional<Ns> ns_from_name(std::string_view name) {
    for (auto& k : kKinds)
        if (k.name == name) return k.ns;
    return std::nullopt;
}

std::optional<Ns> ns_from_clone_flag(int flag) {
    for (auto& k : kKinds)
        if (k.clone_flag == flag) return k.ns;
    return std::nullopt;
}

std::string ns_list_names(unsigned mask) {
    std::string s;
    for (auto& k : kKinds) {
        if (mask & ns_bit(k.ns)) {
            if (!s.empty()) s += ", ";
            s += k.name;
        }
    }
    return s;
}

int clone_flags_of(unsigned mask) {
    int flags = 0;
    for (auto& k : kKinds)
        if (mask & ns_bit(k.ns)) flags |= k.clone_flag;
    return flags;
}

bool kernel_has(Ns ns) {
    // The kernel's set of namespace kinds cannot change while we run: ask once per process (a
    // forked realm inherits the answer) instead of on every hello.
    static const std::array<bool, kNsCount> has = [] {
        std::array<bool, kNsCount> a{};
        for (auto& k : kKinds)
            a[static_cast<size_t>(k.ns)] = ::access(("/proc/self/ns/" + std::string(k.name)).c_str(), F_OK) == 0;
        return a;
    }();
    return has[static_cast<size_t>(ns)];
}

std::string NsId::str() const { return "[" + std::to_string(ino) + "]"; }

sys::Result<NsId> ns_id_of_fd(int fd) {
    NSLAB_ASSIGN_OR_RETURN(struct stat st, sys::fstat(fd));
    return NsId{st.st_dev, st.st_ino};
}

sys::Result<NamespaceSet> open_namespaces(const std::string& path_prefix) {
    NamespaceSet set;
    for (auto& k : kKinds) {
        if (!kernel_has(k.ns)) continue;
        NSLAB_ASSIGN_OR_RETURN(int fd, sys::open(path_prefix + std::string(k.name), O_RDONLY | O_CLOEXEC));
        set.fds[static_cast<size_t>(k.ns)] = UniqueFd(fd);
        NSLAB_ASSIGN_OR_RETURN(NsId id, ns_id_of_fd(fd));
        set.ids[static_cast<size_t>(k.ns)] = id;
    }
    return set;
}

}  // namespace nslab::core
