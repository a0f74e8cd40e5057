// Key-set files (src/core/keys/keyset.hpp) and the XChaCha20-Poly1305
// wrapper under them (src/core/crypto/xchacha.hpp).
//
// The XChaCha20-Poly1305 vector is draft-irtf-cfrg-xchacha-03, appendix
// A.3.1.
#include "core/keys/keyset.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "core/crypto/xchacha.hpp"
#include "core/keys/update_package.hpp"
#include "tests/common/keyset_builder.hpp"

namespace cordon::keys {
namespace {

using Bytes = std::vector<std::byte>;

constexpr std::string_view kPassword = "correct-horse-battery";  // 21 bytes
const HostId kHost{0x0001000a};
const HostId kPeerB{0x0001000b};
const HostId kPeerC{0x0001000c};

Bytes hex(std::string_view text) {
  Bytes out;
  for (size_t i = 0; i + 1 < text.size(); i += 2) {
    out.push_back(static_cast<std::byte>(std::stoi(std::string(text.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

crypto::SecretBytes key_of(uint8_t fill) {
  crypto::SecretBytes k(kKeySize);
  for (auto& b : k.mutable_view()) b = std::byte{fill};
  return k;
}

template <size_t N>
std::array<std::byte, N> filled(uint8_t v) {
  std::array<std::byte, N> a{};
  for (size_t i = 0; i < N; ++i) a[i] = static_cast<std::byte>(v + i);
  return a;
}

AddressBookEntry entry(HostId id, std::string name, Role role, uint8_t last_octet) {
  AddressBookEntry e;
  e.id = id;
  e.name = std::move(name);
  e.role = role;
  e.tunnel_v4 = Prefix::parse("10.77.0." + std::to_string(last_octet) + "/16");
  e.tunnel_v6 = Prefix::parse("fd77::" + std::to_string(last_octet) + "/64");
  return e;
}

KeySetBody sample_body() {
  KeySetBody body;
  auto self = entry(kHost, "alpha", Role::kClient, 10);
  self.registry = self.rendezvous = self.courier = kPeerB;
  auto b = entry(kPeerB, "coord-b", Role::kCoordinator, 11);
  b.endpoints = {*Endpoint::parse("192.0.2.11:51820"), *Endpoint::parse("[2001:db8::b]:51820")};
  auto c = entry(kPeerC, "gw-c", Role::kClient, 12);
  c.subnets = {*Prefix::parse("192.168.50.0/24"), *Prefix::parse("2001:db8:50::/48")};
  body.book.entries = {self, b, c};
  body.links.push_back({kPeerB, key_of(0xb0)});
  body.links.push_back({kPeerC, key_of(0xc0)});
  return body;
}

WrappedUserKey sample_wrap(std::string_view password = kPassword, std::string user = "alice",
                           const crypto::SecretBytes& user_key = key_of(0x11)) {
  auto w = wrap_user_key(kHost, user, password, kGeneratedPasswordKdf, filled<kSaltSize>(0x50), user_key,
                         filled<24>(0x60));
  EXPECT_TRUE(w.ok()) << (w.ok() ? "" : w.error().message());
  return w.value();
}

KeySetNonces nonces(uint8_t v = 0x70) { return KeySetNonces{filled<24>(v), filled<24>(v + 0x20)}; }

Bytes sample_file(uint64_t version = 7) {
  auto file = seal_keyset(sample_wrap(), version, key_of(0x11), key_of(0x22), sample_body(), nonces());
  EXPECT_TRUE(file.ok()) << (file.ok() ? "" : file.error().message());
  return file.value();
}

void expect_same_body(const KeySetBody& a, const KeySetBody& b) {
  EXPECT_EQ(a.book, b.book);
  EXPECT_EQ(a.served, b.served);
  EXPECT_EQ(a.rules, b.rules);
  EXPECT_EQ(a.reach, b.reach);
  EXPECT_EQ(a.rekey_period, b.rekey_period);
  ASSERT_EQ(a.links.size(), b.links.size());
  for (size_t i = 0; i < a.links.size(); ++i) {
    EXPECT_EQ(a.links[i].peer, b.links[i].peer);
    EXPECT_TRUE(a.links[i].key == b.links[i].key);
  }
}

KeySetError code_of(const Result<OpenedKeySet>& r) {
  EXPECT_FALSE(r.ok());
  return r.ok() ? KeySetError::kStaleVersion : r.error().code;
}

// Byte offsets of the sample file's regions (keyset.hpp diagram; user "alice").
constexpr size_t kUserLen = 5;
constexpr size_t kOffNetwork = 10, kOffHost = 12, kOffVersion = 16, kOffUserLen = 24, kOffUser = 25;
constexpr size_t kOffAlg = kOffUser + kUserLen, kOffOps = kOffAlg + 1, kOffMem = kOffOps + 4;
constexpr size_t kOffSalt = kOffMem + 4, kHeaderEnd = kOffSalt + kSaltSize;
constexpr size_t kOffUserWrap = kHeaderEnd, kOffHostWrap = kOffUserWrap + kWrappedKeySize;
constexpr size_t kOffBodyNonce = kOffHostWrap + kWrappedKeySize, kOffBodyLen = kOffBodyNonce + 24;
constexpr size_t kOffBody = kOffBodyLen + 4;

// ---- XChaCha20-Poly1305 --------------------------------------------------

TEST(XChaCha, DraftVector) {
  const Bytes key = hex("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
  crypto::XChaChaNonce nonce;
  const Bytes n = hex("404142434445464748494a4b4c4d4e4f5051525354555657");
  std::copy(n.begin(), n.end(), nonce.begin());
  const Bytes aad = hex("50515253c0c1c2c3c4c5c6c7");
  const std::string_view text =
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen "
      "would be it.";
  const auto plaintext = std::as_bytes(std::span(text.data(), text.size()));
  const Bytes expected = hex(
      "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c"
      "54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da97688"
      "12f615c68b13b52e"
      "c0875924c1c7987947deafd8780acf49");
  Bytes out(plaintext.size() + crypto::kXChaChaTagSize);
  ASSERT_TRUE(crypto::xchacha_seal(key, nonce, aad, plaintext, out));
  EXPECT_EQ(out, expected);

  Bytes back(plaintext.size());
  ASSERT_TRUE(crypto::xchacha_open(key, nonce, aad, out, back));
  EXPECT_TRUE(std::equal(back.begin(), back.end(), plaintext.begin()));

  Bytes bad_aad = aad;
  bad_aad[0] ^= std::byte{1};
  EXPECT_FALSE(crypto::xchacha_open(key, nonce, bad_aad, out, back));
  EXPECT_TRUE(std::all_of(back.begin(), back.end(), [](std::byte b) { return b == std::byte{0}; }));
}

TEST(XChaCha, RefusesWrongSizes) {
  const Bytes key(32), short_key(16), text(10);
  crypto::XChaChaNonce nonce{};
  Bytes out(text.size() + 16), small(text.size() + 15);
  EXPECT_FALSE(crypto::xchacha_seal(short_key, nonce, {}, text, out));
  EXPECT_FALSE(crypto::xchacha_seal(key, nonce, {}, text, small));
  ASSERT_TRUE(crypto::xchacha_seal(key, nonce, {}, text, out));
  Bytes back(text.size());
  EXPECT_FALSE(crypto::xchacha_open(key, nonce, {}, std::span(out).first(15), back));
  Bytes wrong(text.size() + 1);
  EXPECT_FALSE(crypto::xchacha_open(key, nonce, {}, out, wrong));
  EXPECT_TRUE(crypto::xchacha_open(key, nonce, {}, out, back));
}

// ---- round trips ---------------------------------------------------------

TEST(KeySet, SealOpenRoundTrip) {
  const Bytes file = sample_file();
  auto opened = open_keyset(file, kPassword);
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  const auto& o = opened.value();
  EXPECT_EQ(o.header.host, kHost);
  EXPECT_EQ(o.header.network(), 1);
  EXPECT_EQ(o.header.version, 7u);
  EXPECT_EQ(o.header.user, "alice");
  EXPECT_EQ(o.header.kdf, kGeneratedPasswordKdf);
  EXPECT_TRUE(o.user_key == key_of(0x11));
  EXPECT_TRUE(o.host_key == key_of(0x22));
  expect_same_body(o.body, sample_body());
  EXPECT_EQ(o.body.book.self()->name, "alpha");
  EXPECT_TRUE(o.body.link_to(kPeerC)->key == key_of(0xc0));
  EXPECT_EQ(o.body.link_to(kHost), nullptr);
}

TEST(KeySet, LayoutMatchesDiagram) {
  const Bytes file = sample_file();
  EXPECT_EQ(std::memcmp(file.data(), "CRDNKSET", 8), 0);
  EXPECT_EQ(file[8], std::byte{0});
  EXPECT_EQ(file[9], std::byte{1});  // format 1
  EXPECT_EQ(file[kOffNetwork + 1], std::byte{1});
  EXPECT_EQ(file[kOffHost + 3], std::byte{0x0a});
  EXPECT_EQ(file[kOffVersion + 7], std::byte{7});
  EXPECT_EQ(file[kOffUserLen], std::byte{kUserLen});
  EXPECT_EQ(file[kOffAlg], std::byte{1});
  EXPECT_EQ(file[kOffMem + 2], std::byte{0x20});  // 8192 = 0x2000
  EXPECT_EQ(file[kOffUserWrap], std::byte{0x60});  // the wrap's nonce
  EXPECT_EQ(file[kOffHostWrap], std::byte{0x70});
  EXPECT_EQ(file[kOffBodyNonce], std::byte{0x90});
  const size_t body_len = (size_t{uint8_t(file[kOffBodyLen])} << 24) | (size_t{uint8_t(file[kOffBodyLen + 1])} << 16) |
                          (size_t{uint8_t(file[kOffBodyLen + 2])} << 8) | size_t{uint8_t(file[kOffBodyLen + 3])};
  EXPECT_EQ(file.size(), kOffBody + body_len + 16);
  EXPECT_EQ(body_len, encode_body(sample_body()).value().size());
}

TEST(KeySet, ParseHeaderNeedsNoPassword) {
  auto header = parse_keyset_header(sample_file(42));
  ASSERT_TRUE(header.ok()) << header.error().message();
  EXPECT_EQ(header.value().host, kHost);
  EXPECT_EQ(header.value().version, 42u);
  EXPECT_EQ(header.value().user, "alice");
  EXPECT_EQ(header.value().salt, (filled<kSaltSize>(0x50)));
}

TEST(KeySet, OpenWithUserKey) {
  auto opened = open_keyset_with_user_key(sample_file(), key_of(0x11));
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  EXPECT_TRUE(opened.value().host_key == key_of(0x22));
  expect_same_body(opened.value().body, sample_body());
  EXPECT_EQ(code_of(open_keyset_with_user_key(sample_file(), key_of(0x12))), KeySetError::kWrongUserKey);
  EXPECT_EQ(code_of(open_keyset_with_user_key(sample_file(), crypto::SecretBytes(16))), KeySetError::kWrongUserKey);
}

TEST(KeySet, ChosenPasswordKdfWorks) {
  auto w = wrap_user_key(kHost, "bob", "my own password", kChosenPasswordKdf, filled<kSaltSize>(1), key_of(0x11),
                         filled<24>(2));
  ASSERT_TRUE(w.ok()) << w.error().message();
  auto file = seal_keyset(w.value(), 1, key_of(0x11), key_of(0x22), sample_body(), nonces());
  ASSERT_TRUE(file.ok());
  auto opened = open_keyset(file.value(), "my own password");
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  EXPECT_EQ(opened.value().header.kdf, kChosenPasswordKdf);
}

// ---- wrong secrets -------------------------------------------------------

TEST(KeySet, WrongPassword) {
  auto r = open_keyset(sample_file(), "correct-horse-batterz");
  EXPECT_EQ(code_of(r), KeySetError::kWrongPassword);
  EXPECT_EQ(r.error().message(),
            "the password does not open this key set; check it, or ask the administrator to reset it");
  EXPECT_EQ(error_name(r.error().code), "wrong_password");
}

TEST(KeySet, BadPasswordLength) {
  auto r = open_keyset(sample_file(), "short");
  EXPECT_EQ(code_of(r), KeySetError::kBadPasswordLength);
  EXPECT_NE(r.error().message().find("9 to 32"), std::string::npos) << r.error().message();
  EXPECT_EQ(code_of(open_keyset(sample_file(), std::string(33, 'x'))), KeySetError::kBadPasswordLength);
  auto w = wrap_user_key(kHost, "alice", "12345678", kGeneratedPasswordKdf, {}, key_of(1), {});
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().code, KeySetError::kBadPasswordLength);
}

// ---- damaged files -------------------------------------------------------

TEST(KeySet, TruncationAtEveryOffset) {
  const Bytes file = sample_file();
  for (size_t n = 0; n < file.size(); ++n) {
    const auto part = std::span(file).first(n);
    auto header = parse_keyset_header(part);
    ASSERT_FALSE(header.ok()) << n;
    EXPECT_EQ(header.error().code, KeySetError::kTruncated) << n << ": " << header.error().message();
    const std::string prefix = "the key set ends early (" + std::to_string(n) + " of ";
    EXPECT_EQ(header.error().message().rfind(prefix, 0), 0u) << header.error().message();
    EXPECT_NE(header.error().message().find("bytes); copy it again"), std::string::npos);
    EXPECT_EQ(code_of(open_keyset(part, kPassword)), KeySetError::kTruncated) << n;
    EXPECT_EQ(code_of(open_keyset_with_user_key(part, key_of(0x11))), KeySetError::kTruncated) << n;
  }
  // Once the body length is read, M is the whole file's size.
  auto r = parse_keyset_header(std::span(file).first(kOffBody + 1));
  EXPECT_NE(r.error().message().find("(" + std::to_string(kOffBody + 1) + " of " + std::to_string(file.size()) +
                                     " bytes)"),
            std::string::npos)
      << r.error().message();
}

TEST(KeySet, TrailingBytes) {
  Bytes file = sample_file();
  file.push_back(std::byte{0});
  auto r = parse_keyset_header(file);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, KeySetError::kTrailingBytes);
  EXPECT_EQ(code_of(open_keyset(file, kPassword)), KeySetError::kTrailingBytes);
}

// Every single-bit flip is refused, with the error its region implies.
TEST(KeySet, EveryBitFlip) {
  const Bytes file = sample_file();
  for (size_t i = 0; i < file.size(); ++i) {
    // A memlimit bit flip can ask Argon2id for up to 512 MiB; those are
    // covered by MemlimitChangeIsWrongPassword and by parse_keyset_header.
    if (i >= kOffMem && i < kOffMem + 4) continue;
    for (int bit = 0; bit < 8; ++bit) {
      Bytes bad = file;
      bad[i] ^= static_cast<std::byte>(1 << bit);
      const auto r = open_keyset(bad, kPassword);
      ASSERT_FALSE(r.ok()) << "byte " << i << " bit " << bit;
      const auto code = r.error().code;
      std::set<KeySetError> allowed;
      if (i < 8) {
        allowed = {KeySetError::kBadMagic};
      } else if (i < kOffNetwork) {
        allowed = {KeySetError::kUnsupportedFormat};
      } else if (i < kOffHost) {
        allowed = {KeySetError::kBadField};  // network no longer matches the host ID
      } else if (i < kOffHost + 2) {
        allowed = {KeySetError::kBadField};  // host ID's network part
      } else if (i < kOffVersion) {
        allowed = {KeySetError::kWrongPassword, KeySetError::kBadField};  // host number (0 is a bad field)
      } else if (i < kOffUserLen) {
        allowed = {KeySetError::kTampered};  // version: user key opens, host key wrap does not
      } else if (i == kOffUserLen) {
        allowed = {KeySetError::kBadField, KeySetError::kUnsupportedKdf, KeySetError::kTruncated,
                   KeySetError::kWrongPassword};
      } else if (i < kOffAlg) {
        allowed = {KeySetError::kWrongPassword};  // user name
      } else if (i < kOffMem) {
        allowed = {KeySetError::kUnsupportedKdf, KeySetError::kWrongPassword};  // alg, opslimit
      } else if (i < kOffHostWrap) {
        allowed = {KeySetError::kWrongPassword};  // salt, user key wrap
      } else if (i < kOffBodyLen || i >= kOffBody) {
        allowed = {KeySetError::kTampered};  // host key wrap, body nonce, body
      } else {
        allowed = {KeySetError::kTruncated, KeySetError::kTrailingBytes};  // body length
      }
      EXPECT_TRUE(allowed.count(code)) << "byte " << i << " bit " << bit << ": " << error_name(code);
    }
  }
}

TEST(KeySet, MemlimitChangeIsWrongPassword) {
  Bytes file = sample_file();
  file[kOffMem + 2] ^= std::byte{0x04};  // 8192 -> 9216 bytes: still supported
  EXPECT_EQ(code_of(open_keyset(file, kPassword)), KeySetError::kWrongPassword);
  file[kOffMem] ^= std::byte{0x80};  // > 1 GiB
  EXPECT_EQ(code_of(open_keyset(file, kPassword)), KeySetError::kUnsupportedKdf);
}

TEST(KeySet, BadMagicAndFormat) {
  Bytes file = sample_file();
  Bytes other = file;
  other[0] = std::byte{'X'};
  auto r = parse_keyset_header(other);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, KeySetError::kBadMagic);
  EXPECT_NE(r.error().message().find("not a Cordon key set"), std::string::npos);
  // An update package is not a key set.
  EXPECT_EQ(parse_keyset_header(hex("43524e4455504454")).error().code, KeySetError::kBadMagic);
  other = file;
  other[9] = std::byte{2};
  r = parse_keyset_header(other);
  EXPECT_EQ(r.error().code, KeySetError::kUnsupportedFormat);
  EXPECT_NE(r.error().message().find("upgrade Cordon"), std::string::npos);
  other = file;
  other[kOffAlg] = std::byte{2};
  EXPECT_EQ(parse_keyset_header(other).error().code, KeySetError::kUnsupportedKdf);
  other = file;
  other[kOffUserLen] = std::byte{0};
  EXPECT_EQ(parse_keyset_header(other).error().code, KeySetError::kBadField);
  other = file;
  other[kOffUserLen] = std::byte{65};
  EXPECT_EQ(parse_keyset_header(other).error().code, KeySetError::kBadField);
}

// ---- AAD rules -----------------------------------------------------------

TEST(KeySet, StoredWrapServesEveryVersion) {
  const WrappedUserKey stored = sample_wrap();
  for (uint64_t version : {1u, 2u, 1000u}) {
    auto file = seal_keyset(stored, version, key_of(0x11), key_of(0x22), sample_body(), nonces(uint8_t(version)));
    ASSERT_TRUE(file.ok());
    auto opened = open_keyset(file.value(), kPassword);
    ASSERT_TRUE(opened.ok()) << opened.error().message();
    EXPECT_EQ(opened.value().header.version, version);
  }
  // The host re-seals from the wrap it found in its file (update apply).
  auto opened = open_keyset(sample_file(3), kPassword);
  auto again = seal_keyset(opened.value().wrapped_user_key, 4, opened.value().user_key, key_of(0x33),
                           opened.value().body, nonces(9));
  ASSERT_TRUE(again.ok());
  auto reopened = open_keyset(again.value(), kPassword);
  ASSERT_TRUE(reopened.ok()) << reopened.error().message();
  EXPECT_EQ(reopened.value().header.version, 4u);
  EXPECT_TRUE(reopened.value().host_key == key_of(0x33));
}

TEST(KeySet, SwappedPiecesFail) {
  const Bytes v1 = sample_file(1);
  auto v2r = seal_keyset(sample_wrap(), 2, key_of(0x11), key_of(0x22), sample_body(), nonces(0x80));
  const Bytes v2 = v2r.value();
  ASSERT_EQ(v1.size(), v2.size());
  auto splice = [&](size_t from, size_t to) {
    Bytes out = v1;
    std::copy(v2.begin() + from, v2.begin() + to, out.begin() + from);
    return out;
  };
  // Another version's host key wrap or body: same keys, different header.
  EXPECT_EQ(code_of(open_keyset(splice(kOffHostWrap, kOffBodyNonce), kPassword)), KeySetError::kTampered);
  EXPECT_EQ(code_of(open_keyset(splice(kOffBodyNonce, v1.size()), kPassword)), KeySetError::kTampered);
  // The user key wrap is version-independent: moving it is harmless.
  EXPECT_TRUE(open_keyset(splice(kOffUserWrap, kOffHostWrap), kPassword).ok());

  // Host key wrap in the user key slot and vice versa.
  Bytes swapped = v1;
  std::copy(v1.begin() + kOffHostWrap, v1.begin() + kOffBodyNonce, swapped.begin() + kOffUserWrap);
  std::copy(v1.begin() + kOffUserWrap, v1.begin() + kOffHostWrap, swapped.begin() + kOffHostWrap);
  EXPECT_EQ(code_of(open_keyset(swapped, kPassword)), KeySetError::kWrongPassword);

  // Another user's wrap (same password, same key) in a key set for "alice":
  // the user name is in its AAD.
  const WrappedUserKey bob = sample_wrap(kPassword, "bobby");
  WrappedUserKey forged = sample_wrap();
  forged.sealed = bob.sealed;
  auto file = seal_keyset(forged, 1, key_of(0x11), key_of(0x22), sample_body(), nonces());
  EXPECT_EQ(code_of(open_keyset(file.value(), kPassword)), KeySetError::kWrongPassword);
}

TEST(KeySet, MismatchedUserKeyIsRefusedOnOpen) {
  // The admin sealed with a user key other than the wrapped one.
  auto file = seal_keyset(sample_wrap(), 1, key_of(0x99), key_of(0x22), sample_body(), nonces());
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(code_of(open_keyset(file.value(), kPassword)), KeySetError::kTampered);
}

// ---- wrapped user key ------------------------------------------------------

TEST(WrappedUserKey, RecordRoundTrip) {
  const WrappedUserKey w = sample_wrap();
  const Bytes record = w.encode_record();
  ASSERT_EQ(record.size(), WrappedUserKey::kRecordSize);
  auto back = WrappedUserKey::decode_record(kHost, "alice", record);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->kdf, w.kdf);
  EXPECT_EQ(back->salt, w.salt);
  EXPECT_EQ(back->sealed, w.sealed);
  auto key = unwrap_user_key(*back, kPassword);
  ASSERT_TRUE(key.ok());
  EXPECT_TRUE(key.value() == key_of(0x11));
  EXPECT_EQ(unwrap_user_key(*back, "not the password").error().code, KeySetError::kWrongPassword);

  EXPECT_FALSE(WrappedUserKey::decode_record(kHost, "alice", std::span(record).first(96)));
  Bytes bad = record;
  bad[0] = std::byte{7};
  EXPECT_FALSE(WrappedUserKey::decode_record(kHost, "alice", bad));
  // Decoded under another user name, the wrap does not open.
  auto other = WrappedUserKey::decode_record(kHost, "alicf", record);
  ASSERT_TRUE(other);
  EXPECT_EQ(unwrap_user_key(*other, kPassword).error().code, KeySetError::kWrongPassword);
}

TEST(WrappedUserKey, RefusesBadInputs) {
  const auto salt = filled<kSaltSize>(1);
  const auto nonce = filled<24>(2);
  auto w = wrap_user_key(HostId{0x00010000}, "alice", kPassword, kGeneratedPasswordKdf, salt, key_of(1), nonce);
  EXPECT_EQ(w.error().code, KeySetError::kBadField);
  w = wrap_user_key(kHost, "", kPassword, kGeneratedPasswordKdf, salt, key_of(1), nonce);
  EXPECT_EQ(w.error().code, KeySetError::kBadField);
  w = wrap_user_key(kHost, std::string(65, 'u'), kPassword, kGeneratedPasswordKdf, salt, key_of(1), nonce);
  EXPECT_EQ(w.error().code, KeySetError::kBadField);
  w = wrap_user_key(kHost, std::string(64, 'u'), kPassword, kGeneratedPasswordKdf, salt, key_of(1), nonce);
  EXPECT_TRUE(w.ok());
  w = wrap_user_key(kHost, "alice", kPassword, KdfParams{KdfAlg::kArgon2id13, 0, 8192}, salt, key_of(1), nonce);
  EXPECT_EQ(w.error().code, KeySetError::kUnsupportedKdf);
  w = wrap_user_key(kHost, "alice", kPassword, kGeneratedPasswordKdf, salt, crypto::SecretBytes(31), nonce);
  EXPECT_EQ(w.error().code, KeySetError::kBadField);
}

// ---- passwd --------------------------------------------------------------

TEST(KeySet, ResealWithNewPassword) {
  auto opened = open_keyset(sample_file(5), kPassword);
  ASSERT_TRUE(opened.ok());
  auto resealed = reseal_with_password(opened.value(), "a brand new one", kGeneratedPasswordKdf,
                                       filled<kSaltSize>(0xa0), filled<24>(0xa1), nonces(0xa2));
  ASSERT_TRUE(resealed.ok()) << resealed.error().message();
  EXPECT_EQ(code_of(open_keyset(resealed.value(), kPassword)), KeySetError::kWrongPassword);
  auto reopened = open_keyset(resealed.value(), "a brand new one");
  ASSERT_TRUE(reopened.ok()) << reopened.error().message();
  EXPECT_EQ(reopened.value().header.version, 5u);
  EXPECT_EQ(reopened.value().header.salt, (filled<kSaltSize>(0xa0)));
  EXPECT_TRUE(reopened.value().user_key == key_of(0x11));
  EXPECT_TRUE(reopened.value().host_key == key_of(0x22));
  expect_same_body(reopened.value().body, sample_body());
  // The daemon's unlocked user key still opens it.
  EXPECT_TRUE(open_keyset_with_user_key(resealed.value(), key_of(0x11)).ok());
  EXPECT_EQ(reseal_with_password(opened.value(), "short", kGeneratedPasswordKdf, {}, {}, nonces()).error().code,
            KeySetError::kBadPasswordLength);
}

// ---- seal refusals and the body ---------------------------------------------

TEST(KeySet, SealRefusesBadInputs) {
  const WrappedUserKey w = sample_wrap();
  EXPECT_EQ(seal_keyset(w, 1, key_of(0x11), crypto::SecretBytes(16), sample_body(), nonces()).error().code,
            KeySetError::kBadField);
  EXPECT_EQ(seal_keyset(w, 1, crypto::SecretBytes(), key_of(0x22), sample_body(), nonces()).error().code,
            KeySetError::kBadField);
  KeySetBody body = sample_body();
  body.links.push_back({HostId{0x0001000d}, key_of(0xd0)});  // not in the address book
  auto r = seal_keyset(w, 1, key_of(0x11), key_of(0x22), body, nonces());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, KeySetError::kBadField);
  EXPECT_NE(r.error().message().find("0x0001000d"), std::string::npos) << r.error().message();
  body = sample_body();
  body.links.push_back({kPeerB, key_of(0xb1)});  // twice
  EXPECT_EQ(seal_keyset(w, 1, key_of(0x11), key_of(0x22), body, nonces()).error().code, KeySetError::kBadField);
  body = sample_body();
  body.links.push_back({kHost, key_of(0xa0)});  // to itself
  EXPECT_EQ(seal_keyset(w, 1, key_of(0x11), key_of(0x22), body, nonces()).error().code, KeySetError::kBadField);
  body = sample_body();
  body.links[0].key = crypto::SecretBytes(31);
  EXPECT_EQ(seal_keyset(w, 1, key_of(0x11), key_of(0x22), body, nonces()).error().code, KeySetError::kBadField);
  body = sample_body();
  std::swap(body.book.entries[0], body.book.entries[1]);  // entry 0 is not this host
  r = seal_keyset(w, 1, key_of(0x11), key_of(0x22), body, nonces());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("entry 0 is 0x0001000b, not the host 0x0001000a"), std::string::npos)
      << r.error().message();
  body = sample_body();
  body.book.entries[1].name = std::string(65, 'n');
  r = seal_keyset(w, 1, key_of(0x11), key_of(0x22), body, nonces());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("address book entry 1"), std::string::npos) << r.error().message();
}

TEST(KeySetBody, EncodeDecodeRoundTrip) {
  auto encoded = encode_body(sample_body());
  ASSERT_TRUE(encoded.ok());
  auto decoded = decode_body(encoded.value().view());
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  expect_same_body(decoded.value(), sample_body());
  // No links is fine (a host alone in its network).
  KeySetBody alone;
  alone.book.entries = {sample_body().book.entries[0]};
  auto e = encode_body(alone);
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(decode_body(e.value().view()).ok());
}

TEST(KeySetBody, DecodeRefusesEveryTruncationAndTrailingBytes) {
  const auto encoded = encode_body(sample_body()).value();
  const auto v = encoded.view();
  for (size_t n = 0; n < v.size(); ++n) {
    auto r = decode_body(v.first(n));
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.error().code, KeySetError::kBadField) << n;
  }
  Bytes longer(v.begin(), v.end());
  longer.push_back(std::byte{0});
  auto r = decode_body(longer);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("section header"), std::string::npos) << r.error().message();
}

