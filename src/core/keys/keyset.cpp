// Key-set files (keyset.hpp): header, the three XChaCha20-Poly1305 pieces,
// and the body encoding.
#include "core/keys/keyset.hpp"

#include <algorithm>
#include <set>
#include <string>

namespace cordon::keys {
namespace {

constexpr size_t kVersionOffset = 8 + 2 + 2 + 4;  // magic, format, network, host id
constexpr size_t kVersionSize = 8;

std::string_view file_noun(KeyFile file) { return file == KeyFile::kKeySet ? "key set" : "update package"; }
std::string_view redo(KeyFile file) {
  return file == KeyFile::kKeySet ? "export it again" : "build it again (`cordon admin updates build`)";
}

KeySetFailure fail(KeySetError code, KeyFile file, std::string detail = {}) {
  return KeySetFailure{code, file, std::move(detail)};
}

bool valid_host(HostId id) { return id.network() != 0 && id.host() != 0; }

Status<KeySetFailure> check_password(std::string_view password) {
  if (check_password_length(password)) return Ok{};
  return fail(KeySetError::kBadPasswordLength, KeyFile::kKeySet, "it has " + std::to_string(password.size()));
}

std::span<const std::byte> text_bytes(std::string_view s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

// ---- header --------------------------------------------------------------

size_t header_size(const KeySetHeader& h) { return 8 + 2 + 2 + 4 + 8 + 1 + h.user.size() + 1 + 4 + 4 + kSaltSize; }

std::vector<std::byte> encode_header(const KeySetHeader& h) {
  std::vector<std::byte> out(header_size(h));
  wire::ByteWriter w(out);
  w.text(kKeySetMagic);
  w.u16(kKeySetFormat);
  w.u16(h.network());
  w.u32(h.host.value);
  w.u64(h.version);
  w.u8(static_cast<uint8_t>(h.user.size()));
  w.text(h.user);
  w.u8(static_cast<uint8_t>(h.kdf.alg));
  w.u32(h.kdf.opslimit);
  w.u32(h.kdf.memlimit);
  w.bytes(h.salt);
  return out;
}

// The user-key wrap is bound to every header field but the version, so the
// administrator's stored wrap stays valid for later versions (the AAD of
// label 1, keyset.hpp).
std::vector<std::byte> user_wrap_aad(std::span<const std::byte> header) {
  std::vector<std::byte> aad(header.begin(), header.begin() + kVersionOffset);
  aad.insert(aad.end(), header.begin() + kVersionOffset + kVersionSize, header.end());
  aad.push_back(static_cast<std::byte>(Label::kUserKey));
  return aad;
}

std::vector<std::byte> labelled(std::span<const std::byte> header, Label label) {
  std::vector<std::byte> aad(header.begin(), header.end());
  aad.push_back(static_cast<std::byte>(label));
  return aad;
}

Result<Ok> check_identity(HostId host, std::string_view user, const KdfParams& kdf) {
  if (!valid_host(host)) return fail(KeySetError::kBadField, KeyFile::kKeySet, "host ID " + host.to_string());
  if (user.empty() || user.size() > kMaxUserNameSize) {
    return fail(KeySetError::kBadField, KeyFile::kKeySet,
                "user name is " + std::to_string(user.size()) + " bytes; it must be 1 to 64");
  }
  if (!kdf_supported(kdf)) return fail(KeySetError::kUnsupportedKdf, KeyFile::kKeySet);
  return Ok{};
}

// ---- layout --------------------------------------------------------------

struct Layout {
  KeySetHeader header;
  std::span<const std::byte> header_bytes;
  std::span<const std::byte> user_wrap;  // kWrappedKeySize bytes each
  std::span<const std::byte> host_wrap;
  detail::SealedBody body;
};

Result<KeySetHeader> read_header_fields(wire::ByteReader& in, size_t file_size) {
  KeySetHeader h;
  const auto network = in.u16();
  const auto host = in.u32();
  const auto version = in.u64();
  const auto user_len = in.u8();
  if (!network || !host || !version || !user_len) {
    return detail::parse_failure(in.truncated("header"), KeyFile::kKeySet, file_size);
  }
  h.host = HostId{*host};
  h.version = *version;
  if (!valid_host(h.host)) return fail(KeySetError::kBadField, KeyFile::kKeySet, "host ID " + h.host.to_string());
  if (*network != h.host.network()) {
    return fail(KeySetError::kBadField, KeyFile::kKeySet,
                "network " + std::to_string(*network) + " does not match host ID " + h.host.to_string());
  }
  if (*user_len == 0 || *user_len > kMaxUserNameSize) {
    return fail(KeySetError::kBadField, KeyFile::kKeySet, "user name length " + std::to_string(*user_len));
  }
  const auto user = in.bytes(*user_len);
  const auto alg = in.u8();
  const auto ops = in.u32();
  const auto mem = in.u32();
  if (!user || !alg || !ops || !mem || !in.copy(h.salt)) {
    return detail::parse_failure(in.truncated("header"), KeyFile::kKeySet, file_size);
  }
  h.user.assign(reinterpret_cast<const char*>(user->data()), user->size());
  h.kdf = KdfParams{static_cast<KdfAlg>(*alg), *ops, *mem};
  if (!kdf_supported(h.kdf)) {
    return fail(KeySetError::kUnsupportedKdf, KeyFile::kKeySet,
                "alg " + std::to_string(*alg) + ", opslimit " + std::to_string(*ops) + ", memlimit " +
                    std::to_string(*mem));
  }
  return h;
}

Result<Layout> parse_layout(std::span<const std::byte> file) {
  wire::ByteReader in(file);
  if (auto format = detail::read_magic_and_format(in, kKeySetMagic, kKeySetFormat, kKeySetFormat, KeyFile::kKeySet);
      !format) {
    return format.error();
  }
  Layout l;
  auto header = read_header_fields(in, file.size());
  if (!header) return header.error();
  l.header = std::move(header.value());
  l.header_bytes = file.first(in.offset());
  const auto user_wrap = in.bytes(kWrappedKeySize);
  const auto host_wrap = in.bytes(kWrappedKeySize);
  if (!user_wrap || !host_wrap) {
    return detail::parse_failure(in.truncated("wrapped keys"), KeyFile::kKeySet, file.size());
  }
  l.user_wrap = *user_wrap;
  l.host_wrap = *host_wrap;
  auto body = detail::read_sealed_body(in, KeyFile::kKeySet);
  if (!body) return body.error();
  l.body = body.value();
  return l;
}

// Opens the host key wrap and the body with the user key.
Result<OpenedKeySet> open_with(const Layout& l, crypto::SecretBytes user_key, KeySetError host_wrap_error) {
  auto host_key = detail::unwrap_key(user_key.view(), labelled(l.header_bytes, Label::kHostKey), l.host_wrap);
  if (!host_key) return fail(host_wrap_error, KeyFile::kKeySet);
  auto plaintext = detail::open_sealed_body(l.body, l.header_bytes, Label::kBody, host_key->view());
  if (!plaintext) return fail(KeySetError::kTampered, KeyFile::kKeySet);
  auto body = decode_body(plaintext->view(), KeyFile::kKeySet);
  if (!body) return body.error();
  if (auto self = detail::check_self(body.value(), l.header.host, KeyFile::kKeySet); !self) return self.error();
  OpenedKeySet opened;
  opened.header = l.header;
  opened.wrapped_user_key.host = l.header.host;
  opened.wrapped_user_key.user = l.header.user;
  opened.wrapped_user_key.kdf = l.header.kdf;
  opened.wrapped_user_key.salt = l.header.salt;
  std::copy(l.user_wrap.begin(), l.user_wrap.end(), opened.wrapped_user_key.sealed.begin());
  opened.user_key = std::move(user_key);
  opened.host_key = std::move(*host_key);
  opened.body = std::move(body.value());
  return opened;
}

// ---- body ----------------------------------------------------------------

Status<std::string> check_links(const KeySetBody& body) {
  if (body.links.size() > kMaxLinks) return cordon::fail("more than 65535 links");
  // Sets, not AddressBook::find: a coordinator's book can hold thousands.
  std::set<uint32_t> book;
  for (const auto& e : body.book.entries) book.insert(e.id.value);
  const auto* self = body.book.self();
  std::set<uint32_t> seen;
  for (size_t i = 0; i < body.links.size(); ++i) {
    const auto& link = body.links[i];
    const std::string where = "link " + std::to_string(i) + " (" + link.peer.to_string() + ")";
    if (link.key.size() != kKeySize) return where + ": key is not 32 bytes";
    if (!seen.insert(link.peer.value).second) return where + ": peer appears twice";
    if (!book.count(link.peer.value) || (self && self->id == link.peer)) {
      return where + ": peer is not in the address book, or is this host";
    }
  }
  return Ok{};
}

// docs/protocol.md, "Served links": only a coordinator serves clients, a
// client appears once, and every ID is a real host ID.
Status<std::string> check_served(const KeySetBody& body) {
  if (body.served.empty()) return Ok{};
  const auto* self = body.book.self();
  if (self && self->role != Role::kCoordinator) {
    return "served links: " + std::to_string(body.served.size()) + " served client(s), but entry 0 (" +
           self->id.to_string() + ") is not a coordinator";
  }
  if (body.served.size() > kMaxServedClients) return cordon::fail("served links: more than 65535 served clients");
  std::set<uint32_t> seen;
  for (size_t i = 0; i < body.served.size(); ++i) {
    const auto& s = body.served[i];
    const std::string where = "served client " + std::to_string(i) + " (" + s.client.to_string() + ")";
    if (!valid_host(s.client)) return where + ": host ID has network or host number 0";
    if (!seen.insert(s.client.value).second) return where + ": client appears twice";
    if (s.peers.size() > kMaxServedPeers) return where + ": more than 65535 peers";
    for (size_t j = 0; j < s.peers.size(); ++j) {
      if (!valid_host(s.peers[j])) {
        return where + ": peer " + std::to_string(j) + " (" + s.peers[j].to_string() +
               "): host ID has network or host number 0";
      }
    }
  }
  return Ok{};
}

constexpr uint8_t kRulesSection = 1;
constexpr uint8_t kReachSection = 2;
constexpr uint8_t kSettingsSection = 3;
constexpr uint8_t kRevokedSection = 4;
constexpr uint8_t kRekeyPeriodSetting = 1;  // the network settings (keyset.hpp, tag 3)
constexpr uint8_t kAdminHostSetting = 2;
constexpr uint8_t kAdminCourierSetting = 3;
constexpr size_t kSettingSize = 1 + 4;      // setting id | value

Status<std::string> check_settings(const KeySetBody& body) {
  if (body.rekey_period && !rekey_period_allowed(*body.rekey_period)) {
    return "network settings: rekey period " + std::to_string(*body.rekey_period) + " is out of range; it must be " +
           rekey_period_range();
  }
  if (body.admin_host.has_value() != body.admin_courier.has_value()) {
    return cordon::fail("network settings: the administration host and its courier come together (one is missing)");
  }
  if (body.admin_host && (!valid_host(*body.admin_host) || !valid_host(*body.admin_courier))) {
    return cordon::fail("network settings: administration host or courier has network or host number 0");
  }
  if (body.revoked.size() > kMaxRevokedHosts) return cordon::fail("revoked hosts: more than 1048576");
  for (size_t i = 0; i < body.revoked.size(); ++i) {
    if (!valid_host(body.revoked[i])) return "revoked host " + std::to_string(i) + ": network or host number 0";
    if (i > 0 && body.revoked[i].value <= body.revoked[i - 1].value) {
      return "revoked host " + std::to_string(i) + " (" + body.revoked[i].to_string() +
             "): out of order or repeated";
    }
  }
  return Ok{};
}

Status<std::string> check_reach(const KeySetBody& body) {
  if (body.reach.size() > kMaxReachLimits) return cordon::fail("reach limits: more than 65535 peers");
  std::set<uint32_t> seen;
  for (size_t i = 0; i < body.reach.size(); ++i) {
    const ReachLimit& r = body.reach[i];
    const std::string where = "reach limit " + std::to_string(i) + " (" + r.peer.to_string() + ")";
    if (!valid_host(r.peer)) return where + ": host ID has network or host number 0";
    if (!seen.insert(r.peer.value).second) return where + ": peer appears twice";
    if (r.prefixes.size() > kMaxReachPrefixes) return where + ": more than 255 prefixes";
    for (const Prefix& p : r.prefixes) {
      if (!is_network_prefix(p)) return where + ": " + p.to_string() + " is not a network prefix";
    }
  }
  return Ok{};
}

size_t prefix_size(const Prefix& p) { return 1 + p.address.size() + 1; }

Status<std::string> check_rules(const KeySetBody& body) {
  if (body.rules.size() > kMaxFilterRules) return cordon::fail("filter rules: more than 65535 rules");
  for (size_t i = 0; i < body.rules.size(); ++i) {
    const auto& r = body.rules[i];
    const std::string where = "filter rule " + std::to_string(i) + " (number " + std::to_string(r.id) + ")";
    if (r.kind != FilterRuleKind::kProtected && r.kind != FilterRuleKind::kOpen) return where + ": unknown kind " + std::to_string(static_cast<int>(r.kind));
    if (r.text.empty() || r.text.size() > kMaxFilterRuleSize) {
      return where + ": text is " + std::to_string(r.text.size()) + " bytes; it must be 1 to " +
             std::to_string(kMaxFilterRuleSize);
    }
  }
  return Ok{};
}

// Tag 3: only settings that are set; the section is left out when none is.
void write_settings(wire::ByteWriter& w, const KeySetBody& body) {
  std::vector<std::pair<uint8_t, uint32_t>> settings;
  if (body.rekey_period) settings.emplace_back(kRekeyPeriodSetting, *body.rekey_period);
  if (body.admin_host) settings.emplace_back(kAdminHostSetting, body.admin_host->value);
  if (body.admin_courier) settings.emplace_back(kAdminCourierSetting, body.admin_courier->value);
  if (!settings.empty()) {
    w.u8(kSettingsSection);
    w.u32(static_cast<uint32_t>(1 + kSettingSize * settings.size()));
    w.u8(static_cast<uint8_t>(settings.size()));
    for (const auto& [id, value] : settings) {
      w.u8(id);
      w.u32(value);
    }
  }
  // Tag 4 follows tag 3 (sections are in increasing tag order).
  if (body.revoked.empty()) return;
  w.u8(kRevokedSection);
  w.u32(static_cast<uint32_t>(4 + 4 * body.revoked.size()));
  w.u32(static_cast<uint32_t>(body.revoked.size()));
  for (HostId id : body.revoked) w.u32(id.value);
}

void write_body(wire::ByteWriter& w, const KeySetBody& body) {
  write_address_book(w, body.book);
  w.u16(static_cast<uint16_t>(body.links.size()));
  for (const auto& link : body.links) {
    w.u32(link.peer.value);
    w.bytes(link.key.view());
  }
  w.u16(static_cast<uint16_t>(body.served.size()));
  for (const auto& s : body.served) {
    w.u32(s.client.value);
    w.u16(static_cast<uint16_t>(s.peers.size()));
    for (HostId peer : s.peers) w.u32(peer.value);
  }
  if (!body.rules.empty()) {
    size_t length = 2;
    for (const auto& r : body.rules) length += 4 + 1 + 2 + r.text.size();
    w.u8(kRulesSection);
    w.u32(static_cast<uint32_t>(length));
    w.u16(static_cast<uint16_t>(body.rules.size()));
    for (const auto& r : body.rules) {
      w.u32(r.id);
      w.u8(static_cast<uint8_t>(r.kind));
      w.u16(static_cast<uint16_t>(r.text.size()));
      w.text(r.text);
    }
  }
  if (!body.reach.empty()) {
    size_t length = 2;
    for (const auto& r : body.reach) {
      length += 4 + 1;
      for (const Prefix& p : r.prefixes) length += prefix_size(p);
    }
    w.u8(kReachSection);
    w.u32(static_cast<uint32_t>(length));
    w.u16(static_cast<uint16_t>(body.reach.size()));
    for (const auto& r : body.reach) {
      w.u32(r.peer.value);
      w.u8(static_cast<uint8_t>(r.prefixes.size()));
      for (const Prefix& p : r.prefixes) write_network_prefix(w, p);
    }
  }
  write_settings(w, body);
}

wire::ParseStatus read_links(wire::ByteReader& in, KeySetBody& body) {
  const auto count = in.u16();
  if (!count) return in.truncated("link count");
  for (size_t i = 0; i < *count; ++i) {
    const auto peer = in.u32();
    const auto key = in.bytes(kKeySize);
    if (!peer || !key) return in.truncated("link " + std::to_string(i));
    body.links.push_back(LinkKeyEntry{HostId{*peer}, crypto::SecretBytes(*key)});
  }
  if (auto links = check_links(body); !links) return in.bad_field(links.error());
  return Ok{};
}

// The served section (docs/protocol.md, "Served links").
wire::ParseStatus read_served(wire::ByteReader& in, KeySetBody& body) {
  const auto count = in.u16();
  if (!count) return in.truncated("served count");
  for (size_t i = 0; i < *count; ++i) {
    const std::string where = "served client " + std::to_string(i);
    const auto client = in.u32();
    const auto peers = in.u16();
    if (!client || !peers) return in.truncated(where);
    ServedClient s{HostId{*client}, {}};
    // No reserve(*peers): a forged count must not allocate before the
    // bytes are there.
    for (size_t j = 0; j < *peers; ++j) {
      const auto peer = in.u32();
      if (!peer) return in.truncated(where + ": peer " + std::to_string(j));
      s.peers.push_back(HostId{*peer});
    }
    body.served.push_back(std::move(s));
  }
  if (auto served = check_served(body); !served) return in.bad_field(served.error());
  return Ok{};
}

// The filter rules section's content (keyset.hpp, tag 1).
wire::ParseStatus read_rules(wire::ByteReader& in, KeySetBody& body) {
  const auto count = in.u16();
  if (!count) return in.truncated("filter rule count");
  if (*count == 0) return in.bad_field("filter rule count 0 (a body without rules has no rule section)");
  for (size_t i = 0; i < *count; ++i) {
    const std::string where = "filter rule " + std::to_string(i);
    const auto id = in.u32();
    const auto kind = in.u8();
    const auto length = in.u16();
    if (!id || !kind || !length) return in.truncated(where);
    const auto text = in.bytes(*length);
    if (!text) return in.truncated(where + ": text");
    body.rules.push_back(FilterRuleEntry{*id, static_cast<FilterRuleKind>(*kind),
                                         std::string(reinterpret_cast<const char*>(text->data()), text->size())});
  }
  if (!in.at_end()) return in.trailing_bytes("after the filter rules");
  if (auto rules = check_rules(body); !rules) return in.bad_field(rules.error());
  return Ok{};
}

// The reach limits section's content (keyset.hpp, tag 2).
wire::ParseStatus read_reach(wire::ByteReader& in, KeySetBody& body) {
  const auto count = in.u16();
  if (!count) return in.truncated("reach limit count");
  if (*count == 0) return in.bad_field("reach limit count 0 (a body without limits has no reach section)");
  for (size_t i = 0; i < *count; ++i) {
    const std::string where = "reach limit " + std::to_string(i);
    const auto peer = in.u32();
    const auto prefixes = in.u8();
    if (!peer || !prefixes) return in.truncated(where);
    ReachLimit r{HostId{*peer}, {}};
    for (size_t j = 0; j < *prefixes; ++j) {
      const auto p = read_network_prefix(in);
      const std::string field = where + ": prefix " + std::to_string(j);
      if (!p) return in.failed() ? in.truncated(field) : in.bad_field(field);
      r.prefixes.push_back(*p);
    }
    body.reach.push_back(std::move(r));
  }
  if (!in.at_end()) return in.trailing_bytes("after the reach limits");
  if (auto reach = check_reach(body); !reach) return in.bad_field(reach.error());
  return Ok{};
}

// The network settings section's content (keyset.hpp, tag 3): each
// setting once, each known, each in range.
wire::ParseStatus read_settings(wire::ByteReader& in, KeySetBody& body) {
  const auto count = in.u8();
  if (!count) return in.truncated("network setting count");
  if (*count == 0) return in.bad_field("network setting count 0 (a body without settings has no settings section)");
  for (size_t i = 0; i < *count; ++i) {
    const std::string where = "network setting " + std::to_string(i);
    const auto id = in.u8();
    const auto value = in.u32();
    if (!id || !value) return in.truncated(where);
    if (*id == kRekeyPeriodSetting) {
      if (body.rekey_period) return in.bad_field(where + ": rekey period appears twice");
      body.rekey_period = *value;
    } else if (*id == kAdminHostSetting) {
      if (body.admin_host) return in.bad_field(where + ": administration host appears twice");
      body.admin_host = HostId{*value};
    } else if (*id == kAdminCourierSetting) {
      if (body.admin_courier) return in.bad_field(where + ": administration courier appears twice");
      body.admin_courier = HostId{*value};
    } else {
      return in.bad_field(where + ": unknown setting " + std::to_string(*id) +
                          " (made by a newer Cordon? upgrade this host)");
    }
  }
  if (!in.at_end()) return in.trailing_bytes("after the network settings");
  if (auto settings = check_settings(body); !settings) return in.bad_field(settings.error());
  return Ok{};
}

// Tag 4: the revoked hosts, increasing.
wire::ParseStatus read_revoked(wire::ByteReader& in, KeySetBody& body) {
  const auto count = in.u32();
  if (!count) return in.truncated("revoked host count");
  if (*count == 0) return in.bad_field("revoked host count 0 (a body without revoked hosts has no such section)");
  if (*count > kMaxRevokedHosts || *count > in.remaining() / 4) return in.bad_field("revoked host count");
  body.revoked.reserve(*count);
  for (size_t i = 0; i < *count; ++i) {
    const auto id = in.u32();
    if (!id) return in.truncated("revoked host " + std::to_string(i));
    body.revoked.push_back(HostId{*id});
  }
  if (!in.at_end()) return in.trailing_bytes("after the revoked hosts");
  if (auto settings = check_settings(body); !settings) return in.bad_field(settings.error());
  return Ok{};
}

wire::ParseStatus read_section(uint8_t tag, wire::ByteReader& in, KeySetBody& body) {
  switch (tag) {
    case kRulesSection: return read_rules(in, body);
    case kReachSection: return read_reach(in, body);
    case kSettingsSection: return read_settings(in, body);
    default: return read_revoked(in, body);
  }
}

// The sections after the served links (keyset.hpp): each once, in tag
// order, its content exactly its length.
wire::ParseStatus read_sections(wire::ByteReader& in, KeySetBody& body) {
  int previous = 0;
  while (!in.at_end()) {
    const auto tag = in.u8();
    const auto length = in.u32();
    if (!tag || !length) return in.truncated("section header");
    const std::string where = "section " + std::to_string(*tag);
    if (*tag != kRulesSection && *tag != kReachSection && *tag != kSettingsSection && *tag != kRevokedSection) {
      return in.bad_field(where + ": unknown (made by a newer Cordon? upgrade this host)");
    }
    if (*tag <= previous) return in.bad_field(where + ": twice, or out of order");
    previous = *tag;
    if (*length == 0) return in.bad_field(where + ": empty");
    const auto content = in.bytes(*length);
    if (!content) return in.truncated(where);
    wire::ByteReader section(*content);
    auto read = read_section(*tag, section, body);
    if (!read) {
      // Offsets inside the section, named as such.
      wire::ParseError err = read.error();
      err.field = where + ": " + err.field;
      return err;
    }
  }
  return Ok{};
}

}  // namespace

// ---- errors --------------------------------------------------------------

std::string_view error_name(KeySetError code) {
  switch (code) {
    case KeySetError::kTruncated: return "truncated";
    case KeySetError::kTrailingBytes: return "trailing_bytes";
    case KeySetError::kBadMagic: return "bad_magic";
    case KeySetError::kUnsupportedFormat: return "unsupported_format";
    case KeySetError::kUnsupportedKdf: return "unsupported_kdf";
    case KeySetError::kBadField: return "bad_field";
    case KeySetError::kBadPasswordLength: return "bad_password_length";
    case KeySetError::kKdfFailed: return "kdf_failed";
    case KeySetError::kWrongPassword: return "wrong_password";
    case KeySetError::kWrongUserKey: return "wrong_user_key";
    case KeySetError::kTampered: return "tampered";
    case KeySetError::kOtherNetwork: return "other_network";
    case KeySetError::kOtherHost: return "other_host";
    case KeySetError::kStaleVersion: return "stale_version";
    case KeySetError::kUserRemoved: return "user_removed";
  }
  return "unknown";
}

std::string KeySetFailure::message() const {
  const std::string noun(file_noun(file));
  const std::string again(redo(file));
  const std::string paren = detail.empty() ? "" : " (" + detail + ")";
  switch (code) {
    case KeySetError::kTruncated: return "the " + noun + " ends early" + paren + "; copy it again";
    case KeySetError::kTrailingBytes:
      return "the " + noun + " has extra bytes after its end" + paren + "; copy it again";
    case KeySetError::kBadMagic:
      return "this is not a Cordon " + noun + " (its first bytes are not " +
             std::string(file == KeyFile::kKeySet ? kKeySetMagic : "CRDNUPDT") + "); check the file name";
    case KeySetError::kUnsupportedFormat:
      return "the " + noun + " has a format this version of Cordon does not know" + paren + "; upgrade Cordon";
    case KeySetError::kUnsupportedKdf:
      return "the " + noun + " asks for an unknown password KDF or parameters out of bounds" + paren + "; " + again;
    case KeySetError::kBadField: return "the " + noun + " has an invalid field" + paren + "; " + again;
    case KeySetError::kBadPasswordLength:
      return "the password must be " + std::to_string(kMinPasswordSize) + " to " + std::to_string(kMaxPasswordSize) +
             " characters, counted as bytes of UTF-8" + paren + "; check it, or choose another";
    case KeySetError::kKdfFailed:
      return "deriving the password key failed: Argon2id could not get its memory" + paren +
             "; free memory and try again";
    case KeySetError::kWrongPassword:
      return "the password does not open this key set; check it, or ask the administrator to reset it";
    case KeySetError::kWrongUserKey:
      return "the key set does not open with the user key unlocked at start (was another key set installed?); "
             "restart the daemon to unlock it with its password";
    case KeySetError::kTampered:
      return file == KeyFile::kKeySet
                 ? "the key set was altered or corrupted after export; export it again"
                 : "the update package was altered or corrupted, or was sealed under another host key (for example, "
                   "an earlier package that rotated the host key was not applied); apply the missing packages in "
                   "order, or install a fresh key set (`cordon admin keyset export`)";
    case KeySetError::kOtherNetwork:
      return "the " + noun + " is for another network" + paren + "; use the one made for this host";
    case KeySetError::kOtherHost:
      return "the " + noun + " is for another host" + paren + "; use the one made for this host";
    case KeySetError::kStaleVersion:
      return "the update package is not newer than the installed key set" + paren +
             ": it is old or replayed; apply a newer package";
    case KeySetError::kUserRemoved:
      return "the update package replaces the host key and carries no copy of it for this key set's user" + paren +
             ": the user was removed from this host; install a key set of a remaining user (`cordon admin keyset "
             "export --user NAME`)";
  }
  return "the " + noun + " was refused";
}

std::string rekey_period_range() {
  return "0 (off) or " + std::to_string(kMinRekeyPeriod) + " to " + std::to_string(kMaxRekeyPeriod) + " seconds";
}

Result<Ok> check_same_host(HostId expected, HostId got, KeyFile file) {
  if (expected == got) return Ok{};
  const std::string detail = "made for " + got.to_string() + ", this host is " + expected.to_string();
  return fail(expected.network() != got.network() ? KeySetError::kOtherNetwork : KeySetError::kOtherHost, file,
              detail);
}

// ---- body ----------------------------------------------------------------

const LinkKeyEntry* KeySetBody::link_to(HostId peer) const {
  for (const auto& l : links) {
    if (l.peer == peer) return &l;
  }
  return nullptr;
}

const ServedClient* KeySetBody::served_client(HostId client) const {
  for (const auto& s : served) {
    if (s.client == client) return &s;
  }
  return nullptr;
}

Result<crypto::SecretBytes> encode_body(const KeySetBody& body, KeyFile file) {
  if (auto book = check_address_book(body.book); !book) return fail(KeySetError::kBadField, file, book.error());
  if (auto links = check_links(body); !links) return fail(KeySetError::kBadField, file, links.error());
  if (auto served = check_served(body); !served) return fail(KeySetError::kBadField, file, served.error());
  if (auto rules = check_rules(body); !rules) return fail(KeySetError::kBadField, file, rules.error());
  if (auto reach = check_reach(body); !reach) return fail(KeySetError::kBadField, file, reach.error());
  if (auto settings = check_settings(body); !settings) return fail(KeySetError::kBadField, file, settings.error());
  wire::ByteWriter sizing;
  write_body(sizing, body);
  crypto::SecretBytes out(sizing.size());
  wire::ByteWriter w(out.mutable_view());
  write_body(w, body);
  if (w.overflow() || w.size() != out.size()) return fail(KeySetError::kBadField, file, "body encoding");
  return out;
}

Result<KeySetBody> decode_body(std::span<const std::byte> plaintext, KeyFile file) {
  wire::ByteReader in(plaintext);
  KeySetBody body;
  auto read = read_address_book(in, body.book);
  if (read) read = read_links(in, body);
  if (read) read = read_served(in, body);
  if (read) read = read_sections(in, body);
  if (!read) {
    const wire::ParseError& err = read.error();
    // The body was authenticated: a bad encoding is the exporter's fault,
    // not a damaged copy, so every decoding error is a bad field.
    return fail(KeySetError::kBadField, file,
                "body: " + err.field + " at byte " + std::to_string(err.offset) + " of " +
                    std::to_string(plaintext.size()));
  }
  return body;
}

// ---- wrapped user key ------------------------------------------------------

std::vector<std::byte> WrappedUserKey::encode_record() const {
  std::vector<std::byte> out(kRecordSize);
  wire::ByteWriter w(out);
  w.u8(static_cast<uint8_t>(kdf.alg));
  w.u32(kdf.opslimit);
  w.u32(kdf.memlimit);
  w.bytes(salt);
  w.bytes(sealed);
  return out;
}

std::optional<WrappedUserKey> WrappedUserKey::decode_record(HostId host, std::string_view user,
                                                            std::span<const std::byte> record) {
  if (record.size() != kRecordSize) return std::nullopt;
  wire::ByteReader in(record);
  WrappedUserKey w;
  w.host = host;
  w.user = std::string(user);
  const auto alg = in.u8();
  const auto ops = in.u32();
  const auto mem = in.u32();
  if (!alg || !ops || !mem || !in.copy(w.salt) || !in.copy(w.sealed)) return std::nullopt;
  w.kdf = KdfParams{static_cast<KdfAlg>(*alg), *ops, *mem};
  if (!kdf_supported(w.kdf)) return std::nullopt;
  return w;
}

Result<WrappedUserKey> wrap_user_key_with_password_key(HostId host, std::string_view user,
                                                       const crypto::SecretBytes& password_key, const KdfParams& kdf,
                                                       const Salt& salt, const crypto::SecretBytes& user_key,
                                                       const crypto::XChaChaNonce& nonce) {
  if (auto identity = check_identity(host, user, kdf); !identity) return identity.error();
  if (password_key.size() != kPasswordKeySize || user_key.size() != kKeySize) {
    return fail(KeySetError::kBadField, KeyFile::kKeySet, "password key or user key is not 32 bytes");
  }
  WrappedUserKey w;
  w.host = host;
  w.user = std::string(user);
  w.kdf = kdf;
  w.salt = salt;
  // The version is not in this AAD, so any value gives the same bytes.
  const auto header = encode_header(KeySetHeader{host, 0, w.user, kdf, salt});
  if (!detail::wrap_key(password_key.view(), nonce, user_wrap_aad(header), user_key.view(), w.sealed)) {
    return fail(KeySetError::kBadField, KeyFile::kKeySet, "user key wrap");
  }
  return w;
}

Result<WrappedUserKey> wrap_user_key(HostId host, std::string_view user, std::string_view password,
                                     const KdfParams& kdf, const Salt& salt, const crypto::SecretBytes& user_key,
                                     const crypto::XChaChaNonce& nonce) {
  if (auto identity = check_identity(host, user, kdf); !identity) return identity.error();
  if (auto length = check_password(password); !length) return length.error();
  const auto password_key = derive_password_key(password, salt, kdf);
  if (!password_key) return fail(KeySetError::kKdfFailed, KeyFile::kKeySet, std::to_string(kdf.memlimit) + " bytes");
  return wrap_user_key_with_password_key(host, user, *password_key, kdf, salt, user_key, nonce);
}

Result<crypto::SecretBytes> unwrap_user_key(const WrappedUserKey& wrapped, std::string_view password) {
  if (auto identity = check_identity(wrapped.host, wrapped.user, wrapped.kdf); !identity) return identity.error();
  if (auto length = check_password(password); !length) return length.error();
  const auto password_key = derive_password_key(password, wrapped.salt, wrapped.kdf);
  if (!password_key) {
    return fail(KeySetError::kKdfFailed, KeyFile::kKeySet, std::to_string(wrapped.kdf.memlimit) + " bytes");
  }
  const auto header = encode_header(KeySetHeader{wrapped.host, 0, wrapped.user, wrapped.kdf, wrapped.salt});
  auto user_key = detail::unwrap_key(password_key->view(), user_wrap_aad(header), wrapped.sealed);
  if (!user_key) return fail(KeySetError::kWrongPassword, KeyFile::kKeySet);
  return std::move(*user_key);
}

// ---- seal and open -------------------------------------------------------

Result<std::vector<std::byte>> seal_keyset(const WrappedUserKey& wrapped, uint64_t version,
                                           const crypto::SecretBytes& user_key, const crypto::SecretBytes& host_key,
                                           const KeySetBody& body, const KeySetNonces& nonces) {
  if (auto identity = check_identity(wrapped.host, wrapped.user, wrapped.kdf); !identity) return identity.error();
  if (user_key.size() != kKeySize || host_key.size() != kKeySize) {
    return fail(KeySetError::kBadField, KeyFile::kKeySet, "user key or host key is not 32 bytes");
  }
  if (auto self = detail::check_self(body, wrapped.host, KeyFile::kKeySet); !self) return self.error();
  auto plaintext = encode_body(body, KeyFile::kKeySet);
  if (!plaintext) return plaintext.error();
  if (plaintext.value().size() > UINT32_MAX - crypto::kXChaChaTagSize) {
    return fail(KeySetError::kBadField, KeyFile::kKeySet, "body larger than 4 GiB");
  }
  const auto header = encode_header(KeySetHeader{wrapped.host, version, wrapped.user, wrapped.kdf, wrapped.salt});
  std::vector<std::byte> file(header.size() + 2 * kWrappedKeySize + detail::sealed_body_size(plaintext.value().size()));
  wire::ByteWriter w(file);
  w.bytes(header);
  w.bytes(wrapped.sealed);
  const bool ok = detail::wrap_key(user_key.view(), nonces.host_key, labelled(header, Label::kHostKey), host_key.view(),
                           w.rest().first<kWrappedKeySize>());
  w.skip(kWrappedKeySize);
  if (!ok ||
      !detail::write_sealed_body(w, header, Label::kBody, host_key.view(), nonces.body, plaintext.value().view()) ||
      w.size() != file.size()) {
    return fail(KeySetError::kBadField, KeyFile::kKeySet, "sealing failed");
  }
  return file;
}

Result<KeySetHeader> parse_keyset_header(std::span<const std::byte> file) {
  auto layout = parse_layout(file);
  if (!layout) return layout.error();
  return layout.value().header;
}

Result<OpenedKeySet> open_keyset(std::span<const std::byte> file, std::string_view password) {
  auto layout = parse_layout(file);
  if (!layout) return layout.error();
  const Layout& l = layout.value();
  if (auto length = check_password(password); !length) return length.error();
  const auto password_key = derive_password_key(password, l.header.salt, l.header.kdf);
  if (!password_key) {
    return fail(KeySetError::kKdfFailed, KeyFile::kKeySet, std::to_string(l.header.kdf.memlimit) + " bytes");
  }
  auto user_key = detail::unwrap_key(password_key->view(), user_wrap_aad(l.header_bytes), l.user_wrap);
  if (!user_key) return fail(KeySetError::kWrongPassword, KeyFile::kKeySet);
  // The password opened the user key, so a failure from here on is damage,
  // not a wrong password: the two get different messages
  // (docs/administration.md, "Error messages").
  return open_with(l, std::move(*user_key), KeySetError::kTampered);
}

Result<OpenedKeySet> open_keyset_with_user_key(std::span<const std::byte> file, const crypto::SecretBytes& user_key) {
  auto layout = parse_layout(file);
  if (!layout) return layout.error();
  if (user_key.size() != kKeySize) return fail(KeySetError::kWrongUserKey, KeyFile::kKeySet, "not 32 bytes");
  return open_with(layout.value(), user_key, KeySetError::kWrongUserKey);
}

Result<std::vector<std::byte>> reseal_with_password(const OpenedKeySet& opened, std::string_view new_password,
                                                    const KdfParams& kdf, const Salt& salt,
                                                    const crypto::XChaChaNonce& user_key_nonce,
                                                    const KeySetNonces& nonces) {
  auto wrapped =
      wrap_user_key(opened.header.host, opened.header.user, new_password, kdf, salt, opened.user_key, user_key_nonce);
  if (!wrapped) return wrapped.error();
  return seal_keyset(wrapped.value(), opened.header.version, opened.user_key, opened.host_key, opened.body, nonces);
}

// ---- shared with update packages ------------------------------------------

namespace detail {

Result<Ok> check_self(const KeySetBody& body, HostId host, KeyFile file) {
  const auto* self = body.book.self();
  if (self && self->id == host) return Ok{};
  return fail(KeySetError::kBadField, file,
              "address book entry 0 is " + (self ? self->id.to_string() : std::string("missing")) + ", not the host " +
                  host.to_string());
}

KeySetFailure parse_failure(const wire::ParseError& error, KeyFile file, size_t file_size) {
  switch (error.kind) {
    case wire::ParseError::Kind::kTruncated:
      return fail(KeySetError::kTruncated, file,
                  std::to_string(file_size) + " of " + std::to_string(error.needed) + " bytes");
    case wire::ParseError::Kind::kTrailingBytes:
      return fail(KeySetError::kTrailingBytes, file, std::to_string(file_size - error.offset) + " bytes");
    case wire::ParseError::Kind::kBadField:
      break;
  }
  return fail(KeySetError::kBadField, file, error.field);
}

Result<uint16_t> read_magic_and_format(wire::ByteReader& in, std::string_view magic, uint16_t min_format,
                                       uint16_t max_format, KeyFile file) {
  // A file that starts like the magic but ends within it is truncated; any
  // other first bytes are not ours.
  const size_t have = std::min(in.remaining(), magic.size());
  const auto start = in.bytes(have);
  if (!start || !std::equal(start->begin(), start->end(), text_bytes(magic).begin())) {
    return fail(KeySetError::kBadMagic, file);
  }
  if (have < magic.size()) {
    return fail(KeySetError::kTruncated, file,
                std::to_string(in.size()) + " of " + std::to_string(magic.size() + 2) + " bytes");
  }
  const auto format = in.u16();
  if (!format) return parse_failure(in.truncated("format"), file, in.size());
  if (*format < min_format || *format > max_format) {
    return fail(KeySetError::kUnsupportedFormat, file, "format " + std::to_string(*format));
  }
  return *format;
}

Result<SealedBody> read_sealed_body(wire::ByteReader& in, KeyFile file) {
  SealedBody out;
  if (!in.copy(out.nonce)) return parse_failure(in.truncated("body nonce"), file, in.size());
  const auto length = in.u32();
  if (!length) return parse_failure(in.truncated("body length"), file, in.size());
  // 64-bit sum: a length near 2^32 plus the tag must not wrap.
  const uint64_t sealed_size = uint64_t{*length} + crypto::kXChaChaTagSize;
  const auto sealed = in.bytes(static_cast<size_t>(sealed_size));
  if (!sealed) return parse_failure(in.truncated("body"), file, in.size());
  if (!in.at_end()) return parse_failure(in.trailing_bytes("after the body"), file, in.size());
  out.sealed = *sealed;
  return out;
}

bool write_sealed_body(wire::ByteWriter& out, std::span<const std::byte> header, Label label,
                       std::span<const std::byte> key, const crypto::XChaChaNonce& nonce,
                       std::span<const std::byte> plaintext) {
  if (plaintext.size() > UINT32_MAX - crypto::kXChaChaTagSize) return false;
  out.bytes(nonce);
  out.u32(static_cast<uint32_t>(plaintext.size()));
  const auto dest = out.rest();
  const size_t sealed_size = plaintext.size() + crypto::kXChaChaTagSize;
  if (dest.size() < sealed_size) return false;
  if (!crypto::xchacha_seal(key, nonce, labelled(header, label), plaintext, dest.first(sealed_size))) return false;
  out.skip(sealed_size);
  return !out.overflow();
}

bool wrap_key(std::span<const std::byte> wrapping_key, const crypto::XChaChaNonce& nonce,
              std::span<const std::byte> aad, std::span<const std::byte> key,
              std::span<std::byte, kWrappedKeySize> out) {
  std::copy(nonce.begin(), nonce.end(), out.begin());
  return crypto::xchacha_seal(wrapping_key, nonce, aad, key, out.subspan(crypto::kXChaChaNonceSize));
}

std::optional<crypto::SecretBytes> unwrap_key(std::span<const std::byte> wrapping_key,
                                              std::span<const std::byte> aad,
                                              std::span<const std::byte> wrapped) {
  if (wrapped.size() != kWrappedKeySize) return std::nullopt;
  crypto::XChaChaNonce nonce;
  std::copy(wrapped.begin(), wrapped.begin() + crypto::kXChaChaNonceSize, nonce.begin());
  crypto::SecretBytes key(kKeySize);
  if (!crypto::xchacha_open(wrapping_key, nonce, aad, wrapped.subspan(crypto::kXChaChaNonceSize),
                            key.mutable_view())) {
    return std::nullopt;
  }
  return key;
}

std::optional<crypto::SecretBytes> open_sealed_body(const SealedBody& body, std::span<const std::byte> header,
                                                    Label label, std::span<const std::byte> key) {
  if (body.sealed.size() < crypto::kXChaChaTagSize) return std::nullopt;
  crypto::SecretBytes plaintext(body.sealed.size() - crypto::kXChaChaTagSize);
  if (!crypto::xchacha_open(key, body.nonce, labelled(header, label), body.sealed, plaintext.mutable_view())) {
    return std::nullopt;
  }
  return plaintext;
}

}  // namespace detail

}  // namespace cordon::keys
