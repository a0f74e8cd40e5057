// libFuzzer target for key-set files (src/core/keys/keyset.hpp): the input
// is a whole file, parsed without a password, opened with a fixed password
// and with a fixed user key; and, because the authenticated body cannot be
// reached by mutating ciphertext, also decoded directly as a body
// plaintext.
//
// Asserts, besides "no crash, hang or leak": a parsed header has a valid
// host ID and user name; whatever opens re-seals to a file that opens to
// the same header and body; every failure has a name and a message; a
// decoded rekey period is in range.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "core/keys/keyset.hpp"

namespace {

using namespace cordon;
using namespace cordon::keys;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// The seeds (tests/fuzz/corpus/keyset_fuzz) were sealed with these.
constexpr std::string_view kPassword = "fuzz-password-1";
crypto::SecretBytes fixed_key(uint8_t fill) {
  crypto::SecretBytes k(kKeySize);
  for (auto& b : k.mutable_view()) b = std::byte{fill};
  return k;
}

void check_failure(const KeySetFailure& f) {
  check(!error_name(f.code).empty() && error_name(f.code) != "unknown");
  check(!f.message().empty());
}

void check_reseal(const OpenedKeySet& o) {
  auto again = seal_keyset(o.wrapped_user_key, o.header.version + 1, o.user_key, o.host_key, o.body, KeySetNonces{});
  check(again.ok());
  auto reopened = open_keyset_with_user_key(again.value(), o.user_key);
  check(reopened.ok());
  check(reopened.value().header.version == o.header.version + 1);
  check(reopened.value().body.book == o.body.book);
  check(reopened.value().body.served == o.body.served);
  check(reopened.value().body.rekey_period == o.body.rekey_period);
  check(reopened.value().body.links.size() == o.body.links.size());
}

// Argon2id parameters come from the input; keep each run cheap.
bool cheap(const KdfParams& kdf) { return kdf.opslimit <= 2 && kdf.memlimit <= 64 * 1024; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto file = std::as_bytes(std::span(data, size));

  auto header = parse_keyset_header(file);
  if (!header.ok()) {
    check_failure(header.error());
  } else {
    const auto& h = header.value();
    check(h.host.network() != 0 && h.host.host() != 0);
    check(!h.user.empty() && h.user.size() <= kMaxUserNameSize);
    check(kdf_supported(h.kdf));
    if (cheap(h.kdf)) {
      auto opened = open_keyset(file, kPassword);
      if (opened.ok()) {
        check_reseal(opened.value());
      } else {
        check_failure(opened.error());
      }
    }
  }

  auto by_user_key = open_keyset_with_user_key(file, fixed_key(0x11));
  check(by_user_key.ok() == false || header.ok());
  if (by_user_key.ok()) {
    check_reseal(by_user_key.value());
  } else {
    check_failure(by_user_key.error());
  }

  auto body = decode_body(file);
  if (body.ok()) {
    check(!body.value().rekey_period || rekey_period_allowed(*body.value().rekey_period));
    auto encoded = encode_body(body.value());
    check(encoded.ok());
    const auto v = encoded.value().view();
    check(v.size() == file.size() && std::equal(v.begin(), v.end(), file.begin()));
  } else {
    check_failure(body.error());
  }
  return 0;
}
