// libFuzzer target for the courier's spool files (daemon/courier_spool.hpp,
// docs/couriers.md "The spool"): what a restarted daemon reads back from
// disk. Asserts, besides "no crash, hang or leak", that a file
// parse_spool_file accepts is exactly what spool_file_bytes writes for the
// item it returns.
#include <cstddef>
#include <cstdint>
#include <span>

#include "daemon/courier_spool.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto input = std::as_bytes(std::span(data, size));
  auto item = cordon::daemon::parse_spool_file(input);
  if (item) {
    const auto again = cordon::daemon::spool_file_bytes(item.value());
    if (again.size() != input.size() || !std::equal(again.begin(), again.end(), input.begin())) __builtin_trap();
  }
  return 0;
}
