// Key arrays (key_array.hpp has the rules and their sources).
#include "core/link/key_array.hpp"

#include <algorithm>

namespace cordon::link {
namespace {

constexpr int64_t kNever = INT64_MAX;
constexpr wire::ArrayKind kKinds[] = {wire::ArrayKind::kData, wire::ArrayKind::kControl};

uint8_t mask_of(wire::ArrayKind kind) { return kind == wire::ArrayKind::kData ? kDataArray : kControlArray; }
uint16_t chunk_count(uint16_t size) {
  return static_cast<uint16_t>((size + wire::kArrayChunkEntries - 1) / wire::kArrayChunkEntries);
}
int64_t backoff(unsigned retransmits) {
  return std::min(kArrayRetransmitNs << std::min(retransmits, 5u), kArrayRetransmitMaxNs);
}
std::span<const std::byte> entry_of(const crypto::SecretBytes& entries, uint16_t index) {
  return entries.view().subspan(size_t{index} * wire::kMaterialSize, wire::kMaterialSize);
}
void wipe_entry(crypto::SecretBytes& entries, uint16_t index) {
  crypto::wipe(entries.mutable_view().subspan(size_t{index} * wire::kMaterialSize, wire::kMaterialSize));
}

}  // namespace

int64_t KeyArrays::lifetime(wire::ArrayKind kind) const {
  return kind == wire::ArrayKind::kData ? params_.data_lifetime_ns : params_.control_lifetime_ns;
}

void KeyArrays::set_params(KeyArrayParams params, const Now& now, std::vector<wire::ChannelMessage>& out) {
  if (params == params_) return;
  const bool off = params.size == 0 && params_.size != 0;
  params_ = params;
  if (off) return flush(kBothArrays, false, now, out);
  for (const wire::ArrayKind kind : kKinds) {
    Slot& s = slot(kind);
    if (s.replace_at != kNever && s.replace_at != INT64_MIN) {
      s.replace_at = std::min(s.replace_at, now.mono_ns + lifetime(kind));
    }
  }
}

// ------------------------------------------------------------ key master

void KeyArrays::tick(const Now& now, bool secure, const RandomFill& random, std::vector<wire::ChannelMessage>& out) {
  if (!key_master_ || !secure) return;
  for (const wire::ArrayKind kind : kKinds) {
    Slot& s = slot(kind);
    if (params_.size > 0 && !s.delivering && now.mono_ns >= s.replace_at) {
      start_delivery(kind, now, random, out);
    }
    if (s.delivering && now.mono_ns >= s.delivering->retransmit_at) {
      Outgoing& o = *s.delivering;
      ++o.retransmits;
      o.retransmit_at = now.mono_ns + backoff(o.retransmits);
      send_unacked(kind, o, out);
    }
  }
  for (PendingFlush& f : flushes_) {
    if (now.mono_ns < f.retransmit_at) continue;
    ++f.retransmits;
    f.retransmit_at = now.mono_ns + backoff(f.retransmits);
    out.push_back(wire::KeyArrayFlush{f.kind, f.id});
  }
}

void KeyArrays::start_delivery(wire::ArrayKind kind, const Now& now, const RandomFill& random,
                               std::vector<wire::ChannelMessage>& out) {
  Slot& s = slot(kind);
  s.replace_at = now.mono_ns + kArrayRetransmitNs;  // if no randomness now: tried again then
  if (next_id_ == 0) {
    std::array<std::byte, 4> drawn{};
    if (!random || !random(drawn)) return;
    for (const std::byte b : drawn) next_id_ = (next_id_ << 8) | std::to_integer<uint32_t>(b);
  }
  Outgoing o;
  o.id = next_id_ == 0 ? 1 : next_id_;
  next_id_ = o.id + 1;
  o.size = params_.size;
  o.entries = crypto::SecretBytes(size_t{o.size} * wire::kMaterialSize);
  if (!random || !random(o.entries.mutable_view())) return;
  o.acked.assign(chunk_count(o.size), false);
  o.unacked = chunk_count(o.size);
  o.retransmit_at = now.mono_ns + kArrayRetransmitNs;
  s.replace_at = kNever;  // set when the array is in use
  send_unacked(kind, o, out);
  s.delivering = std::move(o);
}

void KeyArrays::send_unacked(wire::ArrayKind kind, Outgoing& o, std::vector<wire::ChannelMessage>& out) const {
  for (uint16_t c = 0; c < o.acked.size(); ++c) {
    if (o.acked[c]) continue;
    wire::KeyArrayChunk chunk;
    chunk.kind = kind;
    chunk.array = o.id;
    chunk.size = o.size;
    chunk.first = static_cast<uint16_t>(c * wire::kArrayChunkEntries);
    chunk.count = static_cast<uint8_t>(std::min<size_t>(wire::kArrayChunkEntries, o.size - chunk.first));
    const auto bytes = o.entries.view().subspan(size_t{chunk.first} * wire::kMaterialSize,
                                                size_t{chunk.count} * wire::kMaterialSize);
    std::copy(bytes.begin(), bytes.end(), chunk.entries.begin());
    out.push_back(chunk);  // the sender wipes it once sealed (wire::wipe_secrets)
    crypto::wipe(std::span(chunk.entries));
  }
}

void KeyArrays::on_ack(const wire::KeyArrayAck& m, const Now& now) {
  Slot& s = slot(m.kind);
  if (!s.delivering || s.delivering->id != m.array) return;  // an array given up, or a copy
  Outgoing& o = *s.delivering;
  const size_t c = m.first / wire::kArrayChunkEntries;
  if (c >= o.acked.size() || o.acked[c]) return;
  o.acked[c] = true;
  if (--o.unacked > 0) return;
  o.retransmit_at = kNever;
  s.active = std::move(s.delivering);  // the array before it is wiped with it
  s.delivering.reset();
  s.replace_at = now.mono_ns + lifetime(m.kind);
}

std::optional<ArrayPick> KeyArrays::take() {
  Slot& d = slot(wire::ArrayKind::kData);
  Slot& c = slot(wire::ArrayKind::kControl);
  if (!d.active || !c.active || d.active->next >= d.active->size || c.active->next >= c.active->size) {
    return std::nullopt;
  }
  ArrayPick pick;
  pick.data_array = d.active->id;
  pick.data_index = d.active->next++;
  pick.control_array = c.active->id;
  pick.control_index = c.active->next++;
  pick.material = crypto::SecretBytes(2 * wire::kMaterialSize);
  const auto data = entry_of(d.active->entries, pick.data_index);
  const auto control = entry_of(c.active->entries, pick.control_index);
  auto into = pick.material.mutable_view();
  std::copy(data.begin(), data.end(), into.begin());
  std::copy(control.begin(), control.end(), into.begin() + wire::kMaterialSize);
  wipe_entry(d.active->entries, pick.data_index);
  wipe_entry(c.active->entries, pick.control_index);
  // A spent array is replaced at once.
  if (d.active->next >= d.active->size && !d.delivering) d.replace_at = INT64_MIN;
  if (c.active->next >= c.active->size && !c.delivering) c.replace_at = INT64_MIN;
  return pick;
}

void KeyArrays::queue_flush(wire::ArrayKind kind, uint32_t id, const Now& now,
                            std::vector<wire::ChannelMessage>& out) {
  if (flushes_.size() >= kMaxPendingFlushes) flushes_.erase(flushes_.begin());
  flushes_.push_back({kind, id, now.mono_ns + kArrayRetransmitNs, 0});
  out.push_back(wire::KeyArrayFlush{kind, id});
}

void KeyArrays::renew(uint8_t kinds, const Now& now, std::vector<wire::ChannelMessage>& out) {
  for (const wire::ArrayKind kind : kKinds) {
    if (!(kinds & mask_of(kind))) continue;
    Slot& s = slot(kind);
    if (s.delivering) queue_flush(kind, s.delivering->id, now, out);  // given up for the new one
    s.delivering.reset();
    s.replace_at = INT64_MIN;
  }
}

void KeyArrays::flush(uint8_t kinds, bool renew, const Now& now, std::vector<wire::ChannelMessage>& out) {
  for (const wire::ArrayKind kind : kKinds) {
    if (!(kinds & mask_of(kind))) continue;
    Slot& s = slot(kind);
    if (s.active) queue_flush(kind, s.active->id, now, out);
    if (s.delivering) queue_flush(kind, s.delivering->id, now, out);
    s.active.reset();
    s.delivering.reset();
    s.replace_at = renew ? INT64_MIN : now.mono_ns + lifetime(kind);
  }
}

// ------------------------------------------------------------ other side

void KeyArrays::on_chunk(const wire::KeyArrayChunk& m, bool secure, std::vector<wire::ChannelMessage>& out) {
  if (!secure) return;  // never under generation 0: not acknowledged, so sent again later
  Slot& s = slot(m.kind);
  const wire::KeyArrayAck ack{m.kind, m.array, m.first};
  if ((s.current && s.current->id == m.array) || (s.previous && s.previous->id == m.array)) {
    out.push_back(ack);  // a copy, or our ack was lost
    return;
  }
  if (!s.incoming || s.incoming->id != m.array || s.incoming->size != m.size) {
    Incoming in;
    in.id = m.array;
    in.size = m.size;
    in.entries = crypto::SecretBytes(size_t{m.size} * wire::kMaterialSize);
    in.have.assign(chunk_count(m.size), false);
    in.missing = chunk_count(m.size);
    in.used.assign(m.size, false);
    s.incoming = std::move(in);
  }
  Incoming& in = *s.incoming;
  const size_t c = m.first / wire::kArrayChunkEntries;
  if (!in.have[c]) {
    const auto bytes = std::span(m.entries).first(size_t{m.count} * wire::kMaterialSize);
    std::copy(bytes.begin(), bytes.end(), in.entries.mutable_view().begin() + size_t{m.first} * wire::kMaterialSize);
    in.have[c] = true;
    --in.missing;
  }
  out.push_back(ack);
  if (in.missing > 0) return;
  s.previous = std::move(s.current);  // the one before it is wiped
  s.current = std::move(s.incoming);
  s.incoming.reset();
}

void KeyArrays::on_flush(const wire::KeyArrayFlush& m, std::vector<wire::ChannelMessage>& out) {
  Slot& s = slot(m.kind);
  for (auto* held : {&s.incoming, &s.current, &s.previous}) {
    if (*held && (*held)->id == m.array) held->reset();
  }
  out.push_back(wire::KeyArrayFlushed{m.kind, m.array});
}

std::optional<crypto::SecretBytes> KeyArrays::use(const wire::RekeyOffer& offer) {
  struct Named {
    wire::ArrayKind kind;
    uint32_t id;
    uint16_t index;
  };
  const Named named[] = {{wire::ArrayKind::kData, offer.data_array, offer.data_index},
                         {wire::ArrayKind::kControl, offer.control_array, offer.control_index}};
  Incoming* found[2] = {nullptr, nullptr};
  for (size_t i = 0; i < 2; ++i) {
    Slot& s = slot(named[i].kind);
    for (auto* held : {&s.current, &s.previous}) {
      if (*held && (*held)->id == named[i].id) found[i] = &**held;
    }
    if (!found[i] || named[i].index >= found[i]->size || found[i]->used[named[i].index]) return std::nullopt;
  }
  crypto::SecretBytes material(2 * wire::kMaterialSize);
  auto into = material.mutable_view();
  for (size_t i = 0; i < 2; ++i) {
    const auto entry = entry_of(found[i]->entries, named[i].index);
    std::copy(entry.begin(), entry.end(), into.begin() + i * wire::kMaterialSize);
    wipe_entry(found[i]->entries, named[i].index);
    found[i]->used[named[i].index] = true;
    // The key master uses the newest array now: the one before it goes.
    Slot& s = slot(named[i].kind);
    if (found[i] == (s.current ? &*s.current : nullptr)) s.previous.reset();
  }
  return material;
}

// ------------------------------------------------------------ both

bool KeyArrays::receive(const wire::ChannelMessage& m, const Now& now, bool secure,
                        std::vector<wire::ChannelMessage>& out) {
  if (const auto* x = std::get_if<wire::KeyArrayAck>(&m)) {
    if (!key_master_) return false;
    on_ack(*x, now);
  } else if (const auto* x = std::get_if<wire::KeyArrayFlushed>(&m)) {
    if (!key_master_) return false;
    std::erase_if(flushes_, [&](const PendingFlush& f) { return f.kind == x->kind && f.id == x->array; });
  } else if (const auto* x = std::get_if<wire::KeyArrayChunk>(&m)) {
    if (key_master_) return false;
    on_chunk(*x, secure, out);
  } else if (const auto* x = std::get_if<wire::KeyArrayFlush>(&m)) {
    if (key_master_) return false;
    on_flush(*x, out);
  }
  return true;
}

void KeyArrays::reset() {
  for (Slot& s : slots_) s = Slot{};
  flushes_.clear();
}

int64_t KeyArrays::next_deadline() const {
  int64_t d = kNever;
  if (!key_master_) return d;
  for (const Slot& s : slots_) {
    if (s.delivering) d = std::min(d, s.delivering->retransmit_at);
    if (params_.size > 0 && !s.delivering) d = std::min(d, s.replace_at);
  }
  for (const PendingFlush& f : flushes_) d = std::min(d, f.retransmit_at);
  return d;
}

KeyArrayView KeyArrays::view(wire::ArrayKind kind) const {
  const Slot& s = slot(kind);
  KeyArrayView v;
  if (key_master_) {
    if (s.active) {
      v.id = s.active->id;
      v.size = s.active->size;
      v.left = static_cast<uint16_t>(s.active->size - s.active->next);
      if (s.replace_at != kNever && s.replace_at != INT64_MIN) v.replace_mono_ns = s.replace_at;
    }
    if (s.delivering) {
      v.delivering = s.delivering->id;
      v.chunks = static_cast<uint16_t>(s.delivering->acked.size());
      v.chunks_acked = static_cast<uint16_t>(v.chunks - s.delivering->unacked);
    }
    return v;
  }
  if (s.current) {
    v.id = s.current->id;
    v.size = s.current->size;
    v.left = static_cast<uint16_t>(std::count(s.current->used.begin(), s.current->used.end(), false));
  }
  return v;
}

}  // namespace cordon::link
