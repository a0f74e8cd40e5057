// The IPsec gateway in the daemon (docs/ipsec.md): one thread that owns
// IKE on UDP 500 and 4500, ESP in UDP (RFC 3948) on 4500, raw ESP and AH
// (IP protocols 50 and 51), and the TUN device through which the kernel
// routes traffic to and from IPsec peers. The core does the work
// (core/ipsec/gateway.hpp for IKE, core/ipsec/data_path.hpp for ESP and
// AH); this file only moves batches between it and the sockets.
//
//   TUN read        -> DataPath::seal  -> UDP 4500 / raw socket to the peer
//   UDP 4500 (ESP)  -> DataPath::open_esp -> TUN write
//   UDP 500, 4500 (IKE, after the non-ESP marker) -> Gateway::receive
//   raw 50 / 51     -> DataPath::open_esp / open_ah -> TUN write
//
// A packet written to the TUN device goes where the kernel routes it: to
// the LAN, or into Cordon's own tunnel for a Cordon host, which re-encrypts
// it for that host. Each installed CHILD_SA in tunnel mode gets kernel
// routes for its remote selectors through the IPsec device.
//
// Control requests (`cordon ipsec ...`, `cordon status`) come from the
// control thread and are answered on the IPsec thread, which alone
// touches the gateway and the data path.
#pragma once

#include <atomic>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/ipsec/data_path.hpp"
#include "core/ipsec/gateway.hpp"
#include "daemon/config.hpp"
#include "daemon/ipsec_tun.hpp"
#include "os/linux/netlink.hpp"
#include "os/linux/poller.hpp"
#include "os/linux/raw_ip.hpp"
#include "os/linux/tun.hpp"
#include "os/linux/udp.hpp"

namespace cordon::daemon {

class IpsecService {
 public:
  // Opens the device and sockets and starts the thread; the error names
  // what could not be opened and what to do.
  static cordon::Result<std::unique_ptr<IpsecService>, std::string> start(const IpsecSettings& settings);
  ~IpsecService();
  IpsecService(const IpsecService&) = delete;
  IpsecService& operator=(const IpsecService&) = delete;

  // {"command":"ipsec","object":"connection"|"sa"|"policy"|"status",
  //  "action":...}: answered by the IPsec thread (at most 5 s).
  nlohmann::json command(const nlohmann::json& request);
  // A reload's new [ipsec] settings (connections, pools, manual SAs).
  nlohmann::json reconfigure(const IpsecSettings& settings);

 private:
  explicit IpsecService(const IpsecSettings& settings);
  cordon::Status<std::string> open();
  void run();
  void on_tun(const Now& now);
  void on_udp(os::UdpSocket& socket, uint16_t port, const Now& now);
  void open_raw(bool v6);
  void on_raw(os::RawIpSocket& socket, bool ah, const Now& now);
  void deliver(std::span<const std::byte> inner);
  void send_sealed(const ipsec::SealedPacket& sealed);
  void send_encapsulated();
  void handle(ipsec::IkeEvents& events, const Now& now);
  void route(const ipsec::ChildSaInstall& child, bool add);
  void add_route(const Prefix& p);
  void guard_routes(const ipsec::GatewayConfig& config);
  void serve_requests(const Now& now);
  nlohmann::json answer(const nlohmann::json& request, const Now& now);
  nlohmann::json answer_sa(const nlohmann::json& request, const std::string& action);
  nlohmann::json answer_policy(const nlohmann::json& request, const std::string& action);
  nlohmann::json apply_settings(const Now& now, ipsec::IkeEvents& events);
  nlohmann::json status_json() const;

  struct Request {
    nlohmann::json body;
    std::promise<nlohmann::json> reply;
  };

  IpsecSettings settings_;
  std::optional<os::TunDevice> tun_;
  std::optional<os::UdpSocket> ike_, natt_;
  // Raw ESP and AH of one family: receive ESP, receive AH, send whole
  // packets (AH); ESP is sent on `esp`, behind a header the kernel writes.
  struct RawSockets {
    std::optional<os::RawIpSocket> esp, ah, send;
  };
  std::array<RawSockets, 2> raw_;  // [0] IPv4, [1] IPv6
  std::optional<os::Poller> poller_;
  std::optional<os::EventFd> wake_;
  std::optional<os::Netlink> netlink_;
  std::unique_ptr<ipsec::Gateway> gateway_;
  ipsec::DataPath data_;
  std::map<std::string, int> routes_;  // prefix text -> CHILD_SAs that want it
  std::map<uint32_t, std::vector<Prefix>> child_routes_;  // inbound SPI -> its routes
  std::map<std::string, Prefix> guards_;  // prefix text -> its unreachable route (guard_routes)
  std::optional<IpsecTun> tun_io_;
  std::vector<std::byte> receive_buffer_;
  std::vector<os::Datagram> batch_;     // received: kUdpBatch, or with UDP GRO kMaxCoalescedBatch
  std::vector<os::Datagram> outgoing_;  // ESP in UDP sealed in one on_tun round, sent together (UDP GSO)
  uint64_t send_errors_ = 0;

  std::mutex mutex_;
  std::vector<std::unique_ptr<Request>> requests_;  // guarded by mutex_
  std::optional<IpsecSettings> pending_settings_;    // guarded by mutex_: a reload's, for the IPsec thread
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace cordon::daemon
