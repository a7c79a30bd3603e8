#include "sys/net_calls.hpp"

#include <atomic>

#include <arpa/inet.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

namespace nslab::sys {
namespace {

Error last_error(std::string call) {
    return Error(errno, std::move(call));
}

// Runs f until it does not fail with EINTR (as syscalls.cpp does for its calls).
template <typename F>
auto retry_eintr(F f) {
    for (;;) {
        auto r = f();
        if (!(r == -1 && errno == EINTR)) return r;
    }
}

// An rtnetlink request under construction: a header, a fixed struct, then attributes, some of
// them nested (a nest's length is patched when it is closed).
class NlRequest {
  public:
    NlRequest(uint16_t type, uint16_t flags) {
        buf_.resize(NLMSG_HDRLEN, 0);
        auto* h = header();
        h->nlmsg_type = type;
        h->nlmsg_flags = static_cast<uint16_t>(flags | NLM_F_REQUEST);
        h->nlmsg_seq = 1;
        sync_len();
    }
    template <typename T>
    void put_struct(const T& value) {
        append(&value, sizeof value);
    }
    void put_attr(uint16_t type, const void* data, size_t len) {
        struct rtattr a {};
        a.rta_type = type;
        a.rta_len = static_cast<unsigned short>(RTA_LENGTH(len));
        append(&a, sizeof a);
        append(data, len);
    }
    void put_string(uint16_t type, const std::string& s) {
        put_attr(type, s.c_str(), s.size() + 1);
    }
    void put_u32(uint16_t type, uint32_t v) { put_attr(type, &v, sizeof v); }
    size_t begin_nest(uint16_t type) {
        size_t at = buf_.size();
        put_attr(type, nullptr, 0);
        return at;
    }
    void end_nest(size_t at) {
        auto* a = reinterpret_cast<struct rtattr*>(buf_.data() + at);
        a->rta_len = static_cast<unsigned short>(buf_.size() - at);
    }
    const std::vector<char>& bytes() const { return buf_; }

  private:
    std::vector<char> buf_;
    struct nlmsghdr* header() {
        return reinterpret_cast<struct nlmsghdr*>(buf_.data());
    }
    void sync_len() { header()->nlmsg_len = static_cast<uint32_t>(buf_.size()); }
    void append(const void* data, size_t len) {
        const char* p = static_cast<const char*>(data);
        if (len) buf_.insert(buf_.end(), p, p + len);
        buf_.resize(NLMSG_ALIGN(buf_.size()), 0);  // RTA_ALIGN and NLMSG_ALIGN are both 4
        sync_len();
    }
};

// A NETLINK_ROUTE socket in the caller's current network namespace.
Result<int> rtnl_open() {
    int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) return last_error("socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE)");
    return fd;
}

struct FdCloser {
    int fd;
    ~FdCloser() {
        if (fd >= 0) ::close(fd);
    }
};

Status rtnl_send(int fd, const NlRequest& req, const std::string& call) {
    struct sockaddr_nl kernel {};
    kernel.nl_family = AF_NETLINK;
    const auto& b = req.bytes();
    ssize_t n = retry_eintr([&] {
        return ::sendto(fd, b.data(), b.size(), 0, reinterpret_cast<struct sockaddr*>(&kernel),
                        sizeof kernel);
    });
    if (n < 0) return last_error("sendto(NETLINK_ROUTE) for " + call);
    return {};
}

Result<std::vector<char>> rtnl_recv(int fd, const std::string& call) {
    std::vector<char> buf(64 * 1024);
    ssize_t n = retry_eintr([&] { return ::recv(fd, buf.data(), buf.size(), 0); });
    if (n < 0) return last_error("recv(NETLINK_ROUTE) for " + call);
    buf.resize(static_cast<size_t>(n));
    return buf;
}

// Sends a request with NLM_F_ACK and turns the kernel's NLMSG_ERROR answer into a Status: the
// kernel reports the errno of the operation there (as -error), and `call` spells the request.
Status rtnl_transact(const NlRequest& req, const std::string& call) {
    NSLAB_ASSIGN_OR_RETURN(int fd, rtnl_open());
    FdCloser closer{fd};
    NSLAB_TRY(rtnl_send(fd, req, call));
    for (;;) {
        NSLAB_ASSIGN_OR_RETURN(std::vector<char> buf, rtnl_recv(fd, call));
        int len = static_cast<int>(buf.size());
        for (auto* h = reinterpret_cast<struct nlmsghdr*>(buf.data()); NLMSG_OK(h, len);
             h = NLMSG_NEXT(h, len)) {
            if (h->nlmsg_type != NLMSG_ERROR) continue;
            auto* e = static_cast<struct nlmsgerr*>(NLMSG_DATA(h));
            if (e->error == 0) return {};
            return Error(-e->error, call);
        }
        if (buf.empty()) return Error::message(call + ": the kernel closed the netlink socket");
    }
}

std::string netns_text(int fd) {
    return fd < 0 ? "here" : "netns fd " + std::to_string(fd);
}

}  // namespace

