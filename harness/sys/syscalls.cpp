#include "sys/syscalls.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <linux/sched.h>
#include <mqueue.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>

namespace nslab::sys {
namespace {

std::string q(std::string_view s) { return std::string(s); }

// Runs f until it does not fail with EINTR; the one place that retries.
template <typename F>
auto retry_eintr(F f) {
    for (;;) {
        auto r = f();
        if (!(r == -1 && errno == EINTR)) return r;
    }
}

Error last_error(std::string call) { return Error(errno, std::move(call)); }

std::string open_flags_name(int flags) {
    std::string s;
    switch (flags & O_ACCMODE) {
        case O_RDONLY: s = "O_RDONLY"; break;
        case O_WRONLY: s = "O_WRONLY"; break;
        default: s = "O_RDWR"; break;
    }
    if (flags & O_CREAT) s += "|O_CREAT";
    if (flags & O_EXCL) s += "|O_EXCL";
    if (flags & O_TRUNC) s += "|O_TRUNC";
    if (flags & O_DIRECTORY) s += "|O_DIRECTORY";
    if (flags & O_CLOEXEC) s += "|O_CLOEXEC";
    return s;
}

std::string ns_flag_name(int flags) {
    if (flags == 0) return "0";
    struct {
        int flag;
        const char* name;
    } const names[] = {{CLONE_NEWNS, "CLONE_NEWNS"},         {CLONE_NEWUTS, "CLONE_NEWUTS"},
                       {CLONE_NEWIPC, "CLONE_NEWIPC"},       {CLONE_NEWPID, "CLONE_NEWPID"},
                       {CLONE_NEWNET, "CLONE_NEWNET"},       {CLONE_NEWUSER, "CLONE_NEWUSER"},
                       {CLONE_NEWCGROUP, "CLONE_NEWCGROUP"}, {CLONE_NEWTIME, "CLONE_NEWTIME"}};
    std::string s;
    int rest = flags;
    for (auto& n : names) {
        if (flags & n.flag) {
            if (!s.empty()) s += "|";
            s += n.name;
            rest &= ~n.flag;
        }
    }
    if (rest) {
        if (!s.empty()) s += "|";
        char buf[32];
        snprintf(buf, sizeof buf, "0x%x", rest);
        s += buf;
    }
    return s;
}

}  // namespace

std::string errno_name(int err) {
    if (err == 0) return "";
    const char* n = strerrorname_np(err);
    return n ? n : "E" + std::to_string(err);
}

std::string Error::describe() const {
    std::string s;
    for (auto it = context_.rbegin(); it != context_.rend(); ++it) {
        s += *it;
        s += ": ";
    }
    s += call_;
    if (err_ != 0) {
        s += ": ";
        s += errno_name(err_);
        s += " (";
        s += strerrordesc_np(err_) ? strerrordesc_np(err_) : "unknown error";
        s += ")";
    }
    return s;
}

// ---- files -------------------------------------------------------------------------------
Result<int> open(const std::string& path, int flags, mode_t mode) {
    int fd = retry_eintr([&] { return ::open(path.c_str(), flags, mode); });
    if (fd < 0) return last_error("open(" + path + ", " + open_flags_name(flags) + ")");
    return fd;
}

Result<int> openat(int dirfd, const std::string& path, int flags, mode_t mode) {
    int fd = retry_eintr([&] { return ::openat(dirfd, path.c_str(), flags, mode); });
    if (fd < 0)
        return last_error("openat(" + std::to_string(dirfd) + ", " + path + ", " +
                          open_flags_name(flags) + ")");
    return fd;
}

Status close(int fd) {
    // close(2): do not retry on EINTR, the fd is gone either way on Linux.
    if (::close(fd) < 0 && errno != EINTR) return last_error("close(" + std::to_string(fd) + ")");
    return {};
}

Result<size_t> read(int fd, void* buf, size_t len) {
    ssize_t n = retry_eintr([&] { return ::read(fd, buf, len); });
    if (n < 0) return last_error("read(fd=" + std::to_string(fd) + ")");
    return static_cast<size_t>(n);
}

Result<size_t> write(int fd, const void* buf, size_t len) {
    ssize_t n = retry_eintr([&] { return ::write(fd, buf, len); });
    if (n < 0) return last_error("write(fd=" + std::to_string(fd) + ")");
    return static_cast<size_t>(n);
}

Status write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        NSLAB_ASSIGN_OR_RETURN(size_t n, write(fd, data.data(), data.size()));
        data.remove_prefix(n);
    }
    return {};
}