// ---- filter rules (docs/gateways.md, "Central rules") ---------------------

KeySetBody coordinator_body();  // below, with the served links

TEST(KeySetBody, FilterRulesRoundTripAndEndTheBody) {
  KeySetBody body = sample_body();
  body.rules = {FilterRuleEntry{3, FilterRuleKind::kProtected, "drop in peer 0x0001000b proto tcp dport 22"},
                FilterRuleEntry{9, FilterRuleKind::kOpen, "allow input proto tcp dport 443"},
                FilterRuleEntry{7, FilterRuleKind::kProtected, "allow"}};
  auto encoded = encode_body(body);
  ASSERT_TRUE(encoded.ok()) << encoded.error().message();
  // Section 1 holds the rules; its last rule, id 7 | kind 1 | length 5 |
  // "allow", ends the body.
  const Bytes tail = hex("00000007" "01" "0005" "616c6c6f77");
  const auto v = encoded.value().view();
  EXPECT_TRUE(std::equal(tail.begin(), tail.end(), v.end() - static_cast<ptrdiff_t>(tail.size())));
  auto decoded = decode_body(v);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  expect_same_body(decoded.value(), body);
  // A body without rules has no section: it is the same bytes as before
  // the section existed, and reads back with no rules.
  const auto plain = encode_body(sample_body()).value();
  EXPECT_EQ(plain.size() + 1 + 4 + 2 + (4 + 1 + 2 + 42) + (4 + 1 + 2 + 31) + (4 + 1 + 2 + 5), v.size());
  EXPECT_TRUE(decode_body(plain.view()).value().rules.empty());
}

