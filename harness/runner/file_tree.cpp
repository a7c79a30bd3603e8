#include "runner/file_tree.hpp"

#include <fcntl.h>
#include <fnmatch.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string_view>

#include "core/mountinfo.hpp"
#include "core/unique_fd.hpp"
#include "sys/syscalls.hpp"

namespace nslab::runner {
namespace {

// Filesystems that store files, on disk or in memory: a mount of one inside a tree is entered.
// Others are recorded as a mount point and not entered: pseudo filesystems (proc, sysfs, cgroup,
// nsfs, ...) show the kernel's live state rather than files someone left; network and FUSE
// filesystems can block a stat for long or refuse even root.
constexpr std::string_view kStorageFilesystems[] = {
    "tmpfs", "ramfs", "ext2", "ext3",     "ext4", "xfs",   "btrfs",    "overlay",
    "f2fs",  "zfs",   "jfs",  "bcachefs", "vfat", "exfat", "squashfs", "erofs"};

// Mount id (statx's stx_mnt_id, mountinfo's first field) -> filesystem type, for this process's
// mount namespace.
std::map<unsigned long long, std::string> filesystem_types() {
    std::map<unsigned long long, std::string> types;
    auto mounts = core::read_mountinfo();
    if (!mounts.ok()) return types;
    for (auto& m : *mounts) types[std::strtoull(m.id.c_str(), nullptr, 10)] = m.fstype;
    return types;
}

// The file types, as FileEntry::type spells them and as a leak line names them.
struct FileKind {
    unsigned format;  // S_IFMT bits
    char type;
    const char* name;
};
constexpr FileKind kFileKinds[] = {
    {S_IFREG, 'f', "file"},        {S_IFDIR, 'd', "directory"}, {S_IFLNK, 'l', "symlink"},
    {S_IFIFO, 'p', "fifo"},        {S_IFSOCK, 's', "socket"},   {S_IFCHR, 'c', "character device"},
    {S_IFBLK, 'b', "block device"}};

char type_of(unsigned mode) {
    for (auto& k : kFileKinds)
        if ((mode & S_IFMT) == k.format) return k.type;
    return '?';
}

std::string type_name(char type) {
    for (auto& k : kFileKinds)
        if (type == k.type) return k.name;
    return "unreadable entry";
}

// AT_NO_AUTOMOUNT: an autofs point is recorded, not mounted by looking; AT_STATX_DONT_SYNC: a
// network filesystem answers from its cache.
constexpr int kStatxFlags = AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_STATX_DONT_SYNC;
constexpr unsigned kStatxMask = STATX_TYPE | STATX_MODE | STATX_UID | STATX_GID | STATX_SIZE |
                                STATX_MTIME | STATX_INO | STATX_MNT_ID;

struct Walk {
    const FileTreeOptions& options;
    FileTree& tree;
    std::map<unsigned long long, std::string> fstypes;
};

FileEntry entry_of(std::string path, const struct ::statx& stx) {
    FileEntry e;
    e.path = std::move(path);
    e.type = type_of(stx.stx_mode);
    e.mode = stx.stx_mode & 07777;
    e.uid = stx.stx_uid;
    e.gid = stx.stx_gid;
    if (e.type != 'd') {
        e.size = static_cast<long long>(stx.stx_size);
        e.mtime_ns =
            static_cast<long long>(stx.stx_mtime.tv_sec) * 1000000000LL + stx.stx_mtime.tv_nsec;
    }
    return e;
}

// Whether a directory met in the walk is another mount, and whether to enter it.
struct MountCheck {
    bool other = false, enter = true;
};

MountCheck mount_check(const Walk& w, const struct ::statx& parent, const struct ::statx& child) {
    MountCheck m;
    if ((parent.stx_mask & STATX_MNT_ID) && (child.stx_mask & STATX_MNT_ID)) {
        m.other = parent.stx_mnt_id != child.stx_mnt_id;  // a bind mount of the same filesystem too
        if (m.other) {
            auto t = w.fstypes.find(child.stx_mnt_id);
            m.enter = t != w.fstypes.end() &&
                      std::find(std::begin(kStorageFilesystems), std::end(kStorageFilesystems),
                                t->second) != std::end(kStorageFilesystems);
        }
    } else {  // before Linux 5.8 (no mount id): another device is another mount, not entered
        m.other = parent.stx_dev_major != child.stx_dev_major ||
                  parent.stx_dev_minor != child.stx_dev_minor;
        m.enter = !m.other;
    }
    return m;
}

bool own_file(const Walk& w, const struct ::statx& stx) {
    dev_t dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
    return std::find(w.options.own_files.begin(), w.options.own_files.end(),
                     std::pair<dev_t, ino_t>(dev, stx.stx_ino)) != w.options.own_files.end();
}

// The name patterns of options.excluded whose directory is `dir` (absolute).
std::vector<std::string> excluded_in(const Walk& w, const std::string& dir) {
    std::vector<std::string> names;
    for (auto& p : w.options.excluded) {
        auto slash = p.rfind('/');
        if (slash != std::string::npos && p.compare(0, slash, dir) == 0 && slash == dir.size())
            names.push_back(p.substr(slash + 1));
    }
    return names;
}

// Lists the directory open as `fd` (the entry at `index`, its statx `self`) into the tree, depth
// first.
void walk_dir(Walk& w, int fd, size_t index, const struct ::statx& self) {
    auto names = sys::list_dir_fd(fd);
    if (!names.ok()) {
        w.tree.entries[index].error = names.error().err();
        return;
    }
    std::sort(names->begin(), names->end());  // by bytes: the order walk_before gives
    const std::string rel = w.tree.entries[index].path;
    const std::string abs = rel.empty() ? w.tree.root : w.tree.root + "/" + rel;
    const auto excluded = excluded_in(w, abs);
    for (auto& name : *names) {
        if (std::any_of(excluded.begin(), excluded.end(), [&](const std::string& p) {
                return ::fnmatch(p.c_str(), name.c_str(), 0) == 0;
            }))
            continue;
        std::string path = rel.empty() ? name : rel + "/" + name;
        auto stx = sys::statx(fd, name, kStatxFlags, kStatxMask);
        if (!stx.ok() && stx.error().err() == ENOENT) continue;  // gone since the listing
        if (stx.ok() && type_of(stx->stx_mode) != 'd' && own_file(w, *stx)) continue;
        if (w.tree.entries.size() >= w.options.cap) {
            w.tree.capped = true;
            return;
        }
        if (!stx.ok()) {
            FileEntry e;
            e.path = std::move(path);
            e.error = stx.error().err();
            w.tree.entries.push_back(std::move(e));
            continue;
        }
        w.tree.entries.push_back(entry_of(std::move(path), *stx));
        if (w.tree.entries.back().type != 'd') continue;
        size_t child = w.tree.entries.size() - 1;
        auto m = mount_check(w, self, *stx);
        w.tree.entries[child].mount = m.other;
        if (!m.enter) continue;
        auto opened = sys::openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (!opened.ok()) {
            w.tree.entries[child].error = opened.error().err();
            continue;
        }
        core::UniqueFd child_fd(*opened);
        walk_dir(w, child_fd.get(), child, *stx);
        if (w.tree.capped) return;
    }
}

std::string display(const FileTree& tree, const std::string& rel) {
    return rel.empty() ? tree.root : tree.root + "/" + rel;
}

std::string time_of(long long ns) {
    long long sub = ns % 1000000000LL;
    if (sub < 0) sub += 1000000000LL;  // before 1970: the second below, plus a positive fraction
    time_t secs = static_cast<time_t>((ns - sub) / 1000000000LL);
    struct tm tm {};
    ::gmtime_r(&secs, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%09lld UTC", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, sub);
    return buf;
}

std::string octal(unsigned mode) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04o", mode);
    return buf;
}

std::string readability(int error) {
    return error == 0 ? "readable" : "not readable (" + sys::errno_name(error) + ")";
}

std::string changes(const FileEntry& a, const FileEntry& b) {
    std::vector<std::string> parts;
    if (a.type != b.type) parts.push_back("type " + type_name(a.type) + " -> " + type_name(b.type));
    if (a.mode != b.mode) parts.push_back("mode " + octal(a.mode) + " -> " + octal(b.mode));
    if (a.uid != b.uid || a.gid != b.gid)
        parts.push_back("owner " + std::to_string(a.uid) + ":" + std::to_string(a.gid) + " -> " +
                        std::to_string(b.uid) + ":" + std::to_string(b.gid));
    if (a.size != b.size)
        parts.push_back("size " + std::to_string(a.size) + " -> " + std::to_string(b.size));
    if (a.mtime_ns != b.mtime_ns)
        parts.push_back("mtime " + time_of(a.mtime_ns) + " -> " + time_of(b.mtime_ns));
    if (a.error != b.error) parts.push_back(readability(a.error) + " -> " + readability(b.error));
    if (a.mount != b.mount)
        parts.push_back(b.mount ? "now a mount point" : "no longer a mount point");
    std::string s;
    for (auto& p : parts) s += (s.empty() ? "" : ", ") + p;
    return s;
}

std::string counted(size_t n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
}

bool beneath(const std::string& dir, const std::string& path) {
    return dir.empty() ? !path.empty()
                       : path.size() > dir.size() && path[dir.size()] == '/' &&
                             path.compare(0, dir.size(), dir) == 0;
}

// "file added: /etc/foo (file, 12 bytes)", one line for a directory and everything in it; returns
// the index past what the line covers.
size_t one_side(std::vector<std::string>& out, const std::string& what, const FileTree& tree,
                const std::vector<FileEntry>& entries, size_t i, size_t end) {
    const FileEntry& e = entries[i];
    std::string detail = type_name(e.type);
    if (e.type == 'f') detail += ", " + counted(static_cast<size_t>(e.size), "byte", "bytes");
    size_t j = i + 1;
    while (j < end && beneath(e.path, entries[j].path)) ++j;
    if (j > i + 1) detail += ", " + counted(j - i - 1, "entry", "entries") + " in it";
    out.push_back("file " + what + ": " + display(tree, e.path) + " (" + detail + ")");
    return j;
}

}  // namespace

bool walk_before(const std::string& a, const std::string& b) {
    // Names hold any byte but '/' and NUL: '/' ranked lowest compares component by component.
    auto rank = [](char c) { return c == '/' ? 0 : static_cast<unsigned char>(c) + 1; };
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                        [&](char x, char y) { return rank(x) < rank(y); });
}

