#include "os/linux/netlink.hpp"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <functional>
#include <memory>
#include <vector>

namespace cordon::os {

namespace {

// Requests are a header and a few attributes. Replies to RTM_GETLINK carry
// statistics and per-family blocks, hence the larger receive buffer (the
// size libmnl recommends for dumps, MNL_SOCKET_DUMP_SIZE).
constexpr size_t kRequestSize = 1024;
constexpr size_t kReceiveSize = 32 * 1024;

// The kernel answers every request that carries NLM_F_ACK, so a blocking
// receive only hangs if something is badly wrong (a wedged rtnl lock); the
// bound turns that into an error instead of a daemon that never starts.
constexpr time_t kReplyTimeoutSeconds = 5;

using ReplyHandler = std::function<void(const nlmsghdr*)>;

uint8_t family_of(const IpAddress& a) { return a.is_v4() ? AF_INET : AF_INET6; }

// Own formatting (not core's to_string) keeps the OS layer's error text
// independent of the core's string helpers.
std::string describe(const Prefix& p) {
  char text[INET6_ADDRSTRLEN] = {};
  if (::inet_ntop(family_of(p.address), p.address.bytes.data(), text, sizeof(text)) == nullptr) {
    return "(bad address)";
  }
  return std::string(text) + "/" + std::to_string(p.length);
}

std::string on_link(int ifindex) { return " on ifindex " + std::to_string(ifindex); }

// Extended ACK (NETLINK_EXT_ACK, linux/netlink.h "struct nlmsgerr"): the
// kernel explains many EINVALs in a short string, which beats a bare errno.
int extack_attr(const nlattr* attr, void* data) {
  if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0) {
    *static_cast<std::string*>(data) = mnl_attr_get_str(attr);
  }
  return MNL_CB_OK;
}

std::string extack_message(const nlmsghdr* nlh, const nlmsgerr* e) {
  std::string msg;
  if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) == 0) return msg;
  // The TLVs follow the echoed request, which is only the header when the
  // ack was capped (NETLINK_CAP_ACK).
  size_t offset = sizeof(nlmsgerr);
  if ((nlh->nlmsg_flags & NLM_F_CAPPED) == 0) offset += e->msg.nlmsg_len - sizeof(nlmsghdr);
  if (offset >= mnl_nlmsg_get_payload_len(nlh)) return msg;
  mnl_attr_parse(nlh, static_cast<unsigned>(offset), extack_attr, &msg);
  return msg;
}

ifinfomsg* put_link_header(nlmsghdr* nlh, int ifindex) {
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  return ifi;
}

void put_address(nlmsghdr* nlh, uint16_t type, const IpAddress& a) {
  mnl_attr_put(nlh, type, a.size(), a.bytes.data());
}

}  // namespace

struct Netlink::Impl {
  mnl_socket* nl = nullptr;
  uint32_t portid = 0;
  uint32_t seq = 0;
  std::vector<char> request = std::vector<char>(kRequestSize);
  std::vector<char> reply = std::vector<char>(kReceiveSize);

  ~Impl() {
    if (nl != nullptr) mnl_socket_close(nl);
  }

  // Starts a request of `type` in the request buffer; the family-specific
  // header follows through mnl_nlmsg_put_extra_header, which zeroes it.
  nlmsghdr* begin(uint16_t type, uint16_t flags) {
    nlmsghdr* nlh = mnl_nlmsg_put_header(request.data());
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
    nlh->nlmsg_seq = ++seq;
    return nlh;
  }

  // Sends the request and reads until its ack. Returns 0 on success or the
  // errno the kernel put in the ack. Messages from older sequence numbers
  // (a request that timed out earlier) are skipped.
  int transact(const nlmsghdr* nlh, std::string* extack, const ReplyHandler& on_reply = {}) {
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) return errno;
    for (;;) {
      ssize_t n = mnl_socket_recvfrom(nl, reply.data(), reply.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno;
      }
      int len = static_cast<int>(n);
      for (auto* m = reinterpret_cast<const nlmsghdr*>(reply.data()); mnl_nlmsg_ok(m, len);
           m = mnl_nlmsg_next(m, &len)) {
        if (m->nlmsg_seq != nlh->nlmsg_seq || m->nlmsg_pid != portid) continue;
        if (m->nlmsg_type == NLMSG_ERROR) return ack_errno(m, extack);
        if (m->nlmsg_type == NLMSG_DONE) return 0;
        if (on_reply) on_reply(m);
      }
    }
  }

  static int ack_errno(const nlmsghdr* m, std::string* extack) {
    if (mnl_nlmsg_get_payload_len(m) < sizeof(nlmsgerr)) return EBADMSG;
    const auto* e = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(m));
    if (e->error == 0) return 0;
    *extack = extack_message(m, e);
    return -e->error;
  }

  // Runs a request and turns the ack into a Status; `ok_errno` (EEXIST for
  // the add operations) also counts as success.
  Status run(const nlmsghdr* nlh, const std::string& what, int ok_errno = 0) {
    std::string extack;
    int err = transact(nlh, &extack);
    if (err == 0 || (ok_errno != 0 && err == ok_errno)) return Ok{};
    return sys_error(extack.empty() ? what : what + " (kernel: " + extack + ")", err);
  }
};

