// [metrics]: the renderer from a status document to the Prometheus text
// format (daemon/metrics_format.hpp), the [metrics] table of the config,
// and the process statistics read from /proc (os/linux/process_stats.hpp).
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/status.hpp"
#include "daemon/config.hpp"
#include "daemon/metrics_format.hpp"
#include "daemon/reload.hpp"
#include "daemon/status_json.hpp"
#include "os/linux/process_stats.hpp"
#include "tests/common/temp_dir.hpp"

namespace cordon::daemon {
namespace {

using Json = nlohmann::json;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool has_line(const std::string& text, const std::string& line) {
  for (const std::string& l : lines_of(text)) {
    if (l == line) return true;
  }
  return false;
}

// A small document, as status_to_json writes one, with values that differ
// from each other so that a field read from the wrong key shows.
Json small_document() {
  return Json::parse(R"({
    "host": "0x0001000a", "interface": "cordon0", "role": "client", "tcp": false,
    "tcp_streams": 0, "tcp_tunnel": null,
    "peers": [{
      "id": "0x0001000b", "name": "b", "role": "client", "suite": "aes-256-gcm",
      "rx_bytes": 1001, "rx_packets": 11, "tx_bytes": 2002, "tx_packets": 22,
      "keepalives_sent": 3, "keepalives_received": 4, "roams": 5, "failovers": 6,
      "drops": {"replay": 7, "auth_failure": 8},
      "path": "direct", "reachability": "unknown",
      "last_rx": 1765000000, "last_tx": null,
      "rekey": {"generation": 2, "done": 9, "failed": 1, "refused": 0}
    }],
    "relay": {"packets": 12, "bytes": 1300},
    "workers": {"datagrams_in": [14, 15], "packets_in": [16, 17]},
    "offloads": {"tun": {"vnet_header": true, "checksum": true, "tso": true, "uso": false},
                 "udp": {"gso": true, "gro": false, "gso_messages": 18, "gso_datagrams": 19,
                         "gso_fallbacks": 20, "gro_messages": 21, "gro_datagrams": 22},
                 "split": {"super_packets": 23, "segments": 24, "drops": 25},
                 "coalesced": {"packets": 26, "writes": 27}},
    "drops": {"no_route": 31},
    "filter": {"connections": 32, "max_connections": 65536,
               "rules": [{"number": 1, "origin": "local", "action": "drop", "hits": 33}]},
    "open": null,
    "control_queue": {"queued": 34, "limit": 1024}
  })");
}

MetricsContext small_context() { return MetricsContext{"0.1.0", 1765000100, std::nullopt}; }

TEST(MetricsFormatTest, PeerCountersAreExactLines) {
  const std::string text = render_metrics(small_document(), small_context());
  for (const char* line : {
           R"(cordon_peer_receive_bytes_total{peer="0x0001000b",name="b"} 1001)",
           R"(cordon_peer_receive_packets_total{peer="0x0001000b",name="b"} 11)",
           R"(cordon_peer_transmit_bytes_total{peer="0x0001000b",name="b"} 2002)",
           R"(cordon_peer_transmit_packets_total{peer="0x0001000b",name="b"} 22)",
           R"(cordon_peer_keepalives_sent_total{peer="0x0001000b",name="b"} 3)",
           R"(cordon_peer_keepalives_received_total{peer="0x0001000b",name="b"} 4)",
           R"(cordon_peer_roams_total{peer="0x0001000b",name="b"} 5)",
           R"(cordon_peer_failovers_total{peer="0x0001000b",name="b"} 6)",
           R"(cordon_peer_drops_total{peer="0x0001000b",name="b",reason="replay"} 7)",
           R"(cordon_peer_drops_total{peer="0x0001000b",name="b",reason="auth_failure"} 8)",
           R"(cordon_peer_last_receive_timestamp_seconds{peer="0x0001000b",name="b"} 1765000000)",
           R"(cordon_peer_last_transmit_timestamp_seconds{peer="0x0001000b",name="b"} 0)",
           R"(cordon_peer_rekeys_total{peer="0x0001000b",name="b",result="done"} 9)",
           R"(cordon_peer_rekeys_total{peer="0x0001000b",name="b",result="failed"} 1)",
           R"(cordon_peer_rekeys_total{peer="0x0001000b",name="b",result="refused"} 0)",
           R"(cordon_peer_key_generation{peer="0x0001000b",name="b"} 2)",
           R"(cordon_peer_info{peer="0x0001000b",name="b",role="client",suite="aes-256-gcm"} 1)",
       }) {
    EXPECT_TRUE(has_line(text, line)) << "missing: " << line << "\n" << text;
  }
  // Only the reasons that occurred get a per-peer series.
  EXPECT_FALSE(has_line(text, R"(cordon_peer_drops_total{peer="0x0001000b",name="b",reason="stale"} 0)"));
}

TEST(MetricsFormatTest, PathAndReachabilityAreStateSets) {
  const std::string text = render_metrics(small_document(), small_context());
  for (const char* line : {
           R"(cordon_peer_path{peer="0x0001000b",name="b",path="none"} 0)",
           R"(cordon_peer_path{peer="0x0001000b",name="b",path="direct"} 1)",
           R"(cordon_peer_path{peer="0x0001000b",name="b",path="relayed"} 0)",
           R"(cordon_peer_path{peer="0x0001000b",name="b",path="tcp"} 0)",
           R"(cordon_peer_reachability{peer="0x0001000b",name="b",state="unknown"} 1)",
           R"(cordon_peer_reachability{peer="0x0001000b",name="b",state="reachable"} 0)",
           R"(cordon_peer_reachability{peer="0x0001000b",name="b",state="unreachable"} 0)",
       }) {
    EXPECT_TRUE(has_line(text, line)) << "missing: " << line;
  }
}

TEST(MetricsFormatTest, HostWideLinesAreExact) {
  const std::string text = render_metrics(small_document(), small_context());
  for (const char* line : {
           "cordon_up 1",
           R"(cordon_info{host="0x0001000a",interface="cordon0",role="client",version="0.1.0"} 1)",
           "cordon_start_time_seconds 1765000100",
           "cordon_peers 1",
           R"(cordon_drops_total{reason="no_route"} 31)",
           R"(cordon_drops_total{reason="too_short"} 0)",
           R"(cordon_drops_total{reason="control_backlog"} 0)",
           R"(cordon_worker_datagrams_received_total{worker="0"} 14)",
           R"(cordon_worker_datagrams_received_total{worker="1"} 15)",
           R"(cordon_worker_packets_read_total{worker="0"} 16)",
           R"(cordon_worker_packets_read_total{worker="1"} 17)",
           R"(cordon_offload_enabled{feature="tun_tso"} 1)",
           R"(cordon_offload_enabled{feature="tun_uso"} 0)",
           R"(cordon_offload_enabled{feature="udp_gro"} 0)",
           "cordon_offload_udp_gso_messages_total 18",
           "cordon_offload_udp_gso_datagrams_total 19",
           "cordon_offload_udp_gso_fallbacks_total 20",
           "cordon_offload_udp_gro_messages_total 21",
           "cordon_offload_udp_gro_datagrams_total 22",
           "cordon_offload_split_super_packets_total 23",
           "cordon_offload_split_segments_total 24",
           "cordon_offload_split_drops_total 25",
           "cordon_offload_coalesced_packets_total 26",
           "cordon_offload_coalesced_writes_total 27",
           "cordon_relay_packets_total 12",
           "cordon_relay_bytes_total 1300",
           "cordon_filter_connections 32",
           "cordon_filter_connections_limit 65536",
           R"(cordon_filter_rule_hits_total{rule="1",origin="local",action="drop"} 33)",
           "cordon_control_queue_messages 34",
           "cordon_control_queue_limit_messages 1024",
           "cordon_tcp_streams 0",
           "cordon_tcp_tunnel_in_use 0",
       }) {
    EXPECT_TRUE(has_line(text, line)) << "missing: " << line;
  }
  // A client has no registry, and without a listener no tunnel counters;
  // without a courier or process statistics, none of theirs.
  EXPECT_EQ(text.find("cordon_registered_clients"), std::string::npos);
  EXPECT_EQ(text.find("cordon_tcp_tunnel_streams"), std::string::npos);
  EXPECT_EQ(text.find("cordon_courier_"), std::string::npos);
  EXPECT_EQ(text.find("process_"), std::string::npos);
}

// Every family: HELP, then TYPE, then its samples, all together, and each
// family once (the format's "Grouping and sorting").
TEST(MetricsFormatTest, FamiliesAreContiguousWithHelpAndType) {
  const std::string text = render_metrics(small_document(), small_context());
  std::set<std::string> seen;
  std::string current;
  for (const std::string& line : lines_of(text)) {
    if (line.starts_with("# HELP ")) {
      current = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(seen.insert(current).second) << "family twice: " << current;
      continue;
    }
    if (line.starts_with("# TYPE ")) {
      EXPECT_EQ(line.substr(7, current.size() + 1), current + " ");
      continue;
    }
    const std::string name = line.substr(0, line.find_first_of("{ "));
    EXPECT_EQ(name, current) << line;
  }
  EXPECT_GT(seen.size(), 30u);
}

TEST(MetricsFormatTest, LabelValuesAreEscaped) {
  EXPECT_EQ(escape_label_value(R"(plain)"), "plain");
  EXPECT_EQ(escape_label_value("a\"b"), "a\\\"b");
  EXPECT_EQ(escape_label_value("a\\b"), "a\\\\b");
  EXPECT_EQ(escape_label_value("a\nb"), "a\\nb");
  EXPECT_EQ(escape_label_value("\\\"\n"), "\\\\\\\"\\n");
  Json doc = small_document();
  doc["peers"][0]["name"] = "site \"b\"\\east\nline";
  const std::string text = render_metrics(doc, small_context());
  EXPECT_TRUE(has_line(text, R"(cordon_peer_roams_total{peer="0x0001000b",name="site \"b\"\\east\nline"} 5)")) << text;
}

TEST(MetricsFormatTest, ProcessMetricsAreTheStandardOnes) {
  MetricsContext context = small_context();
  context.process = os::ProcessStats{1.25, 4096000, 81920000, 17, 1024, 1765000050.5};
  const std::string text = render_metrics(small_document(), context);
  for (const char* line : {"process_cpu_seconds_total 1.25", "process_resident_memory_bytes 4096000",
                           "process_virtual_memory_bytes 81920000", "process_open_fds 17", "process_max_fds 1024",
                           "process_start_time_seconds 1765000050.5", "# TYPE process_cpu_seconds_total counter",
                           "# TYPE process_open_fds gauge"}) {
    EXPECT_TRUE(has_line(text, line)) << "missing: " << line;
  }
}

TEST(MetricsFormatTest, AnEmptyOrStrangeDocumentDoesNotThrow) {
  EXPECT_NO_THROW(render_metrics(Json::object(), small_context()));
  EXPECT_NO_THROW(render_metrics(Json::array(), small_context()));
  Json doc = small_document();
  doc["peers"][0]["rx_bytes"] = "many";
  doc["relay"] = 5;
  const std::string text = render_metrics(doc, small_context());
  EXPECT_TRUE(has_line(text, R"(cordon_peer_receive_bytes_total{peer="0x0001000b",name="b"} 0)"));
  EXPECT_TRUE(has_line(text, "cordon_relay_packets_total 0"));
}

// A coordinator with everything: built by status_to_json from a NodeStatus,
// so the renderer reads the document's real shape, plus a courier.
Json rich_document() {
  NodeStatus s;
  s.self = HostId{0x00010001};
  s.role = keys::Role::kCoordinator;
  s.relay = RelayCounters{40, 4000};
  s.drops[static_cast<size_t>(DropReason::kControlBacklog)] = 3;
  s.control_queued = 2;
  s.control_queue_limit = 1024;
  for (uint32_t i = 0; i < 3; ++i) {
    PeerStatus p;
    p.id = HostId{0x00010002 + i};
    p.name = i == 0 ? "quote\"back\\slash\nnewline" : "peer" + std::to_string(i);
    p.path = i == 0 ? PathKind::kDirect : (i == 1 ? PathKind::kRelayed : PathKind::kTcp);
    p.via = i == 0 ? HostId{} : HostId{0x00010001};
    p.reachability = i == 2 ? Reachability::kUnreachable : Reachability::kReachable;
    p.rx_bytes = 100 * (i + 1);
    p.last_rx_real_ns = i == 2 ? 0 : 1765000000LL * kNsPerSecond;
    p.drops[static_cast<size_t>(DropReason::kReplay)] = i;
    p.rekey.done = i;
    s.peers.push_back(p);
    RegisteredClient c;
    c.id = p.id;
    c.state = p.reachability;
    s.clients.push_back(c);
  }
  s.routes.push_back(
      RouteStatus{HostId{0x00010009}, HostId{0x00010005}, HostId{0x00010005}, 1, Reachability::kReachable});
  StatusContext context{"cordon0", 51820, 1765000100LL * kNsPerSecond};
  context.tcp_port = 443;
  context.tcp_streams = 2;
  context.tcp_tunnel.authenticated = 2;
  context.tcp_tunnel.evicted_oldest = 1;
  context.workers.datagrams_in = {5, 6};
  context.workers.packets_in = {7, 8};
  context.open.enabled = true;
  context.open.table = true;
  context.open.counters = {OpenCounter{"input_dropped", "", "", 9, 900}, OpenCounter{"spoofed_lan", "", "", 1, 60}};
  Json doc = status_to_json(s, context);
  doc["courier"] = Json::parse(R"({"spool": "/var/lib/cordon/courier", "items": [{"id": 1}], "bytes": 512,
      "incoming": 0, "installed": 7, "counters": {"stored": 1, "forwarded": 2, "applied": 3, "superseded": 4,
      "duplicates": 5, "refused_in": 6, "refused_out": 7, "segments_sent": 8, "segments_resent": 9,
      "bad_messages": 10, "stalled": 11, "refusals": {}}})");
  doc["ipsec"] = Json::parse(R"({"interface": "cordon-ipsec0", "half_open": 3,
      "ike_sas": [{"connection": "site-b", "state": "established", "rekeys": 2, "child_rekeys": 5, "retransmits": 1},
                  {"connection": "rw", "state": "established", "rekeys": 0, "child_rekeys": 0, "retransmits": 0},
                  {"connection": "rw", "state": "established", "rekeys": 1, "child_rekeys": 0, "retransmits": 4}],
      "child_sas": [{"connection": "site-b", "child": "net", "inbound": {"bytes": 1000, "packets": 10},
                     "outbound": {"bytes": 2000, "packets": 20}}],
      "drops": {"esp_unknown_spi": 4000, "ike_cookie_required": 1990}})");
  return doc;
}

