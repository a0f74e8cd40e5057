// [metrics] on real kernels (docs/metrics.md): two daemons serve GET
// /metrics on loopback inside their namespaces; the live text passes
// promtool, and the peer counters follow the traffic. A metrics address
// that is taken stops the start, unless [metrics] optional = true. A
// coordinator's live text has its registry, and [metrics] added by a reload
// waits for a restart.
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <httplib.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "tests/netns/nat_topology.hpp"
#include "tests/netns/netns_harness.hpp"

namespace cordon::netns {
namespace {

using MetricsTest = NetnsTest;

constexpr uint16_t kMetricsPort = 9462;
constexpr const char* kMetricsTable = "[metrics]\nlisten = \"127.0.0.1:9462\"\n";

// The test thread in `ns` while the object lives (setns(2)): sockets made
// meanwhile belong to `ns`.
class Inside {
 public:
  explicit Inside(const Namespace& ns) : origin_(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) {
    entered_ = origin_ >= 0 && ::setns(ns.fd(), CLONE_NEWNET) == 0;
    if (!entered_) throw std::runtime_error("setns into " + ns.name() + " failed");
  }
  ~Inside() {
    if (entered_) ::setns(origin_, CLONE_NEWNET);
    if (origin_ >= 0) ::close(origin_);
  }
  Inside(const Inside&) = delete;
  Inside& operator=(const Inside&) = delete;

 private:
  int origin_ = -1;
  bool entered_ = false;
};

struct Scrape {
  int status = 0;  // 0: no answer
  std::string content_type, body;
};

// One HTTP GET on 127.0.0.1:9462 inside `ns`, with cpp-httplib's client.
Scrape get(const Namespace& ns, const std::string& path) {
  Inside inside(ns);
  httplib::Client client("127.0.0.1", kMetricsPort);
  client.set_connection_timeout(5);
  client.set_read_timeout(10);
  auto result = client.Get(path);
  if (!result) return {};
  return Scrape{result->status, result->get_header_value("Content-Type"), result->body};
}

// The value of the sample whose line starts with `series ` (name and
// labels exactly as written), or nullopt.
std::optional<double> sample(const std::string& text, const std::string& series) {
  const std::string head = "\n" + series + " ";
  const size_t at = ("\n" + text).find(head);
  if (at == std::string::npos) return std::nullopt;
  return std::strtod(text.c_str() + at + head.size() - 1, nullptr);
}

// promtool check metrics on `text`: its exit code and what it said.
std::pair<int, std::string> promtool(const TempDir& dir, const std::string& text, const std::string& name) {
  write_file(dir / name, text);
  RunResult r = run(nullptr, {"sh", "-c", "promtool check metrics < " + (dir / name).string() + " 2>&1"});
  return {r.exit_code, r.out + r.err};
}

std::string peer_series(const char* metric, const char* id, const char* name) {
  return std::string(metric) + "{peer=\"" + id + "\",name=\"" + name + "\"}";
}

TEST_F(MetricsTest, LiveScrapePassesPromtoolAndCountsTraffic) {
  CordonPair pair({.tag = "metrics", .extra_a = kMetricsTable, .extra_b = kMetricsTable});
  ASSERT_TRUE(pair.wait_for_tunnel(deadline_in(20s))) << "A cannot ping B's tunnel address";

  Scrape a = get(pair.a(), "/metrics");
  ASSERT_EQ(a.status, 200) << pair.daemon_a().log_text();
  EXPECT_EQ(a.content_type, "text/plain; version=0.0.4; charset=utf-8");
  const auto [code, said] = promtool(pair.dir(), a.body, "a.prom");
  EXPECT_EQ(code, 0) << said << "\n" << a.body;
  EXPECT_EQ(said, "") << "promtool found lint problems";
  EXPECT_NE(a.body.find("cordon_info{host=\"0x0001000a\",interface=\"cordon0\",role=\"client\""), std::string::npos);
  EXPECT_EQ(sample(a.body, "process_open_fds").value_or(0) > 0, true) << a.body;
  EXPECT_EQ(get(pair.a(), "/").status, 404);
  EXPECT_EQ(get(pair.a(), "/metric").status, 404);

  const std::string a_tx = peer_series("cordon_peer_transmit_packets_total", CordonPair::kIdB, "site-b");
  const std::string b_rx = peer_series("cordon_peer_receive_bytes_total", CordonPair::kIdA, "site-a");
  const std::string b_rx_packets = peer_series("cordon_peer_receive_packets_total", CordonPair::kIdA, "site-a");
  const std::optional<double> tx0 = sample(a.body, a_tx);
  ASSERT_TRUE(tx0.has_value()) << a.body;
  Scrape b = get(pair.b(), "/metrics");
  ASSERT_EQ(b.status, 200) << pair.daemon_b().log_text();
  const std::optional<double> rx0 = sample(b.body, b_rx), rx_packets0 = sample(b.body, b_rx_packets);
  ASSERT_TRUE(rx0.has_value() && rx_packets0.has_value()) << b.body;

  // Three echo requests of 84 bytes each (IPv4 header, ICMP header, 56
  // bytes of data) from A to B.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(ping_once(pair.a(), CordonPair::kTunB4));
  double tx = 0, rx = 0, rx_packets = 0;
  EXPECT_TRUE(poll_until(deadline_in(10s),
                         [&] {
                           tx = sample(get(pair.a(), "/metrics").body, a_tx).value_or(0);
                           const std::string text = get(pair.b(), "/metrics").body;
                           rx = sample(text, b_rx).value_or(0);
                           rx_packets = sample(text, b_rx_packets).value_or(0);
                           return tx >= *tx0 + 3 && rx_packets >= *rx_packets0 + 3 && rx >= *rx0 + 3 * 84;
                         }))
      << "A sent " << tx << " (was " << *tx0 << "), B received " << rx_packets << " packets (was " << *rx_packets0
      << ") and " << rx << " bytes (was " << *rx0 << ")";

  // The live text of the other daemon, after traffic, passes as well.
  const auto [code_b, said_b] = promtool(pair.dir(), get(pair.b(), "/metrics").body, "b.prom");
  EXPECT_EQ(code_b, 0) << said_b;
  EXPECT_EQ(said_b, "");
}

// A socket listening on 127.0.0.1:9462 inside `ns`, as another program's.
class Squatter {
 public:
  explicit Squatter(const Namespace& ns) {
    Inside inside(ns);
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(kMetricsPort);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd_, 1) != 0) {
      throw std::runtime_error("cannot hold 127.0.0.1:9462 in " + ns.name());
    }
  }
  ~Squatter() {
    if (fd_ >= 0) ::close(fd_);
  }
  Squatter(const Squatter&) = delete;
  Squatter& operator=(const Squatter&) = delete;

