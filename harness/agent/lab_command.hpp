// The lab's shell command for an op, with a step's arguments filled in: what `nslab explain` prints
// for each action and probe. The templates are the registry's `lab` strings (OpSpec::lab), written
// as the lab's commands are, with these conventions:
//
//   NAME      an argument, its name in capitals (not followed by a small letter), stands for its value. A list's items are joined
//             with ','; a '-' or '--' glued before it is repeated for each (--KINDS: --uts --ipc).
//             A namespace kind after '--' is spelt as util-linux spells the option (--mount for mnt).
//             A realm is the shell variable holding its process's pid ($PID_A; 1 for host).
//   [x]       an optional part, written when x holds: every argument it names is given and, when x
//             is word for word a boolean argument's lab_flag, that argument is true (a lab_flag
//             "!x": unless it is false). Brackets are always optional parts, never literal.
//   [x|y|z]   the first alternative that holds; one that names no argument and is no lab_flag holds.
//   # text    an op no command mirrors says what it does, as a comment.
//
// Values are quoted for the shell where they need it, except an argument named `command`, which is
// shell text. A ${NAME.FIELD} reference to a step's result becomes the variable ${NAME_FIELD}.
#pragma once

#include <string>

#include "agent/registry.hpp"

namespace nslab::agent {

// op.lab filled in with args ("" when the op has no lab command).
std::string lab_command(const OpSpec& op, const json& args);
// A template of op's (its lab_see), filled in with the arguments of the step that ran op; ${AS.x}
// is the result of that step, named `as`.
std::string lab_command(const std::string& templ, const OpSpec& op, const json& args, const std::string& as = "");
// "PID_A": the shell variable for a realm's process; host's is pid 1.
std::string realm_pid_variable(const std::string& realm);
// "${seg.id}" -> "${seg_id}" in a text.
std::string shell_references(const std::string& text);
// What is wrong with a template of op ("" when nothing): an unclosed '[', or an optional part
// that names no argument and is no argument's lab_flag although it is the only alternative.
std::string lab_template_error(const std::string& templ, const OpSpec& op);

}  // namespace nslab::agent