FileTree snapshot_tree(const std::string& root, const FileTreeOptions& options) {
    FileTree tree;
    tree.root = root;
    Walk w{options, tree, filesystem_types()};
    auto stx = sys::statx(AT_FDCWD, root, kStatxFlags, kStatxMask);
    if (!stx.ok()) {
        if (stx.error().err() != ENOENT) {
            FileEntry e;
            e.error = stx.error().err();
            tree.entries.push_back(std::move(e));
        }
        return tree;
    }
    tree.entries.push_back(entry_of("", *stx));
    if (tree.entries[0].type != 'd' || options.cap == 0) return tree;
    auto fd = sys::open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (!fd.ok()) {
        tree.entries[0].error = fd.error().err();
        return tree;
    }
    core::UniqueFd owned(*fd);
    walk_dir(w, owned.get(), 0, *stx);
    return tree;
}

void diff_trees(std::vector<std::string>& out, const FileTree& before, const FileTree& after) {
    // A capped walk saw nothing past its last entry: compare up to the earlier of the two ends.
    auto end_of = [](const FileTree& t, const std::string* limit) {
        if (!limit) return t.entries.size();
        auto it = std::upper_bound(
            t.entries.begin(), t.entries.end(), *limit,
            [](const std::string& l, const FileEntry& e) { return walk_before(l, e.path); });
        return static_cast<size_t>(it - t.entries.begin());
    };
    const std::string* limit = nullptr;
    for (auto* t : {&before, &after})
        if (t->capped && !t->entries.empty() &&
            (!limit || walk_before(t->entries.back().path, *limit)))
            limit = &t->entries.back().path;
    size_t i = 0, j = 0, bend = end_of(before, limit), aend = end_of(after, limit);
    while (i < bend || j < aend) {
        if (i < bend && j < aend && before.entries[i].path == after.entries[j].path) {
            if (!(before.entries[i] == after.entries[j]))
                out.push_back("file changed: " + display(after, after.entries[j].path) + " (" +
                              changes(before.entries[i], after.entries[j]) + ")");
            ++i, ++j;
        } else if (j == aend ||
                   (i < bend && walk_before(before.entries[i].path, after.entries[j].path))) {
            i = one_side(out, "removed", before, before.entries, i, bend);
        } else {
            j = one_side(out, "added", after, after.entries, j, aend);
        }
    }
}

