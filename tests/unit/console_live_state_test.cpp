// The live-state reader (src/admin/console/live_state.hpp): the
// coordinators' reports as admin::live_status_json writes them, and every
// malformed variant.
#include "admin/console/live_state.hpp"

#include <gtest/gtest.h>

namespace cordon::admin::console {
namespace {

using json = nlohmann::json;

HostId id(const char* text) { return *HostId::parse(text); }

json sample() {
  return json::parse(R"({
    "self": "0x00010005", "now": 1800000100,
    "coordinators": [
      {"host": "0x00010001", "time": 1800000090, "received": 1800000091, "stale": false,
       "relay": {"packets": 10, "bytes": 1000}, "drops": {"unknown_peer": 2},
       "links": [{"host": "0x00010002", "state": "reachable", "path": "direct"}],
       "clients": [
         {"host": "0x00010003", "state": "reachable", "public_endpoint": "192.0.2.7:40000", "transport": "udp",
          "last_heard": 1800000089, "relayed_packets": 0,
          "peers": [{"host": "0x00010004", "path": "relayed"}]},
         {"host": "0x00010004", "state": "reachable", "public_endpoint": null, "transport": "tcp",
          "last_heard": null, "relayed_packets": 5, "peers": []},
         {"host": "0x00010006", "state": "unreachable", "public_endpoint": null, "transport": "udp",
          "last_heard": 1800000000, "relayed_packets": 0, "peers": []}]},
      {"host": "0x00010002", "time": 1800000000, "received": 1800000001, "stale": true,
       "links": [], "clients": [{"host": "0x00010007", "state": "reachable", "transport": "udp"}]}]})");
}

TEST(ConsoleLiveState, FullAnswer) {
  const LiveState live = parse_live_state(sample());
  ASSERT_TRUE(live.answered) << live.why;
  EXPECT_EQ(live.self, id("0x00010005"));
  EXPECT_EQ(live.now, 1800000100);
  EXPECT_EQ(live.state_of(id("0x00010001")), HostState::kReachable);
  EXPECT_EQ(live.state_of(id("0x00010002")), HostState::kUnreachable) << "a stale report";
  EXPECT_EQ(live.state_of(id("0x00010003")), HostState::kReachable);
  EXPECT_EQ(live.state_of(id("0x00010006")), HostState::kUnreachable);
  EXPECT_EQ(live.state_of(id("0x00010007")), HostState::kUnknown) << "only a stale coordinator spoke of it";
  EXPECT_EQ(live.state_of(id("0x00010009")), HostState::kUnknown);
  EXPECT_EQ(live.path_of(id("0x00010001"), id("0x00010002")), PathKind::kDirect);
  EXPECT_EQ(live.path_of(id("0x00010003"), id("0x00010001")), PathKind::kDirect);
  EXPECT_EQ(live.path_of(id("0x00010001"), id("0x00010004")), PathKind::kTcp);
  EXPECT_EQ(live.path_of(id("0x00010004"), id("0x00010003")), PathKind::kRelayed) << "either order";
  EXPECT_EQ(live.path_of(id("0x00010006"), id("0x00010001")), PathKind::kNone);
  EXPECT_EQ(live.path_of(id("0x00010003"), id("0x00010006")), PathKind::kUnknown);
  const HostLive& c = live.hosts.at(id("0x00010003"));
  EXPECT_EQ(c.public_endpoint, "192.0.2.7:40000");
  EXPECT_EQ(c.transport, "udp");
  EXPECT_EQ(c.last_heard, 1800000089);
  EXPECT_EQ(c.reported_by, id("0x00010001"));
  EXPECT_EQ(live.hosts.at(id("0x00010001")).drops["unknown_peer"], 2);
}

TEST(ConsoleLiveState, ReachableFromAnyCoordinatorWins) {
  json a = sample();
  a["coordinators"][1]["stale"] = false;
  a["coordinators"][1]["clients"] = json::parse(R"([{"host":"0x00010006","state":"reachable","transport":"udp"}])");
  const LiveState live = parse_live_state(a);
  EXPECT_EQ(live.state_of(id("0x00010006")), HostState::kReachable);
  EXPECT_EQ(live.hosts.at(id("0x00010006")).reported_by, id("0x00010002"));
}

TEST(ConsoleLiveState, NoAnswerSaysWhy) {
  LiveState live = parse_live_state(
      json::parse(R"({"daemon_error":"the daemon refused: unknown action 'network'","problems":["a forged tag"],
                      "coordinators":[]})"));
  EXPECT_FALSE(live.answered);
  EXPECT_NE(live.why.find("unknown action 'network'"), std::string::npos);
  EXPECT_EQ(live.problems, std::vector<std::string>{"a forged tag"});
  live = parse_live_state(json::array());
  EXPECT_FALSE(live.answered);
  EXPECT_FALSE(live.why.empty());
  live = parse_live_state(json::parse(R"({"self":"0x00010005"})"));
  EXPECT_FALSE(live.answered);
  EXPECT_NE(live.why.find("coordinators"), std::string::npos);
}

TEST(ConsoleLiveState, MalformedPartsAreUnknownNotErrors) {
  const json bad = json::parse(R"({"coordinators": [
      5, "x", {"host": 7}, {"host": "not an id"}, {},
      {"host": "0x00010001", "stale": "yes", "links": {"host": "0x00010002"},
       "clients": [3, {"host": "0x00010003"}, {"host": "0x00010004", "state": 1, "peers": "none"},
                   {"host": "0x00010005", "state": "reachable", "transport": 4,
                    "peers": [{"host": "0x00010006", "path": "teleport"}, {"path": "direct"}]}]}]})");
  const LiveState live = parse_live_state(bad);
  ASSERT_TRUE(live.answered);
  EXPECT_EQ(live.state_of(id("0x00010001")), HostState::kReachable) << "\"stale\" not a boolean: not stale";
  EXPECT_EQ(live.state_of(id("0x00010003")), HostState::kUnknown);
  EXPECT_EQ(live.state_of(id("0x00010004")), HostState::kUnknown);
  EXPECT_EQ(live.state_of(id("0x00010005")), HostState::kReachable);
  EXPECT_EQ(live.path_of(id("0x00010005"), id("0x00010001")), PathKind::kDirect);
  EXPECT_EQ(live.path_of(id("0x00010005"), id("0x00010006")), PathKind::kUnknown);
  EXPECT_EQ(live.self, std::nullopt);
}

TEST(ConsoleLiveState, NoDaemonOnTheSocket) {
  std::string error;
  EXPECT_FALSE(ask_network("/nonexistent/cordon-console-test.sock", &error));
  EXPECT_FALSE(error.empty());
}

}  // namespace
}  // namespace cordon::admin::console