// Sections appended to sample_body(): each case's tail must be refused as
// a bad field whose message holds `message`.
struct TailCase {
  const char* what;
  std::string tail;
  std::string_view message;
};

void expect_tails_refused(const std::vector<TailCase>& cases) {
  const auto plain = encode_body(sample_body()).value();
  for (const TailCase& c : cases) {
    SCOPED_TRACE(c.what);
    Bytes body(plain.view().begin(), plain.view().end());
    const Bytes tail = hex(c.tail);
    body.insert(body.end(), tail.begin(), tail.end());
    auto r = decode_body(body);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, KeySetError::kBadField);
    EXPECT_NE(r.error().message().find(c.message), std::string::npos) << r.error().message();
  }
}

// A section of tag `tag` around `content` (hex).
std::string section(std::string_view tag, std::string_view content) {
  return std::string(tag) + fmt::format("{:08x}", content.size() / 2) + std::string(content);
}

TEST(KeySetBody, FilterRulesRefusals) {
  const auto rules = [](std::string_view content) { return section("01", content); };
  const std::string one_rule = rules("0001" "00000001" "01" "0001" "61");
  expect_tails_refused({
      {"count 0", rules("0000"), "section 1: filter rule count 0"},
      {"unknown kind", rules("0001" "00000001" "03" "0001" "61"), "filter rule 0 (number 1): unknown kind 3"},
      {"empty text", rules("0001" "00000001" "01" "0000"), "filter rule 0 (number 1): text is 0 bytes"},
      {"short text", rules("0001" "00000001" "01" "0005" "616c"), "section 1: filter rule 0: text"},
      {"short entry", rules("0001" "000000"), "section 1: filter rule 0"},
      {"content past the rules", rules("0001" "00000001" "01" "0001" "61" "00"), "after the filter rules"},
      {"section longer than the body", "01" "00000010" "0001", "section 1"},
      {"short section header", "01" "0000", "section header"},
      {"empty section", "01" "00000000", "section 1: empty"},
      {"unknown section", "05" "00000001" "00", "section 5: unknown"},
      {"section twice", one_rule + one_rule, "section 1: twice, or out of order"},
  });
  KeySetBody body = sample_body();
  body.rules = {FilterRuleEntry{1, FilterRuleKind::kProtected, std::string(kMaxFilterRuleSize + 1, 'a')}};
  auto refused = encode_body(body);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message().find("text is 1025 bytes; it must be 1 to 1024"), std::string::npos)
      << refused.error().message();
}

