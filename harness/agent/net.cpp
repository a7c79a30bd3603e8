// Network namespace ops (network_namespaces(7)): links, addresses, sockets, /proc/net and the
// net.* sysctls all belong to the caller's current network namespace. Links are made and moved
// over rtnetlink (sys/net_calls); sockets an action binds stay open in the agent, so they live as
// long as the realm, and die with the lab.
#include <linux/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <sstream>
#include <thread>

#include "agent/registry.hpp"
#include "core/namespace_kind.hpp"
#include "core/unique_fd.hpp"
#include "sys/net_calls.hpp"
#include "sys/syscalls.hpp"

namespace nslab::agent {
namespace {

// A socket an action bound and the agent keeps open. A realm is a clone of its spawner, so entries
// made by another process (owner != getpid()) are not ours: realm_spawn closed those fds.
struct HeldSocket {
    pid_t owner = 0;
    std::string kind;  // "udp", "unix" or "rtnl"
    int port = 0;      // udp
    std::string name;  // unix: the abstract name
    int fd = -1;
    std::vector<std::string> received;  // udp: datagrams read so far; rtnl: link events
};

std::vector<HeldSocket>& held_sockets() {
    static std::vector<HeldSocket> held;
    return held;
}

void hold(HeldSocket s) {
    auto& held = held_sockets();
    pid_t self = sys::getpid();
    // Drop (without closing: the fd numbers are not ours) what a spawner held before cloning us.
    held.erase(std::remove_if(held.begin(), held.end(),
                              [self](const HeldSocket& h) { return h.owner != self; }),
               held.end());
    s.owner = self;
    held.push_back(std::move(s));
}

HeldSocket* find_held(const std::string& kind, int port = 0) {
    pid_t self = sys::getpid();
    for (auto& h : held_sockets())
        if (h.owner == self && h.kind == kind && h.port == port) return &h;
    return nullptr;
}

// The index-th realm argument among those present in this call: the runner attaches fds only for
// realm arguments a step names, in the order of the spec.
sys::Result<int> netns_fd_of(const OpCall& c, size_t index) {
    NSLAB_ASSIGN_OR_RETURN(RealmNamespaces ns, realm_namespaces(c, index));
    int fd = ns.of(core::Ns::net);
    if (fd < 0) return sys::Error::message("this kernel has no network namespaces");
    return fd;
}

sys::Result<int> port_arg(const json& args) {
    NSLAB_ASSIGN_OR_RETURN(long long port, arg_int(args, "port"));
    if (port <= 0 || port > 65535)
        return sys::Error::message("port " + std::to_string(port) + " is not in 1..65535");
    return static_cast<int>(port);
}

// /proc/self/net/dev: the interfaces of the reader's current network namespace (proc(5)).
sys::Result<std::vector<std::string>> proc_net_dev_names() {
    NSLAB_ASSIGN_OR_RETURN(std::string text, sys::read_file("/proc/self/net/dev"));
    std::istringstream in(text);
    std::string line;
    std::vector<std::string> names;
    while (std::getline(in, line)) {
        auto colon = line.find(':');
        if (colon == std::string::npos) continue;  // the two header lines have '|' only
        std::string name = line.substr(0, colon);
        name.erase(0, name.find_first_not_of(' '));
        names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    return names;
}

// The socket inodes of the reader's network namespace: column 10 of /proc/self/net/udp, column 7
// of /proc/self/net/unix (proc(5)). A socket is listed in the namespace it was created in.
sys::Result<std::vector<unsigned long>> proc_net_socket_inodes(const std::string& table,
                                                               size_t column) {
    NSLAB_ASSIGN_OR_RETURN(std::string text, sys::read_file("/proc/self/net/" + table));
    std::istringstream in(text);
    std::string line;
    std::getline(in, line);  // header
    std::vector<unsigned long> inodes;
    while (std::getline(in, line)) {
        std::istringstream f(line);
        std::string col;
        size_t i = 0;
        while (f >> col && ++i < column) {
        }
        if (i == column) inodes.push_back(std::stoul(col));
    }
    return inodes;
}

sys::Result<unsigned long> socket_inode(int fd) {
    NSLAB_ASSIGN_OR_RETURN(struct stat st, sys::fstat(fd));
    return static_cast<unsigned long>(st.st_ino);
}

VisibilityCheck socket_visibility(std::string table, size_t column) {
    return [table, column](const json& object) -> sys::Result<bool> {
        NSLAB_ASSIGN_OR_RETURN(long long inode, arg_int(object, "inode"));
        NSLAB_ASSIGN_OR_RETURN(auto inodes, proc_net_socket_inodes(table, column));
        return std::find(inodes.begin(), inodes.end(), static_cast<unsigned long>(inode)) !=
               inodes.end();
    };
}

sys::Result<std::string> link_state_of(const std::string& name) {
    NSLAB_ASSIGN_OR_RETURN(auto links, sys::rtnl_list_links());
    for (auto& l : links)
        if (l.name == name) return std::string((l.flags & IFF_UP) ? "up" : "down");
    return std::string("absent");
}

std::string sysctl_path(const std::string& name) {
    std::string path = name;
    std::replace(path.begin(), path.end(), '.', '/');
    return "/proc/sys/" + path;
}

// Reads what a datagram socket holds: at once, or waiting up to wait_ms for the first one.
sys::Status drain_udp(HeldSocket& s, int wait_ms) {
    for (;;) {
        NSLAB_ASSIGN_OR_RETURN(auto d, sys::recv_dontwait(s.fd));
        if (d) {
            s.received.push_back(*d);
            continue;
        }
        if (!s.received.empty() || wait_ms <= 0) return {};
        NSLAB_ASSIGN_OR_RETURN(bool ready, sys::poll_readable(s.fd, wait_ms));
        if (!ready) return {};
        wait_ms = 0;
    }
}

sys::Result<json> veth_create(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string name, arg_string(c.args, "name"));
    NSLAB_ASSIGN_OR_RETURN(std::string peer, arg_string(c.args, "peer"));
    size_t realm_index = 0;
    int netns_fd = -1, peer_fd = -1;
    if (c.args.contains("netns")) {
        NSLAB_ASSIGN_OR_RETURN(netns_fd, netns_fd_of(c, realm_index++));
    }
    if (c.args.contains("peer_netns")) {
        NSLAB_ASSIGN_OR_RETURN(peer_fd, netns_fd_of(c, realm_index++));
    }
    NSLAB_TRY(sys::rtnl_add_veth(name, peer, netns_fd, peer_fd));
    return json{{"kind", "link"}, {"name", name}, {"peer", peer}};
}

sys::Result<json> link_move(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string name, arg_string(c.args, "name"));
    NSLAB_ASSIGN_OR_RETURN(int fd, netns_fd_of(c, 0));
    NSLAB_TRY(sys::rtnl_move_link(name, fd));
    return json{{"kind", "link"}, {"name", name}};
}

// Brings a link up; when it then has a carrier (a veth whose peer is up), waits until the kernel
// has made it operational (IFF_RUNNING): until linkwatch has run, its queue drops what is sent.
sys::Result<json> link_up(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string name, arg_string(c.args, "name"));
    NSLAB_TRY(sys::rtnl_set_link_up(name, true));
    for (int i = 0; i < 200; ++i) {
        NSLAB_ASSIGN_OR_RETURN(auto links, sys::rtnl_list_links());
        auto it = std::find_if(links.begin(), links.end(),
                               [&](const sys::LinkInfo& l) { return l.name == name; });
        if (it == links.end() || !(it->flags & IFF_LOWER_UP) || (it->flags & IFF_RUNNING)) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return json(name);
}

sys::Result<json> udp_listen(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(int port, port_arg(c.args));
    std::string address = arg_string_opt(c.args, "address").value_or("0.0.0.0");
    NSLAB_ASSIGN_OR_RETURN(int raw, sys::make_socket(AF_INET, SOCK_DGRAM));
    core::UniqueFd fd(raw);
    NSLAB_TRY(sys::bind_ipv4(fd.get(), address, port));
    NSLAB_ASSIGN_OR_RETURN(unsigned long inode, socket_inode(fd.get()));
    hold({.kind = "udp", .port = port, .fd = fd.release()});
    return json{{"kind", "udp_socket"}, {"address", address}, {"port", port}, {"inode", inode}};
}

sys::Result<json> udp_send(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string address, arg_string(c.args, "address"));
    NSLAB_ASSIGN_OR_RETURN(int port, port_arg(c.args));
    NSLAB_ASSIGN_OR_RETURN(std::string message, arg_string(c.args, "message"));
    NSLAB_ASSIGN_OR_RETURN(int raw, sys::make_socket(AF_INET, SOCK_DGRAM));
    core::UniqueFd fd(raw);
    NSLAB_TRY(sys::sendto_ipv4(fd.get(), message, address, port));
    return json(message);
}