Netlink::Netlink(Impl* impl) : impl_(impl) {}
Netlink::Netlink(Netlink&& o) noexcept : impl_(std::exchange(o.impl_, nullptr)) {}
Netlink& Netlink::operator=(Netlink&& o) noexcept {
  if (this != &o) {
    delete impl_;
    impl_ = std::exchange(o.impl_, nullptr);
  }
  return *this;
}
Netlink::~Netlink() { delete impl_; }

Result<Netlink> Netlink::open() {
  auto impl = std::make_unique<Impl>();
  // The socket talks to the network namespace of the calling thread at the
  // time of this call (netlink(7)); tests rely on that after setns(2).
  impl->nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
  if (impl->nl == nullptr) return sys_error("open rtnetlink socket");
  if (mnl_socket_bind(impl->nl, 0, MNL_SOCKET_AUTOPID) < 0) return sys_error("bind rtnetlink socket");
  impl->portid = mnl_socket_get_portid(impl->nl);

  // Both options are best effort: older kernels lack them and the acks then
  // carry a bare errno and the full echoed request.
  int one = 1;
  mnl_socket_setsockopt(impl->nl, NETLINK_EXT_ACK, &one, sizeof(one));
  mnl_socket_setsockopt(impl->nl, NETLINK_CAP_ACK, &one, sizeof(one));
  timeval tv{.tv_sec = kReplyTimeoutSeconds, .tv_usec = 0};
  if (::setsockopt(mnl_socket_get_fd(impl->nl), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
    return sys_error("set rtnetlink receive timeout");
  }
  return Netlink(impl.release());
}

Result<int> Netlink::ifindex(const std::string& name) {
  nlmsghdr* nlh = impl_->begin(RTM_GETLINK, 0);
  put_link_header(nlh, 0);
  mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());

  int index = 0;
  std::string extack;
  int err = impl_->transact(nlh, &extack, [&](const nlmsghdr* m) {
    if (m->nlmsg_type == RTM_NEWLINK && mnl_nlmsg_get_payload_len(m) >= sizeof(ifinfomsg)) {
      index = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(m))->ifi_index;
    }
  });
  if (err != 0) return sys_error("look up interface " + name, err);
  if (index <= 0) return sys_error("look up interface " + name, ENODEV);
  return index;
}

Status Netlink::set_mtu(int ifindex, unsigned mtu) {
  // RTM_NEWLINK on an existing link changes only what the message carries
  // (rtnetlink(7)).
  nlmsghdr* nlh = impl_->begin(RTM_NEWLINK, 0);
  put_link_header(nlh, ifindex);
  mnl_attr_put_u32(nlh, IFLA_MTU, mtu);
  return impl_->run(nlh, "set MTU " + std::to_string(mtu) + on_link(ifindex));
}

Status Netlink::set_up(int ifindex, bool up) {
  nlmsghdr* nlh = impl_->begin(RTM_NEWLINK, 0);
  ifinfomsg* ifi = put_link_header(nlh, ifindex);
  // ifi_change selects which flag bits the request changes (rtnetlink(7)).
  ifi->ifi_change = IFF_UP;
  ifi->ifi_flags = up ? IFF_UP : 0;
  return impl_->run(nlh, std::string(up ? "bring up" : "bring down") + on_link(ifindex));
}

Status Netlink::set_tx_queue_len(int ifindex, unsigned packets) {
  nlmsghdr* nlh = impl_->begin(RTM_NEWLINK, 0);
  put_link_header(nlh, ifindex);
  mnl_attr_put_u32(nlh, IFLA_TXQLEN, packets);
  return impl_->run(nlh, "set transmit queue length " + std::to_string(packets) + on_link(ifindex));
}

Status Netlink::disable_ipv6_address_generation(int ifindex) {
  // IFLA_AF_SPEC { AF_INET6 { IFLA_INET6_ADDR_GEN_MODE } } is how
  // `ip link set DEV addrgenmode none` asks (include/uapi/linux/if_link.h).
  nlmsghdr* nlh = impl_->begin(RTM_NEWLINK, 0);
  put_link_header(nlh, ifindex);
  nlattr* spec = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
  nlattr* inet6 = mnl_attr_nest_start(nlh, AF_INET6);
  mnl_attr_put_u8(nlh, IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE);
  mnl_attr_nest_end(nlh, inet6);
  mnl_attr_nest_end(nlh, spec);
  return impl_->run(nlh, "disable IPv6 address generation" + on_link(ifindex));
}

