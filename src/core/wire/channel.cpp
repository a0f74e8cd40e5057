// Control channel codec (layout in channel.hpp; docs/protocol.md, "Control
// channel"). The parser and the encoder apply the same field rules, so every
// message the encoder writes parses back to itself.
#include "core/wire/channel.hpp"

#include <algorithm>

#include "core/crypto/secret.hpp"
#include "core/wire/byte_io.hpp"

namespace cordon::wire {
namespace {

constexpr size_t kMaxEnvelopeLength = 1200;  // wire::kMaxControlSize: a message fits one datagram

template <size_t N>
bool read_array(ByteReader& in, std::array<std::byte, N>& out) {
  return in.copy(out);
}

bool read_body(ByteReader& in, RekeyOffer& m, ChannelError& error) {
  const auto gen = in.u32();
  if (!gen || !read_array(in, m.share)) return false;
  const auto kind = in.u8();
  if (!kind) return false;
  m.generation = *gen;
  if (*kind == static_cast<uint8_t>(RekeyOffer::Kind::kCarried)) {
    m.kind = RekeyOffer::Kind::kCarried;
    return read_array(in, m.material);
  }
  if (*kind != static_cast<uint8_t>(RekeyOffer::Kind::kArrayIndex)) {
    error = ChannelError::kBadField;
    return false;
  }
  m.kind = RekeyOffer::Kind::kArrayIndex;
  const auto data_array = in.u32();
  const auto data_index = in.u16();
  const auto control_array = in.u32();
  const auto control_index = in.u16();
  if (!data_array || !data_index || !control_array || !control_index) return false;
  m.data_array = *data_array;
  m.data_index = *data_index;
  m.control_array = *control_array;
  m.control_index = *control_index;
  return true;
}

bool read_body(ByteReader& in, RekeyStatus& m, ChannelError& error) {
  const auto gen = in.u32();
  const auto code = in.u8();
  const auto current = in.u32();
  if (!gen || !code || !current || !read_array(in, m.share)) return false;
  if (*code > static_cast<uint8_t>(RekeyStatus::Code::kInternal)) {
    error = ChannelError::kBadField;
    return false;
  }
  m.generation = *gen;
  m.code = static_cast<RekeyStatus::Code>(*code);
  m.current = *current;
  return true;
}

template <typename M>
bool read_switch(ByteReader& in, M& m) {
  const auto gen = in.u32();
  const auto first = in.u64();
  if (!gen || !first) return false;
  m.generation = *gen;
  m.first_counter = *first;
  return true;
}
bool read_body(ByteReader& in, RekeySwitch& m, ChannelError&) { return read_switch(in, m); }
bool read_body(ByteReader& in, RekeySwitched& m, ChannelError&) { return read_switch(in, m); }

bool read_body(ByteReader& in, RekeyRequest& m, ChannelError& error) {
  const auto reason = in.u8();
  if (!reason) return false;
  if (*reason != static_cast<uint8_t>(RekeyRequest::Reason::kVolume)) {
    error = ChannelError::kBadField;
    return false;
  }
  m.reason = RekeyRequest::Reason::kVolume;
  return true;
}

template <typename M>
bool read_sequence(ByteReader& in, M& m) {
  const auto sequence = in.u32();
  if (!sequence) return false;
  m.sequence = *sequence;
  return true;
}
bool read_body(ByteReader& in, Heartbeat& m, ChannelError&) { return read_sequence(in, m); }
bool read_body(ByteReader& in, HeartbeatAck& m, ChannelError&) { return read_sequence(in, m); }

bool read_body(ByteReader& in, SessionShutdown& m, ChannelError& error) {
  const auto reason = in.u8();
  if (!reason) return false;
  if (*reason != static_cast<uint8_t>(SessionShutdown::Reason::kAdministration)) {
    error = ChannelError::kBadField;
    return false;
  }
  m.reason = SessionShutdown::Reason::kAdministration;
  return true;
}

// The array kind and ID that every key array message starts with.
template <typename M>
bool read_array_id(ByteReader& in, M& m, ChannelError& error) {
  const auto kind = in.u8();
  const auto array = in.u32();
  if (!kind || !array) return false;
  if (*kind > static_cast<uint8_t>(ArrayKind::kControl)) {
    error = ChannelError::kBadField;
    return false;
  }
  m.kind = static_cast<ArrayKind>(*kind);
  m.array = *array;
  return true;
}

bool read_body(ByteReader& in, KeyArrayChunk& m, ChannelError& error) {
  if (!read_array_id(in, m, error)) return false;
  const auto size = in.u16();
  const auto first = in.u16();
  const auto count = in.u8();
  if (!size || !first || !count) return false;
  m.size = *size;
  m.first = *first;
  m.count = *count;
  if (m.count > kArrayChunkEntries) {
    error = ChannelError::kBadField;
    return false;
  }
  const auto entries = in.bytes(size_t{m.count} * kMaterialSize);
  if (!entries) return false;
  std::copy(entries->begin(), entries->end(), m.entries.begin());
  return true;
}
bool read_body(ByteReader& in, KeyArrayAck& m, ChannelError& error) {
  if (!read_array_id(in, m, error)) return false;
  const auto first = in.u16();
  if (!first) return false;
  m.first = *first;
  return true;
}
bool read_body(ByteReader& in, KeyArrayFlush& m, ChannelError& error) { return read_array_id(in, m, error); }
bool read_body(ByteReader& in, KeyArrayFlushed& m, ChannelError& error) { return read_array_id(in, m, error); }

template <typename M>
ParsedChannel read_as(ByteReader& in) {
  M m;
  ParsedChannel out;
  out.error = ChannelError::kTruncated;
  if (!read_body(in, m, out.error)) return out;
  if (!in.at_end()) {
    out.error = ChannelError::kBadPadding;
    return out;
  }
  out.message = std::move(m);
  return out;
}

// Generation 0 is the link key's own and is never offered; a first counter
// of 0 never occurs (counters start at the clock).
bool valid(const RekeyOffer& m) { return m.generation != 0; }
bool valid(const RekeyStatus& m) { return m.generation != 0; }
bool valid(const RekeySwitch& m) { return m.generation != 0 && m.first_counter != 0; }
bool valid(const RekeySwitched& m) { return m.generation != 0 && m.first_counter != 0; }
bool valid(const RekeyRequest&) { return true; }
bool valid(const Heartbeat&) { return true; }
bool valid(const HeartbeatAck&) { return true; }
bool valid(const SessionShutdown&) { return true; }
// A chunk starts on a chunk boundary and holds kArrayChunkEntries entries,
// or the rest of the array (docs/protocol.md, "Key arrays").
bool valid_chunk_start(uint16_t first, uint16_t size) { return first % kArrayChunkEntries == 0 && first < size; }
bool valid(const KeyArrayChunk& m) {
  return m.array != 0 && m.size >= 1 && m.size <= kMaxArraySize && valid_chunk_start(m.first, m.size) &&
         m.count == std::min<size_t>(kArrayChunkEntries, size_t{m.size} - m.first);
}
bool valid(const KeyArrayAck& m) { return m.array != 0 && valid_chunk_start(m.first, kMaxArraySize); }
bool valid(const KeyArrayFlush& m) { return m.array != 0; }
bool valid(const KeyArrayFlushed& m) { return m.array != 0; }

void write_body(ByteWriter& w, const RekeyOffer& m) {
  w.u32(m.generation);
  w.bytes(m.share);
  w.u8(static_cast<uint8_t>(m.kind));
  if (m.kind == RekeyOffer::Kind::kCarried) {
    w.bytes(m.material);
  } else {
    w.u32(m.data_array);
    w.u16(m.data_index);
    w.u32(m.control_array);
    w.u16(m.control_index);
  }
}
void write_body(ByteWriter& w, const RekeyStatus& m) {
  w.u32(m.generation);
  w.u8(static_cast<uint8_t>(m.code));
  w.u32(m.current);
  w.bytes(m.share);
}
void write_body(ByteWriter& w, const RekeySwitch& m) {
  w.u32(m.generation);
  w.u64(m.first_counter);
}
void write_body(ByteWriter& w, const RekeySwitched& m) {
  w.u32(m.generation);
  w.u64(m.first_counter);
}
void write_body(ByteWriter& w, const RekeyRequest& m) { w.u8(static_cast<uint8_t>(m.reason)); }
void write_body(ByteWriter& w, const Heartbeat& m) { w.u32(m.sequence); }
void write_body(ByteWriter& w, const HeartbeatAck& m) { w.u32(m.sequence); }
void write_body(ByteWriter& w, const SessionShutdown& m) { w.u8(static_cast<uint8_t>(m.reason)); }
template <typename M>
void write_array_id(ByteWriter& w, const M& m) {
  w.u8(static_cast<uint8_t>(m.kind));
  w.u32(m.array);
}
void write_body(ByteWriter& w, const KeyArrayChunk& m) {
  write_array_id(w, m);
  w.u16(m.size);
  w.u16(m.first);
  w.u8(m.count);
  w.bytes(std::span(m.entries).first(std::min<size_t>(m.count, kArrayChunkEntries) * kMaterialSize));
}
void write_body(ByteWriter& w, const KeyArrayAck& m) {
  write_array_id(w, m);
  w.u16(m.first);
}
void write_body(ByteWriter& w, const KeyArrayFlush& m) { write_array_id(w, m); }
void write_body(ByteWriter& w, const KeyArrayFlushed& m) { write_array_id(w, m); }

ChannelType type_of(const RekeyOffer&) { return ChannelType::kRekeyOffer; }
ChannelType type_of(const RekeyStatus&) { return ChannelType::kRekeyStatus; }
ChannelType type_of(const RekeySwitch&) { return ChannelType::kRekeySwitch; }
ChannelType type_of(const RekeySwitched&) { return ChannelType::kRekeySwitched; }
ChannelType type_of(const RekeyRequest&) { return ChannelType::kRekeyRequest; }
ChannelType type_of(const Heartbeat&) { return ChannelType::kHeartbeat; }
ChannelType type_of(const HeartbeatAck&) { return ChannelType::kHeartbeatAck; }
ChannelType type_of(const SessionShutdown&) { return ChannelType::kSessionShutdown; }
ChannelType type_of(const KeyArrayChunk&) { return ChannelType::kKeyArrayChunk; }
ChannelType type_of(const KeyArrayAck&) { return ChannelType::kKeyArrayAck; }
ChannelType type_of(const KeyArrayFlush&) { return ChannelType::kKeyArrayFlush; }
ChannelType type_of(const KeyArrayFlushed&) { return ChannelType::kKeyArrayFlushed; }

}  // namespace

std::optional<Envelope> split_envelope(std::span<std::byte> plaintext) {
  ByteReader in(plaintext);
  const auto type = in.u8();
  const auto length = in.u16();
  if (!type || *type != kChannelControlType || !length) return std::nullopt;
  // At least a type byte inside, and the whole envelope within the plaintext.
  if (*length < crypto::kTagSize + 1 || *length > kMaxEnvelopeLength - kChannelHeaderSize ||
      *length > in.remaining()) {
    return std::nullopt;
  }
  const auto padding = plaintext.subspan(kChannelHeaderSize + *length);
  if (std::any_of(padding.begin(), padding.end(), [](std::byte b) { return b != std::byte{0}; })) return std::nullopt;
  const auto inner = plaintext.subspan(kChannelHeaderSize, *length);
  return Envelope{inner.first(*length - crypto::kTagSize), inner.last<crypto::kTagSize>()};
}

ParsedChannel parse_channel(std::span<const std::byte> inner) {
  ByteReader in(inner);
  const auto type = in.u8();
  if (!type) return {};
  ParsedChannel out;
  switch (static_cast<ChannelType>(*type)) {
    case ChannelType::kRekeyOffer:
      out = read_as<RekeyOffer>(in);
      break;
    case ChannelType::kRekeyStatus:
      out = read_as<RekeyStatus>(in);
      break;
    case ChannelType::kRekeySwitch:
      out = read_as<RekeySwitch>(in);
      break;
    case ChannelType::kRekeySwitched:
      out = read_as<RekeySwitched>(in);
      break;
    case ChannelType::kRekeyRequest:
      out = read_as<RekeyRequest>(in);
      break;
    case ChannelType::kHeartbeat:
      out = read_as<Heartbeat>(in);
      break;
    case ChannelType::kHeartbeatAck:
      out = read_as<HeartbeatAck>(in);
      break;
    case ChannelType::kSessionShutdown:
      out = read_as<SessionShutdown>(in);
      break;
    case ChannelType::kKeyArrayChunk:
      out = read_as<KeyArrayChunk>(in);
      break;
    case ChannelType::kKeyArrayAck:
      out = read_as<KeyArrayAck>(in);
      break;
    case ChannelType::kKeyArrayFlush:
      out = read_as<KeyArrayFlush>(in);
      break;
    case ChannelType::kKeyArrayFlushed:
      out = read_as<KeyArrayFlushed>(in);
      break;
    default:
      out.error = ChannelError::kUnknownType;
      return out;
  }
  if (out.message && !std::visit([](const auto& m) { return valid(m); }, *out.message)) {
    out.message.reset();
    out.error = ChannelError::kBadField;
  }
  return out;
}

void wipe_secrets(ChannelMessage& m) {
  if (auto* offer = std::get_if<RekeyOffer>(&m)) crypto::wipe(std::span(offer->material));
  if (auto* chunk = std::get_if<KeyArrayChunk>(&m)) crypto::wipe(std::span(chunk->entries));
}

std::vector<std::byte> encode_channel(const ChannelMessage& m) {
  ByteWriter sizing;
  std::visit(
      [&](const auto& body) {
        sizing.u8(0);
        write_body(sizing, body);
      },
      m);
  const size_t inner = sizing.size();
  std::vector<std::byte> out(kChannelHeaderSize + inner + crypto::kTagSize);
  ByteWriter w(out);
  w.u8(kChannelControlType);
  w.u16(static_cast<uint16_t>(inner + crypto::kTagSize));
  std::visit(
      [&](const auto& body) {
        w.u8(static_cast<uint8_t>(type_of(body)));
        write_body(w, body);
      },
      m);
  return out;  // the last kTagSize bytes stay zero until the sender seals
}

}  // namespace cordon::wire
