// The Encrypted payload's envelope (RFC 7296 section 3.14) and Encrypted
// Fragments (RFC 7383 section 2.5): laying out a message for in-place
// sealing, and taking a received body apart. The cipher is the caller's.
#include <algorithm>

#include "core/ipsec/ike_message.hpp"
#include "core/ipsec/ike_payload_codec.hpp"

namespace cordon::ipsec {

using BuildKind = IkeBuildError::Kind;

namespace {

constexpr size_t kFragmentFieldsSize = 4;  // fragment number 2 | total fragments 2
constexpr size_t kMaxPadLength = 255;      // the pad length is one byte

// Which envelope: SK, or SKF with its numbers.
struct Envelope {
  PayloadType type = PayloadType::kEncrypted;
  PayloadType next = PayloadType::kNone;  // first inner payload, or kNone
  uint16_t fragment_number = 0;
  uint16_t total_fragments = 0;
  size_t header_size() const {
    return kGenericPayloadHeaderSize + (type == PayloadType::kEncryptedFragment ? kFragmentFieldsSize : 0);
  }
};

// Section 3.14: the padding makes inner | padding | pad length a multiple of
// the block size; its bytes are zero here (any value is allowed).
Result<size_t, IkeBuildError> padding_for(size_t inner_size, size_t block_size) {
  if (block_size == 0 || block_size > kMaxPadLength + 1)
    return codec::build_error(BuildKind::kBadField, "SK layout: block size");
  return (block_size - (inner_size + 1) % block_size) % block_size;
}

Result<IkeBytes, IkeBuildError> seal_envelope(const IkeHeader& header, const Envelope& env,
                                              std::span<const std::byte> inner, const SkLayout& layout,
                                              const SkSealer& seal) {
  const auto pad = padding_for(inner.size(), layout.block_size);
  if (!pad) return pad.error();
  const size_t plaintext_size = inner.size() + *pad + 1;
  const size_t payload_size = env.header_size() + layout.iv_size + plaintext_size + layout.icv_size;
  if (payload_size > codec::kMaxLength16) return codec::build_error(BuildKind::kTooLarge, "SK payload length");
  const size_t total = kIkeHeaderSize + payload_size;
  if (total > kMaxIkeMessageSize) return codec::build_error(BuildKind::kTooLarge, "IKE message size");

  IkeBytes out(total);
  wire::ByteWriter w(out);
  if (auto st = codec::write_ike_header(w, header, env.type, total); !st) return st.error();
  w.u8(static_cast<uint8_t>(env.next));
  w.u8(0);
  w.u16(static_cast<uint16_t>(payload_size));
  if (env.type == PayloadType::kEncryptedFragment) {
    w.u16(env.fragment_number);
    w.u16(env.total_fragments);
  }
  const size_t iv_at = w.size();
  w.skip(layout.iv_size);  // zero until the sealer fills it
  w.bytes(inner);
  w.skip(*pad);
  w.u8(static_cast<uint8_t>(*pad));
  w.skip(layout.icv_size);
  if (w.overflow() || w.size() != total) return codec::build_error(BuildKind::kTooLarge, "SK layout");

  const std::span<std::byte> all(out);
  const size_t plaintext_at = iv_at + layout.iv_size;
  const size_t icv_at = plaintext_at + plaintext_size;
  const SkSealView view{all.first(iv_at), all.subspan(iv_at, layout.iv_size),
                        all.subspan(plaintext_at, plaintext_size), all.subspan(icv_at, layout.icv_size),
                        all.first(icv_at)};
  if (!seal(view)) return codec::build_error(BuildKind::kSealFailed, "SK payload");
  return out;
}

}  // namespace

Result<IkeBytes, IkeBuildError> build_encrypted_message(const IkeHeader& header, PayloadType first_inner,
                                                        std::span<const std::byte> inner, const SkLayout& layout,
                                                        const SkSealer& seal) {
  return seal_envelope(header, Envelope{PayloadType::kEncrypted, first_inner, 0, 0}, inner, layout, seal);
}

Result<std::vector<IkeBytes>, IkeBuildError> build_encrypted_fragments(const IkeHeader& header,
                                                                       PayloadType first_inner,
                                                                       std::span<const std::byte> inner,
                                                                       size_t fragment_content_size,
                                                                       const SkLayout& layout, const SkSealer& seal) {
  if (fragment_content_size == 0) return codec::build_error(BuildKind::kBadField, "SKF: fragment size");
  const size_t count = std::max<size_t>(1, (inner.size() + fragment_content_size - 1) / fragment_content_size);
  if (count > 0xffff) return codec::build_error(BuildKind::kTooLarge, "SKF: number of fragments");
  std::vector<IkeBytes> out;
  for (size_t i = 0; i < count; ++i) {
    const size_t at = i * fragment_content_size;
    const auto piece = inner.subspan(at, std::min(fragment_content_size, inner.size() - at));
    // RFC 7383 section 2.5: only the first fragment names the first inner payload.
    const Envelope env{PayloadType::kEncryptedFragment, i == 0 ? first_inner : PayloadType::kNone,
                       static_cast<uint16_t>(i + 1), static_cast<uint16_t>(count)};
    auto message = seal_envelope(header, env, piece, layout, seal);
    if (!message) return message.error();
    out.push_back(std::move(*message));
  }
  return out;
}

Result<SkParts, IkeParseError> split_encrypted_body(std::span<const std::byte> body, const SkLayout& layout) {
  // At least the pad length byte must be encrypted.
  if (body.size() < layout.iv_size + layout.icv_size + 1)
    return codec::parse_error(IkeParseError::Kind::kTruncated, 0, "SK payload: shorter than IV and ICV");
  const size_t ciphertext_size = body.size() - layout.iv_size - layout.icv_size;
  if (layout.block_size > 1 && ciphertext_size % layout.block_size != 0)
    return codec::parse_error(IkeParseError::Kind::kBadLength, layout.iv_size, "SK payload: not whole blocks");
  return SkParts{body.first(layout.iv_size), body.subspan(layout.iv_size, ciphertext_size),
                 body.last(layout.icv_size)};
}

Result<std::span<const std::byte>, IkeParseError> strip_sk_padding(std::span<const std::byte> plaintext) {
  if (plaintext.empty()) return codec::parse_error(IkeParseError::Kind::kTruncated, 0, "SK plaintext: pad length");
  const auto pad = static_cast<size_t>(plaintext.back());
  if (pad + 1 > plaintext.size())
    return codec::parse_error(IkeParseError::Kind::kBadLength, plaintext.size() - 1, "SK plaintext: pad length");
  return plaintext.first(plaintext.size() - pad - 1);
}

}  // namespace cordon::ipsec