std::vector<std::string> describe_tree_limits(const FileTree& tree) {
    std::vector<std::string> notes;
    if (!tree.entries.empty() && tree.entries[0].path.empty() && tree.entries[0].error)
        notes.push_back(tree.root + ": " + readability(tree.entries[0].error) +
                        ": only its own attributes compared");
    std::vector<const FileEntry*> unreadable;
    for (auto& e : tree.entries)
        if (e.error && !e.path.empty()) unreadable.push_back(&e);
    if (!unreadable.empty()) {
        std::string s = tree.root + ": " + counted(unreadable.size(), "entry", "entries") +
                        " not readable, compared by their own attributes only: ";
        for (size_t k = 0; k < unreadable.size() && k < 3; ++k)
            s += (k ? ", " : "") + display(tree, unreadable[k]->path) + " (" +
                 sys::errno_name(unreadable[k]->error) + ")";
        notes.push_back(s + (unreadable.size() > 3 ? ", ..." : ""));
    }
    if (tree.capped)
        notes.push_back(tree.root + ": more than " + std::to_string(tree.entries.size()) +
                        " entries: the first " + std::to_string(tree.entries.size()) +
                        " in path order compared, up to " +
                        display(tree, tree.entries.back().path));
    return notes;
}

}  // namespace nslab::runner