Result<std::vector<LinkInfo>> rtnl_list_links() {
    const std::string call = "RTM_GETLINK(NLM_F_DUMP)";
    NSLAB_ASSIGN_OR_RETURN(int fd, rtnl_open());
    FdCloser closer{fd};
    NlRequest req(RTM_GETLINK, NLM_F_DUMP);
    struct ifinfomsg ifi {};
    ifi.ifi_family = AF_UNSPEC;
    req.put_struct(ifi);
    NSLAB_TRY(rtnl_send(fd, req, call));
    std::vector<LinkInfo> links;
    for (;;) {
        NSLAB_ASSIGN_OR_RETURN(std::vector<char> buf, rtnl_recv(fd, call));
        if (buf.empty()) return Error::message(call + ": the kernel closed the netlink socket");
        int len = static_cast<int>(buf.size());
        for (auto* h = reinterpret_cast<struct nlmsghdr*>(buf.data()); NLMSG_OK(h, len);
             h = NLMSG_NEXT(h, len)) {
            if (h->nlmsg_type == NLMSG_DONE) return links;
            if (h->nlmsg_type == NLMSG_ERROR) {
                auto* e = static_cast<struct nlmsgerr*>(NLMSG_DATA(h));
                return Error(-e->error, call);
            }
            if (h->nlmsg_type != RTM_NEWLINK) continue;
            auto* info = static_cast<struct ifinfomsg*>(NLMSG_DATA(h));
            LinkInfo link{info->ifi_index, "", info->ifi_flags};
            int attr_len = static_cast<int>(IFLA_PAYLOAD(h));
            for (auto* a = IFLA_RTA(info); RTA_OK(a, attr_len); a = RTA_NEXT(a, attr_len))
                if (a->rta_type == IFLA_IFNAME) link.name = static_cast<const char*>(RTA_DATA(a));
            links.push_back(std::move(link));
        }
    }
}