sys::Result<json> udp_received(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(int port, port_arg(c.args));
    HeldSocket* s = find_held("udp", port);
    if (!s)
        return sys::Error::message("no udp_listen on port " + std::to_string(port) +
                                   " was done here");
    long long wait_ms = arg_int_opt(c.args, "wait_ms").value_or(3000);
    NSLAB_TRY(drain_udp(*s, static_cast<int>(wait_ms)));
    return json(s->received);
}

sys::Result<json> rtnl_watch(OpCall&) {
    if (find_held("rtnl")) return json(true);
    NSLAB_ASSIGN_OR_RETURN(int fd, sys::rtnl_subscribe_links());
    hold({.kind = "rtnl", .fd = fd});
    return json(true);
}

sys::Result<json> rtnl_link_events(OpCall&) {
    HeldSocket* s = find_held("rtnl");
    if (!s) return sys::Error::message("no rtnl_watch was done here");
    // rtnetlink(7): notifications go to listeners in the network namespace where the link changed.
    NSLAB_ASSIGN_OR_RETURN(auto events, sys::rtnl_read_link_events(s->fd));
    s->received.insert(s->received.end(), events.begin(), events.end());
    return json(s->received);
}

sys::Result<json> unix_listen(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string name, arg_string(c.args, "name"));
    NSLAB_ASSIGN_OR_RETURN(int raw, sys::make_socket(AF_UNIX, SOCK_STREAM));
    core::UniqueFd fd(raw);
    NSLAB_TRY(sys::bind_unix_abstract(fd.get(), name));
    NSLAB_TRY(sys::listen_on(fd.get(), 8));
    NSLAB_ASSIGN_OR_RETURN(unsigned long inode, socket_inode(fd.get()));
    hold({.kind = "unix", .name = name, .fd = fd.release()});
    return json{{"kind", "unix_socket"}, {"name", name}, {"inode", inode}};
}

