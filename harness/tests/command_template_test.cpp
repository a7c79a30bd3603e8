// A command launcher's per-realm flags: `${flags}` becomes exactly what each realm asks for, and
// a realm the template cannot make exactly is refused with the reason (the experiment SKIPs).
#include <gtest/gtest.h>

#include "launch/launcher.hpp"

namespace nslab {
namespace {

using core::Ns;
using core::ns_bit;

// unshare(1) spelled as an unshare-like CLI's flags, as the README shows it.
launch::LauncherConfig unshare_like() {
    launch::LauncherConfig c;
    c.kind = "command";
    c.command = {"minictr", "${flags}", "--", "${agent}"};
    c.flags = {{"user", {"--user"}},          {"map_root", {"--map-root-user"}}, {"uts", {"--uts"}},
               {"ipc", {"--ipc"}},            {"pid", {"--pid"}},                {"mnt", {"--mount"}},
               {"net", {"--net"}},            {"time", {"--time"}},              {"mount_proc", {"--mount-proc"}},
               {"propagation", {"--propagation", "${propagation}"}},
               {"monotonic", {"--monotonic", "${monotonic}"}}};
    return c;
}

launch::RealmPlan plan(unsigned mask) {
    launch::RealmPlan p;
    p.name = "A";
    p.new_mask = mask;
    p.observed_kinds = mask;
    return p;
}

std::vector<std::string> argv_for(const launch::LauncherConfig& c, const launch::RealmPlan& p) {
    auto argv = launch::expand_command_template(c, p, {"/agent", "--fd", "3"});
    EXPECT_TRUE(argv.ok()) << (argv.ok() ? "" : argv.error().describe());
    return argv.ok() ? *argv : std::vector<std::string>{};
}

std::optional<std::string> refusal(const launch::LauncherConfig& c, const launch::RealmPlan& p) {
    auto launcher = launch::make_launcher(c);
    EXPECT_TRUE(launcher.ok()) << (launcher.ok() ? "" : launcher.error().describe());
    return launcher.ok() ? (*launcher)->cannot_start(p) : std::optional<std::string>("no launcher");
}

TEST(CommandTemplateFlags, ExpandToTheKindsAndOptionsTheRealmAsksFor) {
    auto c = unshare_like();
    EXPECT_EQ(argv_for(c, plan(ns_bit(Ns::uts))), (std::vector<std::string>{"minictr", "--uts", "--", "/agent", "--fd", "3"}));
    auto p = plan(ns_bit(Ns::user) | ns_bit(Ns::pid) | ns_bit(Ns::mnt) | ns_bit(Ns::time));
    p.mount_proc = true;
    p.propagation = "slave";
    p.monotonic_offset = 3600;
    EXPECT_EQ(argv_for(c, p), (std::vector<std::string>{"minictr", "--user", "--pid", "--mount", "--time", "--map-root-user",
                                                        "--mount-proc", "--propagation", "slave", "--monotonic", "3600",
                                                        "--", "/agent", "--fd", "3"}));
    EXPECT_FALSE(refusal(c, p));
    // Nothing asked: no flag at all.
    EXPECT_EQ(argv_for(c, plan(0)), (std::vector<std::string>{"minictr", "--", "/agent", "--fd", "3"}));
}

TEST(CommandTemplateFlags, ARealmTheTemplateCannotMakeExactlyIsRefusedWithTheReason) {
    auto c = unshare_like();
    // No cgroup flag.
    auto why = refusal(c, plan(ns_bit(Ns::cgroup)));
    ASSERT_TRUE(why);
    EXPECT_NE(why->find("has no flag to create a cgroup namespace"), std::string::npos) << *why;
    // A map other than root-to-caller.
    auto p = plan(ns_bit(Ns::user));
    p.uid_map = "0 1000 1";
    why = refusal(c, p);
    ASSERT_TRUE(why);
    EXPECT_NE(why->find("asks for uid_map \"0 1000 1\""), std::string::npos) << *why;
    // Unmapped on request: the user flag without map_root.
    p.uid_map = p.gid_map = "none";
    EXPECT_FALSE(refusal(c, p));
    EXPECT_EQ(argv_for(c, p), (std::vector<std::string>{"minictr", "--user", "--", "/agent", "--fd", "3"}));
    // No boottime flag.
    p = plan(ns_bit(Ns::time));
    p.boottime_offset = 5;
    why = refusal(c, p);
    ASSERT_TRUE(why);
    EXPECT_NE(why->find("takes no boottime offset"), std::string::npos) << *why;
}

TEST(CommandTemplateFlags, AKindAlwaysCreatedIsRefusedOnlyWhereTheExperimentLooks) {
    auto c = unshare_like();
    c.creates = ns_bit(Ns::net);  // e.g. a launcher that always isolates the network
    auto p = plan(ns_bit(Ns::uts));
    EXPECT_FALSE(refusal(c, p));
    p.observed_kinds |= ns_bit(Ns::net);
    auto why = refusal(c, p);
    ASSERT_TRUE(why);
    EXPECT_NE(why->find("always creates a net namespace"), std::string::npos) << *why;
}

TEST(CommandTemplateFlags, AFixedTemplateThatAlwaysWritesOffsetsCannotInheritTheCreators) {
    launch::LauncherConfig c;
    c.kind = "command";
    c.command = {"mc", "--monotonic", "${monotonic}", "--", "${agent}"};
    c.creates = ns_bit(Ns::time);
    auto p = plan(ns_bit(Ns::time));
    EXPECT_FALSE(refusal(c, p));
    p.creator_has_time_offsets = true;
    auto why = refusal(c, p);
    ASSERT_TRUE(why);
    EXPECT_NE(why->find("always writes a monotonic offset"), std::string::npos) << *why;
}

TEST(CommandTemplateFlags, BadFlagsAreRefusedWhenTheLauncherIsMade) {
    auto c = unshare_like();
    c.flags["hostname"] = {"--hostname", "${hostname}"};
    auto made = launch::make_launcher(c);
    ASSERT_FALSE(made.ok());
    EXPECT_NE(made.error().describe().find("unknown launcher flag 'hostname'"), std::string::npos);
    c = unshare_like();
    c.command = {"minictr", "--", "${agent}"};
    made = launch::make_launcher(c);
    ASSERT_FALSE(made.ok());
    EXPECT_NE(made.error().describe().find("no \"${flags}\" word"), std::string::npos);
    c = unshare_like();
    c.flags["pid"] = {"--pid", "${nope}"};
    made = launch::make_launcher(c);
    ASSERT_FALSE(made.ok());
    EXPECT_NE(made.error().describe().find("${nope}"), std::string::npos);
}

}  // namespace
}  // namespace nslab
