// IPC namespace ops (ipc_namespaces(7)): System V objects and POSIX message queues are per IPC
// namespace; /proc/sysvipc/* lists the objects of the reader's IPC namespace.
#include <fcntl.h>
#include <sys/ipc.h>
#include <sys/random.h>

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "agent/registry.hpp"
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

}  // namespace

void register_ipc_ops(Registry& r) {
    const ArgSpec key_arg{"key", ArgType::string, false,
                          "the IPC key (e.g. \"0x1234abcd\"); a random one when absent, as ipcmk does"};
    r.add({.name = "shm_create",
           .kind = OpKind::action,
           .ns = "ipc",
           .doc = "Creates a System V shared memory segment (shmget with IPC_CREAT|IPC_EXCL).",
           .lab = "ipcmk -M SIZE",
           .args = {{"size", ArgType::integer, false, "size in bytes (default 128)"}, key_arg},
           .creates_object = true,
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
           .lab = "",
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
           .lab = "ipcmk -S NSEMS",
           .args = {{"nsems", ArgType::integer, false, "semaphores in the set (default 1)"}, key_arg},
           .creates_object = true,
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
           .handler = [](OpCall& c) -> sys::Result<json> {
               NSLAB_ASSIGN_OR_RETURN(int key, key_from_args(c.args));
               NSLAB_ASSIGN_OR_RETURN(int id, sys::msgget(key, IPC_CREAT | IPC_EXCL | 0644));
               return sysv_object("msg", key, id);
           }});
    r.add({.name = "mq_create",
           .kind = OpKind::action,
           .ns = "ipc",
           .doc = "Creates a POSIX message queue (mq_open with O_CREAT|O_EXCL) and closes it.",
           .lab = "",
           .args = {{"name", ArgType::string, true, "queue name, starting with '/' (e.g. /nslab_q)"}},
           .creates_object = true,
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