TEST(MetricsFormatTest, CoordinatorCourierAndTunnelLines) {
  const std::string text = render_metrics(rich_document(), small_context());
  for (const char* line : {
           R"(cordon_registered_clients{state="reachable"} 2)",
           R"(cordon_registered_clients{state="unreachable"} 1)",
           R"(cordon_registered_clients{state="unknown"} 0)",
           R"(cordon_coordinator_routes{state="reachable"} 1)",
           "cordon_relay_packets_total 40",
           "cordon_relay_bytes_total 4000",
           R"(cordon_drops_total{reason="control_backlog"} 3)",
           "cordon_control_queue_messages 2",
           "cordon_tcp_streams 2",
           R"(cordon_tcp_tunnel_streams{state="authenticated"} 2)",
           R"(cordon_tcp_tunnel_evicted_total{reason="oldest"} 1)",
           R"(cordon_open_firewall_packets_total{counter="input_dropped"} 9)",
           R"(cordon_open_firewall_bytes_total{counter="spoofed_lan"} 60)",
           "cordon_courier_items 1",
           "cordon_courier_held_bytes 512",
           "cordon_courier_keyset_version 7",
           "cordon_courier_items_stored_total 1",
           "cordon_courier_items_forwarded_total 2",
           "cordon_courier_packages_applied_total 3",
           R"(cordon_courier_items_refused_total{direction="out"} 7)",
           "cordon_courier_stalled_total 11",
           "cordon_ipsec_half_open_ike_sas 3",
           R"(cordon_ipsec_ike_sas{connection="rw",state="established"} 2)",
           R"(cordon_ipsec_ike_rekeys_total{connection="rw"} 1)",
           R"(cordon_ipsec_child_rekeys_total{connection="site-b"} 5)",
           R"(cordon_ipsec_retransmits_total{connection="rw"} 4)",
           R"(cordon_ipsec_sa_bytes_total{connection="site-b",child="net",direction="out"} 2000)",
           R"(cordon_ipsec_sa_packets_total{connection="site-b",child="net",direction="in"} 10)",
           R"(cordon_ipsec_drops_total{reason="esp_unknown_spi"} 4000)",
           R"(cordon_peer_path{peer="0x00010003",name="peer1",path="relayed"} 1)",
           R"(cordon_peer_path{peer="0x00010004",name="peer2",path="tcp"} 1)",
           R"(cordon_peer_last_receive_timestamp_seconds{peer="0x00010004",name="peer2"} 0)",
       }) {
    EXPECT_TRUE(has_line(text, line)) << "missing: " << line << "\n" << text;
  }
}

