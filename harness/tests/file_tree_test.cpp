// The file fingerprint of the leak check (runner/file_tree.hpp) on a scratch tree: what it names,
// its order, its cap, what it leaves out and what it does not enter.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "runner/file_tree.hpp"

namespace nslab {
namespace {

namespace fs = std::filesystem;
using runner::FileTree;
using runner::FileTreeOptions;

std::string joined(const std::vector<std::string>& v) {
    std::string s;
    for (auto& x : v) s += x + "\n";
    return s;
}

void write(const fs::path& p, const std::string& text) {
    std::ofstream(p, std::ios::trunc) << text;
}

class MachineStateFiles : public ::testing::Test {
  protected:
    void SetUp() override {
        char t[] = "/tmp/nslab-file-tree-test-XXXXXX";
        ASSERT_NE(::mkdtemp(t), nullptr);
        root = t;
        fs::create_directories(root / "etc/ssl");
        fs::permissions(root / "etc/ssl", fs::perms(0755));
        write(root / "etc/passwd", "root:x:0:0::/root:/bin/sh\n");
        write(root / "etc/ssl/openssl.cnf", "x\n");
        fs::create_directories(root / "big");
        for (int i = 0; i < 20; ++i) write(root / "big" / ("f" + std::to_string(100 + i)), "");
    }
    void TearDown() override { fs::remove_all(root); }
    std::vector<std::string> diff(const FileTree& a, const FileTree& b) {
        std::vector<std::string> out;
        runner::diff_trees(out, a, b);
        return out;
    }
    fs::path root;
};

TEST_F(MachineStateFiles, EntriesComeInWalkOrderADirectoryThenItsEntries) {
    EXPECT_TRUE(runner::walk_before("", "a"));
    EXPECT_TRUE(runner::walk_before("a", "a/b"));
    EXPECT_TRUE(runner::walk_before("a/b", "a.b"));  // '/' below any byte: component by component
    EXPECT_TRUE(runner::walk_before("a/z", "a0"));
    EXPECT_FALSE(runner::walk_before("a", "a"));
    auto tree = runner::snapshot_tree(root, {});
    ASSERT_FALSE(tree.entries.empty());
    EXPECT_EQ(tree.entries[0].path, "");
    EXPECT_EQ(tree.entries[0].type, 'd');
    EXPECT_TRUE(std::is_sorted(tree.entries.begin(), tree.entries.end(), [](auto& a, auto& b) {
        return runner::walk_before(a.path, b.path);
    }));
    EXPECT_EQ(tree.entries.size(),
              1u + 1 + 20 + 1 + 1 + 1 + 1);  // root, big + 20, etc, passwd, ssl, cnf
    EXPECT_FALSE(tree.capped);
    EXPECT_TRUE(runner::describe_tree_limits(tree).empty());
    // A second snapshot of an unchanged tree is equal: nothing in it is read at a moment's value.
    EXPECT_EQ(tree, runner::snapshot_tree(root, {}));
}

TEST_F(MachineStateFiles, NamesWhatWasAddedChangedAndRemoved) {
    auto before = runner::snapshot_tree(root, {});
    write(root / "etc/passwd", "root:x:0:0::/root:/bin/sh\nlab:x:1000:1000::/:/bin/sh\n");
    fs::remove(root / "etc/ssl/openssl.cnf");
    write(root / "etc/foo", "12 bytes....");
    fs::create_directories(root / "etc/new/a/b");
    ::chmod((root / "etc/ssl").c_str(), 0700);
    fs::create_symlink("/nowhere", root / "etc/link");
    auto after = runner::snapshot_tree(root, {});
    std::string text = joined(diff(before, after));
    std::string r = root.string();
    EXPECT_NE(text.find("file added: " + r + "/etc/foo (file, 12 bytes)\n"), std::string::npos)
        << text;
    EXPECT_NE(text.find("file changed: " + r + "/etc/passwd (size 26 -> 53"), std::string::npos)
        << text;
    EXPECT_NE(text.find("file removed: " + r + "/etc/ssl/openssl.cnf (file, 2 bytes)\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("file changed: " + r + "/etc/ssl (mode 0755 -> 0700)\n"), std::string::npos)
        << text;
    EXPECT_NE(text.find("file added: " + r + "/etc/link (symlink)\n"), std::string::npos) << text;
    // A new directory is one line, with how much is in it.
    EXPECT_NE(text.find("file added: " + r + "/etc/new (directory, 2 entries in it)\n"),
              std::string::npos)
        << text;
    EXPECT_EQ(text.find("/etc/new/a"), std::string::npos) << text;
    // Directories' own size and mtime follow their entries: /etc itself is not "changed".
    EXPECT_EQ(text.find("file changed: " + r + "/etc ("), std::string::npos) << text;
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 6) << text;
}

TEST_F(MachineStateFiles, AFileMadeAndRemovedMeanwhileLeavesNoChange) {
    auto before = runner::snapshot_tree(root, {});
    write(root / "etc/transient", "x");
    fs::remove(root / "etc/transient");
    auto after = runner::snapshot_tree(root, {});
    EXPECT_TRUE(diff(before, after).empty()) << joined(diff(before, after));
}

TEST_F(MachineStateFiles, ACappedTreeSaysSoAndIsComparedUpToTheEarlierEnd) {
    FileTreeOptions capped{.cap = 10};
    auto before = runner::snapshot_tree(root, capped);
    EXPECT_TRUE(before.capped);
    ASSERT_EQ(before.entries.size(), 10u);
    EXPECT_EQ(before.entries.back().path, "big/f107");  // root, big, big/f100 ...
    auto notes = joined(runner::describe_tree_limits(before));
    EXPECT_NE(notes.find("more than 10 entries: the first 10 in path order compared, up to " +
                         root.string() + "/big/f107"),
              std::string::npos)
        << notes;
    // An entry added before the cap pushes the last one out: that is not its removal.
    write(root / "big/f000", "");
    auto after = runner::snapshot_tree(root, capped);
    EXPECT_EQ(joined(diff(before, after)),
              "file added: " + root.string() + "/big/f000 (file, 0 bytes)\n");
    // Past the cap nothing is seen, and nothing is claimed.
    fs::remove(root / "big/f000");
    write(root / "etc/late", "");
    EXPECT_TRUE(diff(before, runner::snapshot_tree(root, capped)).empty());
}

TEST_F(MachineStateFiles, ExclusionsAndTheRunnersOwnOutputAreLeftOut) {
    fs::create_directories(root / "var/nslab-grade-abc123/submission");
    write(root / "var/nslab-grade-abc123/submission/x", "");
    write(root / "var/out.log", "");
    write(root / "var/nslab-kept", "");  // a file the pattern matches too
    struct stat st {};
    ASSERT_EQ(::stat((root / "var/out.log").c_str(), &st), 0);
    FileTreeOptions options{.excluded = {root.string() + "/var/nslab-*"},
                            .own_files = {{st.st_dev, st.st_ino}}};
    auto before = runner::snapshot_tree(root, options);
    for (auto& e : before.entries) {
        EXPECT_EQ(e.path.find("var/nslab-"), std::string::npos) << e.path;
        EXPECT_NE(e.path, "var/out.log");
    }
    write(root / "var/out.log", "the run's progress\n");
    fs::create_directories(root / "var/nslab-grade-def456");
    EXPECT_TRUE(diff(before, runner::snapshot_tree(root, options)).empty());
    // The pattern covers its own directory only.
    fs::create_directories(root / "etc/nslab-x");
    EXPECT_NE(
        joined(diff(before, runner::snapshot_tree(root, options))).find("/etc/nslab-x (directory)"),
        std::string::npos);
}

TEST_F(MachineStateFiles, SymlinksAreRecordedNotFollowed) {
    fs::create_directory_symlink(root / "big", root / "etc/to_big");
    auto tree = runner::snapshot_tree(root, {});
    size_t under_link = 0;
    for (auto& e : tree.entries) under_link += e.path.rfind("etc/to_big/", 0) == 0;
    EXPECT_EQ(under_link, 0u);
    auto link = std::find_if(tree.entries.begin(), tree.entries.end(),
                             [](auto& e) { return e.path == "etc/to_big"; });
    ASSERT_NE(link, tree.entries.end());
    EXPECT_EQ(link->type, 'l');
    // A root that is a symlink is one entry too.
    auto as_root = runner::snapshot_tree(root.string() + "/etc/to_big", {});
    ASSERT_EQ(as_root.entries.size(), 1u);
    EXPECT_EQ(as_root.entries[0].type, 'l');
}

TEST_F(MachineStateFiles, AMissingTreeIsEmptyNotAnError) {
    auto tree = runner::snapshot_tree(root.string() + "/absent", {});
    EXPECT_TRUE(tree.entries.empty());
    EXPECT_TRUE(runner::describe_tree_limits(tree).empty());
    fs::create_directory(root / "absent");
    auto lines = diff(tree, runner::snapshot_tree(root.string() + "/absent", {}));
    EXPECT_EQ(joined(lines), "file added: " + root.string() + "/absent (directory)\n");
}

// Unprivileged, a directory that cannot be listed is recorded as such, the same way each time,
// and said; root reads everything, so this needs another user.
TEST_F(MachineStateFiles, AnUnreadableDirectoryIsRecordedAndSaid) {
    if (::geteuid() == 0) GTEST_SKIP() << "root lists any directory";
    fs::create_directories(root / "etc/private/inside");
    ::chmod((root / "etc/private").c_str(), 0);
    auto before = runner::snapshot_tree(root, {});
    auto after = runner::snapshot_tree(root, {});
    ::chmod((root / "etc/private").c_str(), 0755);
    auto it = std::find_if(before.entries.begin(), before.entries.end(),
                           [](auto& e) { return e.path == "etc/private"; });
    ASSERT_NE(it, before.entries.end());
    EXPECT_EQ(it->error, EACCES);
    EXPECT_TRUE(diff(before, after).empty());
    auto notes = joined(runner::describe_tree_limits(before));
    EXPECT_NE(notes.find("1 entry not readable, compared by their own attributes only: " +
                         root.string() + "/etc/private (EACCES)"),
              std::string::npos)
        << notes;
}

// Mounts are seen through /dev, which every machine has: devpts (a pseudo filesystem) is recorded
// as a mount point and not entered; /dev/shm (tmpfs, stored files) is entered.
TEST_F(MachineStateFiles, PseudoFilesystemsAreNotEntered) {
    struct stat dev {
    }, pts{};
    if (::stat("/dev", &dev) != 0 || ::stat("/dev/pts", &pts) != 0 || dev.st_dev == pts.st_dev)
        GTEST_SKIP() << "no devpts mount on /dev/pts";
    auto tree = runner::snapshot_tree("/dev", {});
    auto at = [&](const std::string& p) {
        return std::find_if(tree.entries.begin(), tree.entries.end(),
                            [&](auto& e) { return e.path == p; });
    };
    ASSERT_NE(at("pts"), tree.entries.end());
    EXPECT_TRUE(at("pts")->mount);
    size_t in_pts = 0;
    for (auto& e : tree.entries) in_pts += e.path.rfind("pts/", 0) == 0;
    EXPECT_EQ(in_pts, 0u);
}

}  // namespace
}  // namespace nslab
