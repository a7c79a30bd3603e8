// A fingerprint of a directory tree, for the leak check (runner/machine_state.hpp): for each entry
// its path, type, mode, owner, and for non-directories size and mtime, read with statx(2) without
// following symlinks. Bounded: a cap on entries (a capped tree says so), no pseudo, network or FUSE
// filesystem entered, and entries that cannot be read are recorded as unreadable, not skipped.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace nslab::runner {

struct FileEntry {
    std::string path;  // relative to the tree's root, "" for the root itself
    char type = '?';   // 'f' file, 'd' directory, 'l' symlink, 'p' fifo, 's' socket, 'c'/'b' device
    unsigned mode = 0;  // permission bits (07777)
    unsigned uid = 0, gid = 0;
    long long size = 0;      // 0 for directories: their size and mtime follow every entry made and
    long long mtime_ns = 0;  // removed in them, even by others; what lasts is seen in the entries
    int error = 0;           // errno: a directory that could not be listed, an entry not stat-able
    bool mount = false;      // the root of another mount, recorded but not entered
    bool operator==(const FileEntry&) const = default;
};

struct FileTree {
    std::string root;  // "/etc"
    std::vector<FileEntry>
        entries;          // in walk order (walk_before): a directory, then its entries by name
    bool capped = false;  // the walk stopped at the cap: entries are the first ones in walk order
    bool operator==(const FileTree&) const = default;
};

struct FileTreeOptions {
    size_t cap = 100000;
    // Absolute paths, a glob (fnmatch) in the last component only ("/var/tmp/nslab-*"): such
    // entries are neither recorded nor entered.
    std::vector<std::string> excluded;
    // Files not compared wherever they are (st_dev, st_ino): the runner's own output.
    std::vector<std::pair<dev_t, ino_t>> own_files;
};

// Never fails: a missing or unreadable root is a tree whose root entry says so (or no entry).
FileTree snapshot_tree(const std::string& root, const FileTreeOptions& options);

// The order of the walk over relative paths: component by component, a directory before its
// entries.
bool walk_before(const std::string& a, const std::string& b);

// Appends "file added: /etc/foo", "file changed: /etc/passwd (size 1234 -> 1290, ...)", "file
// removed: ..." for two snapshots of the same root. When either is capped, only the entries up to
// the earlier cap are compared.
void diff_trees(std::vector<std::string>& out, const FileTree& before, const FileTree& after);

// What the snapshot could not see ("/root: not readable (EACCES) ...", "/root: more than 100000
// entries ..."); empty when it saw everything.
std::vector<std::string> describe_tree_limits(const FileTree& tree);

}  // namespace nslab::runner
