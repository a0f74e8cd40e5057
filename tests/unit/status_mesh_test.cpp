// The coordinator fields of the status document (daemon/status_json.hpp)
// and how `cordon status` renders them (daemon/status_format.hpp).
#include <gtest/gtest.h>

#include "daemon/status_format.hpp"
#include "daemon/status_json.hpp"

namespace cordon::daemon {
namespace {

constexpr int64_t kNow = 1'700'000'100;

Endpoint ep(const char* text) { return *Endpoint::parse(text); }

NodeStatus client_status() {
  NodeStatus s;
  s.self = HostId{0x00010003};
  s.role = keys::Role::kClient;
  s.registry = HostId{0x00010001};
  s.rendezvous = HostId{0x00010001};
  s.public_endpoint = ep("203.0.113.7:40001");
  s.local_endpoints = {ep("192.168.1.20:51820"), ep("[2001:db8::20]:51820")};
  s.tcp = true;

  PeerStatus coordinator;
  coordinator.id = HostId{0x00010001};
  coordinator.name = "hub";
  coordinator.role = keys::Role::kCoordinator;
  coordinator.path = PathKind::kTcp;
  coordinator.endpoint = Endpoint{ep("198.51.100.1:443").address, 443, 7};
  s.peers.push_back(coordinator);

  PeerStatus relayed;
  relayed.id = HostId{0x00010004};
  relayed.role = keys::Role::kClient;
  relayed.path = PathKind::kRelayed;
  relayed.via = HostId{0x00010001};
  relayed.reachability = Reachability::kReachable;
  relayed.last_status_real_ns = (kNow - 30) * kNsPerSecond;
  relayed.public_endpoint = ep("198.51.100.9:5000");
  relayed.local_endpoints = {ep("10.1.0.4:51820")};
  s.peers.push_back(relayed);
  return s;
}

NodeStatus coordinator_status() {
  NodeStatus s;
  s.self = HostId{0x00010001};
  s.role = keys::Role::kCoordinator;
  s.relay = RelayCounters{3, 1536};
  RegisteredClient c;
  c.id = HostId{0x00010003};
  c.name = "laptop";
  c.state = Reachability::kReachable;
  c.public_endpoint = ep("203.0.113.7:40001");
  c.local_endpoints = {ep("192.168.1.20:51820")};
  c.last_heard_real_ns = (kNow - 5) * kNsPerSecond;
  c.tcp = true;
  s.clients.push_back(c);
  RegisteredClient silent;
  silent.id = HostId{0x00010005};
  s.clients.push_back(silent);
  s.routes.push_back(RouteStatus{HostId{0x00010009}, HostId{0x00010002}, HostId{0x00010002}, 1,
                                 Reachability::kReachable});
  return s;
}

TEST(StatusJson, ClientMeshFields) {
  const nlohmann::json j = status_to_json(client_status(), StatusContext{"cordon0", 51820, kNow * kNsPerSecond});
  EXPECT_EQ(j["role"], "client");
  EXPECT_EQ(j["registry"], "0x00010001");
  EXPECT_EQ(j["rendezvous"], "0x00010001");
  EXPECT_EQ(j["public_endpoint"], "203.0.113.7:40001");
  EXPECT_EQ(j["local_endpoints"], (nlohmann::json{"192.168.1.20:51820", "[2001:db8::20]:51820"}));
  EXPECT_EQ(j["tcp"], true);
  EXPECT_TRUE(j["tcp_port"].is_null());
  EXPECT_EQ(j["tcp_streams"], 0);
  EXPECT_EQ(j["clients"], nlohmann::json::array());
  EXPECT_EQ(j["routes"], nlohmann::json::array());
  EXPECT_EQ(j["relay"], (nlohmann::json{{"packets", 0}, {"bytes", 0}}));

  const auto& hub = j["peers"][0];
  EXPECT_EQ(hub["role"], "coordinator");
  EXPECT_EQ(hub["path"], "tcp");
  EXPECT_TRUE(hub["via"].is_null());
  EXPECT_EQ(hub["reachability"], "unknown");
  EXPECT_TRUE(hub["last_status"].is_null());
  EXPECT_TRUE(hub["public_endpoint"].is_null());
  EXPECT_EQ(hub["endpoint"], "198.51.100.1:443 (tcp stream 7)");

  const auto& peer = j["peers"][1];
  EXPECT_EQ(peer["path"], "relayed");
  EXPECT_EQ(peer["via"], "0x00010001");
  EXPECT_EQ(peer["reachability"], "reachable");
  EXPECT_EQ(peer["last_status"], kNow - 30);
  EXPECT_EQ(peer["public_endpoint"], "198.51.100.9:5000");
  EXPECT_EQ(peer["local_endpoints"], (nlohmann::json{"10.1.0.4:51820"}));
}

TEST(StatusJson, CoordinatorFields) {
  StatusContext context{"cordon0", 51820, kNow * kNsPerSecond};
  context.tcp_port = 443;
  context.tcp_streams = 2;
  const nlohmann::json j = status_to_json(coordinator_status(), context);
  EXPECT_EQ(j["role"], "coordinator");
  EXPECT_TRUE(j["registry"].is_null());
  EXPECT_TRUE(j["public_endpoint"].is_null());
  EXPECT_EQ(j["tcp_port"], 443);
  EXPECT_EQ(j["tcp_streams"], 2);
  EXPECT_EQ(j["relay"], (nlohmann::json{{"packets", 3}, {"bytes", 1536}}));
  ASSERT_EQ(j["clients"].size(), 2u);
  EXPECT_EQ(j["clients"][0], (nlohmann::json{{"id", "0x00010003"},
                                             {"name", "laptop"},
                                             {"state", "reachable"},
                                             {"public_endpoint", "203.0.113.7:40001"},
                                             {"local_endpoints", {"192.168.1.20:51820"}},
                                             {"last_heard", kNow - 5},
                                             {"tcp", true}}));
  EXPECT_EQ(j["clients"][1]["state"], "unknown");
  EXPECT_TRUE(j["clients"][1]["last_heard"].is_null());
  EXPECT_EQ(j["routes"], (nlohmann::json::array({nlohmann::json{{"host", "0x00010009"},
                                                                 {"via", "0x00010002"},
                                                                 {"coordinator", "0x00010002"},
                                                                 {"metric", 1},
                                                                 {"state", "reachable"}}})));
}

TEST(StatusFormat, ClientMeshLines) {
  const nlohmann::json j = status_to_json(client_status(), StatusContext{"cordon0", 51820, kNow * kNsPerSecond});
  const std::string out = format_status(j, kNow);
  EXPECT_NE(out.find("role client  registry 0x00010001  rendezvous 0x00010001  public endpoint 203.0.113.7:40001  "
                     "tcp yes\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("local endpoints: 192.168.1.20:51820 [2001:db8::20]:51820\n"), std::string::npos) << out;
  EXPECT_NE(out.find("PEER        ROLE         PATH                    REACHABILITY  LAST STATUS  PUBLIC ENDPOINT"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("0x00010001  coordinator  tcp                     unknown       never        -"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("0x00010004  client       relayed via 0x00010001  reachable     30 s ago     198.51.100.9:5000"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("registered clients"), std::string::npos) << out;
}

TEST(StatusFormat, CoordinatorSections) {
  StatusContext context{"cordon0", 51820, kNow * kNsPerSecond};
  context.tcp_port = 443;
  context.tcp_streams = 2;
  const std::string out = format_status(status_to_json(coordinator_status(), context), kNow);
  EXPECT_NE(out.find("role coordinator  tcp tunnel port 443, 2 streams  relayed 1.5 KiB (3 pkts)\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("\nno peers\n"), std::string::npos) << out;
  EXPECT_NE(out.find("registered clients:\nCLIENT      NAME    STATE      PUBLIC ENDPOINT    LAST HEARD  TCP  "
                     "LOCAL ENDPOINTS\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("0x00010003  laptop  reachable  203.0.113.7:40001  5 s ago     yes  192.168.1.20:51820"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("0x00010005  -       unknown    -                  never       no   -"), std::string::npos)
      << out;
  EXPECT_NE(out.find("routes:\nHOST        VIA         COORDINATOR  METRIC  STATE\n"
                     "0x00010009  0x00010002  0x00010002   1       reachable\n"),
            std::string::npos)
      << out;
}

TEST(StatusFormat, ManualModeShowsNoMeshLines) {
  NodeStatus s;
  s.self = HostId{0x0001000a};
  PeerStatus p;
  p.id = HostId{0x0001000b};
  p.path = PathKind::kDirect;
  s.peers.push_back(p);
  const std::string out = format_status(status_to_json(s, StatusContext{"cordon0", 51820, kNow * kNsPerSecond}), kNow);
  EXPECT_EQ(out.find("role "), std::string::npos) << out;
  EXPECT_EQ(out.find("REACHABILITY"), std::string::npos) << out;
}

TEST(StatusFormat, WorkersLineShowsHowTheTrafficDivides) {
  NodeStatus s;
  s.self = HostId{0x0001000a};
  StatusContext context{"cordon0", 51820, kNow * kNsPerSecond};
  context.workers = WorkersStatus{.lanes = true, .datagrams_in = {310, 297}, .packets_in = {305, 0}};
  nlohmann::json j = status_to_json(s, context);
  EXPECT_EQ(j["workers"]["lanes_off"], nullptr);
  EXPECT_EQ(j["workers"]["datagrams_in"], nlohmann::json::array({310, 297}));
  std::string out = format_status(j, kNow);
  EXPECT_NE(out.find("workers: 2 picked by lane; datagrams in 310 | 297, packets in 305 | 0\n"), std::string::npos)
      << out;

  context.workers = WorkersStatus{.lanes = false, .lanes_off = "6 workers: the header has 4 lanes",
                                  .datagrams_in = {1, 2, 3, 4, 5, 6}, .packets_in = {0, 0, 0, 0, 0, 7}};
  out = format_status(status_to_json(s, context), kNow);
  EXPECT_NE(out.find("workers: 6 picked by hash (6 workers: the header has 4 lanes); datagrams in 1 | 2 | 3 | 4 | 5 | "
                     "6, packets in 0 | 0 | 0 | 0 | 0 | 7\n"),
            std::string::npos)
      << out;

  context.workers = WorkersStatus{.datagrams_in = {8}, .packets_in = {9}};
  out = format_status(status_to_json(s, context), kNow);
  EXPECT_NE(out.find("workers: 1; datagrams in 8, packets in 9\n"), std::string::npos) << out;
}

TEST(StatusFormat, StrangeMeshFieldsRenderAsQuestionMarks) {
  const auto doc = nlohmann::json::parse(R"({"role": "coordinator", "tcp_port": "x", "relay": 5,
    "clients": [1, {"id": 2, "local_endpoints": [3]}], "routes": [{"metric": "high"}],
    "peers": [{"id": "0x0001000b", "path": 4, "via": 5}]})");
  const std::string out = format_status(doc, kNow);
  EXPECT_NE(out.find("tcp tunnel off"), std::string::npos) << out;
  EXPECT_NE(out.find("registered clients"), std::string::npos) << out;
  EXPECT_NE(out.find("?"), std::string::npos) << out;
}

}  // namespace
}  // namespace cordon::daemon