Result<std::string> read_file(const std::string& path) {
    NSLAB_ASSIGN_OR_RETURN(int fd, open(path, O_RDONLY | O_CLOEXEC));
    std::string out;
    char buf[8192];
    for (;;) {
        auto n = read(fd, buf, sizeof buf);
        if (!n.ok()) {
            ::close(fd);
            return std::move(n).error().with_context("reading " + path);
        }
        if (*n == 0) break;
        out.append(buf, *n);
    }
    ::close(fd);
    return out;
}

Status write_file(const std::string& path, std::string_view data) {
    NSLAB_ASSIGN_OR_RETURN(int fd, open(path, O_WRONLY | O_CLOEXEC));
    ssize_t n = retry_eintr([&] { return ::write(fd, data.data(), data.size()); });
    int saved = errno;
    ::close(fd);
    if (n < 0) {
        std::string shown(data.substr(0, 60));
        for (auto& c : shown)
            if (c == '\n') c = ' ';
        return Error(saved, "write(" + path + ", \"" + shown + "\")");
    }
    return {};
}

Result<std::vector<std::string>> list_dir(const std::string& path) {
    DIR* d = ::opendir(path.c_str());
    if (!d) return last_error("opendir(" + path + ")");
    std::vector<std::string> names;
    while (struct dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") names.push_back(std::move(n));
    }
    ::closedir(d);
    return names;
}

Result<std::vector<std::string>> list_dir_fd(int dirfd) {
    // fdopendir(3) takes the fd it is given: give it a duplicate, the caller keeps its own.
    int dup = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) return last_error("fcntl(" + std::to_string(dirfd) + ", F_DUPFD_CLOEXEC)");
    DIR* d = ::fdopendir(dup);
    if (!d) {
        int err = errno;
        ::close(dup);
        return Error(err, "fdopendir(" + std::to_string(dup) + ")");
    }
    std::vector<std::string> names;
    errno = 0;
    while (struct dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") names.push_back(std::move(n));
        errno = 0;
    }
    int err = errno;  // readdir(3): NULL with errno set is an error, with errno 0 the end
    ::closedir(d);
    if (err != 0) return Error(err, "readdir(" + std::to_string(dirfd) + ")");
    return names;
}

Status mkdir_p(const std::string& path, mode_t mode) {
    std::string partial;
    size_t pos = 0;
    while (pos <= path.size()) {
        size_t next = path.find('/', pos);
        if (next == std::string::npos) next = path.size();
        partial = path.substr(0, next);
        if (!partial.empty() && ::mkdir(partial.c_str(), mode) < 0 && errno != EEXIST)
            return last_error("mkdir(" + partial + ")");
        pos = next + 1;
    }
    return {};
}

Result<struct ::stat> fstat(int fd) {
    struct ::stat st {};
    if (::fstat(fd, &st) < 0) return last_error("fstat(fd=" + std::to_string(fd) + ")");
    return st;
}

Result<struct ::stat> stat_path(const std::string& path) {
    struct ::stat st {};
    if (::stat(path.c_str(), &st) < 0) return last_error("stat(" + path + ")");
    return st;
}

Result<struct ::stat> lstat_path(const std::string& path) {
    struct ::stat st {};
    if (::lstat(path.c_str(), &st) < 0) return last_error("lstat(" + path + ")");
    return st;
}

Result<struct ::statx> statx(int dirfd, const std::string& path, int flags, unsigned mask) {
    struct ::statx stx {};
    if (::statx(dirfd, path.c_str(), flags, mask, &stx) < 0)
        return last_error("statx(" + std::to_string(dirfd) + ", " + path + ", " + std::to_string(flags) + ")");
    return stx;
}

Status access(const std::string& path, int mode) {
    if (::access(path.c_str(), mode) < 0) return last_error("access(" + path + ")");
    return {};
}

