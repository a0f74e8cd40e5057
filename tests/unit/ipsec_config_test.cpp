// [ipsec] in the host config (daemon/ipsec_config.cpp; docs/ipsec.md,
// "Configuration"): what is read, the defaults, and that every mistake is
// named with its line and field.
#include <sys/stat.h>

#include <string>

#include <gtest/gtest.h>

#include "daemon/config.hpp"
#include "tests/common/temp_dir.hpp"

namespace cordon::daemon {
namespace {

using testkit::TempDir;

constexpr const char* kKey = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n";
constexpr const char* kHost = R"([host]
id = "0x0001000a"
addresses = ["10.77.0.1/24"]

[[peer]]
id = "0x0001000b"
key_file = "a-b.key"
allowed_prefixes = ["10.77.0.2/32"]

)";

constexpr const char* kSite = R"([ipsec]
listen_address = "192.0.2.1"

[ipsec.connections.site-b]
local_addrs = ["192.0.2.1"]
remote_addrs = ["198.51.100.2"]
proposals = ["aes256gcm16-prfsha256-ecp256", "aes256-sha256-modp2048"]
dpd_delay = 10
dpd_action = "restart"
retransmit_timeout = 2
retransmit_tries = 3
psk_file = "site.psk"
pools = ["rw"]
[ipsec.connections.site-b.local]
auth = "psk"
id = "gw-a.example"
[ipsec.connections.site-b.remote]
auth = "psk"
id = "gw-b.example"
[ipsec.connections.site-b.children.net]
local_ts = ["10.1.0.0/24"]
remote_ts = ["10.2.0.0/24", "10.3.0.5"]
esp_proposals = ["aes256gcm16-ecp256"]
start_action = "start"
rekey_time = 600

[ipsec.pools.rw]
addresses = "10.9.0.0/24"
dns = ["10.1.0.53"]

[[ipsec.sa]]
spi = "0x2000"
direction = "out"
encryption = "aes128gcm16"
key_file = "m.key"
local = "192.0.2.1"
remote = "198.51.100.2"
)";

class IpsecConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.write("a-b.key", kKey);
    chmod((dir_.path() / "a-b.key").c_str(), 0600);
    write_private("site.psk", "a secret of at least sixteen bytes\n");
    write_private("m.key", std::string(40, 'a') + "\n");
  }
  void write_private(const std::string& name, const std::string& text) {
    dir_.write(name, text);
    chmod((dir_.path() / name).c_str(), 0600);
  }
  ConfigResult load(const std::string& ipsec) { return load_config(dir_.write("cordon.toml", std::string(kHost) + ipsec)); }
  static std::string errors(const ConfigResult& r) {
    std::string out;
    if (!r.ok()) {
      for (const ConfigError& e : r.error()) out += e.to_string() + "\n";
    }
    return out;
  }
  TempDir dir_;
};

TEST_F(IpsecConfigTest, SiteToSiteIsRead) {
  auto r = load(kSite);
  ASSERT_TRUE(r.ok()) << errors(r);
  ASSERT_TRUE(r->ipsec);
  const IpsecSettings& s = *r->ipsec;
  EXPECT_EQ(s.interface, "cordon-ipsec0");
  EXPECT_EQ(s.mtu, 1376u);
  ASSERT_EQ(s.gateway.connections.size(), 1u);
  const ipsec::ConnectionConfig& c = s.gateway.connections[0];
  EXPECT_EQ(c.name, "site-b");
  EXPECT_EQ(c.proposals.size(), 2u);
  EXPECT_EQ(c.dpd_delay_ns, 10 * kNsPerSecond);
  EXPECT_EQ(c.dpd_action, ipsec::DpdAction::kRestart);
  EXPECT_EQ(c.retransmit_timeout_ns, 2 * kNsPerSecond);
  EXPECT_EQ(c.retransmit_tries, 3);
  EXPECT_EQ(c.local.psk.size(), 34u);
  EXPECT_TRUE(c.local.psk == c.remote.psk);
  EXPECT_EQ(c.remote.id.text, "gw-b.example");
  ASSERT_EQ(c.children.size(), 1u);
  EXPECT_EQ(c.children[0].remote_ts.size(), 2u);
  EXPECT_EQ(c.children[0].start_action, ipsec::StartAction::kStart);
  EXPECT_EQ(c.children[0].rekey_time_ns, 600 * kNsPerSecond);
  ASSERT_EQ(s.gateway.pools.size(), 1u);
  EXPECT_EQ(s.gateway.pools[0].addresses.to_string(), "10.9.0.0/24");
  ASSERT_EQ(s.gateway.manual_sas.size(), 1u);
  EXPECT_EQ(s.gateway.manual_sas[0].spi, 0x2000u);
  EXPECT_FALSE(s.gateway.manual_sas[0].inbound);
  EXPECT_EQ(s.gateway.manual_sas[0].encryption_key.size(), 20u);
}

