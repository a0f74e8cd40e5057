#include "core/courier/message.hpp"

#include "core/wire/byte_io.hpp"

namespace cordon::courier {

std::string_view refusal_name(Refusal reason) {
  switch (reason) {
    case Refusal::kNone: return "none";
    case Refusal::kMalformed: return "malformed";
    case Refusal::kNotServed: return "not_served";
    case Refusal::kUntrustedSender: return "untrusted_sender";
    case Refusal::kSpoolFull: return "spool_full";
    case Refusal::kTooLarge: return "too_large";
    case Refusal::kBusy: return "busy";
    case Refusal::kStorageFailed: return "storage_failed";
  }
  return "unknown";
}

std::optional<Message> parse_message(std::span<const std::byte> body) {
  wire::ByteReader in(body);
  const auto type = in.u8();
  if (!type) return std::nullopt;
  switch (static_cast<MessageType>(*type)) {
    case MessageType::kHello: {
      const auto installed = in.u64();
      if (!installed || !in.at_end()) return std::nullopt;
      return Hello{*installed};
    }
    case MessageType::kSegment: {
      const auto transfer = in.u64();
      const auto total = in.u32();
      const auto offset = in.u32();
      const auto length = in.u16();
      if (!length || *length == 0 || *length > kMaxSegmentData) return std::nullopt;
      const auto data = in.bytes(*length);
      if (!data || !in.at_end()) return std::nullopt;
      if (*total == 0 || *total > kMaxTransferSize || *offset > *total || *total - *offset < *length) {
        return std::nullopt;
      }
      return Segment{*transfer, *total, *offset, *data};
    }
    case MessageType::kAck: {
      const auto transfer = in.u64();
      const auto received = in.u32();
      const auto state = in.u8();
      const auto reason = in.u8();
      if (!reason || !in.at_end() || *state > 3 || *reason > kMaxRefusal) return std::nullopt;
      return Ack{*transfer, *received, static_cast<AckState>(*state), static_cast<Refusal>(*reason)};
    }
  }
  return std::nullopt;
}

std::vector<std::byte> encode_hello(const Hello& hello) {
  std::vector<std::byte> out(1 + 8);
  wire::ByteWriter w(out);
  w.u8(static_cast<uint8_t>(MessageType::kHello));
  w.u64(hello.installed);
  return out;
}

std::vector<std::byte> encode_segment(uint64_t transfer, uint32_t total, uint32_t offset,
                                      std::span<const std::byte> data) {
  std::vector<std::byte> out(1 + 8 + 4 + 4 + 2 + data.size());
  wire::ByteWriter w(out);
  w.u8(static_cast<uint8_t>(MessageType::kSegment));
  w.u64(transfer);
  w.u32(total);
  w.u32(offset);
  w.u16(static_cast<uint16_t>(data.size()));
  w.bytes(data);
  return out;
}

std::vector<std::byte> encode_ack(const Ack& ack) {
  std::vector<std::byte> out(1 + 8 + 4 + 1 + 1);
  wire::ByteWriter w(out);
  w.u8(static_cast<uint8_t>(MessageType::kAck));
  w.u64(ack.transfer);
  w.u32(ack.received);
  w.u8(static_cast<uint8_t>(ack.state));
  w.u8(static_cast<uint8_t>(ack.reason));
  return out;
}

}  // namespace cordon::courier