// promtool (the Prometheus package; scripts/install-deps.sh installs it)
// parses the text as Prometheus does and lints the names. Missing promtool
// fails the test: the check must not silently stop running.
TEST(MetricsPromtoolTest, RichOutputPassesPromtoolCheckMetrics) {
  ASSERT_EQ(std::system("command -v promtool >/dev/null 2>&1"), 0)
      << "promtool is not installed; run scripts/install-deps.sh (Debian package prometheus)";
  testkit::TempDir dir("metrics");
  MetricsContext context = small_context();
  context.process = os::ProcessStats{1.5, 1 << 20, 1 << 24, 12, 1024, 1765000000.25};
  const std::string metrics = dir.write("metrics.txt", render_metrics(rich_document(), context), 0644);
  const std::string out = (dir.path() / "promtool.out").string();
  const int status = std::system(("promtool check metrics < " + metrics + " > " + out + " 2>&1").c_str());
  std::ifstream in(out);
  const std::string said((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << said;
  EXPECT_EQ(said, "") << "promtool found lint problems";
}

// A planted fault must make promtool fail, or the test above proves nothing.
TEST(MetricsPromtoolTest, PromtoolRejectsABrokenText) {
  ASSERT_EQ(std::system("command -v promtool >/dev/null 2>&1"), 0) << "promtool is not installed";
  testkit::TempDir dir("metrics");
  const std::string metrics =
      dir.write("bad.txt", "# HELP cordon_things Things.\n# TYPE cordon_things counter\ncordon_things 1\n", 0644);
  const int status = std::system(("promtool check metrics < " + metrics + " > /dev/null 2>&1").c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 0) << "a counter without _total passed the lint";
}

// contrib/grafana/cordon.json uses only metrics the renderer writes: every
// cordon_ and process_ name in it is a family of the rich document's text.
TEST(MetricsFormatTest, GrafanaDashboardUsesOnlyRenderedMetrics) {
  std::ifstream in(std::string(CORDON_SOURCE_DIR) + "/contrib/grafana/cordon.json");
  ASSERT_TRUE(in.good());
  const std::string dashboard((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(Json::parse(dashboard, nullptr, false).is_discarded()) << "not JSON";
  MetricsContext context = small_context();
  context.process = os::ProcessStats{1, 2, 3, 4, 5, 6};
  const std::string text = render_metrics(rich_document(), context);
  std::set<std::string> families;
  for (const std::string& line : lines_of(text)) {
    if (line.starts_with("# TYPE ")) families.insert(line.substr(7, line.find(' ', 7) - 7));
  }
  size_t used = 0;
  for (const char* prefix : {"cordon_", "process_"}) {
    for (size_t at = dashboard.find(prefix); at != std::string::npos; at = dashboard.find(prefix, at + 1)) {
      if (at > 0 && (std::isalnum(static_cast<unsigned char>(dashboard[at - 1])) || dashboard[at - 1] == '_')) continue;
      size_t end = at;
      while (end < dashboard.size() &&
             (std::isalnum(static_cast<unsigned char>(dashboard[end])) || dashboard[end] == '_'))
        ++end;
      const std::string name = dashboard.substr(at, end - at);
      EXPECT_TRUE(families.contains(name)) << name << " is in the dashboard but not rendered";
      ++used;
    }
  }
  EXPECT_GT(used, 10u);
}

// --- [metrics] in the config file ---

constexpr const char* kKey = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n";
constexpr const char* kBase = R"([host]
id = "0x0001000a"

[[peer]]
id = "0x0001000b"
key_file = "a-b.key"
allowed_prefixes = []

)";

class MetricsConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_.write("a-b.key", kKey); }
  ConfigResult load(const std::string& metrics) { return load_config(dir_.write("cordon.toml", kBase + metrics)); }
  static std::string errors(const ConfigResult& r) {
    std::string out;
    if (!r.ok()) {
      for (const ConfigError& e : r.error()) out += e.to_string() + "\n";
    }
    return out;
  }
  std::string path() const { return (dir_.path() / "cordon.toml").string(); }
  testkit::TempDir dir_;
};

TEST_F(MetricsConfigTest, OffWithoutTheTableOrItsListenKey) {
  auto none = load("");
  ASSERT_TRUE(none.ok()) << errors(none);
  EXPECT_FALSE(none->metrics.has_value());
  auto empty = load("[metrics]\n");
  ASSERT_TRUE(empty.ok()) << errors(empty);
  EXPECT_FALSE(empty->metrics.has_value());
}

TEST_F(MetricsConfigTest, ListenAndOptionalAreRead) {
  auto v4 = load("[metrics]\nlisten = \"127.0.0.1:9462\"\n");
  ASSERT_TRUE(v4.ok()) << errors(v4);
  ASSERT_TRUE(v4->metrics.has_value());
  EXPECT_EQ(v4->metrics->listen.to_string(), "127.0.0.1:9462");
  EXPECT_FALSE(v4->metrics->optional);
  auto v6 = load("[metrics]\nlisten = \"[::1]:9100\"\noptional = true\n");
  ASSERT_TRUE(v6.ok()) << errors(v6);
  EXPECT_EQ(v6->metrics->listen.to_string(), "[::1]:9100");
  EXPECT_TRUE(v6->metrics->optional);
}

TEST_F(MetricsConfigTest, MalformedInputNamesFileLineAndField) {
  struct Case {
    const char* table;
    const char* expected;
  };
  for (const Case& c : {
           Case{"[metrics]\nlisten = \"localhost:9462\"\n",
                ":10:10: metrics.listen: \"localhost:9462\" is not an address and port"},
           Case{"[metrics]\nlisten = \"127.0.0.1\"\n",
                ":10:10: metrics.listen: \"127.0.0.1\" is not an address and port"},
           Case{"[metrics]\nlisten = \"::1:9462\"\n",
                ":10:10: metrics.listen: \"::1:9462\" is not an address and port; write e.g. \"127.0.0.1:9462\" or "
                "\"[::1]:9462\""},
           Case{"[metrics]\nlisten = \"127.0.0.1:0\"\n",
                ":10:10: metrics.listen: \"127.0.0.1:0\" is not an address and port"},
           Case{"[metrics]\nlisten = 9462\n", ":10:10: metrics.listen: expected a string, found an integer"},
           Case{"[metrics]\nlisten = \"127.0.0.1:9462\"\noptional = \"yes\"\n",
                ":11:12: metrics.optional: expected true or false, found a string"},
           Case{"[metrics]\nlisen = \"127.0.0.1:9462\"\n", ":10:1: metrics.lisen: unknown key; did you mean `listen`?"},
           Case{"[metrics]\nlisten = \"[::1]9462\"\n",
                ":10:10: metrics.listen: \"[::1]9462\" is not an address and port"},
       }) {
    auto r = load(c.table);
    ASSERT_FALSE(r.ok()) << c.table;
    EXPECT_NE(errors(r).find(path() + c.expected), std::string::npos) << errors(r);
  }
}

TEST_F(MetricsConfigTest, AChangedAddressNeedsARestart) {
  auto before = load("[metrics]\nlisten = \"127.0.0.1:9462\"\n");
  auto after = load("[metrics]\nlisten = \"127.0.0.1:9463\"\n");
  auto off = load("");
  ASSERT_TRUE(before.ok() && after.ok() && off.ok());
  const auto changes = restart_only_changes(*before, *after);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0],
            "[metrics] changed (127.0.0.1:9462 -> 127.0.0.1:9463) and needs a restart; the running value stays "
            "until then");
  EXPECT_EQ(restart_only_changes(*off, *before).size(), 1u);
  EXPECT_TRUE(restart_only_changes(*before, *before).empty());
}

