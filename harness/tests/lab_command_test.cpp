// The registry's lab commands (agent/lab_command.hpp): every op has one, every template is well
// formed and keeps its optional arguments in optional parts, and a step's arguments fill them in
// as the lab writes its commands.
#include <gtest/gtest.h>

#include <regex>

#include "agent/lab_command.hpp"
#include "agent/registry.hpp"

namespace nslab {
namespace {

using agent::json;

std::string lab(const std::string& op, const json& args) { return agent::lab_command(*agent::registry().find(op), args); }

TEST(LabCommand, EveryActionAndProbeHasOne) {
    for (auto& [name, op] : agent::registry().ops())
        if (!op.internal) {
            EXPECT_FALSE(op.lab.empty()) << name << " has no lab command: write the shell command it mirrors, or what it does as a # comment";
        }
}

TEST(LabCommand, EveryTemplateIsWellFormed) {
    for (auto& [name, op] : agent::registry().ops()) {
        EXPECT_EQ(agent::lab_template_error(op.lab, op), "") << name << ": " << op.lab;
        EXPECT_EQ(agent::lab_template_error(op.lab_see, op), "") << name << ": " << op.lab_see;
    }
}

// With only its required arguments, no placeholder of an optional one is left standing.
TEST(LabCommand, OptionalArgumentsStandInOptionalParts) {
    for (auto& [name, op] : agent::registry().ops()) {
        json args = json::object();
        for (auto& a : op.args) {
            if (!a.required) continue;
            switch (a.type) {
                case agent::ArgType::integer: args[a.name] = 7; break;
                case agent::ArgType::boolean: args[a.name] = true; break;
                case agent::ArgType::string_list: args[a.name] = json::array({"v"}); break;
                case agent::ArgType::ns_list: args[a.name] = json::array({"uts"}); break;
                case agent::ArgType::realm: args[a.name] = "host"; break;
                case agent::ArgType::string: args[a.name] = "v"; break;
            }
        }
        for (const std::string* templ : {&op.lab, &op.lab_see}) {
            std::string out = agent::lab_command(*templ, op, args);
            for (auto& a : op.args) {
                std::string upper;
                for (char c : a.name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
                EXPECT_FALSE(std::regex_search(out, std::regex("(^|[^A-Z0-9_])" + upper + "([^A-Za-z0-9_]|$)")))
                    << name << ": '" << out << "' still shows " << upper;
            }
        }
    }
}

TEST(LabCommand, FillsInTheArguments) {
    EXPECT_EQ(lab("sethostname", {{"name", "virtualisation"}}), "hostname virtualisation");
    EXPECT_EQ(lab("setns", {{"target", "A"}, {"kinds", {"uts", "mnt"}}}), "nsenter --target $PID_A --uts --mount");
    EXPECT_EQ(lab("setns", {{"target", "host"}, {"kinds", {"ipc"}}}), "nsenter --target 1 --ipc");
    EXPECT_EQ(lab("kill", {{"pid", "${p.pid}"}, {"signal", "TERM"}}), "kill -TERM ${p_pid}");
    EXPECT_EQ(lab("write_id_map", {{"file", "uid_map"}, {"text", "0 1000 1"}, {"realm", "B"}}), "echo '0 1000 1' > /proc/$PID_B/uid_map");
    EXPECT_EQ(lab("write_id_map", {{"file", "gid_map"}, {"text", "0 1000 1"}}), "echo '0 1000 1' > /proc/self/gid_map");
    EXPECT_EQ(lab("write_file", {{"path", "/tmp/hey.txt"}, {"content", "coucou\n"}}), "echo $'coucou\\n' > /tmp/hey.txt");
    EXPECT_EQ(lab("udp_send", {{"address", "10.0.0.2"}, {"port", 7000}, {"message", "bonjour B"}}),
              "echo 'bonjour B' | nc -u -w1 10.0.0.2 7000");
    EXPECT_EQ(lab("shm_create", json::object()), "ipcmk -M 128");
    EXPECT_EQ(lab("shm_create", {{"size", 4096}}), "ipcmk -M 4096");
}

TEST(LabCommand, OptionalPartsFollowTheirArguments) {
    EXPECT_EQ(lab("umount", {{"target", "/mnt"}}), "umount /mnt");
    EXPECT_EQ(lab("umount", {{"target", "/mnt"}, {"detach", true}}), "umount -l /mnt");
    EXPECT_EQ(lab("make_propagation", {{"path", "/"}, {"kind", "private"}, {"recursive", true}}), "mount --make-rprivate /");
    EXPECT_EQ(lab("make_propagation", {{"path", "/"}, {"kind", "shared"}}), "mount --make-shared /");
    EXPECT_EQ(lab("bind_mount", {{"source", "/a"}, {"target", "/b"}}), "mount --bind /a /b");
    EXPECT_EQ(lab("bind_mount", {{"source", "/a"}, {"target", "/b"}, {"recursive", true}}), "mount --rbind /a /b");
    EXPECT_EQ(lab("mount_tmpfs", {{"target", "/mnt"}, {"flags", {"ro", "nosuid"}}}), "mount -t tmpfs -o ro,nosuid tmpfs /mnt");
    EXPECT_EQ(lab("veth_create", {{"name", "a0"}, {"peer", "b0"}, {"peer_netns", "B"}}), "ip link add a0 type veth peer name b0 netns $PID_B");
    // A "!" lab_flag: the part stands unless the argument is false (a negative control).
    EXPECT_EQ(lab("write_timens_offsets", {{"offsets", "monotonic 1 0"}}).rfind("unshare --time sh -c", 0), 0u);
    EXPECT_EQ(lab("write_timens_offsets", {{"offsets", "monotonic 1 0"}, {"fresh", false}}).rfind("sh -c", 0), 0u);
}

TEST(LabCommand, ReferencesBecomeShellVariables) {
    EXPECT_EQ(agent::shell_references("ipcs -m -i ${seg.id}"), "ipcs -m -i ${seg_id}");
    // The runner substitutes inside '…'; the shell expands only inside "…".
    EXPECT_EQ(agent::shell_references("test '${f.owner}' = 0:0"), "test \"${f_owner}\" = 0:0");
    EXPECT_EQ(agent::shell_references("echo 'a $HOME ${f.owner}'"), "echo 'a $HOME ${f_owner}'");
}

}  // namespace
}  // namespace nslab
