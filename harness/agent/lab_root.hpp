// The lab's copy-on-write root: every write a lab makes, anywhere, lands on the lab's own tmpfs
// and vanishes with it, while it reads the machine's files as they are.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "sys/result.hpp"

namespace nslab::agent {

// What setup_lab made of the lab's `/`.
struct LabRoot {
    bool copy_on_write = false;
    std::string why_not;              // when !copy_on_write: the cause, said to experiments that need it
    std::vector<std::string> caveats;  // parts kept read-only instead, e.g. "/boot/efi: overlay: EINVAL"
};

// Where a tree is put together before pivot_root: the lab's /tmp, which only the lab sees.
inline constexpr const char* kLabRootStaging = "/tmp";

// In the lab's own (private) mount namespace, before anything else runs: builds the new root under
// kLabRootStaging (overlays of the machine's directories, upper layers on a tmpfs), mounts the
// lab's /proc, /sys, /dev, /tmp through mount_pseudo (given the new root's path) and enters it
// with pivot_root. On error nothing of it is left mounted, and the caller keeps the machine's `/`.
sys::Status enter_copy_on_write_root(bool in_user_namespace, const std::function<sys::Status(const std::string&)>& mount_pseudo,
                                     std::vector<std::string>& caveats);

// Without a copy-on-write root: makes every mount of the machine's tree read-only in the lab's
// mount namespace, so that a write outside the lab's own /tmp fails (EROFS) instead of changing
// the machine. Device files stay usable: a read-only mount refuses only changes to the tree.
sys::Status make_machine_read_only();

}  // namespace nslab::agent