Status rtnl_add_veth(const std::string& name, const std::string& peer, int netns_fd,
                     int peer_netns_fd) {
    NlRequest req(RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
    // net/core/link_watch.c: a carrier change is handled at once only when a device's ifindex
    // differs from its iflink (the peer's ifindex), else up to a second later; two ends made in two
    // fresh namespaces would both be ifindex 2. veth_newlink() honours the peer's ifi_index only
    // when the device's own is given too, so choose both: a pair of indexes of this process's own.
    static std::atomic<int> next_pair{0};
    int base = (1 << 20) + static_cast<int>(::getpid() % 8192) * 128 + (next_pair.fetch_add(1) % 64) * 2;
    struct ifinfomsg ifi {};
    ifi.ifi_family = AF_UNSPEC;
    ifi.ifi_index = base;
    req.put_struct(ifi);
    req.put_string(IFLA_IFNAME, name);
    if (netns_fd >= 0) req.put_u32(IFLA_NET_NS_FD, static_cast<uint32_t>(netns_fd));
    size_t linkinfo = req.begin_nest(IFLA_LINKINFO);
    req.put_string(IFLA_INFO_KIND, "veth");
    size_t data = req.begin_nest(IFLA_INFO_DATA);
    // VETH_INFO_PEER carries a struct ifinfomsg followed by the peer's own attributes.
    size_t peer_at = req.begin_nest(VETH_INFO_PEER);
    struct ifinfomsg peer_ifi = ifi;
    peer_ifi.ifi_index = base + 1;
    req.put_struct(peer_ifi);
    req.put_string(IFLA_IFNAME, peer);
    if (peer_netns_fd >= 0) req.put_u32(IFLA_NET_NS_FD, static_cast<uint32_t>(peer_netns_fd));
    req.end_nest(peer_at);
    req.end_nest(data);
    req.end_nest(linkinfo);
    return rtnl_transact(req, "RTM_NEWLINK(veth " + name + " in " + netns_text(netns_fd) +
                                  ", peer " + peer + " in " + netns_text(peer_netns_fd) + ")");
}

Status rtnl_move_link(const std::string& name, int netns_fd) {
    NlRequest req(RTM_NEWLINK, NLM_F_ACK);
    struct ifinfomsg ifi {};
    ifi.ifi_family = AF_UNSPEC;
    req.put_struct(ifi);
    req.put_string(IFLA_IFNAME, name);  // ifi_index 0: the kernel finds the link by name
    req.put_u32(IFLA_NET_NS_FD, static_cast<uint32_t>(netns_fd));
    return rtnl_transact(
        req, "RTM_NEWLINK(" + name + ", IFLA_NET_NS_FD=" + std::to_string(netns_fd) + ")");
}

Status rtnl_set_link_up(const std::string& name, bool up) {
    NlRequest req(RTM_NEWLINK, NLM_F_ACK);
    struct ifinfomsg ifi {};
    ifi.ifi_family = AF_UNSPEC;
    ifi.ifi_flags = up ? IFF_UP : 0;
    ifi.ifi_change = IFF_UP;
    req.put_struct(ifi);
    req.put_string(IFLA_IFNAME, name);
    return rtnl_transact(req, "RTM_NEWLINK(" + name + (up ? ", IFF_UP)" : ", ~IFF_UP)"));
}

Status rtnl_add_ipv4_address(const std::string& link, const std::string& cidr) {
    auto slash = cidr.find('/');
    std::string addr_text = cidr.substr(0, slash);
    int prefix = 32;
    if (slash != std::string::npos) {
        try {
            prefix = std::stoi(cidr.substr(slash + 1));
        } catch (const std::exception&) {
            prefix = -1;
        }
    }
    struct in_addr addr {};
    if (::inet_pton(AF_INET, addr_text.c_str(), &addr) != 1 || prefix < 0 || prefix > 32)
        return Error::message("'" + cidr +
                              "' is not an IPv4 address with a prefix (e.g. 10.200.0.1/24)");
    NSLAB_ASSIGN_OR_RETURN(int index, rtnl_link_index(link));
    const std::string call = "RTM_NEWADDR(" + cidr + " dev " + link + ")";
    NlRequest req(RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
    struct ifaddrmsg ifa {};
    ifa.ifa_family = AF_INET;
    ifa.ifa_prefixlen = static_cast<unsigned char>(prefix);
    ifa.ifa_scope = RT_SCOPE_UNIVERSE;
    ifa.ifa_index = static_cast<unsigned>(index);
    req.put_struct(ifa);
    req.put_attr(IFA_LOCAL, &addr, sizeof addr);
    req.put_attr(IFA_ADDRESS, &addr, sizeof addr);
    return rtnl_transact(req, call);
}

Result<int> rtnl_link_index(const std::string& name) {
    const std::string call = "RTM_GETLINK(IFLA_IFNAME=" + name + ")";
    NSLAB_ASSIGN_OR_RETURN(int fd, rtnl_open());
    FdCloser closer{fd};
    NlRequest req(RTM_GETLINK, 0);
    struct ifinfomsg ifi {};
    ifi.ifi_family = AF_UNSPEC;
    req.put_struct(ifi);
    req.put_string(IFLA_IFNAME, name);
    NSLAB_TRY(rtnl_send(fd, req, call));
    NSLAB_ASSIGN_OR_RETURN(std::vector<char> buf, rtnl_recv(fd, call));
    int len = static_cast<int>(buf.size());
    for (auto* h = reinterpret_cast<struct nlmsghdr*>(buf.data()); NLMSG_OK(h, len);
         h = NLMSG_NEXT(h, len)) {
        if (h->nlmsg_type == NLMSG_ERROR)
            return Error(-static_cast<struct nlmsgerr*>(NLMSG_DATA(h))->error, call);
        if (h->nlmsg_type == RTM_NEWLINK)
            return static_cast<struct ifinfomsg*>(NLMSG_DATA(h))->ifi_index;
    }
    return Error::message(call + ": no answer from the kernel");
}

Result<int> rtnl_subscribe_links() {
    NSLAB_ASSIGN_OR_RETURN(int fd, rtnl_open());
    struct sockaddr_nl sa {};
    sa.nl_family = AF_NETLINK;
    sa.nl_groups = RTMGRP_LINK;
    if (::bind(fd, reinterpret_cast<struct sockaddr*>(&sa), sizeof sa) < 0) {
        Error e = last_error("bind(NETLINK_ROUTE, RTMGRP_LINK)");
        ::close(fd);
        return e;
    }
    return fd;
}

Result<std::vector<std::string>> rtnl_read_link_events(int fd) {
    std::vector<std::string> events;
    std::vector<char> buf(64 * 1024);
    for (;;) {
        ssize_t n = retry_eintr([&] { return ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT); });
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return events;
            return last_error("recv(NETLINK_ROUTE, MSG_DONTWAIT)");
        }
        int len = static_cast<int>(n);
        for (auto* h = reinterpret_cast<struct nlmsghdr*>(buf.data()); NLMSG_OK(h, len);
             h = NLMSG_NEXT(h, len)) {
            if (h->nlmsg_type != RTM_NEWLINK && h->nlmsg_type != RTM_DELLINK) continue;
            auto* info = static_cast<struct ifinfomsg*>(NLMSG_DATA(h));
            std::string name;
            int attr_len = static_cast<int>(IFLA_PAYLOAD(h));
            for (auto* a = IFLA_RTA(info); RTA_OK(a, attr_len); a = RTA_NEXT(a, attr_len))
                if (a->rta_type == IFLA_IFNAME) name = static_cast<const char*>(RTA_DATA(a));
            events.push_back((h->nlmsg_type == RTM_NEWLINK ? "RTM_NEWLINK " : "RTM_DELLINK ") +
                             name);
        }
    }
}

