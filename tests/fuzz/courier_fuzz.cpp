// libFuzzer target for the courier's transfer protocol (core/courier/
// message.hpp, courier.hpp; docs/couriers.md). The input is a sequence of
// courier messages, each as length 2 | bytes, delivered to a courier (a
// coordinator that serves one client) from that client or from the
// administration host, with the clock moving between them.
//
// Asserts, besides "no crash, hang or leak":
//   - a message parse_message accepts encodes back to exactly its bytes;
//   - a complete item parse_item accepts encodes back to exactly its bytes;
//   - the courier never holds more than its per-host limit for one host,
//     and never sends a message longer than kMaxMessageSize.
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "core/courier/courier.hpp"

namespace {

using namespace cordon;
using namespace cordon::courier;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

struct Env : Environment {
  std::map<uint64_t, size_t> stored;
  bool store(uint64_t id, std::span<const std::byte> encoded) override {
    stored[id] = encoded.size();
    return true;
  }
  void erase(uint64_t id) override { stored.erase(id); }
  bool send(HostId, std::span<const std::byte> message) override {
    check(message.size() <= kMaxMessageSize);
    return true;
  }
  Applied apply(const Item&) override { return Applied{std::nullopt, 1, false}; }
};

void round_trips(std::span<const std::byte> bytes) {
  const auto message = parse_message(bytes);
  if (message) {
    std::vector<std::byte> again;
    if (const auto* h = std::get_if<Hello>(&*message)) again = encode_hello(*h);
    if (const auto* a = std::get_if<Ack>(&*message)) again = encode_ack(*a);
    if (const auto* s = std::get_if<Segment>(&*message)) again = encode_segment(s->transfer, s->total, s->offset, s->data);
    check(again.size() == bytes.size() && std::equal(again.begin(), again.end(), bytes.begin()));
  }
  const auto item = parse_item(bytes);
  if (item) {
    const auto again = encode_item(item.value());
    check(again.size() == bytes.size() && std::equal(again.begin(), again.end(), bytes.begin()));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto input = std::as_bytes(std::span(data, size));
  round_trips(input);

  constexpr HostId kSelf{0x00010001}, kAdmin{0x00010002}, kClient{0x00010003};
  CourierConfig config;
  config.self = kSelf;
  config.coordinator = true;
  config.admin_host = kAdmin;
  config.admin_courier = kSelf;
  config.peers = {kAdmin, kClient};
  config.served = {kAdmin, kClient};
  config.spool_host_limit = 64 * 1024;
  Env env;
  Courier courier(config, env, 7, {}, 0);
  int64_t now = 0;
  size_t at = 0;
  while (at + 3 <= input.size()) {
    const size_t length = (static_cast<size_t>(input[at]) << 8 | static_cast<size_t>(input[at + 1])) & 0x7ff;
    const bool from_admin = (static_cast<uint8_t>(input[at]) & 0x80) != 0;
    at += 2;
    const auto message = input.subspan(at, std::min(length, input.size() - at));
    at += message.size();
    round_trips(message);
    courier.receive(from_admin ? kAdmin : kClient, message, now);
    now += kNsPerMs * 50;
    courier.tick(now);
  }
  std::map<uint32_t, uint64_t> per_host;
  for (const HeldItem& m : courier.status().items) per_host[m.dest.value] += m.bytes;
  for (const auto& [host, bytes] : per_host) check(bytes <= config.spool_host_limit + kItemHeaderSize + 64);
  return 0;
}