std::optional<std::string> find_on_lab_path(const std::string& name) {
    if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? std::optional(name) : std::nullopt;
    for (const char* dir : {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}) {
        std::string path = std::string(dir) + "/" + name;
        if (::access(path.c_str(), X_OK) == 0) return path;
    }
    return std::nullopt;
}

Status dup2(int from, int to) {
    if (retry_eintr([&] { return ::dup2(from, to); }) < 0)
        return last_error("dup2(" + std::to_string(from) + ", " + std::to_string(to) + ")");
    return {};
}

Status set_cloexec(int fd, bool on) {
    int flags = ::fcntl(fd, F_GETFD);
    if (flags < 0) return last_error("fcntl(fd=" + std::to_string(fd) + ", F_GETFD)");
    flags = on ? (flags | FD_CLOEXEC) : (flags & ~FD_CLOEXEC);
    if (::fcntl(fd, F_SETFD, flags) < 0)
        return last_error("fcntl(fd=" + std::to_string(fd) + ", F_SETFD)");
    return {};
}

Result<int> fcntl_getfl(int fd) {
    int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0) return last_error("fcntl(fd=" + std::to_string(fd) + ", F_GETFL)");
    return flags;
}

Status close_range_from(unsigned first) {
    if (int err = close_fd_range(first, ~0U)) return Error(err, "close_range(" + std::to_string(first) + ", ~0)");
    return {};
}

int close_fd_range(unsigned first, unsigned last) noexcept {
    if (::syscall(SYS_close_range, first, last, 0) == 0) return 0;
    // close_range(2) arrived in 5.9; older kernels say ENOSYS (a seccomp filter may say EPERM).
    if (errno != ENOSYS && errno != EPERM) return errno;
    return close_fd_range_without_close_range(first, last);
}

int close_fd_range_without_close_range(unsigned first, unsigned last) noexcept {
    const int saved = errno;
    int dir = static_cast<int>(::syscall(SYS_openat, AT_FDCWD, "/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir >= 0) {
        // Closing while listing may make getdents64 skip entries: list again until a pass closes nothing.
        for (bool closed = true; closed;) {
            closed = false;
            ::lseek(dir, 0, SEEK_SET);
            alignas(8) char buf[4096];
            long n;
            while ((n = ::syscall(SYS_getdents64, dir, buf, sizeof buf)) > 0) {
                for (long off = 0; off < n;) {
                    auto* d = reinterpret_cast<struct dirent64*>(buf + off);
                    off += d->d_reclen;
                    unsigned fd = 0;
                    bool number = d->d_name[0] != '\0';
                    for (const char* c = d->d_name; *c && number; ++c) {
                        number = *c >= '0' && *c <= '9';
                        fd = fd * 10 + static_cast<unsigned>(*c - '0');
                    }
                    if (number && fd >= first && fd <= last && static_cast<int>(fd) != dir) {
                        ::close(static_cast<int>(fd));
                        closed = true;
                    }
                }
            }
            if (n < 0) break;
        }
        ::close(dir);
        errno = saved;
        return 0;
    }
    // No /proc: every number below the hard limit (fds above the soft one may still be open).
    struct rlimit rl {};
    unsigned end = ::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY
                       ? static_cast<unsigned>(std::min<rlim_t>(rl.rlim_max, 1U << 20))
                       : 1U << 20;
    for (unsigned fd = first; fd < end && fd <= last; ++fd) ::close(static_cast<int>(fd));
    errno = saved;
    return 0;
}

Status getrandom_bytes(void* buf, size_t n) {
    ssize_t got;
    while ((got = ::getrandom(buf, n, 0)) < 0 && errno == EINTR) {
    }
    if (got < 0) return last_error("getrandom(" + std::to_string(n) + " bytes)");
    if (static_cast<size_t>(got) != n) return Error::message("getrandom: short read");
    return {};
}

Result<std::pair<int, int>> pipe2(int flags) {
    int fds[2];
    if (::pipe2(fds, flags) < 0) return last_error("pipe2()");
    return std::pair{fds[0], fds[1]};
}

// ---- processes ---------------------------------------------------------------------------
Result<CloneResult> clone3(uint64_t flags, int cgroup_fd) {
    int pidfd = -1;
    struct clone_args args {};
    if (cgroup_fd >= 0) {
        flags |= CLONE_INTO_CGROUP;
        args.cgroup = static_cast<uint64_t>(cgroup_fd);
    }
    args.flags = flags;
    args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
    args.exit_signal = SIGCHLD;
    long r = ::syscall(SYS_clone3, &args, sizeof args);
    if (r < 0) return last_error("clone3(flags=" + ns_flag_name(static_cast<int>(flags & ~0xffULL)) +
                                 ((flags & CLONE_PIDFD) ? "|CLONE_PIDFD" : "") +
                                 (cgroup_fd >= 0 ? "|CLONE_INTO_CGROUP, cgroup=" + std::to_string(cgroup_fd) : "") + ")");
    return CloneResult{static_cast<pid_t>(r), r == 0 ? -1 : pidfd};
}

Result<CloneResult> clone_vfork(unsigned long flags, int (*fn)(void*), void* arg) {
    // The child's stack: only it touches this while we are suspended; 64 KiB is ample for a few
    // system calls and execve.
    constexpr size_t kStack = 64 * 1024;
    std::unique_ptr<char[]> stack(new char[kStack]);
    int pidfd = -1;
    // clone(2): with CLONE_PIDFD the pidfd is stored at parent_tid; the stack grows down.
    int pid = ::clone(fn, stack.get() + kStack, static_cast<int>(flags | CLONE_VM | CLONE_VFORK | CLONE_PIDFD) | SIGCHLD,
                      arg, &pidfd);
    if (pid < 0) return last_error("clone(flags=" + ns_flag_name(static_cast<int>(flags)) + "|CLONE_VM|CLONE_VFORK|CLONE_PIDFD)");
    return CloneResult{pid, pidfd};
}

Result<int> pidfd_open(pid_t pid) {
    long fd = ::syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0) return last_error("pidfd_open(" + std::to_string(pid) + ")");
    return static_cast<int>(fd);
}

