// Key arrays (docs/protocol.md, "Key arrays"): the key master delivers
// arrays of key material ahead of time, and a rekey then names an entry of
// each instead of carrying material. The P³ functional specification
// (Velocite Systems, 2011), Appendix A, keeps two: the data key array,
// replaced every data_array_time (86400 s), and the control key array,
// replaced every control_array_time (82800 s), each array_size (256)
// entries; an administrator may generate new arrays or flush them
// (section 2.1.1, "Keys").
//
// Rules (ours where the specification is silent):
//   - an array travels only once the link has left generation 0, under
//     control keys the link key alone does not give, in chunks of
//     wire::kArrayChunkEntries entries; the other side acknowledges each
//     chunk, and the key master resends the unacknowledged ones after 1 s,
//     the interval doubling up to 30 s;
//   - the key master uses an array once every chunk is acknowledged, each
//     entry once, in order; an array is replaced when its timer fires or
//     its entries are spent; the other side keeps the array before the
//     newest until an offer names the newest (an offer under way may still
//     name the old one);
//   - both sides wipe an entry once a rekey has used it, so one entry opens
//     at most one generation, and both wipe an array on a flush;
//   - a reset (a restart of either side, link/rekey.hpp) wipes everything:
//     the arrays are never written to disk.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "core/crypto/secret.hpp"
#include "core/types.hpp"
#include "core/wire/channel.hpp"

namespace cordon::link {

// Fills the span with random bytes from the operating system; false if it
// cannot. The core reads no randomness itself (docs/design.md, practice 1).
using RandomFill = std::function<bool(std::span<std::byte>)>;

constexpr int64_t kArrayRetransmitNs = kNsPerSecond;
constexpr int64_t kArrayRetransmitMaxNs = 30 * kNsPerSecond;
constexpr size_t kMaxPendingFlushes = 8;  // flushes awaiting an answer; older ones are given up

struct KeyArrayParams {
  uint16_t size = 0;  // entries per array; 0: no arrays, every rekey carries its material
  int64_t data_lifetime_ns = 86400 * kNsPerSecond;     // data_array_time
  int64_t control_lifetime_ns = 82800 * kNsPerSecond;  // control_array_time
  friend bool operator==(const KeyArrayParams&, const KeyArrayParams&) = default;
};

// Bit masks over wire::ArrayKind for the administration commands.
constexpr uint8_t kDataArray = 1;
constexpr uint8_t kControlArray = 2;
constexpr uint8_t kBothArrays = kDataArray | kControlArray;

// An entry of each array, for one offer.
struct ArrayPick {
  uint32_t data_array = 0;
  uint16_t data_index = 0;
  uint32_t control_array = 0;
  uint16_t control_index = 0;
  crypto::SecretBytes material;  // data entry || control entry, 64 bytes
};

// One kind's state, for status.
struct KeyArrayView {
  uint32_t id = 0;            // the array in use (0: none)
  uint16_t size = 0, left = 0;
  uint32_t delivering = 0;    // key master: the array being delivered (0: none)
  uint16_t chunks_acked = 0, chunks = 0;
  std::optional<int64_t> replace_mono_ns;  // key master: when the array in use is replaced
};

class KeyArrays {
 public:
  KeyArrays(KeyArrayParams params, bool key_master) : params_(params), key_master_(key_master) {}

  // A reload: a new size applies to the next array; a new lifetime from now
  // at the latest. Size 0 flushes both arrays.
  void set_params(KeyArrayParams params, const Now& now, std::vector<wire::ChannelMessage>& out);
  const KeyArrayParams& params() const { return params_; }

  // Key master. `secure`: both sides have left generation 0.
  void tick(const Now& now, bool secure, const RandomFill& random, std::vector<wire::ChannelMessage>& out);
  // The next entry of each array, or nullopt (no arrays, or one not yet
  // delivered, or spent): the offer then carries its material.
  std::optional<ArrayPick> take();
  // Administration: new arrays of the kinds in `kinds` (a mask), delivered
  // at the next tick; flush wipes them on both sides and, without `renew`,
  // leaves the kinds without an array until their timer fires again.
  void renew(uint8_t kinds, const Now& now, std::vector<wire::ChannelMessage>& out);
  void flush(uint8_t kinds, bool renew, const Now& now, std::vector<wire::ChannelMessage>& out);

  // Other side: the material an array offer names, wiped from the arrays
  // as it is taken; nullopt when an entry is not held (status no_array).
  std::optional<crypto::SecretBytes> use(const wire::RekeyOffer& offer);

  // A key array message. False when the other role sends it (refused).
  // `secure`: this side has left generation 0 (the other side accepts
  // chunks only then).
  bool receive(const wire::ChannelMessage& m, const Now& now, bool secure, std::vector<wire::ChannelMessage>& out);

  // Everything wiped (a restart of either side).
  void reset();
  int64_t next_deadline() const;
  KeyArrayView view(wire::ArrayKind kind) const;

 private:
  // An array as the key master holds it.
  struct Outgoing {
    uint32_t id = 0;
    uint16_t size = 0;
    crypto::SecretBytes entries;  // size x 32 bytes
    std::vector<bool> acked;      // per chunk
    uint16_t unacked = 0;
    uint16_t next = 0;            // the next unused entry
    int64_t retransmit_at = INT64_MAX;
    unsigned retransmits = 0;
  };
  // An array as the other side holds it.
  struct Incoming {
    uint32_t id = 0;
    uint16_t size = 0;
    crypto::SecretBytes entries;
    std::vector<bool> have;  // per chunk
    uint16_t missing = 0;
    std::vector<bool> used;  // per entry
  };
  struct PendingFlush {
    wire::ArrayKind kind = wire::ArrayKind::kData;
    uint32_t id = 0;
    int64_t retransmit_at = 0;
    unsigned retransmits = 0;
  };
  struct Slot {
    // Key master.
    std::optional<Outgoing> active, delivering;
    // When a new array is delivered; INT64_MIN: at the next secure tick.
    int64_t replace_at = INT64_MIN;
    // Other side.
    std::optional<Incoming> incoming, current, previous;
  };

  int64_t lifetime(wire::ArrayKind kind) const;
  void start_delivery(wire::ArrayKind kind, const Now& now, const RandomFill& random,
                      std::vector<wire::ChannelMessage>& out);
  void send_unacked(wire::ArrayKind kind, Outgoing& o, std::vector<wire::ChannelMessage>& out) const;
  void queue_flush(wire::ArrayKind kind, uint32_t id, const Now& now, std::vector<wire::ChannelMessage>& out);
  void on_ack(const wire::KeyArrayAck& m, const Now& now);
  void on_chunk(const wire::KeyArrayChunk& m, bool secure, std::vector<wire::ChannelMessage>& out);
  void on_flush(const wire::KeyArrayFlush& m, std::vector<wire::ChannelMessage>& out);
  Slot& slot(wire::ArrayKind kind) { return slots_[static_cast<size_t>(kind)]; }
  const Slot& slot(wire::ArrayKind kind) const { return slots_[static_cast<size_t>(kind)]; }

  KeyArrayParams params_;
  bool key_master_ = false;
  Slot slots_[2];
  std::vector<PendingFlush> flushes_;
  uint32_t next_id_ = 0;  // drawn at random on first use
};

}  // namespace cordon::link
