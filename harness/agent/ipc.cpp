// IPC namespace ops (ipc_namespaces(7)): System V objects and POSIX message queues are per IPC
// namespace; /proc/sysvipc/* lists the objects of the reader's IPC namespace.
#include <fcntl.h>
#include <sys/ipc.h>
#include <sys/random.h>
#include <sys/shm.h>

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <utility>

#include "agent/registry.hpp"
#include "sys/ipc_calls.hpp"
#include "sys/syscalls.hpp"

namespace nslab::agent {
namespace {

std::string hex_key(int key) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08x", static_cast<unsigned>(key));
    return buf;
}

sys::Result<int> parse_key(const std::string& text) {
    try {
        size_t used = 0;
        long long v = std::stoll(text, &used, 0);
        if (used != text.size() || v < 0 || v > 0xffffffffLL) throw std::out_of_range(text);
        return static_cast<int>(static_cast<unsigned>(v));
    } catch (const std::exception&) {
        return sys::Error::message("key '" + text + "' is not a number (e.g. 0x1234abcd)");
    }
}

// A random non-zero key, as ipcmk(1) makes, unless the step names one.
sys::Result<int> key_from_args(const json& args) {
    if (auto k = arg_string_opt(args, "key")) return parse_key(*k);
    if (auto k = arg_int_opt(args, "key")) return static_cast<int>(*k);
    unsigned v = 0;
    while (v == 0) {
        if (::getrandom(&v, sizeof v, 0) != static_cast<ssize_t>(sizeof v)) v = 0x6e736c00u ^ static_cast<unsigned>(sys::getpid());
    }
    return static_cast<int>(v);
}

struct SysvEntry {
    int key;
    int id;
};

// /proc/sysvipc/{shm,sem,msg}: a header line, then "key id ..." per object, in the reader's
// IPC namespace.
sys::Result<std::vector<SysvEntry>> list_sysv(const std::string& which) {
    NSLAB_ASSIGN_OR_RETURN(std::string text, sys::read_file("/proc/sysvipc/" + which));
    std::istringstream in(text);
    std::string line;
    std::getline(in, line);  // header
    std::vector<SysvEntry> out;
    while (std::getline(in, line)) {
        std::istringstream f(line);
        long long key = 0, id = 0;
        if (f >> key >> id) out.push_back({static_cast<int>(key), static_cast<int>(id)});
    }
    return out;
}

json keys_json(const std::vector<SysvEntry>& entries) {
    std::vector<std::string> keys;
    for (auto& e : entries) keys.push_back(hex_key(e.key));
    std::sort(keys.begin(), keys.end());
    return keys;
}

json sysv_object(const std::string& kind, int key, int id) {
    return json{{"kind", kind}, {"key", hex_key(key)}, {"id", id}};
}

VisibilityCheck sysv_visibility(std::string which) {
    return [which](const json& object) -> sys::Result<bool> {
        NSLAB_ASSIGN_OR_RETURN(std::string key_text, arg_string(object, "key"));
        NSLAB_ASSIGN_OR_RETURN(int key, parse_key(key_text));
        NSLAB_ASSIGN_OR_RETURN(auto entries, list_sysv(which));
        int id = object.value("id", -1);
        for (auto& e : entries) {
            // IPC_PRIVATE objects have key 0 everywhere: then only the id identifies them.
            if (key != 0 && e.key == key) return true;
            if (key == 0 && e.key == 0 && e.id == id) return true;
        }
        return false;
    };
}

Handler sysv_lister(std::string which) {
    return [which](OpCall&) -> sys::Result<json> {
        NSLAB_ASSIGN_OR_RETURN(auto entries, list_sysv(which));
        return keys_json(entries);
    };
}

// The key an operation on an existing object names (required, unlike creation's).
sys::Result<int> required_key(const json& args) {
    if (auto k = arg_string_opt(args, "key")) return parse_key(*k);
    if (auto k = arg_int_opt(args, "key")) return static_cast<int>(*k);
    return sys::Error::message("argument 'key' must name the object's key (e.g. \"0x1234abcd\")");
}

// What a *get(key, 0) call of this kind resolves in the caller's IPC namespace (sysvipc(7): keys
// are looked up in the caller's namespace only).
enum class Sysv { msg, sem, shm };
sys::Result<int> lookup(Sysv kind, int key) {
    switch (kind) {
        case Sysv::msg: return sys::msgget(key, 0);
        case Sysv::sem: return sys::semget(key, 0, 0);
        case Sysv::shm: return sys::shmget(key, 0, 0);
    }
    return sys::Error::message("unknown System V kind");
}

// A probe's value for an object the key does not name here: "absent" (ENOENT), so that a row can
// say where the object exists; any other error is the probe's failure.
template <typename F>
sys::Result<json> probe_by_key(const OpCall& c, Sysv kind, F read) {
    NSLAB_ASSIGN_OR_RETURN(int key, required_key(c.args));
    auto id = lookup(kind, key);
    if (!id.ok() && id.error().err() == ENOENT) return json("absent");
    if (!id.ok()) return std::move(id).error();
    return read(*id);
}

// Attaches a segment for the length of a call; shmdt(2) on every path.
class Attached {
public:
    static sys::Result<Attached> at(int id, int flags) {
        NSLAB_ASSIGN_OR_RETURN(void* p, sys::shmat(id, flags));
        return Attached(p);
    }
    Attached(Attached&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
    Attached& operator=(Attached&&) = delete;
    ~Attached() {
        if (p_) (void)sys::shmdt(p_);
    }
    char* bytes() const { return static_cast<char*>(p_); }

private:
    explicit Attached(void* p) : p_(p) {}
    void* p_;
};

void register_sysv_traffic_ops(Registry& r) {
    const ArgSpec key_arg{"key", ArgType::string, true, "the object's IPC key (e.g. \"0x1234abcd\" or ${q.key})", ipc_key()};
    r.add({.name = "msg_send",
           .kind = OpKind::action,
           .ns = "ipc",
           .doc = "Sends a message to the queue with this key in the caller's IPC namespace (msgget, "
                  "msgsnd with IPC_NOWAIT).",
           .lab = "# msgsnd(msgget(KEY, 0), {[TYPE|1], TEXT}, IPC_NOWAIT)",
           .args = {key_arg,
                    {"text", ArgType::string, true, "the message text"},
                    {"type", ArgType::integer, false, "the message type, > 0 (default 1)"}},
           .handler = [](OpCall& c) -> sys::Result<json> {
               NSLAB_ASSIGN_OR_RETURN(int key, required_key(c.args));
               NSLAB_ASSIGN_OR_RETURN(std::string text, arg_string(c.args, "text"));
               long type = static_cast<long>(arg_int_opt(c.args, "type").value_or(1));
               NSLAB_ASSIGN_OR_RETURN(int id, sys::msgget(key, 0));
               NSLAB_TRY(sys::msgsnd_text(id, type, text));
               return json{{"key", hex_key(key)}, {"id", id}, {"type", type}};
           }});
    r.add({.name = "msg_receive",
           .kind = OpKind::action,
           .ns = "ipc",
           .doc = "Takes the first message (of a type) from the queue with this key in the caller's "
                  "IPC namespace (msgrcv with IPC_NOWAIT: ENOMSG when there is none).",
           .lab = "# msgrcv(msgget(KEY, 0), buf, size, [TYPE|0], IPC_NOWAIT)",
           .args = {key_arg, {"type", ArgType::integer, false, "only messages of this type (default 0: any)"}},
           .handler = [](OpCall& c) -> sys::Result<json> {
               NSLAB_ASSIGN_OR_RETURN(int key, required_key(c.args));
               long type = static_cast<long>(arg_int_opt(c.args, "type").value_or(0));
               NSLAB_ASSIGN_OR_RETURN(int id, sys::msgget(key, 0));
               NSLAB_ASSIGN_OR_RETURN(std::string text, sys::msgrcv_text(id, type));
               return json{{"key", hex_key(key)}, {"id", id}, {"text", text}};
           }});
    r.add({.name = "msg_count",
           .kind = OpKind::probe,
           .ns = "ipc",
           .doc = "Messages waiting in the queue with this key in the caller's IPC namespace "
                  "(msgctl IPC_STAT msg_qnum), or \"absent\" when the key names no queue there.",
           .lab = "ipcs -q | grep KEY",
           .args = {key_arg},
           .handler = [](OpCall& c) -> sys::Result<json> {
               return probe_by_key(c, Sysv::msg, [](int id) -> sys::Result<json> {
                   NSLAB_ASSIGN_OR_RETURN(long n, sys::msg_count(id));
                   return json(n);
               });
           }});
    const ArgSpec num_arg{"num", ArgType::integer, false, "the semaphore's index in the set (default 0)"};
    r.add({.name = "sem_set",
           .kind = OpKind::action,
           .ns = "ipc",
           .doc = "Sets a semaphore of the set with this key in the caller's IPC namespace (semctl SETVAL).",
           .lab = "# semctl(semget(KEY, 0, 0), [NUM|0], SETVAL, VALUE)",
           .args = {key_arg, {"value", ArgType::integer, true, "the new value"}, num_arg},
           .handler = [](OpCall& c) -> sys::Result<json> {
               NSLAB_ASSIGN_OR_RETURN(int key, required_key(c.args));
               NSLAB_ASSIGN_OR_RETURN(long long value, arg_int(c.args, "value"));
               int num = static_cast<int>(arg_int_opt(c.args, "num").value_or(0));
               NSLAB_ASSIGN_OR_RETURN(int id, sys::semget(key, 0, 0));
               NSLAB_TRY(sys::sem_setval(id, num, static_cast<int>(value)));
               return json{{"key", hex_key(key)}, {"id", id}, {"value", value}};
           }});
    r.add({.name = "sem_op",
           .kind = OpKind::action,
           .ns = "ipc",
           .doc = "Adds op to a semaphore of the set with this key (semop with IPC_NOWAIT: a lock, "
                  "op -1, that would block fails with EAGAIN).",
           .lab = "# semop(semget(KEY, 0, 0), {[NUM|0], OP, IPC_NOWAIT})",
           .args = {key_arg, {"op", ArgType::integer, true, "the value to add (-1 locks, 1 unlocks)"}, num_arg},
           .handler = [](OpCall& c) -> sys::Result<json> {
               NSLAB_ASSIGN_OR_RETURN(int key, required_key(c.args));
               NSLAB_ASSIGN_OR_RETURN(long long op, arg_int(c.args, "op"));
               int num = static_cast<int>(arg_int_opt(c.args, "num").value_or(0));
               NSLAB_ASSIGN_OR_RETURN(int id, sys::semget(key, 0, 0));
               NSLAB_TRY(sys::semop_nowait(id, num, static_cast<int>(op)));
               NSLAB_ASSIGN_OR_RETURN(int value, sys::sem_getval(id, num));
               return json{{"key", hex_key(key)}, {"id", id}, {"value", value}};
           }});
    r.add({.name = "sem_value",
           .kind = OpKind::probe,
           .ns = "ipc",
           .doc = "The value of a semaphore of the set with this key in the caller's IPC namespace "
                  "(semctl GETVAL), or \"absent\" when the key names no set there.",
           .lab = "# semctl(semget(KEY, 0, 0), [NUM|0], GETVAL)",
           .args = {key_arg, num_arg},
           .handler = [](OpCall& c) -> sys::Result<json> {
               int num = static_cast<int>(arg_int_opt(c.args, "num").value_or(0));
               return probe_by_key(c, Sysv::sem, [num](int id) -> sys::Result<json> {
                   NSLAB_ASSIGN_OR_RETURN(int v, sys::sem_getval(id, num));
                   return json(v);
               });
           }});
    r.add({.name = "shm_write",
           .kind = OpKind::action,
           .ns = "ipc",
           .doc = "Writes a text (and a NUL) at the start of the segment with this key in the caller's "
                  "IPC namespace (shmget, shmat, copy, shmdt).",
           .lab = "# shmat(shmget(KEY, 0, 0)), then copy TEXT to its start",
           .args = {key_arg, {"text", ArgType::string, true, "the bytes to write"}},
           .handler = [](OpCall& c) -> sys::Result<json> {
               NSLAB_ASSIGN_OR_RETURN(int key, required_key(c.args));
               NSLAB_ASSIGN_OR_RETURN(std::string text, arg_string(c.args, "text"));
               NSLAB_ASSIGN_OR_RETURN(int id, sys::shmget(key, 0, 0));
               NSLAB_ASSIGN_OR_RETURN(size_t size, sys::shm_size(id));
               if (text.size() + 1 > size)
                   return sys::Error::message("text of " + std::to_string(text.size()) + " bytes and its NUL do not fit the " +
                                              std::to_string(size) + "-byte segment " + hex_key(key));
               NSLAB_ASSIGN_OR_RETURN(Attached seg, Attached::at(id, 0));
               std::copy(text.begin(), text.end(), seg.bytes());
               seg.bytes()[text.size()] = '\0';
               return json{{"key", hex_key(key)}, {"id", id}};
           }});
    r.add({.name = "shm_read",
           .kind = OpKind::probe,
           .ns = "ipc",
           .doc = "The text (up to the first NUL) at the start of the segment with this key in the "
                  "caller's IPC namespace (shmat SHM_RDONLY, shmdt), or \"absent\" when the key names "
                  "no segment there.",
           .lab = "# shmat(shmget(KEY, 0, 0), NULL, SHM_RDONLY): the text at its start",
           .args = {key_arg},
           .handler = [](OpCall& c) -> sys::Result<json> {
               return probe_by_key(c, Sysv::shm, [](int id) -> sys::Result<json> {
                   NSLAB_ASSIGN_OR_RETURN(size_t size, sys::shm_size(id));
                   NSLAB_ASSIGN_OR_RETURN(Attached seg, Attached::at(id, SHM_RDONLY));
                   const char* b = seg.bytes();
                   return json(std::string(b, std::find(b, b + size, '\0')));
               });
           }});
}

}  // namespace

void register_ipc_ops(Registry& r) {
    register_sysv_traffic_ops(r);
    const ArgSpec key_arg{"key", ArgType::string, false,
                          "the IPC key (e.g. \"0x1234abcd\"); a random one when absent, as ipcmk does", ipc_key()};
    r.add({.name = "shm_create",
           .kind = OpKind::action,
           .ns = "ipc",
           .doc = "Creates a System V shared memory segment (shmget with IPC_CREAT|IPC_EXCL).",
           .lab = "ipcmk -M [SIZE|128]",
           .args = {{"size", ArgType::integer, false, "size in bytes (default 128)"}, key_arg},
           .creates_object = true,
           .lab_see = "ipcs -m | grep ${AS.key}",
           .handler = [](OpCall& c) -> sys::Result<json> {
               NSLAB_ASSIGN_OR_RETURN(int key, key_from_args(c.args));
               long long size = arg_int_opt(c.args, "size").value_or(128);
               NSLAB_ASSIGN_OR_RETURN(int id, sys::shmget(key, static_cast<size_t>(size), IPC_CREAT | IPC_EXCL | 0644));
               json o = sysv_object("shm", key, id);
               o["size"] = size;
               return o;
           }});
    r.add({.name = "shm_attach",
           .kind = OpKind::action,
           .ns = "ipc",
           .doc = "Attaches and detaches a segment by id (shmat), proving it can be reached from here.",
           .lab = "# shmat(ID, NULL, 0), then shmdt",
           .args = {{"id", ArgType::integer, true, "the segment id (e.g. ${seg.id})"}},
           .handler = [](OpCall& c) -> sys::Result<json> {
               NSLAB_ASSIGN_OR_RETURN(long long id, arg_int(c.args, "id"));
               NSLAB_ASSIGN_OR_RETURN(void* p, sys::shmat(static_cast<int>(id), 0));
               NSLAB_TRY(sys::shmdt(p));
               return json(true);
           }});
    r.add({.name = "sem_create",
           .kind = OpKind::action,
           .ns = "ipc",
           .doc = "Creates a System V semaphore set (semget with IPC_CREAT|IPC_EXCL).",
           .lab = "ipcmk -S [NSEMS|1]",
           .args = {{"nsems", ArgType::integer, false, "semaphores in the set (default 1)"}, key_arg},
           .creates_object = true,
           .lab_see = "ipcs -s | grep ${AS.key}",
           .handler = [](OpCall& c) -> sys::Result<json> {
               NSLAB_ASSIGN_OR_RETURN(int key, key_from_args(c.args));
               long long n = arg_int_opt(c.args, "nsems").value_or(1);
               NSLAB_ASSIGN_OR_RETURN(int id, sys::semget(key, static_cast<int>(n), IPC_CREAT | IPC_EXCL | 0644));
               return sysv_object("sem", key, id);
           }});
    r.add({.name = "msg_create",
           .kind = OpKind::action,
           .ns = "ipc",
           .doc = "Creates a System V message queue (msgget with IPC_CREAT|IPC_EXCL).",
           .lab = "ipcmk -Q",
           .args = {key_arg},
           .creates_object = true,
           .lab_see = "ipcs -q | grep ${AS.key}",
           .handler = [](OpCall& c) -> sys::Result<json> {
               NSLAB_ASSIGN_OR_RETURN(int key, key_from_args(c.args));
               NSLAB_ASSIGN_OR_RETURN(int id, sys::msgget(key, IPC_CREAT | IPC_EXCL | 0644));
               return sysv_object("msg", key, id);
           }});
    r.add({.name = "mq_create",
           .kind = OpKind::action,
           .ns = "ipc",
           .doc = "Creates a POSIX message queue (mq_open with O_CREAT|O_EXCL) and closes it.",
           .lab = "# mq_open(NAME, O_CREAT | O_EXCL), then mq_close; ls /dev/mqueue lists the queues",
           .args = {{"name", ArgType::string, true, "queue name, starting with '/' (e.g. /nslab_q)", mq_name()}},
           .creates_object = true,
           .lab_see = "ls /dev/mqueueNAME",
           .handler = [](OpCall& c) -> sys::Result<json> {
               NSLAB_ASSIGN_OR_RETURN(std::string name, arg_string(c.args, "name"));
               NSLAB_ASSIGN_OR_RETURN(int q, sys::mq_open(name, O_RDWR | O_CREAT | O_EXCL, 0644));
               NSLAB_TRY(sys::mq_close(q));
               return json{{"kind", "mq"}, {"name", name}};
           }});
    r.add({.name = "shm_list",
           .kind = OpKind::probe,
           .ns = "ipc",
           .doc = "Keys of the shared memory segments in the caller's IPC namespace (/proc/sysvipc/shm).",
           .lab = "ipcs -m",
           .handler = sysv_lister("shm")});
    r.add({.name = "sem_list",
           .kind = OpKind::probe,
           .ns = "ipc",
           .doc = "Keys of the semaphore sets in the caller's IPC namespace (/proc/sysvipc/sem).",
           .lab = "ipcs -s",
           .handler = sysv_lister("sem")});
    r.add({.name = "msg_list",
           .kind = OpKind::probe,
           .ns = "ipc",
           .doc = "Keys of the message queues in the caller's IPC namespace (/proc/sysvipc/msg).",
           .lab = "ipcs -q",
           .handler = sysv_lister("msg")});
    r.add_visibility("shm", sysv_visibility("shm"));
    r.add_visibility("sem", sysv_visibility("sem"));
    r.add_visibility("msg", sysv_visibility("msg"));
    // mq_overview(7): queue names resolve in the caller's IPC namespace; ENOENT means not there.
    r.add_visibility("mq", [](const json& object) -> sys::Result<bool> {
        NSLAB_ASSIGN_OR_RETURN(std::string name, arg_string(object, "name"));
        auto q = sys::mq_open(name, O_RDONLY);
        if (q.ok()) {
            (void)sys::mq_close(*q);
            return true;
        }
        if (q.error().err() == ENOENT) return false;
        return std::move(q).error();
    });
}

}  // namespace nslab::agent
