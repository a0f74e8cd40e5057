// Update packages (update_package.hpp).
#include "core/keys/update_package.hpp"

#include <algorithm>
#include <string>

namespace cordon::keys {
namespace {

constexpr size_t kFixedHeaderSize1 = 8 + 2 + 2 + 4 + 8 + 1 + 1;  // format 1
constexpr size_t kFixedHeaderSize = kFixedHeaderSize1 + 2;        // format 2: + wrap count

KeySetFailure fail(KeySetError code, std::string detail = {}) {
  return KeySetFailure{code, KeyFile::kUpdatePackage, std::move(detail)};
}

std::span<const std::byte> text_bytes(std::string_view s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

size_t wrap_size(const HostKeyWrap& w) { return 1 + w.user_key.user.size() + WrappedUserKey::kRecordSize + kWrappedKeySize; }

// Format 2 only (format 1 is never written).
std::array<std::byte, kFixedHeaderSize> encode_fixed(const UpdateHeader& h) {
  std::array<std::byte, kFixedHeaderSize> out{};
  wire::ByteWriter w(out);
  w.text(kUpdateMagic);
  w.u16(kUpdateFormat);
  w.u16(h.network());
  w.u32(h.host.value);
  w.u64(h.version);
  w.u8(static_cast<uint8_t>(h.kind));
  w.u8(h.new_host_key ? 1 : 0);
  w.u16(static_cast<uint16_t>(h.wraps.size()));
  return out;
}

// A host key wrap is bound to the package (host, version, kind, count) and
// to the user it is for.
std::vector<std::byte> host_wrap_aad(std::span<const std::byte> fixed, std::string_view user) {
  std::vector<std::byte> aad(fixed.begin(), fixed.end());
  aad.push_back(static_cast<std::byte>(user.size()));
  const auto name = text_bytes(user);
  aad.insert(aad.end(), name.begin(), name.end());
  aad.push_back(static_cast<std::byte>(Label::kUpdateHostKey));
  return aad;
}

std::vector<std::byte> encode_header(const UpdateHeader& h) {
  const auto fixed = encode_fixed(h);
  size_t size = fixed.size();
  for (const HostKeyWrap& w : h.wraps) size += wrap_size(w);
  std::vector<std::byte> out(size);
  wire::ByteWriter w(out);
  w.bytes(fixed);
  for (const HostKeyWrap& wrap : h.wraps) {
    w.u8(static_cast<uint8_t>(wrap.user_key.user.size()));
    w.text(wrap.user_key.user);
    w.bytes(wrap.user_key.encode_record());
    w.bytes(wrap.host_key);
  }
  return out;
}

struct Layout {
  UpdateHeader header;
  std::span<const std::byte> fixed_bytes;
  std::span<const std::byte> header_bytes;
  detail::SealedBody body;
};

Result<Ok> read_wraps(wire::ByteReader& in, uint16_t count, Layout& l, size_t file_size) {
  for (size_t i = 0; i < count; ++i) {
    const std::string where = "host key wrap " + std::to_string(i);
    const auto len = in.u8();
    if (!len) return detail::parse_failure(in.truncated(where), KeyFile::kUpdatePackage, file_size);
    if (*len == 0 || *len > kMaxUserNameSize) {
      return fail(KeySetError::kBadField, where + ": user name length " + std::to_string(*len));
    }
    const auto name = in.bytes(*len);
    const auto record = in.bytes(WrappedUserKey::kRecordSize);
    HostKeyWrap w;
    if (!name || !record || !in.copy(w.host_key)) {
      return detail::parse_failure(in.truncated(where), KeyFile::kUpdatePackage, file_size);
    }
    const std::string user(reinterpret_cast<const char*>(name->data()), name->size());
    if (l.header.wrap_for(user) != nullptr) return fail(KeySetError::kBadField, where + ": user '" + user + "' twice");
    auto decoded = WrappedUserKey::decode_record(l.header.host, user, *record);
    if (!decoded) return fail(KeySetError::kUnsupportedKdf, where + " (user '" + user + "')");
    w.user_key = std::move(*decoded);
    l.header.wraps.push_back(std::move(w));
  }
  return Ok{};
}

Result<Layout> parse_layout(std::span<const std::byte> file) {
  wire::ByteReader in(file);
  Layout l;
  auto format = detail::read_magic_and_format(in, kUpdateMagic, kUpdateFormatWithoutWraps, kUpdateFormat,
                                              KeyFile::kUpdatePackage);
  if (!format) return format.error();
  l.header.format = format.value();
  const auto network = in.u16();
  const auto host = in.u32();
  const auto version = in.u64();
  const auto kind = in.u8();
  const auto new_host_key = in.u8();
  const auto count = l.header.format == kUpdateFormatWithoutWraps ? std::optional<uint16_t>(0) : in.u16();
  if (!network || !host || !version || !kind || !new_host_key || !count) {
    return detail::parse_failure(in.truncated("header"), KeyFile::kUpdatePackage, file.size());
  }
  l.header.host = HostId{*host};
  l.header.version = *version;
  if (l.header.host.network() == 0 || l.header.host.host() == 0) return fail(KeySetError::kBadField, "host ID");
  if (*network != l.header.host.network()) return fail(KeySetError::kBadField, "network does not match host ID");
  if (*kind != 1 && *kind != 2) return fail(KeySetError::kBadField, "kind " + std::to_string(*kind));
  if (*new_host_key > 1) return fail(KeySetError::kBadField, "new host key flag " + std::to_string(*new_host_key));
  l.header.kind = static_cast<UpdateKind>(*kind);
  l.header.new_host_key = *new_host_key == 1;
  if (l.header.format == kUpdateFormat && l.header.new_host_key != (*count > 0)) {
    return fail(KeySetError::kBadField, "wrap count " + std::to_string(*count) + " with new host key flag " +
                                            std::to_string(*new_host_key));
  }
  l.fixed_bytes = file.first(in.offset());
  if (auto wraps = read_wraps(in, *count, l, file.size()); !wraps) return wraps.error();
  l.header_bytes = file.first(in.offset());
  auto body = detail::read_sealed_body(in, KeyFile::kUpdatePackage);
  if (!body) return body.error();
  l.body = body.value();
  return l;
}

Result<Ok> check_seal_inputs(const UpdateHeader& header, const crypto::SecretBytes& current_host_key,
                                               const crypto::SecretBytes& new_host_key,
                                               std::span<const UserKeyHolder> users) {
  if (header.host.network() == 0 || header.host.host() == 0) return fail(KeySetError::kBadField, "host ID");
  if (header.kind != UpdateKind::kKeys && header.kind != UpdateKind::kAddressBook) {
    return fail(KeySetError::kBadField, "kind");
  }
  if (header.new_host_key ? new_host_key.size() != kKeySize : !new_host_key.empty()) {
    return fail(KeySetError::kBadField, "new host key does not match the header's flag");
  }
  if (!header.new_host_key) {
    if (current_host_key.size() != kKeySize) return fail(KeySetError::kBadField, "current host key is not 32 bytes");
    if (!users.empty()) return fail(KeySetError::kBadField, "user key wraps without a new host key");
    return Ok{};
  }
  // No user to wrap the new key for: nobody could open the package.
  if (users.empty() || users.size() > kMaxHostKeyWraps) {
    return fail(KeySetError::kBadField, "a new host key needs 1 to 65535 users, not " + std::to_string(users.size()));
  }
  for (const UserKeyHolder& u : users) {
    if (!(u.wrapped.host == header.host) || u.wrapped.user.empty() || u.wrapped.user.size() > kMaxUserNameSize ||
        u.user_key.size() != kKeySize) {
      return fail(KeySetError::kBadField, "user '" + u.wrapped.user + "': host, name or user key");
    }
  }
  return Ok{};
}

// The header of a package with its wraps filled in (format 2).
Result<UpdateHeader> wrapped_header(const UpdateHeader& in, const crypto::SecretBytes& new_host_key,
                                    std::span<const UserKeyHolder> users) {
  UpdateHeader h = in;
  h.format = kUpdateFormat;
  h.wraps.clear();
  for (const UserKeyHolder& u : users) {
    if (h.wrap_for(u.wrapped.user) != nullptr) return fail(KeySetError::kBadField, "user '" + u.wrapped.user + "' twice");
    h.wraps.push_back(HostKeyWrap{u.wrapped, {}});
  }
  const auto fixed = encode_fixed(h);
  for (size_t i = 0; i < users.size(); ++i) {
    if (!detail::wrap_key(users[i].user_key.view(), users[i].nonce, host_wrap_aad(fixed, users[i].wrapped.user),
                          new_host_key.view(), h.wraps[i].host_key)) {
      return fail(KeySetError::kBadField, "host key wrap for user '" + users[i].wrapped.user + "'");
    }
  }
  return h;
}

}  // namespace

std::string_view update_kind_name(UpdateKind kind) { return kind == UpdateKind::kKeys ? "keys" : "address-book"; }

const HostKeyWrap* UpdateHeader::wrap_for(std::string_view user) const {
  const auto it = std::find_if(wraps.begin(), wraps.end(), [&](const HostKeyWrap& w) { return w.user_key.user == user; });
  return it == wraps.end() ? nullptr : &*it;
}

Result<std::vector<std::byte>> seal_update(const UpdateHeader& header, const crypto::SecretBytes& current_host_key,
                                           const crypto::SecretBytes& new_host_key, const KeySetBody& body,
                                           const crypto::XChaChaNonce& nonce, std::span<const UserKeyHolder> users) {
  if (auto inputs = check_seal_inputs(header, current_host_key, new_host_key, users); !inputs) return inputs.error();
  if (auto self = detail::check_self(body, header.host, KeyFile::kUpdatePackage); !self) return self.error();
  auto plaintext = encode_body(body, KeyFile::kUpdatePackage);
  if (!plaintext) return plaintext.error();
  auto full = wrapped_header(header, new_host_key, users);
  if (!full) return full.error();
  const auto h = encode_header(full.value());
  // A replaced host key seals the body: the old one opens nothing here.
  const crypto::SecretBytes& body_key = header.new_host_key ? new_host_key : current_host_key;
  std::vector<std::byte> file(h.size() + detail::sealed_body_size(plaintext.value().size()));
  wire::ByteWriter w(file);
  w.bytes(h);
  if (!detail::write_sealed_body(w, h, Label::kUpdateBody, body_key.view(), nonce, plaintext.value().view()) ||
      w.size() != file.size()) {
    return fail(KeySetError::kBadField, "sealing failed");
  }
  return file;
}

Result<UpdateHeader> parse_update_header(std::span<const std::byte> file) {
  auto layout = parse_layout(file);
  if (!layout) return layout.error();
  return std::move(layout.value().header);
}

Result<OpenedUpdate> open_update(std::span<const std::byte> file, const crypto::SecretBytes& host_key) {
  auto layout = parse_layout(file);
  if (!layout) return layout.error();
  Layout& l = layout.value();
  if (host_key.size() != kKeySize) return fail(KeySetError::kTampered, "host key is not 32 bytes");
  auto plaintext = detail::open_sealed_body(l.body, l.header_bytes, Label::kUpdateBody, host_key.view());
  if (!plaintext) return fail(KeySetError::kTampered);
  OpenedUpdate opened;
  auto rest = plaintext->view();
  if (l.header.sealed_under_new_host_key()) {
    opened.new_host_key = host_key;
  } else if (l.header.new_host_key) {  // format 1: the new key leads the body
    if (rest.size() < kKeySize) return fail(KeySetError::kBadField, "body: new host key");
    opened.new_host_key = crypto::SecretBytes(rest.first(kKeySize));
    rest = rest.subspan(kKeySize);
  }
  auto body = decode_body(rest, KeyFile::kUpdatePackage);
  if (!body) return body.error();
  if (auto self = detail::check_self(body.value(), l.header.host, KeyFile::kUpdatePackage); !self) return self.error();
  opened.header = std::move(l.header);
  opened.body = std::move(body.value());
  return opened;
}

Result<crypto::SecretBytes> unwrap_update_host_key(const UpdateHeader& header, std::string_view user,
                                                   const crypto::SecretBytes& user_key) {
  const HostKeyWrap* wrap = header.wrap_for(user);
  if (wrap == nullptr) return fail(KeySetError::kUserRemoved, "user '" + std::string(user) + "'");
  if (user_key.size() != kKeySize) return fail(KeySetError::kWrongUserKey, "not 32 bytes");
  const auto fixed = encode_fixed(header);
  auto key = detail::unwrap_key(user_key.view(), host_wrap_aad(fixed, user), wrap->host_key);
  if (!key) return fail(KeySetError::kWrongUserKey, "user '" + std::string(user) + "'");
  return std::move(*key);
}

Result<OpenedUpdate> open_update_for(std::span<const std::byte> file, const OpenedKeySet& installed) {
  auto header = parse_update_header(file);
  if (!header) return header.error();
  if (!header.value().sealed_under_new_host_key()) return open_update(file, installed.host_key);
  auto key = unwrap_update_host_key(header.value(), installed.header.user, installed.user_key);
  if (!key) return key.error();
  return open_update(file, key.value());
}

Result<Ok> check_update_applies(const UpdateHeader& update, const KeySetHeader& installed) {
  if (auto same = check_same_host(installed.host, update.host, KeyFile::kUpdatePackage); !same) return same;
  if (update.version <= installed.version) {
    return fail(KeySetError::kStaleVersion, "version " + std::to_string(update.version) + ", installed version " +
                                                std::to_string(installed.version));
  }
  return Ok{};
}

Result<std::vector<std::byte>> apply_update(const OpenedKeySet& installed, const OpenedUpdate& update,
                                            const KeySetNonces& nonces) {
  if (auto applies = check_update_applies(update.header, installed.header); !applies) return applies.error();
  const crypto::SecretBytes& host_key = update.header.new_host_key ? update.new_host_key : installed.host_key;
  return seal_keyset(installed.wrapped_user_key, update.header.version, installed.user_key, host_key, update.body,
                     nonces);
}

}  // namespace cordon::keys
