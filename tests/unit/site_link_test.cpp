// A site-link file made into the daemon's configuration, the sessions an
// administration request names, and when a secondary fails over
// (daemon/site_link.hpp).
#include "daemon/site_link.hpp"

#include <gtest/gtest.h>

#include "tests/common/temp_dir.hpp"

namespace cordon::daemon {
namespace {

using testkit::TempDir;

constexpr const char* kKey = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n";

constexpr const char* kPrimary = R"(localstart
address 192.0.2.1
port 6000
rekey_wait 600
host_id 0x00010001
tunnel_address 10.99.0.1/24
localend
1/address 198.51.100.7
1/subnet1 192.168.20.0
1/mask1 255.255.255.0
1/host_id 0x00010002
1/key_file b.key
1/tunnel_address 10.99.0.2
1/group east
1/group all-sites
1/heartbeat_time 5
1/heartbeat_fail 20
2/address 203.0.113.9
2/subnet1 192.168.30.0
2/mask1 255.255.255.0
2/key_type AES256
2/host_id 0x00010003
2/key_file c.key
2/group all-sites
)";

constexpr const char* kSecondary = R"(localstart
address 198.51.100.7
host_id 0x00010002
tunnel_address 10.99.0.2/24
localend
1/address 192.0.2.1
1/port 6000
1/subnet1 192.168.10.0
1/mask1 255.255.255.0
1/host_id 0x00010001
1/key_file b.key
2/address 192.0.2.33
2/subnet1 192.168.10.0
2/mask1 255.255.255.0
2/host_id 0x00010004
2/key_file d.key
2/backup yes
)";

class SiteLinkConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* k : {"b.key", "c.key", "d.key"}) dir_.write(k, kKey);
  }
  ConfigResult load(const char* text, SiteRole role, bool on_backup = false) {
    return load_site_daemon_config(dir_.write("site.conf", text), role, on_backup);
  }
  TempDir dir_{"site-link"};
};

std::string errors(const ConfigResult& r) {
  std::string out;
  if (!r) {
    for (const ConfigError& e : r.error()) out += e.to_string() + "\n";
  }
  return out;
}

TEST_F(SiteLinkConfigTest, APrimaryListensIsKeyMasterAndWaitsForEachSecondary) {
  ConfigResult r = load(kPrimary, SiteRole::kPrimary);
  ASSERT_TRUE(r) << errors(r);
  const DaemonConfig& c = *r;
  EXPECT_EQ(c.listen_port, 6000);
  EXPECT_EQ(c.listen_address.to_string(), "192.0.2.1");
  EXPECT_EQ(c.control_socket, "/run/cordon/cordon0.sock");
  EXPECT_EQ(c.node.self, HostId{0x00010001});
  ASSERT_EQ(c.node.peers.size(), 2u);
  const PeerConfig& b = c.node.peers[0];
  EXPECT_EQ(b.name, "remote 1");
  EXPECT_FALSE(b.endpoint);  // learnt when the secondary connects
  EXPECT_EQ(b.key_master, std::optional<bool>(true));
  EXPECT_EQ(b.rekey_period_ns, 600 * kNsPerSecond);
  EXPECT_EQ(b.keepalive_ns, 0);
  EXPECT_EQ(b.suite, crypto::Suite::kAes128Gcm);
  EXPECT_EQ(b.link_key.size(), kLinkKeySize);
  ASSERT_TRUE(b.session);
  EXPECT_EQ(b.session->heartbeat_ns, 5 * kNsPerSecond);
  EXPECT_EQ(b.session->fail_ns, 20 * kNsPerSecond);
  EXPECT_FALSE(b.session->initiator);
  EXPECT_FALSE(b.session->standby);
  ASSERT_EQ(b.allowed_prefixes.size(), 2u);
  EXPECT_EQ(b.allowed_prefixes[0].to_string(), "192.168.20.0/24");
  EXPECT_EQ(b.allowed_prefixes[1].to_string(), "10.99.0.2/32");
  EXPECT_EQ(c.node.peers[1].suite, crypto::Suite::kAes256Gcm);
  EXPECT_EQ(c.node.peers[1].session->heartbeat_ns, 15 * kNsPerSecond);
  ASSERT_TRUE(c.site);
  ASSERT_EQ(c.site->groups.size(), 2u);
  EXPECT_EQ(c.site->groups[0].first, "east");
  EXPECT_EQ(c.site->groups[1].second, (std::vector<HostId>{HostId{0x00010002}, HostId{0x00010003}}));
  EXPECT_EQ(c.tunneled_subnets.size(), 2u);  // forwarding for the families reached
}

