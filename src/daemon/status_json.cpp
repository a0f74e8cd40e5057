#include "daemon/status_json.hpp"

namespace cordon::daemon {
namespace {

nlohmann::json unix_seconds_or_null(int64_t real_ns) {
  if (real_ns == 0) return nullptr;  // PeerStatus: 0 means never
  return real_ns / kNsPerSecond;
}

nlohmann::json peer_to_json(const PeerStatus& peer) {
  nlohmann::json prefixes = nlohmann::json::array();
  for (const Prefix& p : peer.allowed_prefixes) prefixes.push_back(p.to_string());
  return nlohmann::json{
      {"id", peer.id.to_string()},
      {"name", peer.name},
      {"endpoint", peer.endpoint ? nlohmann::json(peer.endpoint->to_string()) : nlohmann::json(nullptr)},
      {"suite", std::string(crypto::suite_name(peer.suite))},
      {"allowed_prefixes", std::move(prefixes)},
      {"last_rx", unix_seconds_or_null(peer.last_rx_real_ns)},
      {"last_tx", unix_seconds_or_null(peer.last_tx_real_ns)},
      {"rx_bytes", peer.rx_bytes},
      {"rx_packets", peer.rx_packets},
      {"tx_bytes", peer.tx_bytes},
      {"tx_packets", peer.tx_packets},
      {"keepalives_sent", peer.keepalives_sent},
      {"keepalives_received", peer.keepalives_received},
      {"roams", peer.roams},
      {"drops", drops_to_json(peer.drops)},
  };
}

}  // namespace

nlohmann::json drops_to_json(const std::array<uint64_t, kDropReasonCount>& drops) {
  nlohmann::json out = nlohmann::json::object();
  for (size_t i = 0; i < kDropReasonCount; ++i) {
    if (drops[i] != 0) out[std::string(drop_reason_name(static_cast<DropReason>(i)))] = drops[i];
  }
  return out;
}

nlohmann::json status_to_json(const NodeStatus& status, const StatusContext& context) {
  nlohmann::json peers = nlohmann::json::array();
  for (const PeerStatus& peer : status.peers) peers.push_back(peer_to_json(peer));
  return nlohmann::json{
      {"host", status.self.to_string()},
      {"interface", context.interface},
      {"listen_port", context.listen_port},
      {"counter_floor", status.counter_floor},
      {"time", context.now_real_ns / kNsPerSecond},
      {"peers", std::move(peers)},
      {"drops", drops_to_json(status.drops)},
  };
}

}  // namespace cordon::daemon