// ---- sockets -----------------------------------------------------------------------------

namespace {

std::string domain_name(int domain) {
    switch (domain) {
        case AF_INET:
            return "AF_INET";
        case AF_UNIX:
            return "AF_UNIX";
        case AF_NETLINK:
            return "AF_NETLINK";
        default:
            return std::to_string(domain);
    }
}

std::string type_name(int type) {
    switch (type) {
        case SOCK_STREAM:
            return "SOCK_STREAM";
        case SOCK_DGRAM:
            return "SOCK_DGRAM";
        case SOCK_SEQPACKET:
            return "SOCK_SEQPACKET";
        default:
            return std::to_string(type);
    }
}

Result<struct sockaddr_in> ipv4_sockaddr(const std::string& address, int port) {
    struct sockaddr_in sa {};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    if (port < 0 || port > 65535 || ::inet_pton(AF_INET, address.c_str(), &sa.sin_addr) != 1)
        return Error::message("'" + address + ":" + std::to_string(port) +
                              "' is not an IPv4 address and port");
    return sa;
}

// unix(7): an abstract address has sun_path[0] == '\0'; its length counts only the bytes used.
Result<std::pair<struct sockaddr_un, socklen_t>> abstract_sockaddr(const std::string& name) {
    struct sockaddr_un sa {};
    sa.sun_family = AF_UNIX;
    if (name.empty() || name.size() + 1 > sizeof sa.sun_path)
        return Error::message("abstract socket name '" + name + "' must have 1 to 107 bytes");
    std::memcpy(sa.sun_path + 1, name.data(), name.size());
    auto len = static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + 1 + name.size());
    return std::make_pair(sa, len);
}

}  // namespace

