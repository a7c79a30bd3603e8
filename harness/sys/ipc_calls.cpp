#include "sys/ipc_calls.hpp"

#include <mqueue.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace nslab::sys {
namespace {

// msgsnd(2), msgrcv(2): the buffer is a long type followed by the text.
constexpr size_t kMaxText = 8192;  // the default msgmax (msgsnd(2): larger is EINVAL anyway)

std::string id_text(const char* what, int id) { return std::string(what) + "=" + std::to_string(id); }

}  // namespace

Status msgsnd_text(int msqid, long type, const std::string& text) {
    if (text.size() > kMaxText) return Error::message("message text longer than " + std::to_string(kMaxText) + " bytes");
    std::vector<char> buf(sizeof(long) + text.size());
    std::memcpy(buf.data(), &type, sizeof type);
    std::memcpy(buf.data() + sizeof(long), text.data(), text.size());
    // IPC_NOWAIT: the call never sleeps, so EINTR cannot happen.
    if (::msgsnd(msqid, buf.data(), text.size(), IPC_NOWAIT) < 0)
        return Error(errno, "msgsnd(" + id_text("msqid", msqid) + ", type " + std::to_string(type) + ", IPC_NOWAIT)");
    return {};
}

Result<std::string> msgrcv_text(int msqid, long type) {
    std::vector<char> buf(sizeof(long) + kMaxText);
    ssize_t n = ::msgrcv(msqid, buf.data(), kMaxText, type, IPC_NOWAIT);
    if (n < 0)
        return Error(errno, "msgrcv(" + id_text("msqid", msqid) + ", type " + std::to_string(type) + ", IPC_NOWAIT)");
    return std::string(buf.data() + sizeof(long), static_cast<size_t>(n));
}

Result<long> msg_count(int msqid) {
    struct msqid_ds ds {};
    if (::msgctl(msqid, IPC_STAT, &ds) < 0) return Error(errno, "msgctl(" + id_text("msqid", msqid) + ", IPC_STAT)");
    return static_cast<long>(ds.msg_qnum);
}

Status sem_setval(int semid, int num, int value) {
    // semctl(2): the caller defines union semun; SETVAL takes its int member, passed by value.
    union semun {
        int val;
        struct semid_ds* buf;
        unsigned short* array;
    } arg{};
    arg.val = value;
    if (::semctl(semid, num, SETVAL, arg) < 0)
        return Error(errno, "semctl(" + id_text("semid", semid) + ", " + std::to_string(num) + ", SETVAL, " +
                                std::to_string(value) + ")");
    return {};
}

Result<int> sem_getval(int semid, int num) {
    int v = ::semctl(semid, num, GETVAL);
    if (v < 0) return Error(errno, "semctl(" + id_text("semid", semid) + ", " + std::to_string(num) + ", GETVAL)");
    return v;
}

Status semop_nowait(int semid, int num, int op) {
    struct sembuf sb {};
    sb.sem_num = static_cast<unsigned short>(num);
    sb.sem_op = static_cast<short>(op);
    sb.sem_flg = IPC_NOWAIT;
    if (::semop(semid, &sb, 1) < 0)
        return Error(errno, "semop(" + id_text("semid", semid) + ", {" + std::to_string(num) + ", " +
                                std::to_string(op) + ", IPC_NOWAIT})");
    return {};
}

Result<size_t> shm_size(int shmid) {
    struct shmid_ds ds {};
    if (::shmctl(shmid, IPC_STAT, &ds) < 0) return Error(errno, "shmctl(" + id_text("shmid", shmid) + ", IPC_STAT)");
    return static_cast<size_t>(ds.shm_segsz);
}

Status mq_notify_signal(int mqd, int sig) {
    struct sigevent ev {};
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = sig;
    if (::mq_notify(static_cast<mqd_t>(mqd), &ev) < 0)
        return Error(errno, "mq_notify(mqd=" + std::to_string(mqd) + ", SIGEV_SIGNAL " + std::to_string(sig) + ")");
    return {};
}

Status mq_send_text(int mqd, const std::string& text) {
    if (::mq_send(static_cast<mqd_t>(mqd), text.data(), text.size(), 0) < 0)
        return Error(errno, "mq_send(mqd=" + std::to_string(mqd) + ", " + std::to_string(text.size()) + " bytes)");
    return {};
}

}  // namespace nslab::sys
