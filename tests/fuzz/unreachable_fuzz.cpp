// libFuzzer target for wire::make_unreachable_reply (core/wire/unreachable.hpp):
// arbitrary inner packets, as an application behind a lost link could send.
//
// Input: byte 0 bits 0-1 pick icmp_source (none, an IPv4 address, an IPv6
// address, the unspecified IPv4 address), bits 2-3 the size of `out`
// (kMaxUnreachableReply, the IPv4 cap of 576, 60 or 39 bytes); the rest is
// the packet, in a buffer of its exact size so ASan sees any read past it.
//
// Asserts, besides "no crash, hang or leak":
//   - the reply fits in `out` and in kMaxUnreachableReply, IPv4 ones in 576
//     bytes, and nothing is written past `out` (a guard after it);
//   - kNone comes with length 0, and only what the packet allows is
//     answered: a reset only to TCP;
//   - a reply parses with wire::parse_inner to exactly its length, goes to
//     the packet's source, and its IPv4 header and transport checksums
//     verify (RFC 1071: the sum over the covered bytes folds to 0xffff).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/offload/checksum.hpp"
#include "core/wire/inner_packet.hpp"
#include "core/wire/unreachable.hpp"

namespace {

using namespace cordon;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

std::optional<IpAddress> pick_source(uint8_t control) {
  switch (control & 3) {
    case 1:
      return IpAddress::v4(0x0a4d00fe);  // 10.77.0.254
    case 2:
      return IpAddress::parse("fd00:77::fe");
    case 3:
      return IpAddress::v4(0);
    default:
      return std::nullopt;
  }
}

bool sums_to_ffff(uint64_t sum) { return offload::checksum_fold(sum) == 0xffff; }

// The reply's checksums: the IPv4 header's, then the transport's over its
// pseudo-header (none for ICMPv4, RFC 792).
void check_reply(std::span<const std::byte> reply, const wire::InnerPacket& asked) {
  const auto ip = wire::parse_inner(reply);
  check(ip.has_value() && ip->length == reply.size());
  check(ip->destination == asked.source && ip->source.family == asked.source.family);
  const bool v4 = ip->source.is_v4();
  const size_t header = v4 ? 20 : 40;
  check(reply.size() >= header + 8 && (!v4 || reply.size() <= wire::kMaxIcmpv4Reply));
  if (v4) check(sums_to_ffff(offload::checksum_add(reply.first(header))));
  const uint8_t protocol = std::to_integer<uint8_t>(reply[v4 ? 9 : 6]);
  check(protocol == 6 || protocol == (v4 ? 1 : 58));
  const auto transport = reply.subspan(header);
  const auto addresses = reply.subspan(v4 ? 12 : 8, v4 ? 8 : 32);
  const uint64_t pseudo =
      protocol == 1 ? 0 : offload::pseudo_header_sum(addresses, protocol, static_cast<uint32_t>(transport.size()));
  check(sums_to_ffff(offload::checksum_add(transport, pseudo)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  constexpr size_t kOutSizes[] = {wire::kMaxUnreachableReply, wire::kMaxIcmpv4Reply, 60, 39};
  constexpr std::byte kGuard{0xa5};
  const size_t out_size = kOutSizes[(data[0] >> 2) & 3];
  const std::vector<std::byte> packet(reinterpret_cast<const std::byte*>(data + 1),
                                      reinterpret_cast<const std::byte*>(data + size));
  std::vector<std::byte> out(out_size + 16, kGuard);

  const auto r = wire::make_unreachable_reply(packet, pick_source(data[0]), std::span(out).first(out_size));
  check(r.length <= wire::kMaxUnreachableReply && r.length <= out_size);
  for (size_t i = out_size; i < out.size(); ++i) check(out[i] == kGuard);
  check((r.kind == wire::UnreachableReply::kNone) == (r.length == 0));
  if (r.kind == wire::UnreachableReply::kNone) return 0;

  const auto asked = wire::parse_inner(packet);
  check(asked.has_value());
  const auto reply = std::span<const std::byte>(out).first(r.length);
  check_reply(reply, *asked);
  const bool reset = std::to_integer<uint8_t>(reply[asked->source.is_v4() ? 9 : 6]) == 6;
  check(reset == (r.kind == wire::UnreachableReply::kTcpReset));
  if (reset) check(std::to_integer<uint8_t>(packet[asked->source.is_v4() ? 9 : 6]) == 6);
  return 0;
}