// ---- reach limits (docs/gateways.md, "Reach") ----------------------------

// `body` encodes to bytes that end with `tail` (hex) and decode to it again.
void expect_round_trip_ending_with(const KeySetBody& body, std::string_view tail_hex) {
  auto encoded = encode_body(body);
  ASSERT_TRUE(encoded.ok()) << encoded.error().message();
  const Bytes tail = hex(tail_hex);
  const auto v = encoded.value().view();
  ASSERT_GE(v.size(), tail.size());
  EXPECT_TRUE(std::equal(tail.begin(), tail.end(), v.end() - static_cast<ptrdiff_t>(tail.size())));
  auto decoded = decode_body(v);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  expect_same_body(decoded.value(), body);
}

TEST(KeySetBody, ReachLimitsRoundTripAfterTheRules) {
  KeySetBody body = sample_body();
  body.rules = {FilterRuleEntry{7, FilterRuleKind::kProtected, "allow"}};
  body.reach = {ReachLimit{HostId{0x0001000b}, {*Prefix::parse("192.168.71.0/25"), *Prefix::parse("fd00:71::/64")}},
                ReachLimit{HostId{0x0001000c}, {}}};
  // Section 2 ends the body: count 2 | peer B, 2 prefixes | peer C, none.
  expect_round_trip_ending_with(body, "02" "00000024" "0002"
                                      "0001000b" "02" "04" "c0a84700" "19" "06" "fd000071000000000000000000000000" "40"
                                      "0001000c" "00");
  // Limits alone (no rules) make a body with section 2 only.
  body.rules.clear();
  auto alone = decode_body(encode_body(body).value().view());
  ASSERT_TRUE(alone.ok()) << alone.error().message();
  EXPECT_EQ(alone.value().reach, body.reach);
}