Status pidfd_send_signal(int pidfd, int sig) {
    if (::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) < 0)
        return last_error("pidfd_send_signal(fd=" + std::to_string(pidfd) + ", " +
                          (sigabbrev_np(sig) ? sigabbrev_np(sig) : std::to_string(sig)) + ")");
    return {};
}

Result<int> wait_pidfd(int pidfd, int options) {
    siginfo_t info{};
    int r = retry_eintr([&] {
        return ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info,
                        WEXITED | options);
    });
    if (r < 0) return last_error("waitid(P_PIDFD, fd=" + std::to_string(pidfd) + ")");
    if (info.si_pid == 0) return -1;  // WNOHANG and still running
    if (info.si_code == CLD_EXITED) return W_EXITCODE(info.si_status, 0);
    return W_EXITCODE(0, info.si_status);  // killed or dumped: status holds the signal
}

Result<int> waitpid(pid_t pid, int options) {
    int status = 0;
    pid_t r = retry_eintr([&] { return ::waitpid(pid, &status, options); });
    if (r < 0) return last_error("waitpid(" + std::to_string(pid) + ")");
    if (r == 0) return -1;
    return status;
}

Result<pid_t> waitpid_any_nohang(int* status) {
    pid_t r = retry_eintr([&] { return ::waitpid(-1, status, WNOHANG); });
    if (r < 0) return last_error("waitpid(-1, WNOHANG)");
    return r;
}

Status kill(pid_t pid, int sig) {
    if (::kill(pid, sig) < 0)
        return last_error("kill(" + std::to_string(pid) + ", " +
                          (sigabbrev_np(sig) ? sigabbrev_np(sig) : std::to_string(sig)) + ")");
    return {};
}

pid_t getpid() { return ::getpid(); }
pid_t gettid() { return static_cast<pid_t>(::syscall(SYS_gettid)); }

Status prctl_set_pdeathsig(int sig) {
    if (::prctl(PR_SET_PDEATHSIG, sig) < 0) return last_error("prctl(PR_SET_PDEATHSIG)");
    return {};
}

Status prctl_set_child_subreaper() {
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) return last_error("prctl(PR_SET_CHILD_SUBREAPER)");
    return {};
}

