// Wrappers for the network namespace catalogue (network_namespaces(7)): a small NETLINK_ROUTE
// client (links, veth pairs, addresses, moving a link to another namespace) and the sockets the
// experiments bind. Same rules as sys/syscalls.hpp: this layer alone reads errno, and every error
// names the call. A netlink socket talks to the network namespace its creator was in when it was
// made, so each call opens its own socket in the caller's current namespace.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sys/result.hpp"

namespace nslab::sys {

// ---- rtnetlink ---------------------------------------------------------------------------
struct LinkInfo {
    int index = 0;
    std::string name;
    unsigned flags = 0;  // IFF_* (IFF_UP: administratively up)
};
// RTM_GETLINK with NLM_F_DUMP: every link of the caller's network namespace.
Result<std::vector<LinkInfo>> rtnl_list_links();
// RTM_NEWLINK, kind "veth": `name` goes to the namespace of netns_fd and `peer` to that of
// peer_netns_fd (IFLA_NET_NS_FD); -1 keeps an end in the caller's namespace.
Status rtnl_add_veth(const std::string& name, const std::string& peer, int netns_fd,
                     int peer_netns_fd);
// RTM_NEWLINK on an existing link (by name) with IFLA_NET_NS_FD: moves it to that namespace.
Status rtnl_move_link(const std::string& name, int netns_fd);
// RTM_NEWLINK on an existing link (by name): sets or clears IFF_UP.
Status rtnl_set_link_up(const std::string& name, bool up);
// RTM_GETLINK of one link by name (IFLA_IFNAME): its index; ENODEV when the caller's namespace
// has no such link.
Result<int> rtnl_link_index(const std::string& name);
// RTM_NEWADDR: an IPv4 address "10.1.2.3/24" on the link.
Status rtnl_add_ipv4_address(const std::string& link, const std::string& cidr);
// A NETLINK_ROUTE socket bound to the RTMGRP_LINK multicast group: the kernel sends it a message
// for every link added, changed or removed in the caller's network namespace.
Result<int> rtnl_subscribe_links();
// Reads, without waiting, the link notifications queued on such a socket, as "RTM_NEWLINK name"
// or "RTM_DELLINK name".
Result<std::vector<std::string>> rtnl_read_link_events(int fd);

// ---- sockets -----------------------------------------------------------------------------
// socket(2) with SOCK_CLOEXEC added.
Result<int> make_socket(int domain, int type, int protocol = 0);
// bind(2) to an IPv4 address ("0.0.0.0" for any) and port.
Status bind_ipv4(int fd, const std::string& address, int port);
// sendto(2) of one datagram to an IPv4 address and port.
Status sendto_ipv4(int fd, const std::string& data, const std::string& address, int port);
// recv(2) with MSG_DONTWAIT: one datagram, or nullopt when none is queued (EAGAIN).
Result<std::optional<std::string>> recv_dontwait(int fd);
// bind(2) / connect(2) to an abstract AF_UNIX name (unix(7): sun_path[0] == '\0').
Status bind_unix_abstract(int fd, const std::string& name);
Status connect_unix_abstract(int fd, const std::string& name);
Status listen_on(int fd, int backlog);

}  // namespace nslab::sys
