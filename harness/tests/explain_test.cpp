// `nslab explain`: the lab's UTS demonstration comes out as the lab typed it, every experiment of
// the catalogue explains without a gap, and the Markdown form is well formed.
#include <gtest/gtest.h>

#include <cstdio>
#include <set>
#include <sstream>
#include <sys/wait.h>

#include "cli/explain_command.hpp"
#include "cli/shell_session.hpp"
#include "experiment/loader.hpp"

#ifndef NSLAB_SOURCE_DIR
#error "NSLAB_SOURCE_DIR must name the repository root"
#endif
#ifndef NSLAB_BIN_DIR
#error "NSLAB_BIN_DIR must name the directory of the nslab executable"
#endif

namespace nslab {
namespace {

constexpr const char* kLabExample = "td2_uts.hostname_isolated_between_sibling_uts_namespaces";

const experiment::LoadResult& catalogue() {
    static const experiment::LoadResult loaded = experiment::load_paths({std::string(NSLAB_SOURCE_DIR) + "/suites"});
    return loaded;
}

const experiment::Experiment& find(const std::string& name) {
    for (auto& s : catalogue().suites)
        for (auto& e : s.experiments)
            if (e.full_name() == name) return e;
    throw std::runtime_error("no experiment " + name);
}

// What `nslab explain ARGS` prints, and its exit status.
std::pair<std::string, int> run_explain(const std::string& args) {
    std::string cmd = "cd " NSLAB_SOURCE_DIR " && " NSLAB_BIN_DIR "/nslab explain " + args + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    std::string out;
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    int status = ::pclose(p);
    return {out, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

TEST(Explain, TheLabsUtsDemonstrationIsTwoTerminalsAndTheHost) {
    ASSERT_TRUE(catalogue().ok());
    cli::Session s = cli::shell_session(find(kLabExample));
    std::set<std::string> terminals;
    std::vector<std::pair<std::string, std::string>> typed;  // terminal, command
    for (auto& g : s.groups)
        for (auto& l : g.lines) {
            terminals.insert(g.terminal);
            typed.emplace_back(g.terminal, l.command);
        }
    EXPECT_EQ(terminals, (std::set<std::string>{"A", "B", "host"}));
    auto at = [&](const std::string& terminal, const std::string& command) {
        return std::find(typed.begin(), typed.end(), std::pair{terminal, command}) - typed.begin();
    };
    long n = static_cast<long>(typed.size());
    // Each sibling is entered as the lab does, before it sets its name, then reads it back.
    EXPECT_LT(at("A", "sudo unshare --uts --fork bash"), at("A", "hostname virtualisation"));
    EXPECT_LT(at("B", "sudo unshare --uts --fork bash"), at("B", "hostname programmation"));
    EXPECT_LT(at("A", "hostname virtualisation"), n);
    EXPECT_LT(at("B", "hostname programmation"), n);
    EXPECT_LT(at("host", "hostname"), n);
    EXPECT_TRUE(s.gaps.empty());
}

TEST(Explain, TheCommandPrintsTheLabsLines) {
    auto [out, status] = run_explain(kLabExample);
    EXPECT_EQ(status, 0) << out;
    for (const char* line : {"\nTerminal A\n    sudo unshare --uts --fork bash\n", "\nTerminal B\n    sudo unshare --uts --fork bash\n",
                             "\nTerminal A\n    hostname virtualisation\n", "\nTerminal B\n    hostname programmation\n",
                             "\nTerminal A\n    hostname   # expect: virtualisation\n",
                             "\nTerminal B\n    hostname   # expect: programmation\n",
                             "\nTerminal host\n    hostname   # expect: unchanged\n"})
        EXPECT_NE(out.find(line), std::string::npos) << "missing:" << line << "in:\n" << out;
}

TEST(Explain, AnUnknownNameIsBadInput) {
    auto [out, status] = run_explain("td2_uts.no_such_experiment");
    EXPECT_EQ(status, 2);
    EXPECT_NE(out.find("no experiment is named 'td2_uts.no_such_experiment'"), std::string::npos) << out;
}

TEST(Explain, EveryExperimentOfTheCatalogueExplainsWithoutAGap) {
    ASSERT_TRUE(catalogue().ok());
    size_t count = 0;
    for (auto& suite : catalogue().suites)
        for (auto& e : suite.experiments) {
            ++count;
            cli::Session s = cli::shell_session(e);
            EXPECT_TRUE(s.gaps.empty()) << e.full_name() << ": no lab command for " << s.gaps.front();
            std::set<std::string> terminals;
            for (auto& g : s.groups) {
                terminals.insert(g.terminal);
                EXPECT_FALSE(g.lines.empty()) << e.full_name();
                for (auto& l : g.lines) {
                    EXPECT_EQ(l.command.find(cli::kNoCommand), std::string::npos) << e.full_name() << ": " << l.command;
                    EXPECT_EQ(l.command.find('\n'), std::string::npos) << e.full_name() << ": a command spans lines: " << l.command;
                }
            }
            for (auto& r : e.realms) EXPECT_TRUE(terminals.count(r.name)) << e.full_name() << ": realm " << r.name << " has no terminal";
        }
    EXPECT_GT(count, 200u);
}

// Fences open with ```sh after a "**Terminal X**" line and a blank one, and close before the next.
TEST(Explain, MarkdownIsWellFormed) {
    for (auto& suite : catalogue().suites)
        for (auto& e : suite.experiments) {
            std::ostringstream md;
            cli::print_session_markdown(md, cli::shell_session(e));
            std::istringstream in(md.str());
            std::vector<std::string> lines;
            for (std::string l; std::getline(in, l);) lines.push_back(l);
            ASSERT_FALSE(lines.empty());
            EXPECT_EQ(lines[0], "## `" + e.full_name() + "`");
            bool in_fence = false;
            size_t fences = 0;
            for (size_t i = 0; i < lines.size(); ++i) {
                if (lines[i] == "```sh") {
                    ASSERT_FALSE(in_fence) << e.full_name() << ": a fence opens inside another at line " << i;
                    ASSERT_GE(i, 2u);
                    EXPECT_EQ(lines[i - 1], "");
                    EXPECT_TRUE(lines[i - 2].starts_with("**Terminal ") && lines[i - 2].ends_with("**")) << lines[i - 2];
                    in_fence = true;
                    ++fences;
                } else if (lines[i] == "```") {
                    ASSERT_TRUE(in_fence) << e.full_name() << ": a fence closes outside one at line " << i;
                    in_fence = false;
                } else if (in_fence) {
                    EXPECT_FALSE(lines[i].starts_with("```")) << e.full_name();
                }
            }
            EXPECT_FALSE(in_fence) << e.full_name() << ": the last fence is not closed";
            EXPECT_GT(fences, 0u) << e.full_name();
        }
}

}  // namespace
}  // namespace nslab