Status execve(const std::string& path, const std::vector<std::string>& argv,
              const std::vector<std::string>& envp) {
    std::vector<char*> a, e;
    for (auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    for (auto& s : envp) e.push_back(const_cast<char*>(s.c_str()));
    e.push_back(nullptr);
    ::execve(path.c_str(), a.data(), e.data());
    return last_error("execve(" + path + ")");
}

void exit_now(int code) { ::_exit(code); }

// ---- namespaces --------------------------------------------------------------------------
Status unshare(int flags) {
    if (::unshare(flags) < 0) return last_error("unshare(" + ns_flag_name(flags) + ")");
    return {};
}

Status setns(int fd, int nstype) {
    if (::setns(fd, nstype) < 0)
        return last_error("setns(fd=" + std::to_string(fd) + ", " + ns_flag_name(nstype) + ")");
    return {};
}

Result<int> ns_get_nstype(int nsfd) {
    int r = ::ioctl(nsfd, NS_GET_NSTYPE);
    if (r < 0) return last_error("ioctl(fd=" + std::to_string(nsfd) + ", NS_GET_NSTYPE)");
    return r;
}

Result<int> ns_get_userns(int nsfd) {
    int r = ::ioctl(nsfd, NS_GET_USERNS);
    if (r < 0) return last_error("ioctl(fd=" + std::to_string(nsfd) + ", NS_GET_USERNS)");
    return r;
}

Result<int> ns_get_parent(int nsfd) {
    int r = ::ioctl(nsfd, NS_GET_PARENT);
    if (r < 0) return last_error("ioctl(fd=" + std::to_string(nsfd) + ", NS_GET_PARENT)");
    return r;
}

Result<uid_t> ns_get_owner_uid(int nsfd) {
    uid_t uid = 0;
    if (::ioctl(nsfd, NS_GET_OWNER_UID, &uid) < 0)
        return last_error("ioctl(fd=" + std::to_string(nsfd) + ", NS_GET_OWNER_UID)");
    return uid;
}

// ---- mounts ------------------------------------------------------------------------------
std::string mount_flags_name(unsigned long flags) {
    struct {
        unsigned long flag;
        const char* name;
    } const names[] = {{MS_RDONLY, "MS_RDONLY"},   {MS_NOSUID, "MS_NOSUID"},
                       {MS_NODEV, "MS_NODEV"},     {MS_NOEXEC, "MS_NOEXEC"},
                       {MS_REMOUNT, "MS_REMOUNT"}, {MS_BIND, "MS_BIND"},
                       {MS_MOVE, "MS_MOVE"},       {MS_REC, "MS_REC"},
                       {MS_PRIVATE, "MS_PRIVATE"}, {MS_SLAVE, "MS_SLAVE"},
                       {MS_SHARED, "MS_SHARED"},   {MS_UNBINDABLE, "MS_UNBINDABLE"}};
    std::string s;
    for (auto& n : names) {
        if (flags & n.flag) {
            if (!s.empty()) s += "|";
            s += n.name;
        }
    }
    return s.empty() ? "0" : s;
}

Status mount(const std::string& source, const std::string& target, const std::string& fstype,
             unsigned long flags, const std::string& data) {
    if (::mount(source.empty() ? nullptr : source.c_str(), target.c_str(),
                fstype.empty() ? nullptr : fstype.c_str(), flags,
                data.empty() ? nullptr : data.c_str()) < 0)
        return last_error("mount(" + (source.empty() ? "NULL" : source) + ", " + target + ", " +
                          (fstype.empty() ? "NULL" : fstype) + ", " + mount_flags_name(flags) + ")");
    return {};
}

Status umount2(const std::string& target, int flags) {
    if (::umount2(target.c_str(), flags) < 0)
        return last_error("umount2(" + target + ", " + std::to_string(flags) + ")");
    return {};
}

// ---- UTS ---------------------------------------------------------------------------------
Result<std::string> gethostname() {
    struct utsname u {};
    if (::uname(&u) < 0) return last_error("uname()");
    return std::string(u.nodename);
}

Result<std::string> getdomainname() {
    struct utsname u {};
    if (::uname(&u) < 0) return last_error("uname()");
    return std::string(u.domainname);
}

Status sethostname(std::string_view name) {
    if (::sethostname(name.data(), name.size()) < 0)
        return last_error("sethostname(\"" + q(name) + "\")");
    return {};
}

Status setdomainname(std::string_view name) {
    if (::setdomainname(name.data(), name.size()) < 0)
        return last_error("setdomainname(\"" + q(name) + "\")");
    return {};
}

// ---- IPC ---------------------------------------------------------------------------------
namespace {
std::string hex_key(int key) {
    char buf[16];
    snprintf(buf, sizeof buf, "0x%08x", static_cast<unsigned>(key));
    return buf;
}
}  // namespace

Result<int> shmget(int key, size_t size, int flags) {
    int id = ::shmget(key, size, flags);
    if (id < 0)
        return last_error("shmget(key=" + hex_key(key) + ", size=" + std::to_string(size) + ")");
    return id;
}

Result<void*> shmat(int shmid, int flags) {
    void* p = ::shmat(shmid, nullptr, flags);
    if (p == reinterpret_cast<void*>(-1)) return last_error("shmat(shmid=" + std::to_string(shmid) + ")");
    return p;
}

Status shmdt(const void* addr) {
    if (::shmdt(addr) < 0) return last_error("shmdt()");
    return {};
}

Status shm_remove(int shmid) {
    if (::shmctl(shmid, IPC_RMID, nullptr) < 0)
        return last_error("shmctl(shmid=" + std::to_string(shmid) + ", IPC_RMID)");
    return {};
}

Result<int> semget(int key, int nsems, int flags) {
    int id = ::semget(key, nsems, flags);
    if (id < 0)
        return last_error("semget(key=" + hex_key(key) + ", nsems=" + std::to_string(nsems) + ")");
    return id;
}

Result<int> msgget(int key, int flags) {
    int id = ::msgget(key, flags);
    if (id < 0) return last_error("msgget(key=" + hex_key(key) + ")");
    return id;
}

Result<int> mq_open(const std::string& name, int flags, mode_t mode) {
    mqd_t d = (flags & O_CREAT) ? ::mq_open(name.c_str(), flags, mode, nullptr)
                                : ::mq_open(name.c_str(), flags);
    if (d == static_cast<mqd_t>(-1))
        return last_error("mq_open(" + name + ", " + open_flags_name(flags) + ")");
    return static_cast<int>(d);
}

Status mq_close(int mqd) {
    if (::mq_close(mqd) < 0) return last_error("mq_close()");
    return {};
}

Status mq_getattr(int mqd) {
    struct mq_attr attr {};
    if (::mq_getattr(static_cast<mqd_t>(mqd), &attr) < 0) return last_error("mq_getattr(mqd=" + std::to_string(mqd) + ")");
    return {};
}

Status mq_unlink(const std::string& name) {
    if (::mq_unlink(name.c_str()) < 0) return last_error("mq_unlink(" + name + ")");
    return {};
}

// ---- sockets -----------------------------------------------------------------------------
Result<std::pair<int, int>> socketpair_seqpacket() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return last_error("socketpair(AF_UNIX, SOCK_SEQPACKET)");
    return std::pair{sv[0], sv[1]};
}

