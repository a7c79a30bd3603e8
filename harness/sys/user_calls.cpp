#include "sys/user_calls.hpp"

#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "sys/syscalls.hpp"

namespace nslab::sys {
namespace {

Error last_error(std::string call) {
    return Error(errno, std::move(call));
}

// An error crosses the pipe as "E<errno>\n<text>"; the text is describe() without the errno suffix,
// which Error::describe() adds again on the other side.
std::string encode_error(const Error& e) {
    std::string text = e.describe();
    if (e.err() != 0) {
        const char* desc = strerrordesc_np(e.err());
        std::string suffix =
            ": " + errno_name(e.err()) + " (" + (desc ? desc : "unknown error") + ")";
        if (text.size() >= suffix.size() &&
            text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0)
            text.resize(text.size() - suffix.size());
    }
    return "E" + std::to_string(e.err()) + "\n" + text;
}

Error decode_error(const std::string& msg) {
    size_t nl = msg.find('\n');
    int err = 0;
    try {
        err = std::stoi(msg.substr(1, nl == std::string::npos ? std::string::npos : nl - 1));
    } catch (const std::exception&) {
        return Error::message("a child sent an unreadable error: " + msg);
    }
    return Error(err, nl == std::string::npos ? "" : msg.substr(nl + 1));
}

std::string read_to_end(int fd) {
    std::string out;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return out;
        out.append(buf, static_cast<size_t>(n));
    }
}

void write_to_end(int fd, const std::string& data) {
    size_t at = 0;
    while (at < data.size()) {
        ssize_t n = ::write(fd, data.data() + at, data.size() - at);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        at += static_cast<size_t>(n);
    }
}

std::string describe_status(int status) {
    if (WIFEXITED(status)) return "exited with " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        const char* name = sigabbrev_np(WTERMSIG(status));
        return std::string("killed by SIG") + (name ? name : std::to_string(WTERMSIG(status)));
    }
    return "ended with status " + std::to_string(status);
}

Result<int> reap(pid_t pid) {
    int status = 0;
    for (;;) {
        if (::waitpid(pid, &status, 0) >= 0) return status;
        if (errno != EINTR) return last_error("waitpid(" + std::to_string(pid) + ")");
    }
}

}  // namespace

Result<std::string> exec_capture(const std::function<Status()>& before_exec,
                                 const std::string& path, const std::vector<std::string>& argv) {
    int out[2], err[2];
    if (::pipe2(out, O_CLOEXEC) < 0) return last_error("pipe2()");
    if (::pipe2(err, O_CLOEXEC) < 0) {
        Error e = last_error("pipe2()");
        ::close(out[0]);
        ::close(out[1]);
        return e;
    }
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
    cargv.push_back(nullptr);
    char env0[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    char env1[] = "LC_ALL=C";
    char* cenv[] = {env0, env1, nullptr};
    pid_t pid = ::fork();
    if (pid < 0) {
        Error e = last_error("fork()");
        for (int fd : {out[0], out[1], err[0], err[1]}) ::close(fd);
        return e;
    }
    if (pid == 0) {
        ::close(out[0]);
        ::close(err[0]);
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        auto s = before_exec();
        if (!s.ok()) {
            write_to_end(err[1], encode_error(s.error()));
            ::_exit(126);
        }
        ::dup2(out[1], 1);  // the copy on fd 1 survives execve; the pipe's own fds are O_CLOEXEC
        ::execve(path.c_str(), cargv.data(), cenv);
        write_to_end(err[1], encode_error(last_error("execve(" + path + ")")));
        ::_exit(127);
    }
    ::close(out[1]);
    ::close(err[1]);
    std::string printed = read_to_end(out[0]);
    std::string failure = read_to_end(err[0]);
    ::close(out[0]);
    ::close(err[0]);
    NSLAB_ASSIGN_OR_RETURN(int status, reap(pid));
    if (!failure.empty()) return decode_error(failure);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return Error::message(path + " " + describe_status(status));
    return printed;
}

Status setgroups_clear() {
    if (::setgroups(0, nullptr) < 0) return last_error("setgroups(0, NULL)");
    return {};
}

Status drop_all_capabilities() {
    struct __user_cap_header_struct header {};
    header.version = _LINUX_CAPABILITY_VERSION_3;
    header.pid = 0;
    struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] {};
    if (::syscall(SYS_capset, &header, data) < 0) return last_error("capset(all sets empty)");
    return {};
}

Status set_dumpable() {
    if (::prctl(PR_SET_DUMPABLE, 1) < 0) return last_error("prctl(PR_SET_DUMPABLE, 1)");
    return {};
}

Result<pid_t> find_process_in_namespaces(const std::vector<std::pair<std::string, int>>& kind_fds) {
    struct Wanted {
        std::string path_tail;
        dev_t dev;
        ino_t ino;
    };
    std::vector<Wanted> wanted;
    std::string names;
    for (auto& [kind, fd] : kind_fds) {
        NSLAB_ASSIGN_OR_RETURN(struct ::stat st, fstat(fd));
        wanted.push_back({"/ns/" + kind, st.st_dev, st.st_ino});
        names += (names.empty() ? "" : ", ") + kind + ":[" + std::to_string(st.st_ino) + "]";
    }
    NSLAB_ASSIGN_OR_RETURN(auto entries, list_dir("/proc"));
    std::vector<pid_t> pids;
    for (auto& e : entries)
        if (!e.empty() &&
            std::all_of(e.begin(), e.end(), [](char c) { return c >= '0' && c <= '9'; }))
            pids.push_back(static_cast<pid_t>(std::stol(e)));
    std::sort(pids.begin(), pids.end());
    for (pid_t pid : pids) {
        bool all = true;
        for (auto& w : wanted) {
            struct ::stat st {};
            std::string path = "/proc/" + std::to_string(pid) + w.path_tail;
            // A process that exited, or whose ns links we may not follow, is simply not a match.
            if (::stat(path.c_str(), &st) < 0 || st.st_dev != w.dev || st.st_ino != w.ino) {
                all = false;
                break;
            }
        }
        if (all) return pid;
    }
    return Error(ESRCH, "finding a process in " + names + " under /proc");
}

}  // namespace nslab::sys
