// Offloads on the real kernel (docs/design.md, "Offloads"): a TCP transfer
// of random bytes through the tunnel arrives with the same SHA-256, in both
// directions, over IPv4 and IPv6 underlays, with offloads on (the TUN hands
// the daemon TSO super-packets, which it splits; it coalesces what it
// delivers; the sockets use UDP GSO and GRO) and with them switched off.
// The status counters prove which path the bytes took, so the "on" cases
// cannot pass on the plain path nor the "off" cases on the offloaded one.
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "tests/netns/netns_harness.hpp"

namespace cordon::netns {
namespace {

using json = nlohmann::json;

// Receives one connection on ADDRESS PORT and prints "BYTES SHA256".
constexpr const char* kReceiver = R"(
import hashlib, socket, sys
family = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
s = socket.socket(family, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
c, _ = s.accept()
h, n = hashlib.sha256(), 0
while True:
    b = c.recv(1 << 20)
    if not b:
        break
    h.update(b)
    n += len(b)
print(n, h.hexdigest(), flush=True)
)";

// Sends BYTES random bytes to ADDRESS PORT and prints "BYTES SHA256".
constexpr const char* kSender = R"(
import hashlib, os, socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=60)
h, left = hashlib.sha256(), int(sys.argv[3])
while left > 0:
    b = os.urandom(min(left, 1 << 20))
    h.update(b)
    c.sendall(b)
    left -= len(b)
c.close()
print(sys.argv[3], h.hexdigest(), flush=True)
)";

constexpr size_t kTransferBytes = 48u << 20;
constexpr uint16_t kPort = 5301;

struct OffloadCase {
  const char* name;
  Family underlay;
  bool offloads;
};

class OffloadTest : public NetnsTest, public ::testing::WithParamInterface<OffloadCase> {};

std::string last_line(const std::string& text) {
  std::istringstream in(text);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return last;
}

// from -> to, to's tunnel address `address`; returns what each side printed.
void transfer(CordonPair& pair, Namespace& from, Namespace& to, const std::string& address, const std::string& tag) {
  Process receiver(&to, {"python3", "-c", kReceiver, address, std::to_string(kPort)}, pair.file(tag + "-rx.log"),
                   "receiver " + tag);
  ASSERT_TRUE(wait_for_tcp_listener(to, kPort, deadline_in(10s))) << receiver.log_text();
  RunResult sent = run(&from, {"python3", "-c", kSender, address, std::to_string(kPort),
                               std::to_string(kTransferBytes)},
                       120s);
  ASSERT_TRUE(sent.ok()) << sent.describe();
  ASSERT_TRUE(receiver.wait_exit(deadline_in(60s)).has_value()) << "the receiver did not finish";
  EXPECT_EQ(receiver.exit_code(), 0) << receiver.log_text();
  const std::string got = last_line(receiver.log_text());
  EXPECT_EQ(got, last_line(sent.out)) << tag << ": the bytes that arrived differ from those sent";
  EXPECT_EQ(got.rfind(std::to_string(kTransferBytes) + " ", 0), 0u) << got;
}

uint64_t field(const json& status, std::initializer_list<const char*> path) {
  const json* j = &status;
  for (const char* key : path) {
    if (!j->is_object() || !j->contains(key)) return 0;
    j = &(*j)[key];
  }
  return j->is_number_unsigned() ? j->get<uint64_t>() : 0;
}

bool flag(const json& status, std::initializer_list<const char*> path) {
  const json* j = &status;
  for (const char* key : path) {
    if (!j->is_object() || !j->contains(key)) return false;
    j = &(*j)[key];
  }
  return j->is_boolean() && j->get<bool>();
}

TEST_P(OffloadTest, TransferArrivesIntactBothWays) {
  const OffloadCase& c = GetParam();
  CordonPair pair({.tag = std::string("offl-") + c.name, .underlay = c.underlay, .offloads = c.offloads});
  ASSERT_TRUE(pair.wait_for_tunnel(deadline_in(20s)));
  const bool v6 = c.underlay == Family::kV6;  // inner family follows the underlay's, to cover both
  ASSERT_NO_FATAL_FAILURE(transfer(pair, pair.a(), pair.b(), v6 ? CordonPair::kTunB6 : CordonPair::kTunB4, "ab"));
  ASSERT_NO_FATAL_FAILURE(transfer(pair, pair.b(), pair.a(), v6 ? CordonPair::kTunA6 : CordonPair::kTunA4, "ba"));

  for (const json& s : {pair.status_a(), pair.status_b()}) {
    const json& o = s["offloads"];
    SCOPED_TRACE(o.dump());
    EXPECT_EQ(flag(o, {"enabled"}), c.offloads);
    EXPECT_EQ(field(o, {"split", "drops"}), 0u);
    EXPECT_EQ(drop_count(s, "malformed"), 0u);
    if (c.offloads) {
      EXPECT_TRUE(flag(o, {"tun", "vnet_header"}));
      EXPECT_TRUE(flag(o, {"tun", "tso"}));
      EXPECT_TRUE(flag(o, {"udp", "gso"}));
      EXPECT_TRUE(flag(o, {"udp", "gro"}));
      // Each side sent 48 MiB: the kernel handed over super-packets, the
      // sockets sent runs of datagrams in one message and received them
      // coalesced, and the side delivered coalesced writes.
      EXPECT_GT(field(o, {"split", "super_packets"}), 0u);
      EXPECT_GT(field(o, {"split", "segments"}), field(o, {"split", "super_packets"}));
      EXPECT_GT(field(o, {"udp", "gso_messages"}), 0u);
      EXPECT_GT(field(o, {"udp", "gro_messages"}), 0u);
      EXPECT_GT(field(o, {"coalesced", "packets"}), field(o, {"coalesced", "writes"}));
      EXPECT_GT(field(o, {"coalesced", "writes"}), 0u);
    } else {
      EXPECT_FALSE(flag(o, {"tun", "vnet_header"}));
      EXPECT_FALSE(flag(o, {"udp", "gso"}));
      EXPECT_EQ(field(o, {"split", "super_packets"}), 0u);
      EXPECT_EQ(field(o, {"udp", "gso_messages"}), 0u);
      EXPECT_EQ(field(o, {"udp", "gro_messages"}), 0u);
      EXPECT_EQ(field(o, {"coalesced", "packets"}), 0u);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Offloads, OffloadTest,
                         ::testing::Values(OffloadCase{"on4", Family::kV4, true}, OffloadCase{"on6", Family::kV6, true},
                                           OffloadCase{"off4", Family::kV4, false},
                                           OffloadCase{"off6", Family::kV6, false}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace cordon::netns
