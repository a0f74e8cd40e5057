// libFuzzer target for the IKEv2 codec (core/ipsec/ike_message.hpp,
// core/ipsec/ike_payloads.hpp). The first input byte chooses the parser:
// its low 7 bits modulo 19 pick the whole-message parser (0), the payload
// chain parser (1, the next byte naming the first payload type), or one
// payload body parser (2 to 18, the payload types 33 to 48 and 53); its top
// bit makes the message a response (SA payloads are checked differently).
//
// Asserts, besides "no crash, hang or leak":
//   - whatever parses is serialized without error;
//   - the serialized form parses again to an equal value (SK and SKF
//     offsets aside: skipped unknown payloads move them).
#include <cstddef>
#include <cstdint>
#include <span>
#include <variant>
#include <vector>

#include "core/ipsec/ike_message.hpp"
#include "core/ipsec/ike_payloads.hpp"

namespace {

using namespace cordon;
using namespace cordon::ipsec;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

constexpr uint8_t kBodyTypes[] = {33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 53};

void clear_offsets(std::vector<Payload>& payloads) {
  for (Payload& p : payloads) {
    if (auto* sk = std::get_if<EncryptedPayload>(&p.body)) sk->offset = 0;
    if (auto* skf = std::get_if<EncryptedFragmentPayload>(&p.body)) skf->offset = 0;
  }
}

void message_round_trip(std::span<const std::byte> input) {
  auto parsed = parse_ike_message(input);
  if (!parsed) return;
  const auto bytes = serialize_ike_message(*parsed);
  check(bytes.has_value());
  auto again = parse_ike_message(*bytes);
  check(again.has_value());
  clear_offsets(parsed->payloads);
  clear_offsets(again->payloads);
  check(*again == *parsed);
}

void chain_round_trip(std::span<const std::byte> input, MessageRole role) {
  if (input.empty()) return;
  const auto first = static_cast<PayloadType>(input[0]);
  const auto parsed = parse_payload_chain(first, input.subspan(1), role);
  if (!parsed) return;
  const auto bytes = serialize_payload_chain(*parsed);
  check(bytes.has_value());
  const auto next = parsed->empty() ? PayloadType::kNone : parsed->front().type();
  const auto again = parse_payload_chain(next, *bytes, role);
  check(again.has_value() && *again == *parsed);
}

void body_round_trip(PayloadType type, std::span<const std::byte> input, MessageRole role) {
  // SK and SKF keep the Next Payload field; any known value will do.
  const auto parsed = parse_payload_body(type, PayloadType::kIdInitiator, input, role);
  if (!parsed) return;
  wire::ByteWriter sizing;
  check(write_payload_body(sizing, *parsed).has_value());
  std::vector<std::byte> bytes(sizing.size());
  wire::ByteWriter out(bytes);
  check(write_payload_body(out, *parsed).has_value() && out.size() == bytes.size());
  const auto again = parse_payload_body(type, PayloadType::kIdInitiator, bytes, role);
  check(again.has_value() && *again == *parsed);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto input = std::as_bytes(std::span(data + 1, size - 1));
  const MessageRole role = (data[0] & 0x80) ? MessageRole::kResponse : MessageRole::kRequest;
  const size_t choice = (data[0] & 0x7f) % (2 + sizeof(kBodyTypes));
  if (choice == 0) {
    message_round_trip(input);
  } else if (choice == 1) {
    chain_round_trip(input, role);
  } else {
    body_round_trip(static_cast<PayloadType>(kBodyTypes[choice - 2]), input, role);
  }
  return 0;
}
