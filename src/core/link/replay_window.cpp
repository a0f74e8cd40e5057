#include "core/link/replay_window.hpp"

namespace cordon::link {
namespace {

constexpr uint64_t kWords = ReplayWindow::kBits / 64;

uint64_t word_index(uint64_t counter) { return (counter / 64) % kWords; }
uint64_t bit_mask(uint64_t counter) { return uint64_t{1} << (counter % 64); }

}  // namespace

bool ReplayWindow::Segment::test(uint64_t counter) const {
  return (words[word_index(counter)] & bit_mask(counter)) != 0;
}

void ReplayWindow::Segment::set(uint64_t counter) { words[word_index(counter)] |= bit_mask(counter); }

// Moves the top to `counter` (> top, by less than kWidth), clearing the words
// that the window leaves behind (RFC 6479, section 2).
void ReplayWindow::Segment::advance(uint64_t counter) {
  const uint64_t old_word = top / 64;
  const uint64_t new_word = counter / 64;
  const uint64_t steps = new_word - old_word < kWords ? new_word - old_word : kWords;
  for (uint64_t i = 1; i <= steps; ++i) words[(old_word + i) % kWords] = 0;
  top = counter;
}

void ReplayWindow::Segment::restart(uint64_t counter) {
  words.fill(0);
  valid = true;
  top = counter;
}

void ReplayWindow::start_at(uint64_t floor) {
  if (current_.valid && current_.top >= floor) return;
  previous_ = Segment{};
  current_.restart(floor);
  current_.words.fill(~uint64_t{0});
  // The bits above the floor in its own word are counters not seen yet:
  // advance() clears only the words it moves into, so leaving them set
  // would refuse a datagram just above the floor that arrives after a later one.
  const uint64_t up_to_floor = ~uint64_t{0} >> (63 - floor % 64);
  current_.words[word_index(floor)] = up_to_floor;
}

ReplayWindow::Verdict ReplayWindow::check(uint64_t counter) const {
  if (!current_.valid || counter > current_.top) return Verdict::kFresh;
  if (current_.covers(counter)) return current_.test(counter) ? Verdict::kReplay : Verdict::kFresh;
  if (previous_.covers(counter)) return previous_.test(counter) ? Verdict::kReplay : Verdict::kFresh;
  return Verdict::kTooOld;
}

ReplayWindow::Verdict ReplayWindow::accept(uint64_t counter) {
  const Verdict v = check(counter);
  if (v != Verdict::kFresh) return v;
  if (!current_.valid) {
    current_.restart(counter);
  } else if (counter > current_.top) {
    if (counter - current_.top < kWidth) {
      current_.advance(counter);
    } else {
      previous_ = current_;
      current_.restart(counter);
    }
  }
  // A counter inside the previous segment is recorded there; everything else
  // now lies inside the current one.
  if (current_.covers(counter)) {
    current_.set(counter);
  } else {
    previous_.set(counter);
  }
  return Verdict::kFresh;
}

}  // namespace cordon::link
