#include "core/courier/item.hpp"

#include "core/courier/host_tag.hpp"
#include "core/wire/byte_io.hpp"

namespace cordon::courier {
namespace {

constexpr uint8_t kKnownFlags = kFlagNewHostKey | kFlagUrgent;
constexpr size_t kNoticeSize = 4 + 1 + 1;
constexpr size_t kReceiptFixed = 4 + 8 + 8 + 1 + 8 + 2;
constexpr std::string_view kReceiptInfo = "cordon courier receipt";

bool valid_host(HostId id) { return id.network() != 0 && id.host() != 0; }

std::vector<std::byte> receipt_body(const Receipt& r) {
  std::vector<std::byte> out(kReceiptFixed + r.reason.size());
  wire::ByteWriter w(out);
  w.u32(r.host.value);
  w.u64(r.version);
  w.u64(r.installed);
  w.u8(static_cast<uint8_t>(r.outcome));
  w.u64(static_cast<uint64_t>(r.time_s));
  w.u16(static_cast<uint16_t>(r.reason.size()));
  w.text(r.reason);
  return out;
}

std::optional<Receipt> parse_receipt_body(std::span<const std::byte> body) {
  wire::ByteReader in(body);
  Receipt r;
  const auto host = in.u32();
  const auto version = in.u64();
  const auto installed = in.u64();
  const auto outcome = in.u8();
  const auto time = in.u64();
  const auto length = in.u16();
  if (!length || *length > kMaxReceiptReason) return std::nullopt;
  const auto reason = in.bytes(*length);
  if (!reason || !in.at_end()) return std::nullopt;
  if (!valid_host(HostId{*host}) || *outcome < 1 || *outcome > 3) return std::nullopt;
  r.host = HostId{*host};
  r.version = *version;
  r.installed = *installed;
  r.outcome = static_cast<Receipt::Outcome>(*outcome);
  r.time_s = static_cast<int64_t>(*time);
  r.reason.assign(reinterpret_cast<const char*>(reason->data()), reason->size());
  return r;
}

}  // namespace

std::string_view item_kind_name(ItemKind kind) {
  switch (kind) {
    case ItemKind::kPackage: return "package";
    case ItemKind::kReceipt: return "receipt";
    case ItemKind::kNotice: return "notice";
    case ItemKind::kStatus: return "status";
  }
  return "unknown";
}

std::string_view item_error_name(ItemError error) {
  switch (error) {
    case ItemError::kTruncated: return "truncated";
    case ItemError::kTrailingBytes: return "trailing_bytes";
    case ItemError::kUnsupportedFormat: return "unsupported_format";
    case ItemError::kBadField: return "bad_field";
  }
  return "unknown";
}

std::string_view receipt_outcome_name(Receipt::Outcome outcome) {
  switch (outcome) {
    case Receipt::Outcome::kApplied: return "applied";
    case Receipt::Outcome::kAlreadyApplied: return "already_applied";
    case Receipt::Outcome::kRefused: return "refused";
  }
  return "unknown";
}

std::vector<std::byte> encode_item(const Item& item) {
  std::vector<std::byte> out(item.encoded_size());
  wire::ByteWriter w(out);
  w.u8(kItemFormat);
  w.u8(static_cast<uint8_t>(item.kind));
  w.u8(item.flags);
  w.u32(item.dest.value);
  w.u32(item.via.value);
  w.u32(item.subject.value);
  w.u64(item.version);
  w.u32(static_cast<uint32_t>(item.payload.size()));
  w.bytes(item.payload);
  return out;
}

Result<Item, ItemError> parse_item(std::span<const std::byte> bytes) {
  wire::ByteReader in(bytes);
  const auto format = in.u8();
  const auto kind = in.u8();
  const auto flags = in.u8();
  const auto dest = in.u32();
  const auto via = in.u32();
  const auto subject = in.u32();
  const auto version = in.u64();
  const auto length = in.u32();
  if (!length) return fail(format && *format != kItemFormat ? ItemError::kUnsupportedFormat : ItemError::kTruncated);
  if (*format != kItemFormat) return fail(ItemError::kUnsupportedFormat);
  Item item;
  if (*kind < 1 || *kind > 4 || (*flags & ~kKnownFlags) != 0) return fail(ItemError::kBadField);
  item.kind = static_cast<ItemKind>(*kind);
  item.flags = *flags;
  item.dest = HostId{*dest};
  item.via = HostId{*via};
  item.subject = HostId{*subject};
  item.version = *version;
  if (!valid_host(item.dest) || !valid_host(item.via) || !valid_host(item.subject)) return fail(ItemError::kBadField);
  if (*length > kMaxItemPayload) return fail(ItemError::kBadField);
  const auto payload = in.bytes(*length);
  if (!payload) return fail(ItemError::kTruncated);
  if (!in.at_end()) return fail(ItemError::kTrailingBytes);
  // A package goes to its subject; receipts and notices only name one.
  if (item.kind == ItemKind::kPackage && item.dest != item.subject) return fail(ItemError::kBadField);
  if (item.kind == ItemKind::kNotice && !parse_notice(*payload)) return fail(ItemError::kBadField);
  item.payload.assign(payload->begin(), payload->end());
  return item;
}

std::vector<std::byte> encode_notice(const Notice& notice) {
  std::vector<std::byte> out(kNoticeSize);
  wire::ByteWriter w(out);
  w.u32(notice.courier.value);
  w.u8(static_cast<uint8_t>(notice.state));
  w.u8(notice.reason);
  return out;
}

std::optional<Notice> parse_notice(std::span<const std::byte> payload) {
  if (payload.size() != kNoticeSize) return std::nullopt;
  wire::ByteReader in(payload);
  const HostId courier{*in.u32()};
  const uint8_t state = *in.u8();
  const uint8_t reason = *in.u8();
  if (!valid_host(courier) || state < 1 || state > 2) return std::nullopt;
  return Notice{courier, static_cast<Notice::State>(state), reason};
}

std::optional<std::vector<std::byte>> seal_receipt(const Receipt& receipt, const crypto::SecretBytes& host_key) {
  if (receipt.reason.size() > kMaxReceiptReason || !valid_host(receipt.host)) return std::nullopt;
  return append_host_tag(receipt_body(receipt), host_key, kReceiptInfo, receipt.host);
}

std::optional<HostId> receipt_host(std::span<const std::byte> payload) {
  if (payload.size() < kReceiptFixed + kReceiptTagSize) return std::nullopt;
  const auto r = parse_receipt_body(payload.first(payload.size() - kReceiptTagSize));
  if (!r) return std::nullopt;
  return r->host;
}

std::optional<Receipt> verify_receipt(std::span<const std::byte> payload, const crypto::SecretBytes& host_key) {
  if (payload.size() < kReceiptFixed + kReceiptTagSize) return std::nullopt;
  auto r = parse_receipt_body(payload.first(payload.size() - kReceiptTagSize));
  if (!r || !host_tag_valid(payload, host_key, kReceiptInfo, r->host)) return std::nullopt;
  return r;
}

}  // namespace cordon::courier