 private:
  int fd_ = -1;
};

TEST_F(MetricsTest, AddressInUseStopsTheStartUnlessOptional) {
  CordonPair pair({.tag = "metrics-busy"});
  ASSERT_TRUE(pair.wait_for_tunnel(deadline_in(20s)));
  pair.daemon_a().stop();
  Squatter squatter(pair.a());

  pair.spec_a().extra = kMetricsTable;
  pair.rewrite_config_a();
  Process refused(&pair.a(), {cordon_bin().string(), "up", "-c", pair.config_a().string()}, pair.file("refused.log"),
                  "daemon A with the metrics port taken");
  ASSERT_TRUE(refused.wait_exit(deadline_in(20s)).has_value()) << "the daemon kept running:\n" << refused.log_text();
  EXPECT_EQ(refused.exit_code(), 1) << refused.log_text();
  const std::string log = refused.log_text();
  EXPECT_NE(log.find("metrics: cannot listen on 127.0.0.1:9462 (Address already in use)"), std::string::npos) << log;
  EXPECT_NE(log.find("[metrics] optional = true"), std::string::npos) << log;

  pair.spec_a().extra = std::string(kMetricsTable) + "optional = true\n";
  pair.rewrite_config_a();
  pair.start_a();
  EXPECT_TRUE(pair.wait_for_tunnel(deadline_in(20s))) << pair.daemon_a().log_text();
  EXPECT_NE(pair.daemon_a().log_text().find("running without metrics"), std::string::npos)
      << pair.daemon_a().log_text();
}

// A coordinator of a managed network (nat_topology.hpp): [metrics] added
// by a reload is reported as needing a restart and serves nothing; after
// the restart the live text has the registry, the relay and the courier,
// and passes promtool.
TEST_F(MetricsTest, CoordinatorAfterARestartShowsItsRegistry) {
  CoordinatorNetwork n(CoordinatorOptions{});
  n.wait_until_registered();
  ManagedHost& c1 = n.c1();
  c1.write_config(short_mesh_timers(), std::string("\n") + kMetricsTable);
  c1.reload();
  EXPECT_TRUE(poll_until(deadline_in(10s), [&] {
    return file_contains(c1.log(), "[metrics] changed (off -> 127.0.0.1:9462) and needs a restart");
  })) << read_file(c1.log());
  EXPECT_EQ(get(c1.ns(), "/metrics").status, 0) << "a reload opened the metrics port";

  c1.stop();
  c1.start();
  const std::string reachable = "cordon_registered_clients{state=\"reachable\"}";
  std::string text;
  // a and b report to c1 within the status interval (10 s here).
  EXPECT_TRUE(poll_until(deadline_in(40s), [&] {
    text = get(c1.ns(), "/metrics").body;
    return sample(text, reachable).value_or(0) == 2;
  })) << text;
  EXPECT_NE(text.find("cordon_info{host=\"" + c1.id() + "\",interface=\"cordon0\",role=\"coordinator\""),
            std::string::npos)
      << text;
  EXPECT_TRUE(sample(text, "cordon_relay_packets_total").has_value()) << text;
  EXPECT_TRUE(sample(text, "cordon_courier_keyset_version").value_or(0) >= 1) << text;
  EXPECT_TRUE(sample(text, peer_series("cordon_peer_receive_packets_total", n.a().id().c_str(), "a")).has_value())
      << text;
  TempDir dir("metrics-coordinator");
  const auto [code, said] = promtool(dir, text, "c1.prom");
  EXPECT_EQ(code, 0) << said;
  EXPECT_EQ(said, "");
}

}  // namespace
}  // namespace cordon::netns
