// libFuzzer target for the link key file decoder: the input is a key file's
// content, fed to daemon::decode_key_file (what load_key_file runs on the
// bytes it read after the mode checks: trim, base64, length).
//
// Asserts, besides "no crash, hang or leak": a result is a key or an error
// naming the file, never both; a key is kLinkKeySize bytes and came from one
// line of 44 characters; and it survives encode_key_file -> decode_key_file.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "core/node_config.hpp"
#include "daemon/keyfile.hpp"

namespace {

using namespace cordon;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

const std::string kPath = "/etc/cordon/fuzz.key";  // only named in errors; never opened

bool is_space(std::byte b) {
  const auto c = static_cast<char>(b);
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto text = std::as_bytes(std::span(data, size));
  const daemon::KeyFileResult result = daemon::decode_key_file(text, kPath);
  if (!result) {
    check(result.error().find(kPath) != std::string::npos);
    return 0;
  }
  check(result->size() == kLinkKeySize);

  size_t first = 0, last = text.size();
  while (first < last && is_space(text[first])) ++first;
  while (last > first && is_space(text[last - 1])) --last;
  check(last - first == 44);

  const crypto::SecretBytes encoded = daemon::encode_key_file(*result);
  const daemon::KeyFileResult again = daemon::decode_key_file(encoded.view(), kPath);
  check(again && std::memcmp(again->view().data(), result->view().data(), kLinkKeySize) == 0);
  return 0;
}
