// Update packages (update_package.hpp).
#include "core/keys/update_package.hpp"

#include <string>

namespace cordon::keys {
namespace {

constexpr size_t kHeaderSize = 8 + 2 + 2 + 4 + 8 + 1 + 1;

KeySetFailure fail(KeySetError code, std::string detail = {}) {
  return KeySetFailure{code, KeyFile::kUpdatePackage, std::move(detail)};
}

std::array<std::byte, kHeaderSize> encode_header(const UpdateHeader& h) {
  std::array<std::byte, kHeaderSize> out{};
  wire::ByteWriter w(out);
  w.text(kUpdateMagic);
  w.u16(kUpdateFormat);
  w.u16(h.network());
  w.u32(h.host.value);
  w.u64(h.version);
  w.u8(static_cast<uint8_t>(h.kind));
  w.u8(h.new_host_key ? 1 : 0);
  return out;
}

struct Layout {
  UpdateHeader header;
  std::span<const std::byte> header_bytes;
  detail::SealedBody body;
};

Result<Layout> parse_layout(std::span<const std::byte> file) {
  wire::ByteReader in(file);
  if (auto err = detail::read_magic_and_format(in, kUpdateMagic, kUpdateFormat, KeyFile::kUpdatePackage)) return *err;
  const auto network = in.u16();
  const auto host = in.u32();
  const auto version = in.u64();
  const auto kind = in.u8();
  const auto new_host_key = in.u8();
  if (!network || !host || !version || !kind || !new_host_key) {
    return detail::parse_failure(in.truncated("header"), KeyFile::kUpdatePackage, file.size());
  }
  Layout l;
  l.header.host = HostId{*host};
  l.header.version = *version;
  if (l.header.host.network() == 0 || l.header.host.host() == 0) return fail(KeySetError::kBadField, "host ID");
  if (*network != l.header.host.network()) return fail(KeySetError::kBadField, "network does not match host ID");
  if (*kind != 1 && *kind != 2) return fail(KeySetError::kBadField, "kind " + std::to_string(*kind));
  if (*new_host_key > 1) return fail(KeySetError::kBadField, "new host key flag " + std::to_string(*new_host_key));
  l.header.kind = static_cast<UpdateKind>(*kind);
  l.header.new_host_key = *new_host_key == 1;
  l.header_bytes = file.first(in.offset());
  if (auto err = detail::read_sealed_body(in, l.body, KeyFile::kUpdatePackage)) return *err;
  return l;
}

}  // namespace

std::string_view update_kind_name(UpdateKind kind) { return kind == UpdateKind::kKeys ? "keys" : "address-book"; }

Result<std::vector<std::byte>> seal_update(const UpdateHeader& header, const crypto::SecretBytes& current_host_key,
                                           const crypto::SecretBytes& new_host_key, const KeySetBody& body,
                                           const crypto::XChaChaNonce& nonce) {
  if (header.host.network() == 0 || header.host.host() == 0) return fail(KeySetError::kBadField, "host ID");
  if (header.kind != UpdateKind::kKeys && header.kind != UpdateKind::kAddressBook) {
    return fail(KeySetError::kBadField, "kind");
  }
  if (current_host_key.size() != kKeySize) return fail(KeySetError::kBadField, "current host key is not 32 bytes");
  if (header.new_host_key ? new_host_key.size() != kKeySize : !new_host_key.empty()) {
    return fail(KeySetError::kBadField, "new host key does not match the header's flag");
  }
  if (auto err = detail::check_self(body, header.host, KeyFile::kUpdatePackage)) return *err;
  auto encoded = encode_body(body, KeyFile::kUpdatePackage);
  if (!encoded) return encoded.error();
  // Plaintext = [new host key] | body, assembled in a secret buffer.
  crypto::SecretBytes plaintext(new_host_key.size() + encoded.value().size());
  wire::ByteWriter pw(plaintext.mutable_view());
  pw.bytes(new_host_key.view());
  pw.bytes(encoded.value().view());
  const auto h = encode_header(header);
  std::vector<std::byte> file(h.size() + detail::sealed_body_size(plaintext.size()));
  wire::ByteWriter w(file);
  w.bytes(h);
  if (pw.overflow() ||
      !detail::write_sealed_body(w, h, Label::kUpdateBody, current_host_key.view(), nonce, plaintext.view()) ||
      w.size() != file.size()) {
    return fail(KeySetError::kBadField, "sealing failed");
  }
  return file;
}

Result<UpdateHeader> parse_update_header(std::span<const std::byte> file) {
  auto layout = parse_layout(file);
  if (!layout) return layout.error();
  return layout.value().header;
}

Result<OpenedUpdate> open_update(std::span<const std::byte> file, const crypto::SecretBytes& host_key) {
  auto layout = parse_layout(file);
  if (!layout) return layout.error();
  const Layout& l = layout.value();
  if (host_key.size() != kKeySize) return fail(KeySetError::kTampered, "host key is not 32 bytes");
  auto plaintext = detail::open_sealed_body(l.body, l.header_bytes, Label::kUpdateBody, host_key.view());
  if (!plaintext) return fail(KeySetError::kTampered);
  OpenedUpdate opened;
  opened.header = l.header;
  auto rest = plaintext->view();
  if (l.header.new_host_key) {
    if (rest.size() < kKeySize) return fail(KeySetError::kBadField, "body: new host key");
    opened.new_host_key = crypto::SecretBytes(rest.first(kKeySize));
    rest = rest.subspan(kKeySize);
  }
  auto body = decode_body(rest, KeyFile::kUpdatePackage);
  if (!body) return body.error();
  if (auto err = detail::check_self(body.value(), l.header.host, KeyFile::kUpdatePackage)) return *err;
  opened.body = std::move(body.value());
  return opened;
}

std::optional<KeySetFailure> check_update_applies(const UpdateHeader& update, const KeySetHeader& installed) {
  if (auto err = check_same_host(installed.host, update.host, KeyFile::kUpdatePackage)) return err;
  if (update.version <= installed.version) {
    return fail(KeySetError::kStaleVersion, "version " + std::to_string(update.version) + ", installed version " +
                                                std::to_string(installed.version));
  }
  return std::nullopt;
}

Result<std::vector<std::byte>> apply_update(const OpenedKeySet& installed, const OpenedUpdate& update,
                                            const KeySetNonces& nonces) {
  if (auto err = check_update_applies(update.header, installed.header)) return *err;
  const crypto::SecretBytes& host_key = update.header.new_host_key ? update.new_host_key : installed.host_key;
  return seal_keyset(installed.wrapped_user_key, update.header.version, installed.user_key, host_key, update.body,
                     nonces);
}

}  // namespace cordon::keys
