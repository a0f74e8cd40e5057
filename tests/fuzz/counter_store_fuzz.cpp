// libFuzzer target for the counter floor file parser: the input is the
// file's content, fed to daemon::parse_counter_floor (what
// CounterStore::load runs on the bytes it read).
//
// Asserts, besides "no crash, hang or leak": a floor is only read from text
// that has the file's magic and ends in a newline, and format -> parse gives
// back the same floor, both for the floor read and for the first eight input
// bytes taken as a number (the floor must never change on a round trip, or a
// restart could reuse a nonce).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "daemon/counter_store.hpp"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void round_trip(uint64_t floor) {
  const auto again = cordon::daemon::parse_counter_floor(cordon::daemon::format_counter_floor(floor));
  check(again && *again == floor);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (const auto floor = cordon::daemon::parse_counter_floor(text)) {
    check(text.starts_with("cordon-counter-floor v1 ") && text.ends_with('\n'));
    round_trip(*floor);
  }
  uint64_t value = 0;
  std::memcpy(&value, data, std::min(size, sizeof(value)));
  round_trip(value);
  return 0;
}
