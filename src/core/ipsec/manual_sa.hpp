// A manually keyed SA (RFC 4301 section 4.5) from its fields as text: the
// same rules for an [[ipsec.sa]] table of the host config and for
// `cordon ipsec sa add`, so both refuse the same things with the same words
// (docs/ipsec.md, "Manual keying").
//
//   spi        "0x1000": 0x and 1 to 8 hex digits, at least 0x100
//              (RFC 4303 section 2.1 reserves 1-255)
//   direction  "in" | "out"
//   protocol   "esp" (default) | "ah"
//   mode       "tunnel" (default) | "transport"
//   encryption one algorithm of each kind, as in proposals: "aes256gcm16",
//              "aes128-sha256", "sha256" for AH
//   key        hex: the encryption key (with the 4-byte salt of AES-GCM
//              and ChaCha20-Poly1305), then the integrity key
//   local, remote   the tunnel's ends (IP addresses)
//   local_ts, remote_ts  selectors (default: the ends themselves)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/ipsec/connection.hpp"
#include "core/result.hpp"

namespace cordon::ipsec {

struct ManualSaFields {
  std::string name;
  std::string spi;
  std::string direction;
  std::string protocol = "esp";
  std::string mode = "tunnel";
  std::string encryption;
  std::string key_hex;  // wiped by the caller
  std::string local;
  std::string remote;
  std::vector<std::string> local_ts;
  std::vector<std::string> remote_ts;
};

// Which field is wrong ("spi", "key", ...) and "what is wrong; what to do".
struct FieldError {
  std::string field;
  std::string message;
};

Result<ManualSaConfig, FieldError> build_manual_sa(const ManualSaFields& fields);

// "0x1000": 0x and 1 to 8 hex digits; nullopt otherwise (no range check).
std::optional<uint32_t> parse_spi(std::string_view text);

// Decodes hex digits (an even number of them); nullopt otherwise.
std::optional<std::vector<std::byte>> decode_hex(std::string_view text);

}  // namespace cordon::ipsec