Result<int> make_socket(int domain, int type, int protocol) {
    int fd = ::socket(domain, type | SOCK_CLOEXEC, protocol);
    if (fd < 0) return last_error("socket(" + domain_name(domain) + ", " + type_name(type) + ")");
    return fd;
}

Status bind_ipv4(int fd, const std::string& address, int port) {
    NSLAB_ASSIGN_OR_RETURN(struct sockaddr_in sa, ipv4_sockaddr(address, port));
    if (::bind(fd, reinterpret_cast<struct sockaddr*>(&sa), sizeof sa) < 0)
        return last_error("bind(fd=" + std::to_string(fd) + ", " + address + ":" +
                          std::to_string(port) + ")");
    return {};
}

Status sendto_ipv4(int fd, const std::string& data, const std::string& address, int port) {
    NSLAB_ASSIGN_OR_RETURN(struct sockaddr_in sa, ipv4_sockaddr(address, port));
    ssize_t n = retry_eintr([&] {
        return ::sendto(fd, data.data(), data.size(), 0, reinterpret_cast<struct sockaddr*>(&sa),
                        sizeof sa);
    });
    if (n < 0)
        return last_error("sendto(fd=" + std::to_string(fd) + ", " + std::to_string(data.size()) +
                          " bytes, " + address + ":" + std::to_string(port) + ")");
    return {};
}

Result<std::optional<std::string>> recv_dontwait(int fd) {
    char buf[2048];
    ssize_t n = retry_eintr([&] { return ::recv(fd, buf, sizeof buf, MSG_DONTWAIT); });
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return std::optional<std::string>();
        return last_error("recv(fd=" + std::to_string(fd) + ", MSG_DONTWAIT)");
    }
    return std::optional<std::string>(std::string(buf, static_cast<size_t>(n)));
}

Status bind_unix_abstract(int fd, const std::string& name) {
    NSLAB_ASSIGN_OR_RETURN(auto sa, abstract_sockaddr(name));
    if (::bind(fd, reinterpret_cast<struct sockaddr*>(&sa.first), sa.second) < 0)
        return last_error("bind(fd=" + std::to_string(fd) + ", @" + name + ")");
    return {};
}

Status connect_unix_abstract(int fd, const std::string& name) {
    NSLAB_ASSIGN_OR_RETURN(auto sa, abstract_sockaddr(name));
    int r = retry_eintr(
        [&] { return ::connect(fd, reinterpret_cast<struct sockaddr*>(&sa.first), sa.second); });
    if (r < 0) return last_error("connect(fd=" + std::to_string(fd) + ", @" + name + ")");
    return {};
}

Status listen_on(int fd, int backlog) {
    if (::listen(fd, backlog) < 0)
        return last_error("listen(fd=" + std::to_string(fd) + ", " + std::to_string(backlog) + ")");
    return {};
}

}  // namespace nslab::sys
