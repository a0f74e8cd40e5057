// Sliding replay window over 64-bit packet counters (docs/design.md, decision 6).
//
// A bitmap of kBits bits kept as a ring of 64-bit words, the layout of
// RFC 6479 ("IPsec Anti-Replay Algorithm without Bit Shifting"): advancing
// the window clears whole words instead of shifting. Whole-word clearing
// makes the guaranteed width kBits - 64, so 66 words judge 4,160 counters:
// at least 4,096 behind the top, what the design asks for. The window was 8,192 bits (8,128 packets, as in
// WireGuard); its two segments were then 2 KiB of every peer, a quarter of
// a coordinator's memory per client (docs/design.md, "Coordinator memory").
// 4,160 packets are 2 ms at 2 M packets/s, far more reordering than a
// worker batch (64) or a path with several queues produces.
//
// Counters jump forward when the sender re-anchors its counter to its clock
// or restarts (docs/protocol.md, "Packet counter"). A jump wider than the
// window keeps the old bitmap as the previous segment, so packets sent just
// before the jump and delivered just after it are still accepted once.
//
// Not thread-safe: the owner serialises access (Peer holds a spin lock).
#pragma once

#include <array>
#include <cstdint>

namespace cordon::link {

class ReplayWindow {
 public:
  static constexpr uint64_t kBits = 4096 + 128;  // 66 words; the ring index is counter / 64 % 66
  static constexpr uint64_t kWidth = kBits - 64;  // counters this far behind the top are still judged

  enum class Verdict : uint8_t { kFresh, kReplay, kTooOld };

  // Judges a counter without recording it (before decryption).
  Verdict check(uint64_t counter) const;
  // Judges and records a counter (after authentication).
  Verdict accept(uint64_t counter);

  // After a restart: treats every counter at or below `floor` as already
  // seen, so datagrams captured before the restart are refused (replay or
  // too_old) instead of authenticating again (docs/protocol.md, "Replay
  // protection"). Does nothing when the window already reaches `floor`.
  void start_at(uint64_t floor);

  bool empty() const { return !current_.valid; }
  uint64_t top() const { return current_.top; }

 private:
  struct Segment {
    bool valid = false;
    uint64_t top = 0;
    std::array<uint64_t, kBits / 64> words{};

    bool covers(uint64_t counter) const { return valid && counter <= top && top - counter < kWidth; }
    bool test(uint64_t counter) const;
    void set(uint64_t counter);
    void advance(uint64_t counter);
    void restart(uint64_t counter);
  };

  Segment current_;
  Segment previous_;
};

}  // namespace cordon::link
