// ESP and AH anti-replay (RFC 4303 section 3.4.3, RFC 4302 section 3.4.3)
// with extended sequence numbers (RFC 4303 appendix A2).
//
// Why not link::ReplayWindow (src/core/link/replay_window.hpp): that window
// judges Cordon's own 64-bit counters, which travel whole and may jump when
// a sender re-anchors its counter, so it keeps the bitmap from before a jump
// as a second segment. An IPsec sequence number never jumps (RFC 4303
// section 3.3.3: it counts up by one per packet from 1), only its low 32
// bits travel when ESN is on, and the receiver infers the high half from
// where its window is. One segment, plus that inference, is what this class
// is. It keeps the same ring-of-words layout (RFC 6479: advancing clears
// whole words instead of shifting).
//
// Use: check() before the ICV is verified (cheap refusal of replays and
// the 64-bit number the ICV needs), record() after it verified, so a forged
// packet never moves the window (RFC 4303 section 3.4.3).
//
// Not thread-safe: the SA's owner serialises access.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace cordon::ipsec {

class AntiReplay {
 public:
  // Packets judged behind the highest one seen. RFC 4303 section 3.4.3 asks
  // for at least 32 (64 by default); 2,048 absorbs the reordering of a
  // multi-queue path at several hundred thousand packets per second.
  static constexpr uint64_t kWindow = 2048;
  // One word more than the window: clearing a whole word on advance must
  // never clear a bit still inside the window (RFC 6479 section 2).
  static constexpr uint64_t kWords = kWindow / 64 + 1;
  static_assert(kWindow >= 1024 && kWindow % 64 == 0, "a window of whole words, at least 1,024 packets");

  enum class Verdict : uint8_t { kFresh, kReplay, kTooOld };
  struct Judgement {
    Verdict verdict;
    uint64_t sequence;  // the full number, high half inferred when ESN is on
  };

  explicit AntiReplay(bool esn) : esn_(esn) { words_[0] = 1; }  // 0 is never sent: counted as seen

  // Judges the sequence number found on the wire without recording it.
  Judgement check(uint32_t wire_sequence) const;
  // Records a number that check() judged fresh and whose ICV verified.
  void record(uint64_t sequence);

  bool esn() const { return esn_; }
  uint64_t top() const { return top_; }

 private:
  uint64_t infer(uint32_t low) const;
  bool seen(uint64_t sequence) const;

  bool esn_;
  uint64_t top_ = 0;
  std::array<uint64_t, kWords> words_{};
};

}  // namespace cordon::ipsec
