#include "cli/self_doc.hpp"

#include <string_view>
#include <utility>
#include <vector>

namespace nslab::cli {
namespace {

// The commands a user sees: those in a group (a hidden one has group "").
std::vector<const CLI::App*> commands(const CLI::App& app) {
    return app.get_subcommands([](const CLI::App* s) { return !s->get_group().empty(); });
}

std::vector<const CLI::Option*> named_options(const CLI::App& cmd) {
    return cmd.get_options(
        [](const CLI::Option* o) { return o->nonpositional() && !o->get_group().empty(); });
}

std::vector<const CLI::Option*> positionals(const CLI::App& cmd) {
    return cmd.get_options([](const CLI::Option* o) { return !o->nonpositional(); });
}

bool takes_value(const CLI::Option* o) {
    return o->get_items_expected_max() > 0;
}  // flags expect 0

// "TEXT:{pretty,junit,json}" (an IsMember check) -> its values; empty when the option has none.
std::vector<std::string> choices(const CLI::Option* o) {
    std::string type = o->get_type_name();
    auto open = type.find(":{"), close = type.rfind('}');
    std::vector<std::string> out;
    if (open == std::string::npos || close == std::string::npos || close < open) return out;
    std::string list = type.substr(open + 2, close - open - 2);
    for (size_t start = 0; start <= list.size();) {
        size_t comma = list.find(',', start);
        if (comma == std::string::npos) comma = list.size();
        if (comma > start) out.push_back(list.substr(start, comma - start));
        start = comma + 1;
    }
    return out;
}

// What an option's value is called: its option_text, else its type ("INT", "TEXT"), without checks.
std::string meta(const CLI::Option* o) {
    if (!o->get_option_text().empty()) return o->get_option_text();
    std::string type = o->get_type_name();
    return type.substr(0, type.find(':'));
}

bool numeric(const CLI::Option* o) {
    std::string m = meta(o);
    return m == "INT" || m == "UINT" || m == "FLOAT" || m == "NUMBER";
}

std::vector<std::string> spellings(const CLI::Option* o) {
    std::vector<std::string> out;
    for (auto& s : o->get_snames()) out.push_back("-" + s);
    for (auto& l : o->get_lnames()) out.push_back("--" + l);
    return out;
}

// Text as troff: backslashes and hyphens escaped, no line taken for a request, the few
// non-ASCII glyphs the help uses spelled as troff glyphs.
std::string roff(std::string_view text) {
    std::string escaped;
    bool line_start = true;
    for (char c : text) {
        if (line_start && (c == '.' || c == '\'' || static_cast<unsigned char>(c) >= 0x80))
            escaped += "\\&";
        if (c == '\\')
            escaped += "\\e";
        else if (c == '-')
            escaped += "\\-";
        else
            escaped += c;
        line_start = c == '\n';
    }
    static const std::pair<std::string_view, std::string_view> glyphs[] = {
        {"…", "..."}, {"—", "\\(em"}, {"–", "\\(en"}, {"×", "\\(mu"}, {"→", "\\(->"}, {"’", "'"}};
    for (auto& [from, to] : glyphs)
        for (size_t at; (at = escaped.find(from)) != std::string::npos;)
            escaped.replace(at, from.size(), to);
    return escaped;
}

std::string bold(const std::string& s) {
    return "\\fB" + roff(s) + "\\fR";
}
std::string italic(const std::string& s) {
    return "\\fI" + roff(s) + "\\fR";
}

// "\fB-j\fR, \fB--jobs\fR \fIINT\fR"
std::string option_tag(const CLI::Option* o) {
    std::string tag;
    for (auto& s : spellings(o)) tag += (tag.empty() ? "" : ", ") + bold(s);
    if (takes_value(o)) tag += " " + italic(meta(o));
    return tag;
}

// "nslab grade --submission TEXT --assignment TEXT [options]", "nslab run [options] [paths...]"
std::string synopsis(const CLI::App& cmd) {
    std::string line = bold("nslab " + cmd.get_name());
    bool optional = false;
    for (auto* o : named_options(cmd)) {
        if (o->get_required())
            line += " " + bold(spellings(o).back()) + " " + italic(meta(o));
        else
            optional = true;
    }
    if (optional) line += " [" + italic("options") + "]";
    for (auto* o : positionals(cmd)) {
        std::string word = italic(o->get_name()) + (o->get_expected_max() > 1 ? "..." : "");
        line += o->get_required() ? " " + word : " [" + word + "]";
    }
    return line;
}

void option_items(std::ostream& out, const CLI::App& cmd) {
    for (auto* o : named_options(cmd)) {
        out << ".TP\n" << option_tag(o) << "\n" << roff(o->get_description());
        if (!o->get_default_str().empty() && takes_value(o))
            out << " (default: " << roff(o->get_default_str()) << ")";
        out << "\n";
    }
    for (auto* o : positionals(cmd))
        out << ".TP\n" << italic(o->get_name()) << "\n" << roff(o->get_description()) << "\n";
}

// ".TP" items: a tag (already troff) and its text.
void items(std::ostream& out,
           std::initializer_list<std::pair<std::string, std::string_view>> list) {
    for (auto& [tag, text] : list) out << ".TP\n" << tag << "\n" << roff(text) << "\n";
}

std::string words(const std::vector<std::string>& list) {
    std::string out;
    for (auto& w : list) out += (out.empty() ? "" : " ") + w;
    return out;
}

}  // namespace

void write_man_page(std::ostream& out, const CLI::App& app, const std::string& version) {
    std::string summary = app.get_description();
    if (summary.rfind("nslab: ", 0) == 0) summary = summary.substr(7);
    out << ".\\\" Generated by `nslab help-man` from the CLI's definition (harness/cli).\n"
        << ".TH NSLAB 1 \"\" \"nslab " << version << "\" \"User Commands\"\n"
        << ".SH NAME\nnslab \\- " << roff(summary) << "\n"
        << ".SH SYNOPSIS\n";
    for (auto* cmd : commands(app)) out << synopsis(*cmd) << "\n.br\n";
    out << bold("nslab") << " " << bold("--help") << " | " << bold("--version") << "\n";
    out << ".SH DESCRIPTION\n"
        << roff("nslab runs Linux namespace experiments written in YAML. Each experiment starts "
                "processes in sibling namespaces A and B under a host, performs the lab's actions "
                "(set a hostname, create a SysV segment, ...) and checks what can be seen from A, "
                "from B and from the host. Every experiment runs in a throwaway lab of its own "
                "(its own mount, UTS, IPC, PID, net and cgroup namespaces, which plays the host), "
                "so nothing it does reaches the machine.")
        << "\n.PP\n"
        << roff("Each experiment ends PASS; FAIL (an expectation or a step's assertion did not "
                "hold: the matrix shows expected against observed); SKIP (this machine lacks what "
                "it needs, found by probing: the reason says which); or BROKEN (the lab, the "
                "topology check or the harness failed, or the time limit passed).")
        << "\n.PP\n"
        << "Without " << italic("paths") << ", " << bold("run") << ", " << bold("list") << ", "
        << bold("validate") << " and " << bold("doctor") << " read " << italic("./suites")
        << roff(" when it exists, else the suites installed with nslab (see FILES).") << "\n";
    out << ".SH COMMANDS\n";
    for (auto* cmd : commands(app))
        out << ".TP\n" << bold(cmd->get_name()) << "\n" << roff(cmd->get_description()) << "\n";
    out << ".SH OPTIONS\n";
    option_items(out, app);
    for (auto* cmd : commands(app)) {
        if (named_options(*cmd).size() + positionals(*cmd).size() <= 1) continue;  // --help alone
        out << ".SS \"nslab " << roff(cmd->get_name()) << "\"\n";
        option_items(out, *cmd);
    }
    out << ".SH EXIT STATUS\n";
    items(
        out,
        {{bold("0"), "Every experiment passed or was skipped (doctor: every experiment can run)."},
         {bold("1"), "An experiment failed or was broken (doctor: some will be skipped)."},
         {bold("2"),
          "Bad input: the command line or an experiment file (errors as file:line:column), "
          "or a harness error (doctor: nothing can run)."},
         {bold("3"), "grade: the grader cannot run here; no score is recorded."},
         {bold("128+N"), "Stopped by signal N (SIGINT, SIGTERM); the report is still written."}});
    out << ".SH ENVIRONMENT\n";
    items(out, {{bold("NSLAB_AGENT"),
                 "The agent program to run in labs and realms, instead of the one found "
                 "beside nslab or in its install tree."}});
    out << ".SH FILES\n";
    items(
        out,
        {{italic("./suites"), "The suites read when no paths are given, if this directory exists."},
         {italic("PREFIX/share/nslab/suites/"),
          "The suites installed with nslab, found from the program's own place "
          "(/usr/share/nslab/suites for /usr/bin/nslab); assignments/td2.yaml there is the TD2 "
          "assignment for grade."},
         {italic("PREFIX/libexec/nslab/nslab-agent"), "The agent every lab and realm runs."},
         {italic("PREFIX/share/doc/nslab/"),
          "README.md and docs/: the experiment schema, the action and probe reference, "
          "the catalogue."}});
    out << ".SH SEE ALSO\n"
        << ".BR unshare (1),\n.BR nsenter (1),\n.BR bwrap (1),\n.BR namespaces (7),\n"
        << ".BR user_namespaces (7),\n.BR pid_namespaces (7),\n.BR time_namespaces (7)\n";
}

void write_bash_completion(std::ostream& out, const CLI::App& app) {
    std::vector<std::string> names;
    for (auto* cmd : commands(app)) names.push_back(cmd->get_name());
    for (auto* o : named_options(app))
        for (auto& s : spellings(o)) names.push_back(s);
    // --filter completes suite and experiment names from `nslab list` (a suite's as SUITE.*).
    out << R"sh(# bash completion for nslab; generated by `nslab help-bash-completion` from its CLI.
_nslab_experiments() {
    local names
    names=$("$1" list 2>/dev/null | cut -f1) || return
    printf '%s\n' $names
    printf '%s\n' $names | sed -n 's/\..*/.*/p' | sort -u
}

_nslab() {
    local cur prev words cword split cmd= i
    _init_completion -s || return
    for ((i = 1; i < cword; i++)); do
        [[ ${words[i]} != -* ]] && { cmd=${words[i]}; break; }
    done
    case $cmd in
    '')
)sh" << "        COMPREPLY=($(compgen -W '" << words(names) << "' -- \"$cur\"))\n"
        << "        return ;;\n";
    for (auto* cmd : commands(app)) {
        std::vector<std::string> all, numbers, files;
        out << "    " << cmd->get_name() << ")\n"
            << "        case $prev in\n";
        for (auto* o : named_options(*cmd)) {
            auto spelled = spellings(o);
            all.insert(all.end(), spelled.begin(), spelled.end());
            if (!takes_value(o)) continue;
            std::string pattern;
            for (auto& s : spelled) pattern += (pattern.empty() ? "" : "|") + s;
            if (spelled.back() == "--filter") {
                out << "        " << pattern << ")\n" << R"sh(            local IFS=$'\n'
            COMPREPLY=($(compgen -W "$(_nslab_experiments "${words[0]}")" -- "$cur"))
            return ;;
)sh";
            } else if (auto values = choices(o); !values.empty()) {
                out << "        " << pattern << ")\n"
                    << "            COMPREPLY=($(compgen -W '" << words(values)
                    << "' -- \"$cur\"))\n"
                    << "            return ;;\n";
            } else if (numeric(o)) {
                numbers.push_back(pattern);
            } else {
                files.push_back(pattern);
            }
        }
        for (auto& p : numbers) out << "        " << p << ") return ;;\n";
        for (auto& p : files) out << "        " << p << ") _filedir; return ;;\n";
        out << "        esac\n"
            << "        $split && return\n";
        if (positionals(*cmd).empty()) {
            out << "        COMPREPLY=($(compgen -W '" << words(all) << "' -- \"$cur\"))\n";
        } else {
            out << "        if [[ $cur == -* ]]; then\n"
                << "            COMPREPLY=($(compgen -W '" << words(all) << "' -- \"$cur\"))\n"
                << "        else\n"
                << "            _filedir '@(yaml|yml)'\n"
                << "        fi\n";
        }
        out << "        ;;\n";
    }
    out << "    esac\n"
        << "} &&\n"
        << "    complete -F _nslab nslab\n";
}

}  // namespace nslab::cli
