#include "daemon/tunnel_interface.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace cordon::daemon {
namespace {

bool contains(const std::vector<Prefix>& list, const Prefix& p) {
  return std::find(list.begin(), list.end(), p) != list.end();
}

// The TUN device's transmit queue is where packets wait for a worker to
// read them. The kernel's default for TUN, 500 packets, overflows during TCP
// bursts at a few Gbit/s (dropped bursts showed up as retransmits in the
// bench); 2,000 packets of 1,420 bytes is under 3 MB of queue.
constexpr unsigned kTxQueueLen = 2000;

os::SysError step_failed(const std::string& step, const os::SysError& e) {
  return os::sys_error_of(e.err, step, ": ", e.what.view());
}

// A route for exactly this prefix is already in the main table (through
// another interface: ours was just created). The kernel would keep using it,
// so the operator must know; it is not fatal, as other prefixes still work.
void warn_route_exists(const Prefix& p, const std::string& name) {
  spdlog::warn("route {} already exists outside {}; traffic for it will not enter the tunnel until that route "
               "is removed (ip route del {})",
               p.to_string(), name, p.to_string());
}

}  // namespace

std::vector<Prefix> peer_routes(const NodeConfig& config) {
  std::vector<Prefix> out;
  for (const PeerConfig& peer : config.peers) {
    for (const Prefix& p : peer.allowed_prefixes) {
      if (!contains(out, p)) out.push_back(p);
    }
  }
  return out;
}

TunnelInterface::TunnelInterface(os::TunDevice tun, os::Netlink netlink)
    : tun_(std::move(tun)), netlink_(std::move(netlink)) {}

TunnelInterface::TunnelInterface(TunnelInterface&& other) noexcept
    : tun_(std::move(other.tun_)), netlink_(std::move(other.netlink_)), routes_(std::move(other.routes_)) {
  other.tun_.reset();
  other.netlink_.reset();
}

TunnelInterface::~TunnelInterface() {
  if (!tun_ || !netlink_) return;
  // Deleting the link takes its addresses and routes with it. Closing the
  // queues would also remove a non-persistent device; deleting it first
  // makes the removal explicit and immediate.
  auto deleted = netlink_->delete_link(tun_->ifindex());
  if (!deleted && deleted.error().err != ENODEV) {
    spdlog::warn("could not delete interface {}: {}", tun_->name(), deleted.error().message());
  }
}

os::Result<TunnelInterface> TunnelInterface::open(const std::string& name, unsigned queues, bool offloads, unsigned mtu,
                                                   const std::vector<Prefix>& addresses,
                                                   const std::vector<Prefix>& routes) {
  auto netlink = os::Netlink::open();
  if (!netlink) return netlink.error();
  auto tun = os::TunDevice::open(name, queues, offloads);
  if (!tun) return tun.error();
  TunnelInterface iface(std::move(tun.value()), std::move(netlink.value()));
  const int index = iface.tun_->ifindex();

  if (auto r = iface.netlink_->set_mtu(index, mtu); !r) return step_failed("set MTU of " + name, r.error());
  if (auto r = iface.netlink_->set_tx_queue_len(index, kTxQueueLen); !r) {
    return step_failed("set transmit queue of " + name, r.error());
  }
  // Without IPv6 in the kernel there is nothing to disable.
  if (auto r = iface.netlink_->disable_ipv6_address_generation(index); !r && r.error().err != EAFNOSUPPORT) {
    spdlog::warn("{}: {}", name, r.error().message());
  }
  for (const Prefix& a : addresses) {
    if (auto r = iface.netlink_->add_address(index, a); !r) return step_failed("configure " + name, r.error());
  }
  if (auto r = iface.netlink_->set_up(index, true); !r) return step_failed("bring up " + name, r.error());
  for (const Prefix& p : routes) {
    auto r = iface.netlink_->add_route(index, p);
    if (!r && r.error().err == EEXIST) {
      warn_route_exists(p, name);
      continue;
    }
    if (!r) return step_failed("route peers via " + name, r.error());
    iface.routes_.push_back(p);
  }
  return iface;
}

std::vector<std::string> TunnelInterface::sync_routes(const std::vector<Prefix>& wanted) {
  std::vector<std::string> failures;
  const int index = tun_->ifindex();
  std::vector<Prefix> kept;
  for (const Prefix& p : routes_) {
    if (contains(wanted, p)) {
      kept.push_back(p);
      continue;
    }
    auto r = netlink_->delete_route(index, p);
    if (r || r.error().err == ESRCH) {
      spdlog::info("route {} via {} removed", p.to_string(), name());
    } else {
      failures.push_back(r.error().message());
      kept.push_back(p);  // still there; try again on the next reload
    }
  }
  for (const Prefix& p : wanted) {
    if (contains(kept, p)) continue;
    auto r = netlink_->add_route(index, p);
    if (!r && r.error().err == EEXIST) {
      warn_route_exists(p, name());
    } else if (r) {
      spdlog::info("route {} via {} added", p.to_string(), name());
      kept.push_back(p);
    } else {
      failures.push_back(r.error().message());
    }
  }
  routes_ = std::move(kept);
  return failures;
}

}  // namespace cordon::daemon
