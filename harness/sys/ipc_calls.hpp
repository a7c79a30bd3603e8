// Wrappers for System V IPC traffic (sysvipc(7)): sending and receiving messages, operating
// semaphores, reading a segment's size. Objects are found by key in the caller's IPC namespace.
// Same rules as sys/syscalls.hpp: each returns Result<T> whose error names the call.
#pragma once

#include <sys/types.h>

#include <string>

#include "sys/result.hpp"

namespace nslab::sys {

// msgsnd(id, {type, text}, IPC_NOWAIT): never blocks on a full queue (EAGAIN instead).
Status msgsnd_text(int msqid, long type, const std::string& text);
// msgrcv(id, buf, max, type, IPC_NOWAIT): the text of the first message of that type (0: any);
// ENOMSG when there is none.
Result<std::string> msgrcv_text(int msqid, long type);
// msgctl(id, IPC_STAT).msg_qnum: messages waiting in the queue.
Result<long> msg_count(int msqid);

// semctl(id, num, SETVAL, value) and semctl(id, num, GETVAL).
Status sem_setval(int semid, int num, int value);
Result<int> sem_getval(int semid, int num);
// semop(id, {num, op, IPC_NOWAIT}, 1): EAGAIN where it would block.
Status semop_nowait(int semid, int num, int op);

// shmctl(id, IPC_STAT).shm_segsz: the segment's size in bytes.
Result<size_t> shm_size(int shmid);

// mq_notify(3) with SIGEV_SIGNAL: the caller gets sig when a message arrives in the empty queue.
Status mq_notify_signal(int mqd, int sig);
// mq_send(3) of text with priority 0; EAGAIN on a full queue opened O_NONBLOCK.
Status mq_send_text(int mqd, const std::string& text);

}  // namespace nslab::sys