Status Netlink::add_address(int ifindex, const Prefix& address) {
  // NLM_F_EXCL so that an existing address answers EEXIST, which is success
  // here: the daemon may restart over an interface it configured before.
  nlmsghdr* nlh = impl_->begin(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
  auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
  ifa->ifa_family = family_of(address.address);
  ifa->ifa_prefixlen = address.length;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = static_cast<uint32_t>(ifindex);
  // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on a
  // point-to-point link (a TUN device is IFF_POINTOPOINT) and the same as
  // IFA_LOCAL otherwise. Sending both equal is what `ip addr add A/N` does and
  // makes the kernel install the connected route for the prefix.
  put_address(nlh, IFA_LOCAL, address.address);
  put_address(nlh, IFA_ADDRESS, address.address);
  if (!address.address.is_v4()) {
    // No duplicate address detection: the administrator assigns tunnel
    // addresses, and a tentative address would make the first packets fail
    // (bind(2) EADDRNOTAVAIL) for a second or two.
    mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
  }
  return impl_->run(nlh, "add address " + describe(address) + on_link(ifindex), EEXIST);
}

namespace {

rtmsg* put_route_header(nlmsghdr* nlh, const Prefix& dst, uint8_t scope) {
  auto* rtm = static_cast<rtmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
  rtm->rtm_family = family_of(dst.address);
  rtm->rtm_dst_len = dst.length;
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = RTPROT_STATIC;
  rtm->rtm_scope = scope;
  rtm->rtm_type = RTN_UNICAST;
  return rtm;
}

void put_route_attrs(nlmsghdr* nlh, int ifindex, const Prefix& dst) {
  put_address(nlh, RTA_DST, dst.address);
  mnl_attr_put_u32(nlh, RTA_OIF, static_cast<uint32_t>(ifindex));
}

}  // namespace

Status Netlink::add_route(int ifindex, const Prefix& dst) {
  nlmsghdr* nlh = impl_->begin(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
  // Scope link: the destination is reached directly through the device,
  // with no gateway (a TUN device has no neighbours to resolve).
  put_route_header(nlh, dst, RT_SCOPE_LINK);
  put_route_attrs(nlh, ifindex, dst);
  // EEXIST is reported: a route with the same prefix and metric already
  // exists, usually through another interface, and would win over ours.
  return impl_->run(nlh, "add route " + describe(dst) + on_link(ifindex));
}

Status Netlink::delete_route(int ifindex, const Prefix& dst) {
  nlmsghdr* nlh = impl_->begin(RTM_DELROUTE, 0);
  // RT_SCOPE_NOWHERE is the wildcard for deletion (what `ip route del`
  // sends); table, protocol, destination and device still must match, so
  // only the route Cordon added goes. ESRCH (no such route) is reported.
  put_route_header(nlh, dst, RT_SCOPE_NOWHERE);
  put_route_attrs(nlh, ifindex, dst);
  return impl_->run(nlh, "delete route " + describe(dst) + on_link(ifindex));
}

Status Netlink::add_unreachable_route(const Prefix& dst, uint32_t metric) {
  nlmsghdr* nlh = impl_->begin(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
  put_route_header(nlh, dst, RT_SCOPE_UNIVERSE)->rtm_type = RTN_UNREACHABLE;
  put_address(nlh, RTA_DST, dst.address);
  mnl_attr_put_u32(nlh, RTA_PRIORITY, metric);
  return impl_->run(nlh, "add unreachable route " + describe(dst), EEXIST);
}

Status Netlink::delete_unreachable_route(const Prefix& dst, uint32_t metric) {
  nlmsghdr* nlh = impl_->begin(RTM_DELROUTE, 0);
  put_route_header(nlh, dst, RT_SCOPE_NOWHERE)->rtm_type = RTN_UNREACHABLE;
  put_address(nlh, RTA_DST, dst.address);
  mnl_attr_put_u32(nlh, RTA_PRIORITY, metric);
  return impl_->run(nlh, "delete unreachable route " + describe(dst));
}

Status Netlink::delete_link(int ifindex) {
  nlmsghdr* nlh = impl_->begin(RTM_DELLINK, 0);
  put_link_header(nlh, ifindex);
  return impl_->run(nlh, "delete link" + on_link(ifindex));
}

}  // namespace cordon::os