TEST_F(IpsecConfigTest, DefaultsFillWhatIsLeftOut) {
  auto r = load(R"([ipsec]
[ipsec.connections.rw]
psk_file = "site.psk"
[ipsec.connections.rw.local]
auth = "psk"
id = "gw"
[ipsec.connections.rw.remote]
auth = "psk"
[ipsec.connections.rw.children.c]
)");
  ASSERT_TRUE(r.ok()) << errors(r);
  const ipsec::ConnectionConfig& c = r->ipsec->gateway.connections[0];
  EXPECT_TRUE(c.remote_addrs.empty());  // answers only
  EXPECT_TRUE(c.remote.id.any);
  EXPECT_EQ(c.proposals, ipsec::default_ike_proposals());
  EXPECT_EQ(c.children[0].proposals, ipsec::default_esp_proposals());
  EXPECT_EQ(c.children[0].mode, ipsec::ChildMode::kTunnel);
}

struct Mistake {
  const char* name;
  std::string find;
  std::string replace;
  const char* field;
  const char* says;
};

class IpsecConfigMistakeTest : public IpsecConfigTest, public ::testing::WithParamInterface<Mistake> {};

TEST_P(IpsecConfigMistakeTest, NamesTheFieldAndWhatToDo) {
  const Mistake& m = GetParam();
  std::string text = kSite;
  const size_t at = text.find(m.find);
  ASSERT_NE(at, std::string::npos) << m.find;
  text.replace(at, m.find.size(), m.replace);
  auto r = load(text);
  ASSERT_FALSE(r.ok()) << m.name;
  const std::string all = errors(r);
  EXPECT_NE(all.find(m.field), std::string::npos) << all;
  EXPECT_NE(all.find(m.says), std::string::npos) << all;
  EXPECT_NE(r.error().front().line, 0u) << all;
}

INSTANTIATE_TEST_SUITE_P(
    Mistakes, IpsecConfigMistakeTest,
    ::testing::Values(
        Mistake{"BadProposal", "aes256-sha256-modp2048", "aes256-sha256-modp9999",
                "ipsec.connections.site-b.proposals", "unknown algorithm \"modp9999\""},
        Mistake{"TypoKey", "dpd_delay", "dpd_dealy", "ipsec.connections.site-b.dpd_dealy", "did you mean `dpd_delay`"},
        Mistake{"NoTries", "retransmit_tries = 3", "retransmit_tries = 0", "site-b.retransmit_tries", "1"},
        Mistake{"BadAction", "\"restart\"", "\"reboot\"", "dpd_action", "use \"clear\" or \"restart\""},
        Mistake{"BadSelector", "\"10.3.0.5\"", "\"10.3.0.500\"", "children.net.remote_ts", "not an address or CIDR"},
        Mistake{"NoPskFile", "psk_file = \"site.psk\"", "psk_file = \"missing.psk\"", "psk_file", "missing.psk"},
        Mistake{"UnknownPool", "pools = [\"rw\"]", "pools = [\"rx\"]", "pools", "no pool \"rx\""},
        Mistake{"BadAuth", "auth = \"psk\"\nid = \"gw-a", "auth = \"eap\"\nid = \"gw-a", "local.auth", "use \"psk\" or \"pubkey\""},
        Mistake{"SmallSpi", "\"0x2000\"", "\"0x20\"", "ipsec.sa[0].spi", "at least 0x100"},
        Mistake{"WrongKeyLength", "aes128gcm16", "aes256gcm16", "ipsec.sa[0].key_file", "expected 72 hex digits"},
        Mistake{"NoChildren", "[ipsec.connections.site-b.children.net]", "[ipsec.connections.site-b.kids.net]",
                "site-b.kids", "unknown key"}),
    [](const ::testing::TestParamInfo<Mistake>& info) { return std::string(info.param.name); });

TEST_F(IpsecConfigTest, PrivateFilesMustBePrivate) {
  chmod((dir_.path() / "site.psk").c_str(), 0644);
  auto r = load(kSite);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(errors(r).find("chmod 600"), std::string::npos) << errors(r);
}

TEST_F(IpsecConfigTest, ShortPreSharedKeyIsRefused) {
  write_private("site.psk", "short\n");
  auto r = load(kSite);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(errors(r).find("use at least 16"), std::string::npos) << errors(r);
}

}  // namespace
}  // namespace cordon::daemon
