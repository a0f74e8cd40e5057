#include "core/link/peer.hpp"

#include "core/keys/traffic_keys.hpp"
#include "core/link/rekey.hpp"

namespace cordon::link {

Peer::Peer(HostId id, crypto::Suite suite, crypto::SecretBytes link_key, uint64_t counter_start)
    : id_(id), suite_(suite), link_key_(std::move(link_key)), counter_(counter_start) {}

Peer::~Peer() = default;

std::unique_ptr<Peer> Peer::create(HostId self, HostId id, const crypto::SecretBytes& link_key,
                                   crypto::Suite suite, unsigned slots, uint64_t counter_start) {
  std::unique_ptr<Peer> p(new Peer(id, suite, link_key, counter_start));
  auto first = Generation::create(link_key, suite, 0, self, id, slots);
  const auto fingerprint = keys::link_key_fingerprint(link_key);
  if (!first || !fingerprint) return nullptr;
  p->fingerprint_ = *fingerprint;
  p->send_with(first.get());
  p->hold(std::move(first));
  return p;
}

const Generation* Peer::held(uint32_t number) const {
  const Generation* g = owned_[wire_generation(number)].get();
  return g && g->number() == number ? g : nullptr;
}

std::unique_ptr<Generation> Peer::hold(std::unique_ptr<Generation> g) {
  const uint8_t w = g->wire();
  std::unique_ptr<Generation> old = std::move(owned_[w]);
  owned_[w] = std::move(g);
  rx_[w].store(owned_[w].get(), std::memory_order_release);
  return old;
}

std::unique_ptr<Generation> Peer::release(uint8_t wire) {
  const uint8_t w = wire % kWireGenerations;
  rx_[w].store(nullptr, std::memory_order_release);
  return std::move(owned_[w]);
}

uint64_t Peer::send_with(const Generation* g) {
  tx_.store(g, std::memory_order_seq_cst);
  return counter_.peek_ordered();
}

std::array<int64_t, kWireGenerations> Peer::held_numbers() const {
  std::array<int64_t, kWireGenerations> out{};
  for (size_t w = 0; w < kWireGenerations; ++w) out[w] = owned_[w] ? int64_t{owned_[w]->number()} : -1;
  return out;
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