// --- /proc ---

TEST(MetricsProcessStatsTest, ParsesProcStatAfterTheLastParenthesis) {
  // A command name with spaces and parentheses, as proc(5) allows.
  const std::string stat =
      "4242 (cor don) (x)) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 3 0 123456 98765432 2048 "
      "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
  auto f = os::parse_proc_stat(stat);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->utime_ticks, 250u);
  EXPECT_EQ(f->stime_ticks, 150u);
  EXPECT_EQ(f->start_ticks, 123456u);
  EXPECT_EQ(f->vsize, 98765432u);
  EXPECT_EQ(f->rss_pages, 2048u);
  EXPECT_FALSE(os::parse_proc_stat("4242 (cordon) S 1 2 3").has_value());
  EXPECT_EQ(os::parse_boot_time("cpu 1 2 3\nbtime 1765000000\nprocesses 5\n"), 1765000000u);
  EXPECT_FALSE(os::parse_boot_time("cpu 1 2 3\n").has_value());
}

TEST(MetricsProcessStatsTest, ReadsSensibleValuesForThisProcess) {
  auto stats = os::read_process_stats();
  ASSERT_TRUE(stats.ok()) << stats.error().message();
  const int64_t now = static_cast<int64_t>(::time(nullptr));
  EXPECT_GT(stats->resident_bytes, 1u << 20);  // a gtest binary holds more than 1 MiB
  EXPECT_GE(stats->virtual_bytes, stats->resident_bytes);
  EXPECT_GE(stats->open_fds, 3u);  // stdin, stdout, stderr
  EXPECT_GE(stats->max_fds, stats->open_fds);
  EXPECT_GE(stats->cpu_seconds, 0.0);
  EXPECT_LE(stats->start_time_seconds, static_cast<double>(now) + 1);
  EXPECT_GT(stats->start_time_seconds, static_cast<double>(now) - 24 * 3600);  // started within a day
  // A newly opened file shows.
  const uint64_t before = stats->open_fds;
  std::FILE* f = std::fopen("/proc/self/stat", "r");
  ASSERT_NE(f, nullptr);
  auto again = os::read_process_stats();
  std::fclose(f);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->open_fds, before + 1);
}

}  // namespace
}  // namespace cordon::daemon