TEST(KeySetBody, ReachLimitsRefusals) {
  const auto reach = [](std::string_view content) { return section("02", content); };
  expect_tails_refused({
      {"count 0", reach("0000"), "reach limit count 0"},
      {"host number 0", reach("0001" "00010000" "00"), "host ID has network or host number 0"},
      {"peer twice", reach("0002" "0001000b" "00" "0001000b" "00"), "peer appears twice"},
      {"bits after the length", reach("0001" "0001000b" "01" "04" "c0a84701" "18"), "reach limit 0: prefix 0"},
      {"length past the family", reach("0001" "0001000b" "01" "04" "c0a84700" "21"), "reach limit 0: prefix 0"},
      {"unknown family", reach("0001" "0001000b" "01" "05" "c0a84700" "18"), "reach limit 0: prefix 0"},
      {"short prefix", reach("0001" "0001000b" "01" "04" "c0a8"), "reach limit 0: prefix 0"},
      {"content past the limits", reach("0001" "0001000b" "00" "00"), "after the reach limits"},
      {"rules after reach", reach("0001" "0001000b" "00") + "01" "00000009" "0001" "00000001" "01" "0001" "61",
       "section 1: twice, or out of order"},
  });
  KeySetBody body = sample_body();
  body.reach = {ReachLimit{HostId{0x0001000b}, {*Prefix::parse("192.168.71.1/24")}}};
  auto refused = encode_body(body);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message().find("192.168.71.1/24 is not a network prefix"), std::string::npos)
      << refused.error().message();
  body.reach = {ReachLimit{HostId{0x0001000b}, std::vector<Prefix>(256, *Prefix::parse("10.0.0.0/8"))}};
  EXPECT_FALSE(encode_body(body).ok());
}

