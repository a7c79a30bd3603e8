// Thin wrappers over the system calls nslab uses. Each returns Result<T> whose error names the call
// with its arguments; this layer is the only code that reads errno. EINTR is retried here, once,
// in retry_eintr(), and nowhere else.
#pragma once

#include <poll.h>

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <span>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sys/result.hpp"

namespace nslab::sys {

// ---- files -------------------------------------------------------------------------------
Result<int> open(const std::string& path, int flags, mode_t mode = 0);
Result<int> openat(int dirfd, const std::string& path, int flags, mode_t mode = 0);
Status close(int fd);
Result<size_t> read(int fd, void* buf, size_t len);
Result<size_t> write(int fd, const void* buf, size_t len);
Status write_all(int fd, std::string_view data);
// Reads a whole (small, e.g. /proc) file.
Result<std::string> read_file(const std::string& path);
// Writes data with one write(2), as /proc map files require.
Status write_file(const std::string& path, std::string_view data);
Result<std::vector<std::string>> list_dir(const std::string& path);
// The names in the directory open as dirfd (not "." and ".."), in readdir order; dirfd stays open.
Result<std::vector<std::string>> list_dir_fd(int dirfd);
Status mkdir_p(const std::string& path, mode_t mode = 0755);
Result<struct ::stat> fstat(int fd);
Result<struct ::stat> stat_path(const std::string& path);
Result<struct ::stat> lstat_path(const std::string& path);
Result<struct ::statx> statx(int dirfd, const std::string& path, int flags, unsigned mask);
Status access(const std::string& path, int mode);
// execvp(3)'s search over the lab's PATH (the one the agent runs commands with): the executable's
// path, or nullopt. A name with a '/' is checked as it is.
std::optional<std::string> find_on_lab_path(const std::string& name);
Status dup2(int from, int to);
Status set_cloexec(int fd, bool on);
Result<int> fcntl_getfl(int fd);
Status close_range_from(unsigned first);  // closes every fd >= first
// Closes every fd in [first, last]: close_range(2) (Linux 5.9), else, where it is ENOSYS, each fd
// /proc/self/fd lists (read with getdents64 into a stack buffer), else every number up to the
// hard RLIMIT_NOFILE. Async-signal-safe (no allocation): usable in a child between fork and exec.
// Returns 0 or an errno.
int close_fd_range(unsigned first, unsigned last) noexcept;
// The fallback alone, for tests and kernels without close_range(2).
int close_fd_range_without_close_range(unsigned first, unsigned last) noexcept;
Status getrandom_bytes(void* buf, size_t n);  // getrandom(2), all n bytes or an error
Result<std::pair<int, int>> pipe2(int flags);

// ---- processes ---------------------------------------------------------------------------
struct CloneResult {
    pid_t pid = -1;   // 0 in the child
    int pidfd = -1;   // valid in the parent when CLONE_PIDFD was asked
};
// clone3(2) with flags (CLONE_NEW*, CLONE_PIDFD, ...) and SIGCHLD as exit signal. Without
// CLONE_VM the child continues here on a copy of the stack, as after fork(); glibc's cached
// thread id is stale in that child, so it must not use raise()/pthread_kill().
// cgroup_fd >= 0 adds CLONE_INTO_CGROUP: the child starts in that cgroup v2 directory (kernel 5.7+;
// clone3(2): the directory must be a valid destination, else EOPNOTSUPP or EBUSY).
Result<CloneResult> clone3(uint64_t flags, int cgroup_fd = -1);
// clone(2) with CLONE_VM | CLONE_VFORK | CLONE_PIDFD and SIGCHLD, as posix_spawn does: the child
// runs fn(arg) on a stack of its own in our memory, copying no page tables, and this thread is
// suspended until the child execs or exits (so fn must exec or _exit without waiting on us).
// flags: CLONE_NEW* (not CLONE_NEWTIME, which clone(2) cannot take). Returns the child's pid and
// pidfd.
Result<CloneResult> clone_vfork(unsigned long flags, int (*fn)(void*), void* arg);
Result<int> pidfd_open(pid_t pid);
Status pidfd_send_signal(int pidfd, int sig);
// waitid(P_PIDFD): reaps the child; returns its wait status in the form of waitpid's status.
Result<int> wait_pidfd(int pidfd, int options = 0);
Result<int> waitpid(pid_t pid, int options = 0);  // returns status; pid 0 => WNOHANG and none
Result<pid_t> waitpid_any_nohang(int* status);
Status kill(pid_t pid, int sig);
pid_t getpid();
pid_t gettid();
Status prctl_set_pdeathsig(int sig);
Status prctl_set_child_subreaper();
Status execve(const std::string& path, const std::vector<std::string>& argv,
              const std::vector<std::string>& envp);
[[noreturn]] void exit_now(int code);  // _exit(2)

// ---- namespaces --------------------------------------------------------------------------
Status unshare(int flags);
Status setns(int fd, int nstype);
Result<int> ns_get_nstype(int nsfd);       // ioctl(NS_GET_NSTYPE)
Result<int> ns_get_userns(int nsfd);       // ioctl(NS_GET_USERNS): a new fd
Result<int> ns_get_parent(int nsfd);       // ioctl(NS_GET_PARENT): a new fd
Result<uid_t> ns_get_owner_uid(int nsfd);  // ioctl(NS_GET_OWNER_UID)

// ---- mounts ------------------------------------------------------------------------------
Status mount(const std::string& source, const std::string& target, const std::string& fstype,
             unsigned long flags, const std::string& data = "");
Status umount2(const std::string& target, int flags);
// Spells mount flags as mount(8) would ("MS_BIND|MS_REC"), for error messages.
std::string mount_flags_name(unsigned long flags);

// ---- UTS ---------------------------------------------------------------------------------
Result<std::string> gethostname();
Result<std::string> getdomainname();
Status sethostname(std::string_view name);
Status setdomainname(std::string_view name);

// ---- System V and POSIX IPC --------------------------------------------------------------
Result<int> shmget(int key, size_t size, int flags);
Result<void*> shmat(int shmid, int flags);
Status shmdt(const void* addr);
Status shm_remove(int shmid);
Result<int> semget(int key, int nsems, int flags);
Result<int> msgget(int key, int flags);
Result<int> mq_open(const std::string& name, int flags, mode_t mode = 0600);
Status mq_close(int mqd);
Status mq_unlink(const std::string& name);
// mq_getsetattr(2) on mqd, reading only: on fd -1, EBADF where the kernel has POSIX queues and
// ENOSYS where it has none; touches no queue.
Status mq_getattr(int mqd);

// ---- sockets -----------------------------------------------------------------------------
Result<std::pair<int, int>> socketpair_seqpacket();
// One datagram with optional SCM_RIGHTS fds.
Status send_message(int sock, std::string_view bytes, std::span<const int> fds);
struct Received {
    std::string bytes;
    std::vector<int> fds;  // owned by the caller
    bool eof = false;      // the peer closed the socket
};
// flags: MSG_DONTWAIT turns "nothing queued" into an error with errno EAGAIN.
Result<Received> recv_message(int sock, size_t max_bytes, int flags = 0);
// sched_yield(2): lets another runnable task of this CPU run; never fails on Linux.
void yield_cpu();
// poll(2) for readability; returns false on timeout. timeout_ms < 0 waits forever.
Result<bool> poll_readable(int fd, int timeout_ms);
// poll(2) over n fds (EINTR retried); the number of fds with events.
Result<int> poll_fds(struct pollfd* fds, size_t n, int timeout_ms);
// Whether the peer of a SOCK_SEQPACKET socket has closed with nothing left to read (a zero-length
// MSG_PEEK); false while a message waits or the peer is still there.
Result<bool> peer_closed(int sock);

// ---- identity and time -------------------------------------------------------------------
struct Ids {
    uid_t ruid, euid, suid;
    gid_t rgid, egid, sgid;
};
Ids getresids();
Status setresuid(uid_t r, uid_t e, uid_t s);
Status setresgid(gid_t r, gid_t e, gid_t s);
Result<struct timespec> clock_gettime(clockid_t clock);
struct UtsName {
    std::string sysname, release, machine;
};
UtsName uname();

}  // namespace nslab::sys