namespace {

struct RecvBuffer {
    char* data = nullptr;
    size_t size = 0;
    RecvBuffer() = default;
    RecvBuffer(const RecvBuffer&) = delete;
    RecvBuffer& operator=(const RecvBuffer&) = delete;
    ~RecvBuffer() {
        if (data) ::munmap(data, size);
    }
    Status reserve(size_t bytes) {
        if (bytes <= size) return {};
        void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) return last_error("mmap(" + std::to_string(bytes) + " bytes, receive buffer)");
        (void)::madvise(p, bytes, MADV_WIPEONFORK);  // an optimisation: EINVAL before 4.14 changes nothing
        if (data) ::munmap(data, size);
        data = static_cast<char*>(p);
        size = bytes;
        return {};
    }
};

}  // namespace

Status send_message(int sock, std::string_view bytes, std::span<const int> fds) {
    struct iovec iov {
        const_cast<char*>(bytes.data()), bytes.size()
    };
    struct msghdr msg {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    // On the stack: a realm's hello is sent from a fresh fork, where a heap page written is a
    // copy-on-write fault. recv_message takes at most 64 fds per message, so no more are sent.
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * 64)];
    if (fds.size() > 64)
        return Error(EINVAL, "sendmsg(fd=" + std::to_string(sock) + "): " + std::to_string(fds.size()) +
                                 " fds, more than the 64 a message carries");
    if (!fds.empty()) {
        msg.msg_control = control;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
        struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
        std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    ssize_t n = retry_eintr([&] { return ::sendmsg(sock, &msg, MSG_NOSIGNAL); });
    if (n < 0)
        return last_error("sendmsg(fd=" + std::to_string(sock) + ", " +
                          std::to_string(bytes.size()) + " bytes, " + std::to_string(fds.size()) +
                          " fds)");
    return {};
}

