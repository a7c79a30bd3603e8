// The one table of namespace kinds (namespaces(7)): every loop over kinds goes through it.
#pragma once

#include <sys/types.h>

#include <array>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/unique_fd.hpp"
#include "sys/result.hpp"

namespace nslab::core {

enum class Ns : unsigned char { cgroup, ipc, mnt, net, pid, time, user, uts };
inline constexpr size_t kNsCount = 8;

struct NamespaceKind {
    Ns ns;
    std::string_view name;          // as in /proc/PID/ns/<name> and in experiment YAML
    int clone_flag;                 // CLONE_NEW*
    std::string_view for_children;  // "pid_for_children" etc., empty when none
    std::string_view manpage;       // where its rules are written
};

// In the order of /proc/self/ns listings; user first would be the order for setns, see below.
std::span<const NamespaceKind> namespace_kinds();
const NamespaceKind& kind_of(Ns ns);
std::optional<Ns> ns_from_name(std::string_view name);
std::optional<Ns> ns_from_clone_flag(int flag);
// "uts, ipc" in table order.
std::string ns_list_names(unsigned mask);
inline unsigned ns_bit(Ns ns) { return 1u << static_cast<unsigned>(ns); }
int clone_flags_of(unsigned mask);
// Whether this kernel has the kind: /proc/self/ns/<name> exists.
bool kernel_has(Ns ns);

// A namespace's identity: the nsfs inode and device (namespaces(7): two processes are in the same
// namespace iff the (st_dev, st_ino) of their /proc/PID/ns/<kind> links are equal).
struct NsId {
    dev_t dev = 0;
    ino_t ino = 0;
    bool operator==(const NsId&) const = default;
    std::string str() const;  // "uts:[4026531838]"
};
sys::Result<NsId> ns_id_of_fd(int fd);

// One fd per kind the kernel has, opened from /proc/<pid>/ns (or self).
struct NamespaceSet {
    std::array<UniqueFd, kNsCount> fds;
    std::array<std::optional<NsId>, kNsCount> ids;
    const UniqueFd& fd(Ns ns) const { return fds[static_cast<size_t>(ns)]; }
    const std::optional<NsId>& id(Ns ns) const { return ids[static_cast<size_t>(ns)]; }
};
// Opens /proc/self/ns/* (path_prefix defaults to that) for every kind the kernel has.
sys::Result<NamespaceSet> open_namespaces(const std::string& path_prefix = "/proc/self/ns/");

}  // namespace nslab::core
