// The config's [open] table (daemon/config.hpp) and the `open` section of
// the status document (daemon/status_json.hpp, status_format.hpp).
#include <gtest/gtest.h>

#include <string>

#include "daemon/config.hpp"
#include "daemon/status_format.hpp"
#include "daemon/status_json.hpp"
#include "tests/common/temp_dir.hpp"

namespace cordon::daemon {
namespace {

// 32 bytes of 0x01 in base64.
constexpr const char* kKey = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n";

// Line numbers below refer to this layout: [open] starts on line 8.
constexpr const char* kHost = R"([host]
id = "0x0001000a"
addresses = ["10.77.0.1/24"]
[[peer]]
id = "0x0001000b"
key_file = "a-b.key"
allowed_prefixes = ["10.77.0.2/32"]
)";

class OpenConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_.write("a-b.key", kKey); }
  ConfigResult load(const std::string& open) { return load_config(dir_.write("cordon.toml", kHost + open)); }
  std::string path() const { return (dir_.path() / "cordon.toml").string(); }

  testkit::TempDir dir_;
};

std::string errors(const ConfigResult& r) {
  std::string out;
  if (r.ok()) return out;
  for (const ConfigError& e : r.error()) out += e.to_string() + "\n";
  return out;
}

TEST_F(OpenConfigTest, AbsentMeansOff) {
  const ConfigResult r = load("");
  ASSERT_TRUE(r.ok()) << errors(r);
  EXPECT_FALSE(r->open.has_value());
}

TEST_F(OpenConfigTest, AnEmptyTableTurnsItOn) {
  const ConfigResult r = load("[open]\n");
  ASSERT_TRUE(r.ok()) << errors(r);
  ASSERT_TRUE(r->open.has_value());
  EXPECT_TRUE(r->open->rules.empty());
}

TEST_F(OpenConfigTest, EntriesKeepTheirTextAndLine) {
  const ConfigResult r = load(
      "[open]\n"
      "rules = [\"allow input iif eth0 proto tcp dport 22\",\n"
      "         \"drop proto udp dport 53\"]\n"
      "lans = [\"lan0 192.168.71.0/24\"]\n"
      "snat = [\"oif eth0 from 192.168.71.0/24\"]\n"
      "forward_ports = [\"proto tcp dport 8080 to 192.168.71.10:80\"]\n");
  ASSERT_TRUE(r.ok()) << errors(r);
  const OpenConfig& o = *r->open;
  ASSERT_EQ(o.rules.size(), 2u);
  EXPECT_EQ(o.rules[1].text, "drop proto udp dport 53");
  EXPECT_EQ(o.rules[1].line, 10u);
  EXPECT_EQ(o.lans.size(), 1u);
  EXPECT_EQ(o.snat.size(), 1u);
  EXPECT_EQ(o.forward_ports.size(), 1u);
}

// The gateway example of docs/firewall.md, "Turning it on".
TEST_F(OpenConfigTest, TheDocsGatewayExampleReads) {
  const ConfigResult r = load(R"([open]
rules = [
  "allow forward iif lan0 from 192.168.71.0/24",    # the LAN goes out
  "allow input iif lan0 proto tcp dport 22",        # ssh to the gateway from the LAN
  "allow input proto icmp",                         # ping from anywhere
]
lans = ["lan0 192.168.71.0/24"]
snat = ["oif eth0 from 192.168.71.0/24"]            # masquerade behind eth0's address
forward_ports = ["iif eth0 proto tcp dport 8443 to 192.168.71.20:443"]
)");
  ASSERT_TRUE(r.ok()) << errors(r);
  EXPECT_EQ(r->open->rules.size(), 3u);
  EXPECT_EQ(r->open->forward_ports[0].item.target_port, 443);
}

TEST_F(OpenConfigTest, ErrorsNameTheFileLineEntryAndWord) {
  ConfigResult r = load(
      "[open]\n"
      "rules = [\"allow input\", \"allow proto tcp dport 80-22\"]\n"
      "forward_ports = [\"proto tcp dport 80\"]\n"
      "masquerade = []\n");
  EXPECT_EQ(errors(r),
            path() + ":9:25: open.rules[1]: word 5 (\"80-22\"): the port range runs backwards; see docs/firewall.md\n" +
                path() + ":10:18: open.forward_ports[0]: needs to ADDRESS:PORT: the server it goes to; see "
                         "docs/firewall.md\n" +
                path() +
                ":11:1: open.masquerade: unknown key; the known keys are rules, lans, snat, forward_ports\n");
  // A top-level key must come before the first table.
  r = load_config(dir_.write("cordon.toml", "open = 1\n" + std::string(kHost)));
  EXPECT_EQ(errors(r), path() + ":1:8: open: expected a table [open], found an integer\n");
}

TEST(OpenStatus, JsonAndText) {
  StatusContext context{"cordon0", 51820, 0};
  nlohmann::json doc = status_to_json(NodeStatus{}, context);
  EXPECT_TRUE(doc["open"].is_null());
  EXPECT_EQ(format_status(doc, 0).find("open traffic"), std::string::npos);

  context.open = OpenStatus{.enabled = true,
                            .table = true,
                            .counters = {{.name = "spoofed_protected", .packets = 3, .bytes = 252},
                                         {.name = "spoofed_lan"},
                                         {.name = "input_dropped", .packets = 12},
                                         {.name = "forward_dropped", .packets = 1}},
                            .rules = {{.name = "open_rule_1",
                                       .origin = "central 7",
                                       .text = "allow input proto tcp dport 443",
                                       .packets = 2},
                                      {.name = "open_rule_2",
                                       .origin = "local",
                                       .text = "allow forward iif lan0",
                                       .packets = 5}}};
  doc = status_to_json(NodeStatus{}, context);
  EXPECT_EQ(doc["open"]["table"], true);
  EXPECT_TRUE(doc["open"]["error"].is_null());
  EXPECT_EQ(doc["open"]["counters"]["spoofed_protected"]["bytes"], 252);
  EXPECT_EQ(doc["open"]["rules"][0]["counter"], "open_rule_1");
  EXPECT_EQ(doc["open"]["rules"][0]["number"], 1);
  EXPECT_EQ(doc["open"]["rules"][0]["origin"], "central 7");
  EXPECT_EQ(doc["open"]["rules"][1]["origin"], "local");
  const std::string text = format_status(doc, 0);
  EXPECT_NE(text.find("open traffic: table inet cordon in place, 2 rules; dropped packets: spoofed_protected=3 "
                      "spoofed_lan=0 input_dropped=12 forward_dropped=1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("1     central 7  open_rule_1  2        allow input proto tcp dport 443"), std::string::npos)
      << text;
  EXPECT_NE(text.find("2     local      open_rule_2  5        allow forward iif lan0"), std::string::npos) << text;

  context.open = OpenStatus{.enabled = true, .error = "no table"};
  doc = status_to_json(NodeStatus{}, context);
  EXPECT_EQ(doc["open"]["table"], false);
  EXPECT_NE(format_status(doc, 0).find("open traffic: table inet cordon missing (no table)"), std::string::npos);
}

}  // namespace
}  // namespace cordon::daemon