sys::Result<json> unix_connect(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string name, arg_string(c.args, "name"));
    NSLAB_ASSIGN_OR_RETURN(int raw, sys::make_socket(AF_UNIX, SOCK_STREAM));
    core::UniqueFd fd(raw);
    NSLAB_TRY(sys::connect_unix_abstract(fd.get(), name));
    return json(true);
}

sys::Result<json> links_probe(OpCall&) {
    NSLAB_ASSIGN_OR_RETURN(auto links, sys::rtnl_list_links());
    std::vector<std::string> out;
    for (auto& l : links) out.push_back(l.name + ((l.flags & IFF_UP) ? ":up" : ":down"));
    std::sort(out.begin(), out.end());
    return json(out);
}

sys::Result<json> sysctl_read(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string name, arg_string(c.args, "name"));
    NSLAB_ASSIGN_OR_RETURN(std::string text, sys::read_file(sysctl_path(name)));
    // As sysctl(8) prints it: blanks (ping_group_range is "1\t0") become single spaces.
    std::string out;
    for (char ch : text) {
        bool blank = ch == ' ' || ch == '\t' || ch == '\n';
        if (blank && (out.empty() || out.back() == ' ')) continue;
        out += blank ? ' ' : ch;
    }
    if (!out.empty() && out.back() == ' ') out.pop_back();
    return json(out);
}

sys::Result<json> sysctl_write(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string name, arg_string(c.args, "name"));
    NSLAB_ASSIGN_OR_RETURN(std::string value, arg_string(c.args, "value"));
    NSLAB_TRY(sys::write_file(sysctl_path(name), value + "\n"));
    return json(value);
}

sys::Result<json> addr_add(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string name, arg_string(c.args, "name"));
    NSLAB_ASSIGN_OR_RETURN(std::string address, arg_string(c.args, "address"));
    NSLAB_TRY(sys::rtnl_add_ipv4_address(name, address));
    return json(address);
}

