// libFuzzer target for update packages (src/core/keys/update_package.hpp):
// the input is a whole package (format 1 or 2), parsed without a key and
// opened with a fixed host key (for a format-2 package that replaces the
// host key, the key its body is sealed under), and through the installed
// user's host key wrap; an opened package is applied to a fixed installed
// key set. The body decoder is fuzzed directly by keyset_fuzz.
//
// Asserts, besides "no crash, hang or leak": what parses has a valid host
// ID and kind; what opens seals back to a package that opens the same; an
// apply either succeeds with the package's version or says why not.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/keys/update_package.hpp"

namespace {

using namespace cordon;
using namespace cordon::keys;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

crypto::SecretBytes fixed_key(uint8_t fill) {
  crypto::SecretBytes k(kKeySize);
  for (auto& b : k.mutable_view()) b = std::byte{fill};
  return k;
}

// The installed key set the packages are applied to: host 0x0001000a,
// version 5, user key 0x11.., host key 0x22.. (the seeds'
// host key; tests/fuzz/corpus/update_fuzz).
const OpenedKeySet& installed() {
  static const OpenedKeySet opened = [] {
    OpenedKeySet o;
    o.header = KeySetHeader{HostId{0x0001000a}, 5, "fuzz", kGeneratedPasswordKdf, {}};
    auto w = wrap_user_key(o.header.host, o.header.user, "fuzz-password-1", kGeneratedPasswordKdf, {},
                           fixed_key(0x11), {});
    check(w.ok());
    o.wrapped_user_key = w.value();
    o.user_key = fixed_key(0x11);
    o.host_key = fixed_key(0x22);
    AddressBookEntry self;
    self.id = o.header.host;
    self.name = "fuzz";
    o.body.book.entries = {self};
    return o;
  }();
  return opened;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto file = std::as_bytes(std::span(data, size));
  auto header = parse_update_header(file);
  if (header.ok()) {
    const auto& h = header.value();
    check(h.host.network() != 0 && h.host.host() != 0);
    check(h.kind == UpdateKind::kKeys || h.kind == UpdateKind::kAddressBook);
  } else {
    check(!header.error().message().empty());
  }

  auto for_user = open_update_for(file, installed());
  check(!for_user.ok() || header.ok());
  auto opened = open_update(file, installed().host_key);
  check(!opened.ok() || header.ok());
  if (!opened.ok()) {
    check(!opened.error().message().empty());
    return 0;
  }
  const OpenedUpdate& u = opened.value();
  check(u.header.new_host_key == !u.new_host_key.empty());

  // Resealed as format 2: a new host key is wrapped for the installed user.
  const UserKeyHolder user{installed().wrapped_user_key, installed().user_key, {}};
  const std::span<const UserKeyHolder> users = u.header.new_host_key ? std::span(&user, 1) : std::span<const UserKeyHolder>();
  auto resealed =
      seal_update(u.header, installed().host_key, u.new_host_key, u.body, crypto::XChaChaNonce{}, users);
  check(resealed.ok());
  auto reopened = open_update_for(resealed.value(), installed());
  if (u.header.new_host_key) reopened = open_update(resealed.value(), u.new_host_key);
  check(reopened.ok() && reopened.value().body.book == u.body.book &&
        reopened.value().body.served == u.body.served);

  auto applied = apply_update(installed(), u, KeySetNonces{});
  if (applied.ok()) {
    auto after = open_keyset_with_user_key(applied.value(), installed().user_key);
    check(after.ok() && after.value().header.version == u.header.version);
  } else {
    const auto code = applied.error().code;
    check(code == KeySetError::kStaleVersion || code == KeySetError::kOtherHost ||
          code == KeySetError::kOtherNetwork);
  }
  return 0;
}
