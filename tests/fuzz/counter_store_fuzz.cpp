// libFuzzer target for the counter file parser (version 2, and version 1
// still read): the input is the file's content, fed to
// daemon::parse_counter_file (what CounterStore::load runs on the bytes it
// read); the same bytes also go to the fresh-keys parser, which shares its
// field parsers.
//
// Asserts, besides "no crash, hang or leak": a file read from text formats
// back to text that parses to the same records (version 1 comes back as
// version 2 with the same floor, no keys and no machine), and the first
// eight input bytes taken as a floor survive a round trip (the floor must
// never change on a round trip, or a restart could reuse a nonce).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "daemon/counter_store.hpp"
#include "daemon/fresh_keys.hpp"

namespace {

using cordon::daemon::CounterFile;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void round_trip(const CounterFile& file) {
  const auto again = cordon::daemon::parse_counter_file(cordon::daemon::format_counter_file(file));
  check(again.file.has_value() && again.error.empty());
  CounterFile expected = file;
  expected.version = cordon::daemon::kCounterFileVersion;
  check(*again.file == expected);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto parsed = cordon::daemon::parse_counter_file(text);
  check(parsed.file.has_value() != !parsed.error.empty());
  if (parsed.file) {
    check(text.starts_with("cordon-counter-floor v") && text.ends_with('\n'));
    if (parsed.file->version == 1) check(parsed.file->keys.empty() && !parsed.file->machine);
    round_trip(*parsed.file);
  }
  if (const auto fresh = cordon::daemon::parse_fresh_keys(text)) {
    check(cordon::daemon::parse_fresh_keys(cordon::daemon::format_fresh_keys(*fresh)) == fresh);
  }
  CounterFile floor_only;
  std::memcpy(&floor_only.floor, data, std::min(size, sizeof(floor_only.floor)));
  round_trip(floor_only);
  return 0;
}
