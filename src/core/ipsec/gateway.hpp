// The IPsec gateway's control plane (docs/ipsec.md): every IKE SA of this
// host, found by SPI; the choice of connection for a new peer; cookies
// under load (RFC 7296 section 2.6); address pools for remote-access
// clients (section 3.15); and operator actions. Pure: datagrams come in
// with `now`, and what to send or install leaves through IkeEvents.
//
// Timers besides each IKE SA's own (ike_sa.hpp):
//   cookie secret  replaced every hour; the previous one is still accepted
//                  (section 2.6: "the responder should change the value of
//                  <secret> frequently");
//   restart        a connection with dpd_action = restart, or start_action
//                  = start, whose IKE SA died is initiated again after 5 s.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/ipsec/connection.hpp"
#include "core/ipsec/ike_sa.hpp"
#include "core/result.hpp"

namespace cordon::ipsec {

constexpr int64_t kCookieSecretLifetimeNs = int64_t{3600} * kNsPerSecond;
constexpr int64_t kRestartDelayNs = 5 * kNsPerSecond;

// Why a datagram to the IKE ports was not handed to an IKE SA; counted, and
// named in the metrics (docs/ipsec.md, "Drop reasons").
enum class IkeDrop : uint8_t {
  kMalformed,          // the codec refused it
  kUnknownSpi,         // no IKE SA has these SPIs
  kNoConnection,       // IKE_SA_INIT from a peer no connection accepts
  kCookieRequired,     // answered with a COOKIE instead (under load)
  kBadCookie,          // a cookie that is not ours, or too old
  kNotInitRequest,     // SPIr zero on something else than an IKE_SA_INIT request
  kCount,
};
std::string_view ike_drop_name(IkeDrop drop);

// One IKE SA as `cordon ipsec connection list` shows it.
struct IkeSaInfo {
  std::string connection;
  uint64_t spi_i = 0, spi_r = 0;
  bool initiator = false;
  IkeState state = IkeState::kInitSent;
  Endpoint remote;
  std::string remote_identity;
  std::string proposal;
  int64_t established_ns = 0;
  IkeSaCounters counters;
  std::vector<uint32_t> children;
};

class Gateway {
 public:
  Gateway(std::shared_ptr<const GatewayConfig> config, std::function<bool(std::span<std::byte>)> random,
          const Now& now);
  ~Gateway();

  // Connections with start_action = start are initiated (at start and for
  // connections a reload adds). `local` is this host's address per family
  // when a connection names no local_addrs.
  void start(const Now& now, IkeEvents& events);
  // A reload: connections that are gone or changed have their IKE SAs
  // closed; new ones with start_action = start are initiated.
  void reconfigure(std::shared_ptr<const GatewayConfig> config, const Now& now, IkeEvents& events);

  // An IKE message (on 4500, after the non-ESP marker) that arrived on
  // `local` (address and port) from `remote`.
  void receive(const Now& now, Endpoint local, Endpoint remote, std::span<const std::byte> message, IkeEvents& events);
  // Timers of every IKE SA and the gateway's own; the next deadline.
  int64_t tick(const Now& now, IkeEvents& events);

  // `cordon ipsec connection up|down NAME`: errors name the connection and
  // say what to do.
  Result<Ok, std::string> up(const std::string& name, const Now& now, IkeEvents& events);
  Result<Ok, std::string> down(const std::string& name, const Now& now, IkeEvents& events);
  // The data path reached a CHILD_SA's soft limit: rekey it.
  void child_limit_reached(uint32_t inbound_spi, const Now& now, IkeEvents& events);
  // Reserves an inbound SPI for a manually keyed SA (no IKE SA may use it).
  bool reserve_spi(uint32_t spi);

  std::vector<IkeSaInfo> list() const;
  uint64_t drops(IkeDrop drop) const { return drops_[static_cast<size_t>(drop)]; }
  size_t half_open() const;
  const GatewayConfig& config() const { return *config_; }

 private:
  struct Restart {
    std::string connection;
    int64_t at_ns = 0;
  };
  void respond(const Now& now, Endpoint local, Endpoint remote, const IkeMessage& message,
               std::span<const std::byte> raw, IkeEvents& events);
  bool cookie_ok(const IkeMessage& message, const Endpoint& remote, const Now& now) const;
  std::vector<std::byte> cookie_for(const IkeMessage& message, const Endpoint& remote, uint8_t version) const;
  void answer_unprotected(const IkeMessage& request, Endpoint local, Endpoint remote, NotifyType type,
                          std::vector<std::byte> data, IkeEvents& events);
  void initiate(const std::shared_ptr<const ConnectionConfig>& conn, const Now& now, IkeEvents& events);
  void adopt_successors();
  void drop_replaced(IkeEvents& events);
  void settle(const Now& now, IkeEvents& events);
  void reap(const Now& now, IkeEvents& events);
  uint64_t our_spi(const IkeSa& sa) const { return sa.initiator() ? sa.spi_i() : sa.spi_r(); }
  std::optional<IpAddress> lease(const std::string& pool, const Identity& peer);
  std::shared_ptr<const ConnectionConfig> connection(const std::string& name) const;
  Endpoint local_for(const ConnectionConfig& conn, const IpAddress& remote) const;

  std::shared_ptr<const GatewayConfig> config_;
  std::vector<std::shared_ptr<const ConnectionConfig>> connections_;
  IkeContext context_;
  std::map<uint64_t, std::unique_ptr<IkeSa>> sas_;  // by our SPI
  std::set<uint32_t> inbound_spis_;                  // in use by CHILD_SAs and manual SAs
  std::map<std::string, std::map<std::string, IpAddress>> leases_;  // pool -> identity -> address
  std::vector<Restart> restarts_;
  std::array<std::byte, 32> cookie_secret_{};
  std::array<std::byte, 32> previous_cookie_secret_{};
  uint8_t cookie_version_ = 0;
  int64_t cookie_rotated_ns_ = 0;
  std::array<uint64_t, static_cast<size_t>(IkeDrop::kCount)> drops_{};
};

}  // namespace cordon::ipsec