// ---- network settings: the rekey period (tag 3) ---------------------------

TEST(KeySetBody, RekeyPeriodRoundTripsAndEndsTheBody) {
  KeySetBody body = sample_body();
  body.reach = {ReachLimit{HostId{0x0001000b}, {}}};
  body.rekey_period = 600;
  // Section 3, after the reach limits: 1 setting, setting 1 = 600 s.
  expect_round_trip_ending_with(body, "03" "00000006" "01" "01" "00000258");
  EXPECT_EQ(body.rekey_period_or_default(), 600u);
  // 0 (off) and both bounds are allowed.
  for (uint32_t seconds : {0u, kMinRekeyPeriod, kMaxRekeyPeriod}) {
    body.rekey_period = seconds;
    auto again = decode_body(encode_body(body).value().view());
    ASSERT_TRUE(again.ok()) << seconds;
    EXPECT_EQ(again.value().rekey_period, std::optional<uint32_t>(seconds));
  }
}

TEST(KeySetBody, BodyWithoutRekeyPeriodHasTheDefault) {
  // A body made before the setting existed: no section 3.
  const auto plain = encode_body(sample_body()).value();
  auto decoded = decode_body(plain.view());
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  EXPECT_FALSE(decoded.value().rekey_period.has_value());
  EXPECT_EQ(decoded.value().rekey_period_or_default(), 3600u);
  EXPECT_EQ(kDefaultRekeyPeriod, 3600u);
  // An unset period adds nothing to the body.
  KeySetBody with = sample_body();
  with.rekey_period = 3600;
  EXPECT_EQ(encode_body(with).value().size(), plain.size() + 1 + 4 + 1 + 5);
}

TEST(KeySetBody, RekeyPeriodRefusals) {
  const auto settings = [](std::string_view content) { return section("03", content); };
  expect_tails_refused({
      {"count 0", settings("00"), "section 3: network setting count 0"},
      {"below the range", settings("01" "01" "0000003b"),
       "network settings: rekey period 59 is out of range; it must be 0 (off) or 60 to 86400 seconds"},
      {"above the range", settings("01" "01" "00015181"), "rekey period 86401 is out of range"},
      {"twice", settings("02" "01" "00000258" "01" "00000258"), "network setting 1: rekey period appears twice"},
      {"unknown setting", settings("01" "04" "00000258"), "network setting 0: unknown setting 4"},
      {"short setting", settings("01" "01" "0258"), "section 3: network setting 0"},
      {"content past the settings", settings("01" "01" "00000258" "00"), "after the network settings"},
      {"reach after settings", settings("01" "01" "00000258") + section("02", "0001" "0001000b" "00"),
       "section 2: twice, or out of order"},
  });
  KeySetBody body = sample_body();
  body.rekey_period = 59;
  auto refused = encode_body(body);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message().find("rekey period 59 is out of range; it must be 0 (off) or 60 to 86400"),
            std::string::npos)
      << refused.error().message();
  EXPECT_FALSE(rekey_period_allowed(-1));
  EXPECT_FALSE(rekey_period_allowed(1));
  EXPECT_TRUE(rekey_period_allowed(0));
  EXPECT_TRUE(rekey_period_allowed(86400));
}