TEST_F(SiteLinkConfigTest, ASecondaryConnectsToItsPrimaryAndKeepsTheBackupStandingBy) {
  for (const bool on_backup : {false, true}) {
    ConfigResult r = load(kSecondary, SiteRole::kSecondary, on_backup);
    ASSERT_TRUE(r) << errors(r);
    const DaemonConfig& c = *r;
    EXPECT_EQ(c.listen_port, 6000);  // its primary's port
    ASSERT_EQ(c.node.peers.size(), 2u);
    const PeerConfig& primary = c.node.peers[0];
    const PeerConfig& backup = c.node.peers[1];
    ASSERT_TRUE(primary.endpoint);
    EXPECT_EQ(primary.endpoint->to_string(), "192.0.2.1:6000");
    EXPECT_EQ(backup.endpoint->to_string(), "192.0.2.33:5653");
    EXPECT_EQ(primary.key_master, std::optional<bool>(false));
    EXPECT_TRUE(primary.session->initiator);
    EXPECT_EQ(primary.session->standby, on_backup);
    EXPECT_EQ(backup.session->standby, !on_backup);
    EXPECT_EQ(c.site->primary, HostId{0x00010001});
    EXPECT_EQ(c.site->backup, HostId{0x00010004});
    EXPECT_EQ(c.site->on_backup, on_backup);
  }
}

TEST_F(SiteLinkConfigTest, AMissingKeyFileIsNamedWithItsLineAndKeyword) {
  std::filesystem::remove(dir_.path() / "c.key");
  ConfigResult r = load(kPrimary, SiteRole::kPrimary);
  ASSERT_FALSE(r);
  ASSERT_EQ(r.error().size(), 1u);
  EXPECT_EQ(r.error()[0].line, 23u);
  EXPECT_EQ(r.error()[0].field, "2/key_file");
  EXPECT_NE(r.error()[0].message.find("c.key"), std::string::npos) << r.error()[0].message;
}

TEST_F(SiteLinkConfigTest, RequestsNameASessionAGroupOrAll) {
  ConfigResult r = load(kPrimary, SiteRole::kPrimary);
  ASSERT_TRUE(r) << errors(r);
  const SiteSettings& s = *r->site;
  const auto ids = [&](const nlohmann::json& request) { return site_targets(request, s); };
  EXPECT_EQ(ids({{"peer", "2"}}).value(), std::vector<HostId>{HostId{0x00010003}});
  EXPECT_EQ(ids({{"peer", "0x00010002"}}).value(), std::vector<HostId>{HostId{0x00010002}});
  EXPECT_EQ(ids({{"group", "east"}}).value(), std::vector<HostId>{HostId{0x00010002}});
  EXPECT_EQ(ids({{"all", true}}).value().size(), 2u);
  EXPECT_EQ(ids({{"group", "west"}}).error(), "no group \"west\"; the groups are: east, all-sites");
  EXPECT_NE(ids({{"peer", "9"}}).error().find("no remote \"9\""), std::string::npos);
  EXPECT_NE(ids(nlohmann::json::object()).error().find("name the sessions"), std::string::npos);
}

TEST_F(SiteLinkConfigTest, OnlyTheLossOfTheActivePrimaryFailsASecondaryOver) {
  ConfigResult r = load(kSecondary, SiteRole::kSecondary);
  ASSERT_TRUE(r) << errors(r);
  SiteSettings s = *r->site;
  const std::vector<SessionLogEvent> primary_lost{{HostId{0x00010001}, "session_lost", "heartbeat_timeout", 0}};
  const std::vector<SessionLogEvent> backup_lost{{HostId{0x00010004}, "session_lost", "heartbeat_timeout", 0}};
  const std::vector<SessionLogEvent> retry{{HostId{0x00010001}, "session_retry", "none", 5}};
  EXPECT_TRUE(wants_failover(primary_lost, s));
  EXPECT_FALSE(wants_failover(backup_lost, s));
  EXPECT_FALSE(wants_failover(retry, s));
  s.on_backup = true;
  EXPECT_FALSE(wants_failover(primary_lost, s));
  ConfigResult p = load(kPrimary, SiteRole::kPrimary);
  ASSERT_TRUE(p) << errors(p);
  EXPECT_FALSE(wants_failover(primary_lost, *p->site));
}

}  // namespace
}  // namespace cordon::daemon