void yield_cpu() { (void)::sched_yield(); }

Result<Received> recv_message(int sock, size_t max_bytes, int flags) {
    Received out;
    // One receive buffer per thread, reused: a fresh zero-filled 1 MiB per message cost ~100 us of
    // page faults and memset on every request and every reply. Mapped, never cleared: only the
    // pages that messages reach are ever touched. MADV_WIPEONFORK (madvise(2), Linux 4.14): a fork
    // (an agent spawning a realm) gets it as fresh zero pages instead of copying its page tables
    // and sharing its pages copy-on-write.
    thread_local RecvBuffer buffer;
    NSLAB_TRY(buffer.reserve(max_bytes));
    struct iovec iov {
        buffer.data, max_bytes
    };
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * 64)];
    struct msghdr msg {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = retry_eintr([&] { return ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | flags); });
    if (n < 0) return last_error("recvmsg(fd=" + std::to_string(sock) + ")");
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < count; ++i) {
                int fd;
                std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
                out.fds.push_back(fd);
            }
        }
    }
    if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
        for (int fd : out.fds) ::close(fd);
        return Error(EMSGSIZE, "recvmsg(fd=" + std::to_string(sock) + "): message truncated");
    }
    out.eof = (n == 0 && out.fds.empty());
    out.bytes.assign(buffer.data, static_cast<size_t>(n));
    return out;
}

Result<bool> poll_readable(int fd, int timeout_ms) {
    struct pollfd p {
        fd, POLLIN, 0
    };
    int r = retry_eintr([&] { return ::poll(&p, 1, timeout_ms); });
    if (r < 0) return last_error("poll(fd=" + std::to_string(fd) + ")");
    return r > 0;
}

Result<int> poll_fds(struct pollfd* fds, size_t n, int timeout_ms) {
    int r = retry_eintr([&] { return ::poll(fds, n, timeout_ms); });
    if (r < 0) return last_error("poll(" + std::to_string(n) + " fds)");
    return r;
}

Result<bool> peer_closed(int sock) {
    char byte;
    ssize_t r = retry_eintr([&] { return ::recv(sock, &byte, 1, MSG_PEEK | MSG_DONTWAIT); });
    if (r < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
        if (errno == ECONNRESET) return true;
        return last_error("recv(fd=" + std::to_string(sock) + ", MSG_PEEK)");
    }
    return r == 0;
}

// ---- identity and time -------------------------------------------------------------------
Ids getresids() {
    Ids ids{};
    ::getresuid(&ids.ruid, &ids.euid, &ids.suid);
    ::getresgid(&ids.rgid, &ids.egid, &ids.sgid);
    return ids;
}

Status setresuid(uid_t r, uid_t e, uid_t s) {
    if (::setresuid(r, e, s) < 0) return last_error("setresuid(" + std::to_string(e) + ")");
    return {};
}

Status setresgid(gid_t r, gid_t e, gid_t s) {
    if (::setresgid(r, e, s) < 0) return last_error("setresgid(" + std::to_string(e) + ")");
    return {};
}

Result<struct timespec> clock_gettime(clockid_t clock) {
    struct timespec ts {};
    if (::clock_gettime(clock, &ts) < 0)
        return last_error("clock_gettime(" + std::to_string(clock) + ")");
    return ts;
}

UtsName uname() {
    struct utsname u {};
    ::uname(&u);
    return {u.sysname, u.release, u.machine};
}

}  // namespace nslab::sys