// Settings 2 and 3 and section 4 (docs/couriers.md): the administration
// host and courier, the revoked hosts.
TEST(KeySetBody, AdministrationRouteAndRevokedHosts) {
  KeySetBody body = sample_body();
  body.admin_host = HostId{0x00010005};
  body.admin_courier = HostId{0x00010001};
  body.revoked = {HostId{0x00010007}, HostId{0x00010009}};
  expect_round_trip_ending_with(body, "03" "0000000b" "02" "02" "00010005" "03" "00010001"
                                      "04" "0000000c" "00000002" "00010007" "00010009");
  auto decoded = decode_body(encode_body(body).value().view());
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  EXPECT_EQ(decoded.value().admin_host, body.admin_host);
  EXPECT_EQ(decoded.value().admin_courier, body.admin_courier);
  EXPECT_EQ(decoded.value().revoked, body.revoked);

  const auto settings = [](std::string_view content) { return section("03", content); };
  expect_tails_refused({
      {"host without courier", settings("01" "02" "00010005"), "come together"},
      {"host twice", settings("03" "02" "00010005" "02" "00010005" "03" "00010001"), "administration host appears twice"},
      {"host number 0", settings("02" "02" "00010000" "03" "00010001"), "network or host number 0"},
      {"revoked count 0", section("04", "00000000"), "revoked host count 0"},
      {"revoked out of order", section("04", "00000002" "00010009" "00010007"), "out of order or repeated"},
      {"revoked repeated", section("04", "00000002" "00010009" "00010009"), "out of order or repeated"},
      {"revoked count past the end", section("04", "00000003" "00010009"), "revoked host count"},
      {"revoked before settings", section("04", "00000001" "00010009") + settings("01" "01" "00000258"),
       "section 3: twice, or out of order"},
  });
  body.revoked = {HostId{0x00010009}, HostId{0x00010007}};
  EXPECT_FALSE(encode_body(body).ok());
}

TEST(KeySetBody, RekeyPeriodTravelsInKeySetsAndUpdatePackages) {
  KeySetBody body = sample_body();
  body.rekey_period = 900;
  auto file = seal_keyset(sample_wrap(), 7, key_of(0x11), key_of(0x22), body, nonces());
  ASSERT_TRUE(file.ok()) << file.error().message();
  auto opened = open_keyset_with_user_key(file.value(), key_of(0x11));
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  EXPECT_EQ(opened.value().body.rekey_period, std::optional<uint32_t>(900));
  // A key set sealed before the setting existed opens with the default.
  auto old = open_keyset_with_user_key(sample_file(), key_of(0x11));
  ASSERT_TRUE(old.ok()) << old.error().message();
  EXPECT_EQ(old.value().body.rekey_period_or_default(), kDefaultRekeyPeriod);

  const testkit::KeySetMaker m = testkit::KeySetMaker::coordinator();
  KeySetBody next = coordinator_body();
  next.rekey_period = 0;
  auto update = open_update(m.update(4, next, UpdateKind::kAddressBook), m.host_key);
  ASSERT_TRUE(update.ok()) << update.error().message();
  EXPECT_EQ(update.value().body.rekey_period, std::optional<uint32_t>(0));
}

TEST(KeySetBody, FilterRulesTravelInUpdatePackages) {
  const testkit::KeySetMaker m = testkit::KeySetMaker::coordinator();
  KeySetBody next = coordinator_body();
  next.rules = {FilterRuleEntry{4, FilterRuleKind::kProtected, "allow in proto icmp"}};
  auto update = open_update(m.update(4, next, UpdateKind::kAddressBook), m.host_key);
  ASSERT_TRUE(update.ok()) << update.error().message();
  EXPECT_EQ(update.value().body.rules, next.rules);
}

// ---- served links (docs/protocol.md, "Served links") ---------------------

const HostId kClientD{0x0001000d};

// sample_body() with this host as a coordinator: entry 0 serves C (linked
// with it and B) and D (a served client with no links listed).
KeySetBody coordinator_body() {
  KeySetBody body = sample_body();
  body.book.entries[0].role = Role::kCoordinator;
  body.book.entries[0].registry = body.book.entries[0].rendezvous = body.book.entries[0].courier = HostId{};
  body.served = {ServedClient{kPeerC, {kHost, kPeerB}}, ServedClient{kClientD, {}}};
  return body;
}

// `body` encoded (with no served clients), its served count replaced by
// `served` (hex): a served section that encode_body would refuse.
Bytes with_served_bytes(KeySetBody body, std::string_view served) {
  body.served.clear();
  const auto encoded = encode_body(body);
  EXPECT_TRUE(encoded.ok());
  Bytes out(encoded.value().view().begin(), encoded.value().view().end() - 2);
  const Bytes tail = hex(served);
  out.insert(out.end(), tail.begin(), tail.end());
  return out;
}

TEST(KeySetBody, ServedLinksRoundTrip) {
  const KeySetBody body = coordinator_body();
  auto encoded = encode_body(body);
  ASSERT_TRUE(encoded.ok()) << encoded.error().message();
  // The section ends the body, exactly as the diagram says.
  const Bytes tail = hex("0002" "0001000c" "0002" "0001000a" "0001000b" "0001000d" "0000");
  const auto v = encoded.value().view();
  ASSERT_GE(v.size(), tail.size());
  EXPECT_TRUE(std::equal(tail.begin(), tail.end(), v.end() - static_cast<ptrdiff_t>(tail.size())));
  auto decoded = decode_body(v);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message();
  expect_same_body(decoded.value(), body);

  const ServedClient* c = decoded.value().served_client(kPeerC);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->peers, (std::vector<HostId>{kHost, kPeerB}));
  ASSERT_NE(decoded.value().served_client(kClientD), nullptr);
  EXPECT_TRUE(decoded.value().served_client(kClientD)->peers.empty());
  EXPECT_EQ(decoded.value().served_client(kPeerB), nullptr);
  // A client's key set has served count 0 and no served clients.
  auto plain = decode_body(encode_body(sample_body()).value().view());
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain.value().served.empty());
  EXPECT_EQ(plain.value().served_client(kPeerC), nullptr);
}