sys::Result<json> link_state(OpCall& c) {
    NSLAB_ASSIGN_OR_RETURN(std::string name, arg_string(c.args, "name"));
    NSLAB_ASSIGN_OR_RETURN(std::string state, link_state_of(name));
    return json(state);
}

}  // namespace

void register_net_ops(Registry& r) {
    // netdevice(7): IFNAMSIZ is 16 bytes with the terminating NUL.
    const ArgSpec link_name{"name", ArgType::string, true, "the interface (at most 15 bytes)",
                            max_bytes(IFNAMSIZ - 1, "an interface name"), /*kernel_limit=*/true};
    const ArgSpec port{"port", ArgType::integer, true, "the UDP port, 1..65535", int_range(1, 65535)};
    const ArgSpec abstract_name{"name", ArgType::string, true, "the abstract name, without '@'"};
    r.add({.name = "veth_create",
           .kind = OpKind::action,
           .ns = "net",
           .doc = "Creates a veth pair over rtnetlink (RTM_NEWLINK, kind veth); each end goes to "
                  "the network namespace of the realm named for it (IFLA_NET_NS_FD), or stays in "
                  "the caller's.",
           .lab = "ip link add NAME [netns NETNS] type veth peer name PEER [netns PEER_NETNS]",
           .args = {link_name,
                    {"peer", ArgType::string, true, "the other end's name (at most 15 bytes)",
                     max_bytes(IFNAMSIZ - 1, "an interface name"), /*kernel_limit=*/true},
                    {"netns", ArgType::realm, false, "the realm (or host) that gets NAME"},
                    {"peer_netns", ArgType::realm, false, "the realm (or host) that gets PEER"}},
           .creates_object = true,
           .lab_see = "ip link show NAME",
           .handler = veth_create});
    r.add({.name = "link_move",
           .kind = OpKind::action,
           .ns = "net",
           .doc = "Moves an interface of the caller's network namespace into a realm's "
                  "(RTM_NEWLINK with IFLA_NET_NS_FD).",
           .lab = "ip link set NAME netns NETNS",
           .args = {link_name, {"netns", ArgType::realm, true, "the realm (or host) that gets it"}},
           .creates_object = true,
           .lab_see = "ip link show NAME",
           .handler = link_move});
    r.add({.name = "link_up",
           .kind = OpKind::action,
           .ns = "net",
           .doc = "Brings an interface of the caller's network namespace up (IFF_UP).",
           .lab = "ip link set NAME up",
           .args = {link_name},
           .handler = link_up});
    r.add({.name = "addr_add",
           .kind = OpKind::action,
           .ns = "net",
           .doc = "Adds an IPv4 address to an interface of the caller's network namespace "
                  "(RTM_NEWADDR).",
           .lab = "ip addr add ADDRESS dev NAME",
           .args = {link_name, {"address", ArgType::string, true, "e.g. 10.200.0.1/24", ipv4(/*with_prefix=*/true)}},
           .handler = addr_add});
    r.add({.name = "udp_listen",
           .kind = OpKind::action,
           .ns = "net",
           .doc = "Binds a UDP socket in the caller's network namespace and keeps it open for "
                  "udp_received.",
           .lab = "nc -u -l [-s ADDRESS] -p PORT > /tmp/udp.PORT &",
           .args = {port, {"address", ArgType::string, false, "local IPv4 address (0.0.0.0)", ipv4(false)}},
           .creates_object = true,
           .lab_see = "ss -uln | grep :PORT",
           .handler = udp_listen});
    r.add({.name = "udp_send",
           .kind = OpKind::action,
           .ns = "net",
           .doc = "Sends one UDP datagram from the caller's network namespace (a fresh socket).",
           .lab = "echo MESSAGE | nc -u -w1 ADDRESS PORT",
           .args = {{"address", ArgType::string, true, "the destination IPv4 address", ipv4(false)},
                    port,
                    {"message", ArgType::string, true, "the datagram's text"}},
           .handler = udp_send});
    r.add({.name = "udp_received",
           .kind = OpKind::probe,
           .ns = "net",
           .doc = "The datagrams the caller's udp_listen socket on PORT has received, in order "
                  "(waiting up to wait_ms for the first).",
           .lab = "cat /tmp/udp.PORT   # what nc received",
           .args = {port,
                    {"wait_ms", ArgType::integer, false,
                     "how long to wait for a first datagram, 0 to 60000 ms (default 3000: a lost ARP "
                     "reply is retried after 1 s)",
                     int_range(0, 60000)}},
           .handler = udp_received});
    r.add({.name = "rtnl_watch",
           .kind = OpKind::action,
           .ns = "net",
           .doc = "Opens a NETLINK_ROUTE socket in the RTMGRP_LINK group (link notifications of "
                  "the caller's network namespace); the agent keeps it for rtnl_link_events.",
           .lab = "ip monitor link > /tmp/rtnl_events &",
           .handler = rtnl_watch});
    r.add({.name = "rtnl_link_events",
           .kind = OpKind::probe,
           .ns = "net",
           .doc = "The link notifications the caller's rtnl_watch socket has received, in order, "
                  "as \"RTM_NEWLINK NAME\" or \"RTM_DELLINK NAME\".",
           .lab = "cat /tmp/rtnl_events",
           .handler = rtnl_link_events});
    r.add({.name = "unix_listen",
           .kind = OpKind::action,
           .ns = "net",
           .doc = "Binds and listens on an abstract AF_UNIX stream socket (a name of the caller's "
                  "network namespace); the agent keeps it open.",
           .lab = "socat ABSTRACT-LISTEN:NAME - &",
           .args = {abstract_name},
           .creates_object = true,
           .lab_see = "ss -xl | grep @NAME",
           .handler = unix_listen});
    r.add({.name = "unix_connect",
           .kind = OpKind::action,
           .ns = "net",
           .doc = "Connects an AF_UNIX stream socket to an abstract name, resolved in the "
                  "caller's network namespace.",
           .lab = "socat - ABSTRACT-CONNECT:NAME",
           .args = {abstract_name},
           .handler = unix_connect});
    r.add({.name = "links",
           .kind = OpKind::probe,
           .ns = "net",
           .doc = "The interfaces of the caller's network namespace as NAME:up or NAME:down "
                  "(IFF_UP), sorted (RTM_GETLINK).",
           .lab = "ip -br link",
           .handler = links_probe});
    r.add({.name = "link_state",
           .kind = OpKind::probe,
           .ns = "net",
           .doc = "Whether an interface of the caller's network namespace is up, down or absent.",
           .lab = "ip link show NAME",
           .args = {link_name},
           .handler = link_state});
    // Not net-only: /proc/sys/net/* follows the reader's network namespace, kernel.hostname and
    // kernel.domainname its UTS namespace, kernel.{shm,msg,sem}* and fs.mqueue.* its IPC one.
    r.add({.name = "sysctl",
           .kind = OpKind::probe,
           .doc = "A sysctl as the caller reads it in /proc/sys (blanks as single spaces); net.*, "
                  "IPC and UTS entries follow the caller's namespaces.",
           .lab = "sysctl -n NAME",
           .args = {{"name", ArgType::string, true, "dotted name, e.g. net.ipv4.ip_forward"}},
           .handler = sysctl_read});
    r.add({.name = "sysctl_write",
           .kind = OpKind::action,
           .doc = "Writes a sysctl in /proc/sys, in the caller's namespaces.",
           .lab = "sysctl -w NAME=VALUE",
           .args = {{"name", ArgType::string, true, "dotted name, e.g. net.ipv4.ip_forward"},
                    {"value", ArgType::string, true, "the value to write"}},
           .handler = sysctl_write});
    // An interface is visible where the reader's /proc/net/dev lists it: its network namespace.
    r.add_visibility("link", [](const json& object) -> sys::Result<bool> {
        NSLAB_ASSIGN_OR_RETURN(std::string name, arg_string(object, "name"));
        NSLAB_ASSIGN_OR_RETURN(auto names, proc_net_dev_names());
        return std::find(names.begin(), names.end(), name) != names.end();
    });
    // A socket belongs to the network namespace it was created in, whose /proc/net/udp lists it
    // (by inode: another namespace may well have its own socket on the same port).
    r.add_visibility("udp_socket", socket_visibility("udp", 10));
    // unix(7): abstract names are per network namespace; /proc/net/unix lists that namespace's.
    r.add_visibility("unix_socket", socket_visibility("unix", 7));
}

}  // namespace nslab::agent
