// libFuzzer target for coordinators' status reports
// (core/courier/status_report.hpp). The input is taken as a report body:
// it is tagged under a fixed key, then parsed.
//
// Asserts, besides "no crash, hang or leak":
//   - the tagged body verifies exactly when its body parses (the tag is
//     right by construction);
//   - a report that verifies seals back to exactly the same bytes.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/courier/host_tag.hpp"
#include "core/courier/status_report.hpp"

namespace {

using namespace cordon;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

crypto::SecretBytes fixed_key() {
  crypto::SecretBytes key(32);
  for (std::byte& b : key.mutable_view()) b = std::byte{0x5a};
  return key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto input = std::as_bytes(std::span(data, size));
  static const crypto::SecretBytes key = fixed_key();
  // The coordinator the body names (its first 4 bytes) keys the tag.
  uint32_t claimed = 0;
  for (size_t i = 0; i < 4 && i < size; ++i) claimed = claimed << 8 | data[i];
  const auto tagged = courier::append_host_tag(std::vector<std::byte>(input.begin(), input.end()), key,
                                               "cordon courier status", HostId{claimed});
  check(tagged.has_value());
  const auto report = courier::verify_status_report(*tagged, key);
  check(report.has_value() == courier::status_report_host(*tagged).has_value());
  if (report) {
    const auto again = courier::seal_status_report(*report, key);
    check(again && *again == *tagged);
  }
  (void)courier::verify_status_report(input, key);
  return 0;
}
