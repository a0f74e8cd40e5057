// libFuzzer target for the control channel (core/wire/channel.hpp,
// docs/protocol.md "Control channel" and "Rekey exchange"). The input is the
// inner plaintext of a control channel message (type | body), as a worker
// hands it over after opening the inner seal.
//
// Asserts, besides "no crash, hang or leak":
//   - a message parse_channel accepts encodes back to exactly the input;
//   - split_envelope accepts an envelope around it, with any zero padding,
//     and refuses one whose padding is not zero;
//   - delivered to both sides of a rekey session (link/rekey.hpp) on a fake
//     key ring, nothing ever switches sending to a generation not held, and
//     the answer is at most one message;
//   - delivered to both sides' key arrays (link/key_array.hpp), with arrays
//     held, the answer is at most one message, and an offer's entries open
//     at most once.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <span>
#include <vector>

#include "core/keys/key_generation.hpp"
#include "core/link/rekey.hpp"
#include "core/wire/channel.hpp"

namespace {

using namespace cordon;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

struct Ring : link::KeyRing {
  std::map<uint32_t, bool> held{{0, true}};
  uint32_t sending = 0;
  uint64_t counter = 1000;
  bool install(uint32_t number, const crypto::SecretBytes&) override {
    held[number] = true;
    return true;
  }
  uint64_t switch_tx(uint32_t number) override {
    check(held.count(number) == 1);
    sending = number;
    return ++counter;
  }
  void close_rx(uint32_t, uint64_t) override {}
  void drop(uint32_t number) override {
    check(number != sending && number != 0);
    held.erase(number);
  }
  void reset() override {
    held = {{0, true}};
    sending = 0;
  }
};

void deliver(bool master, const wire::ChannelMessage& m) {
  crypto::SecretBytes link(32);
  auto fill = [](std::span<std::byte> out) {
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::byte>(i * 7 + 1);
    return true;
  };
  const HostId a{0x00010001}, b{0x00010002};
  const Now now{kNsPerSecond, 1'700'000'000 * kNsPerSecond};
  link::RekeySession s({master, master ? a : b, master ? b : a, kNsPerSecond}, *keys::chain_start(link), fill, now);
  Ring ring;
  link::RekeyOut out;
  s.peer_heard(now);
  if (master) s.tick(now, 0, 0, ring, out);  // an offer under way, so a status has something to meet
  out.messages.clear();
  s.receive(m, now, ring, out);
  check(out.messages.size() <= 1);
  s.receive(m, now, ring, out);  // a duplicate
  check(ring.held.count(ring.sending) == 1);
}

void deliver_arrays(const wire::ChannelMessage& m) {
  const Now now{kNsPerSecond, 1'700'000'000 * kNsPerSecond};
  const link::RandomFill fill = [](std::span<std::byte> out) {
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::byte>(i * 5 + 3);
    return true;
  };
  const link::KeyArrayParams params{16, 100 * kNsPerSecond, 90 * kNsPerSecond};
  link::KeyArrays master(params, true), other(params, false);
  std::vector<wire::ChannelMessage> out;
  master.tick(now, true, fill, out);  // arrays under way, so acks have something to meet
  std::vector<wire::ChannelMessage> acks;
  for (const auto& chunk : out) other.receive(chunk, now, true, acks);
  out.clear();
  for (link::KeyArrays* side : {&master, &other}) {
    side->receive(m, now, true, out);
    check(out.size() <= 1);
    out.clear();
  }
  if (const auto* offer = std::get_if<wire::RekeyOffer>(&m)) {
    if (other.use(*offer)) check(!other.use(*offer));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto input = std::as_bytes(std::span(data, size));
  const auto parsed = wire::parse_channel(input);
  if (!parsed.message) return 0;
  const std::vector<std::byte> encoded = wire::encode_channel(*parsed.message);
  const size_t inner = encoded.size() - wire::kChannelHeaderSize - crypto::kTagSize;
  check(inner == size && std::memcmp(encoded.data() + wire::kChannelHeaderSize, data, size) == 0);

  std::vector<std::byte> envelope = encoded;
  envelope.resize(envelope.size() + size % 64);
  check(wire::split_envelope(envelope).has_value());
  if (size % 64 != 0) {
    envelope.back() = std::byte{1};
    check(!wire::split_envelope(envelope).has_value());
  }
  deliver(true, *parsed.message);
  deliver(false, *parsed.message);
  deliver_arrays(*parsed.message);
  return 0;
}