TEST(KeySetBody, ServedLinksTravelInKeySetsAndUpdatePackages) {
  const testkit::KeySetMaker m = testkit::KeySetMaker::coordinator();
  ASSERT_EQ(m.body.served.size(), 1u);
  auto opened = open_keyset(m.seal(3), m.password);
  ASSERT_TRUE(opened.ok()) << opened.error().message();
  EXPECT_EQ(opened.value().body.served, m.body.served);

  KeySetBody next = coordinator_body();
  auto update = open_update(m.update(4, next, UpdateKind::kAddressBook), m.host_key);
  ASSERT_TRUE(update.ok()) << update.error().message();
  EXPECT_EQ(update.value().body.served, next.served);
  KeySetBody bad = coordinator_body();
  bad.book.entries[0].role = Role::kClient;
  UpdateHeader header{kHost, 4, UpdateKind::kKeys, false};
  auto refused = seal_update(header, m.host_key, {}, bad, filled<24>(1));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, KeySetError::kBadField);
  EXPECT_NE(refused.error().message().find("update package"), std::string::npos) << refused.error().message();
}

TEST(KeySetBody, ServedLinksRefusals) {
  struct Case {
    const char* what;
    std::string_view served;  // hex: the whole served section
    std::string_view message;
  };
  const std::vector<Case> cases = {
      {"client twice", "0002" "0001000c" "0000" "0001000c" "0001" "0001000b",
       "served client 1 (0x0001000c): client appears twice"},
      {"client network 0", "0001" "0000000c" "0000",
       "served client 0 (0x0000000c): host ID has network or host number 0"},
      {"client host 0", "0001" "00010000" "0000", "served client 0 (0x00010000): host ID has network or host number 0"},
      {"peer network 0", "0001" "0001000c" "0002" "0001000b" "0000000b",
       "served client 0 (0x0001000c): peer 1 (0x0000000b): host ID has network or host number 0"},
      {"peer host 0", "0001" "0001000c" "0001" "00010000",
       "served client 0 (0x0001000c): peer 0 (0x00010000): host ID has network or host number 0"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    auto r = decode_body(with_served_bytes(coordinator_body(), c.served));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, KeySetError::kBadField);
    EXPECT_NE(r.error().message().find(c.message), std::string::npos) << r.error().message();
  }
  // A served section in a client's key set (entry 0 is a client).
  auto r = decode_body(with_served_bytes(sample_body(), "0001" "0001000c" "0000"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, KeySetError::kBadField);
  EXPECT_NE(r.error().message().find("served links: 1 served client(s), but entry 0 (0x0001000a) is not a coordinator"),
            std::string::npos)
      << r.error().message();
  // The same section decodes in a coordinator's key set: the refusals
  // above are about the IDs, not the encoding.
  EXPECT_TRUE(decode_body(with_served_bytes(coordinator_body(), "0001" "0001000c" "0000")).ok());
  // A peer count larger than what follows is truncation, also a bad field.
  r = decode_body(with_served_bytes(coordinator_body(), "0001" "0001000c" "0002" "0001000b"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("served client 0: peer 1"), std::string::npos) << r.error().message();

  // encode_body (and so seal_keyset) refuses the same bodies.
  const WrappedUserKey w = sample_wrap();
  auto refuse = [&](KeySetBody body, std::string_view message) {
    auto e = encode_body(body);
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.error().message().find(message), std::string::npos) << e.error().message();
    EXPECT_EQ(seal_keyset(w, 1, key_of(0x11), key_of(0x22), body, nonces()).error().code, KeySetError::kBadField);
  };
  KeySetBody body = coordinator_body();
  body.served.push_back(ServedClient{kPeerC, {}});
  refuse(body, "served client 2 (0x0001000c): client appears twice");
  body = coordinator_body();
  body.served[1].client = HostId{0x0000000d};
  refuse(body, "served client 1 (0x0000000d): host ID has network or host number 0");
  body = coordinator_body();
  body.served[0].peers.push_back(HostId{0x00010000});
  refuse(body, "peer 2 (0x00010000): host ID has network or host number 0");
  body = coordinator_body();
  body.book.entries[0].role = Role::kClient;
  refuse(body, "is not a coordinator");
  body = coordinator_body();
  body.served[1].peers.assign(kMaxServedPeers + 1, kPeerB);
  refuse(body, "more than 65535 peers");
}

// ---- errors --------------------------------------------------------------

TEST(KeySetError, NamesAreStableAndMessagesSayWhatToDo) {
  const std::vector<std::pair<KeySetError, std::string_view>> names = {
      {KeySetError::kTruncated, "truncated"},
      {KeySetError::kTrailingBytes, "trailing_bytes"},
      {KeySetError::kBadMagic, "bad_magic"},
      {KeySetError::kUnsupportedFormat, "unsupported_format"},
      {KeySetError::kUnsupportedKdf, "unsupported_kdf"},
      {KeySetError::kBadField, "bad_field"},
      {KeySetError::kBadPasswordLength, "bad_password_length"},
      {KeySetError::kKdfFailed, "kdf_failed"},
      {KeySetError::kWrongPassword, "wrong_password"},
      {KeySetError::kWrongUserKey, "wrong_user_key"},
      {KeySetError::kTampered, "tampered"},
      {KeySetError::kOtherNetwork, "other_network"},
      {KeySetError::kOtherHost, "other_host"},
      {KeySetError::kStaleVersion, "stale_version"},
  };
  for (const auto& [code, name] : names) {
    EXPECT_EQ(error_name(code), name);
    for (KeyFile file : {KeyFile::kKeySet, KeyFile::kUpdatePackage}) {
      const std::string m = KeySetFailure{code, file, "detail"}.message();
      EXPECT_GT(m.size(), 30u) << name;
      EXPECT_NE(m.find(';'), std::string::npos) << "no advice in: " << m;
    }
  }
  EXPECT_EQ((KeySetFailure{KeySetError::kTampered, KeyFile::kKeySet, ""}.message()),
            "the key set was altered or corrupted after export; export it again");
  EXPECT_EQ((KeySetFailure{KeySetError::kTruncated, KeyFile::kKeySet, "10 of 20 bytes"}.message()),
            "the key set ends early (10 of 20 bytes); copy it again");
}

TEST(KeySetError, CheckSameHost) {
  EXPECT_TRUE(check_same_host(kHost, kHost, KeyFile::kKeySet).ok());
  auto other = check_same_host(kHost, kPeerB, KeyFile::kKeySet);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, KeySetError::kOtherHost);
  EXPECT_NE(other.error().message().find("0x0001000b"), std::string::npos) << other.error().message();
  auto net = check_same_host(kHost, HostId{0x0002000a}, KeyFile::kUpdatePackage);
  ASSERT_FALSE(net.ok());
  EXPECT_EQ(net.error().code, KeySetError::kOtherNetwork);
}

}  // namespace
}  // namespace cordon::keys
