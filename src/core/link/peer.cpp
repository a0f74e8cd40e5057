#include "core/link/peer.hpp"

#include "core/keys/traffic_keys.hpp"

namespace cordon::link {

namespace {
std::atomic<uint64_t> next_serial{1};
}  // namespace

Peer::Peer(HostId id, crypto::Suite suite, crypto::SecretBytes link_key, uint64_t counter_start)
    : id_(id),
      suite_(suite),
      link_key_(std::move(link_key)),
      serial_(next_serial.fetch_add(1, std::memory_order_relaxed)),
      counter_(counter_start) {}

std::unique_ptr<Peer> Peer::create(HostId self, HostId id, const crypto::SecretBytes& link_key,
                                   crypto::Suite suite, unsigned slots, uint64_t counter_start) {
  std::unique_ptr<Peer> p(new Peer(id, suite, link_key, counter_start));
  auto tx_key = keys::derive_traffic_key(link_key, suite, p->generation_, self, id);
  auto rx_key = keys::derive_traffic_key(link_key, suite, p->generation_, id, self);
  const auto fingerprint = keys::link_key_fingerprint(link_key);
  if (!tx_key || !rx_key || !fingerprint) return nullptr;
  // A key OpenSSL refuses fails here, not on the first packet.
  if (!crypto::Aead::create(suite, tx_key->view())) return nullptr;
  p->fingerprint_ = *fingerprint;
  p->tx_key_ = std::move(*tx_key);
  p->rx_key_ = std::move(*rx_key);
  p->tx_.resize(slots);
  p->rx_.resize(slots);
  return p;
}

bool Peer::same_keys(const crypto::SecretBytes& link_key, crypto::Suite suite) const {
  return suite == suite_ && link_key == link_key_;
}

void Peer::set_endpoint(const std::optional<Endpoint>& e) {
  SpinGuard g(lock_);
  endpoint_.store(e);
}

ReplayWindow::Verdict Peer::replay_check(uint64_t counter) {
  SpinGuard g(lock_);
  return replay_.check(counter);
}

void Peer::set_receive_floor(uint64_t floor) {
  SpinGuard g(lock_);
  replay_.start_at(floor);
}

uint64_t Peer::highest_received() {
  SpinGuard g(lock_);
  return replay_.empty() ? 0 : replay_.top();
}

Peer::Accepted Peer::replay_accept(uint64_t counter, const Endpoint& from, bool roam, uint64_t live_from) {
  SpinGuard g(lock_);
  const bool raises = replay_.empty() || counter > replay_.top();
  Accepted out{replay_.accept(counter), false};
  out.live = out.verdict == ReplayWindow::Verdict::kFresh && raises && counter >= live_from;
  if (!out.live || !roam) return out;
  const auto cur = endpoint_.load();
  if (!cur || !(*cur == from)) {
    if (cur) stats_.roams.fetch_add(1, std::memory_order_relaxed);
    endpoint_.store(from);
  }
  return out;
}

}  // namespace cordon::link
