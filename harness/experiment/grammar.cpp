#include "experiment/grammar.hpp"

#include "launch/launcher.hpp"

namespace nslab::experiment::grammar {

// The order of each table is the order the loader's messages list the keys in.

const Keys& suite_keys() {
    static const Keys k{
        {"nslab", true, "The schema version: 1."},
        {"suite", true, "The suite's name ([a-z0-9_], at most 64), unique across the files loaded together."},
        {"title", true, "One line."},
        {"description", false, "What the suite shows."},
        {"experiments", true, "At least one experiment."},
    };
    return k;
}

const Keys& experiment_keys() {
    static const Keys k{
        {"name", true, "[a-z0-9_], at most 64, unique in the suite."},
        {"summary", true, "One sentence: what the experiment shows."},
        {"refs", false, "Where the behaviour is written down: the lab's section, man pages, LTP tests."},
        {"tags", false, "The kernel commits or CVEs the behaviour rests on, printed on failure."},
        {"requires", false, "What the machine must allow; a missing one SKIPs the experiment, saying which."},
        {"timeout", false, "Seconds (more than 0, at most 600; default 10)."},
        {"realms", false, "The processes in new namespaces, by name ([A-Z][A-Z0-9_]*)."},
        {"steps", false, "Actions and commands, in order."},
        {"expect", false, "The rows of the visibility matrix (required unless a step has expect_error)."},
    };
    return k;
}

const Keys& requires_keys() {
    static const Keys k{
        {"root", false, "uid 0 on the machine."},
        {"userns", false, "A user namespace can be created here."},
        {"posix_mq", false, "The kernel has POSIX message queues."},
        {"writable_sysfs", false, "A realm can mount a read-write sysfs."},
        {"writable_root", false, "The lab's / is copy-on-write: steps may write anywhere (/etc, /run, /mnt)."},
        {"kernel", false, "The least kernel release, e.g. \"5.6\"."},
        {"tools", false, "Programs that must be on the lab's PATH."},
        {"launcher", false, "Behaviours of the way realms are started that the experiment relies on."},
    };
    return k;
}

const Keys& realm_keys() {
    static const Keys k{
        {"new", false, "The namespaces to create."},
        {"parent", false, "Start the realm from inside that realm (default: the host)."},
        {"join", false, "kind: realm (or host) whose namespace of that kind the realm shares (not pid)."},
        {"uid_map", false, "With a new user namespace: 'inside outside count' lines (';' separates them), or none."},
        {"gid_map", false, "With a new user namespace: 'inside outside count' lines (';' separates them), or none."},
        {"propagation", false, "With a new mount namespace: what the realm makes of / first (default private)."},
        {"mount_proc", false, "With a new mount namespace: mount a fresh /proc (unshare --mount-proc)."},
        {"time_offsets", false, "With a new time namespace: clock offsets in seconds."},
        {"launcher", false, "How the realm is started (default: the run's launcher)."},
    };
    return k;
}

const Keys& time_offset_keys() {
    static const Keys k{
        {"monotonic", false, "CLOCK_MONOTONIC's offset, seconds."},
        {"boottime", false, "CLOCK_BOOTTIME's offset, seconds."},
    };
    return k;
}

const Keys& step_keys() {
    static const Keys k{
        {"in", true, "The realm the step runs in, or host."},
        {"do", false, "An action of the registry (`nslab list --actions`); its arguments stand beside it."},
        {"run", false, "A shell command (/bin/sh -c), as the lab typed it."},
        {"as", false, "Names the step's result for `see:` rows and ${NAME.FIELD}."},
        {"expect_error", false, "The action must fail with this errno name."},
        {"exit", false, "A run step's required exit status (0..255, default 0), or any."},
    };
    return k;
}

const Keys& run_step_keys() {
    static const Keys k{step_keys()[0], step_keys()[2], step_keys()[5], step_keys()[3]};  // in, run, exit, as
    return k;
}

const Keys& row_forms() {
    static const Keys k{
        {"probe", false, "A probe of the registry (`nslab list --probes`); its arguments stand beside it."},
        {"see", false, "Whether the object made by the step `as: NAME` can be seen from each cell's vantage."},
        {"run", false, "A shell command whose trimmed stdout is the observed value."},
    };
    return k;
}

const Keys& row_keys() {
    static const Keys k{
        {"why", false, "Why the row holds, shown with it."},
        {"since", false, "The row holds from this kernel release on, e.g. \"6.2\"."},
        {"before", false, "The row holds below this kernel release."},
    };
    return k;
}

const Keys& matcher_keys() {
    static const Keys k{
        {"equals", false, "Equals this value or list (to match a literal 'unchanged')."},
        {"contains", false, "A list has this element; a string this substring."},
        {"not_contains", false, "A list lacks this element; a string this substring."},
        {"count", false, "A list has N elements; a string N non-empty lines."},
        {"matches", false, "The text matches this ECMAScript regex (search)."},
        {"same_as", false, "Equals what this other cell's vantage saw in this row."},
        {"differs_from", false, "Differs from what this other cell's vantage saw in this row."},
        {"error", false, "The probe failed with this errno name."},
    };
    return k;
}

const std::vector<std::pair<std::string, std::string>>& realm_key_needs() {
    static const std::vector<std::pair<std::string, std::string>> n{
        {"uid_map", "user"}, {"gid_map", "user"}, {"propagation", "mnt"}, {"mount_proc", "mnt"}, {"time_offsets", "time"}};
    return n;
}

const std::vector<std::string>& propagations() {
    static const std::vector<std::string> v{"private", "slave", "shared", "unchanged"};
    return v;
}

// The launcher kinds a realm may name: all but `command`, which needs a template from the run or
// an assignment.
const std::vector<std::string>& realm_launchers() {
    static const std::vector<std::string> v = [] {
        std::vector<std::string> kinds;
        for (auto& k : launch::launcher_kinds())
            if (k != "command") kinds.push_back(k);
        return kinds;
    }();
    return v;
}

const std::vector<std::string>& change_words() {
    static const std::vector<std::string> v{"unchanged", "changed"};
    return v;
}

const std::vector<std::string>& see_words() {
    static const std::vector<std::string> v{"visible", "hidden"};
    return v;
}

}  // namespace nslab::experiment::grammar
