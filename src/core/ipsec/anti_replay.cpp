#include "core/ipsec/anti_replay.hpp"

namespace cordon::ipsec {
namespace {

size_t word_of(uint64_t sequence) { return static_cast<size_t>(sequence / 64 % AntiReplay::kWords); }
uint64_t bit_of(uint64_t sequence) { return uint64_t{1} << (sequence % 64); }

}  // namespace

// RFC 4303 appendix A2.1, with W the window, T the highest number seen, Tl
// and Th its halves:
//   case A, the window lies within one 2^32 subspace (Tl >= W - 1): a low
//     half at or above the window's bottom is in Th, one below it is in the
//     next subspace (the low half wrapped);
//   case B, the window spans two subspaces: a low half at or above the
//     bottom (which wrapped, so it is large) is in the previous subspace,
//     one below it is in Th.
// Without a previous subspace (Th = 0) case B's "previous" is taken as Th;
// the number is then far ahead and the ICV decides.
uint64_t AntiReplay::infer(uint32_t low) const {
  const uint32_t tl = static_cast<uint32_t>(top_);
  const uint64_t th = top_ >> 32;
  const uint32_t bottom = tl - static_cast<uint32_t>(kWindow - 1);  // wraps in case B
  uint64_t high;
  if (tl >= kWindow - 1) {
    high = low >= bottom ? th : th + 1;
  } else {
    high = (low >= bottom && th > 0) ? th - 1 : th;
  }
  return high << 32 | low;
}

bool AntiReplay::seen(uint64_t sequence) const { return (words_[word_of(sequence)] & bit_of(sequence)) != 0; }

AntiReplay::Judgement AntiReplay::check(uint32_t wire_sequence) const {
  const uint64_t sequence = esn_ ? infer(wire_sequence) : wire_sequence;
  if (sequence > top_) return {Verdict::kFresh, sequence};
  if (top_ - sequence >= kWindow) return {Verdict::kTooOld, sequence};
  return {seen(sequence) ? Verdict::kReplay : Verdict::kFresh, sequence};
}

void AntiReplay::record(uint64_t sequence) {
  if (sequence > top_) {
    // Clear the words the window moves into; a jump of a whole ring or more
    // clears them all.
    const uint64_t from = top_ / 64 + 1;
    const uint64_t to = sequence / 64;
    for (uint64_t w = from; w <= to && w - from < kWords; ++w) words_[w % kWords] = 0;
    top_ = sequence;
  } else if (top_ - sequence >= kWindow) {
    return;
  }
  words_[word_of(sequence)] |= bit_of(sequence);
}

}  // namespace cordon::ipsec
