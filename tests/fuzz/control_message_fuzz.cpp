// libFuzzer target for the control message codec (core/wire/control.hpp,
// docs/protocol.md "Control messages"). The input is a decrypted plaintext.
// (Not to be confused with control_fuzz, the daemon's control socket.)
//
// Asserts, besides "no crash, hang or leak":
//   - parse_control never accepts more than kMaxControlSize bytes;
//   - a message it accepts encodes again, within kMaxControlSize, and the
//     encoding parses back to the same message;
//   - the encoding is canonical: it is exactly the input's first bytes, and
//     everything after it in the input is zero padding;
//   - host records that arrived in one message fit in one message again
//     (records_that_fit covers them all, and encoded_size adds up).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <variant>

#include "core/wire/control.hpp"

namespace {

using namespace cordon;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void check_records(const wire::HostRecords& h, size_t encoded) {
  check(wire::records_that_fit(h.records, 0) == h.records.size());
  size_t sum = 3;  // type 1 | count 2
  for (const wire::HostRecord& r : h.records) sum += wire::encoded_size(r);
  check(sum == encoded);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto input = std::as_bytes(std::span(data, size));
  const auto parsed = wire::parse_control(input);
  if (!parsed.message) {
    check(size > 0 || parsed.error == wire::ControlError::kTruncated);
    return 0;
  }
  check(size <= wire::kMaxControlSize);

  const auto encoded = wire::encode_control(*parsed.message);
  check(encoded.has_value());
  check(encoded->size() <= wire::kMaxControlSize && encoded->size() <= size);
  check(std::memcmp(encoded->data(), input.data(), encoded->size()) == 0);
  const auto padding = input.subspan(encoded->size());
  check(std::all_of(padding.begin(), padding.end(), [](std::byte b) { return b == std::byte{0}; }));

  const auto again = wire::parse_control(*encoded);
  check(again.message.has_value() && *again.message == *parsed.message);

  if (const auto* h = std::get_if<wire::HostRecords>(&*parsed.message)) check_records(*h, encoded->size());
  return 0;
}
