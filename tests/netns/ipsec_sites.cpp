// The IPsec netns fixture against strongSwan (tests/netns/ipsec_sites.hpp).
#include "tests/netns/ipsec_sites.hpp"

namespace cordon::netns {
namespace {

std::string toml_list(const std::string& item) { return item.empty() ? "[]" : "[\"" + item + "\"]"; }

}  // namespace

std::string render_cordon_ipsec(const Tunnel& t, const fs::path& psk_file) {
  std::string o =
      "[ipsec]\n"
      "interface = \"" + std::string(kCordonIpsecIface) + "\"\n";
  if (t.set_listen_address) o += "listen_address = \"" + t.cordon.addr + "\"\n";
  o += "\n[ipsec.connections.site-b]\n"
      "local_addrs = " + toml_list(t.cordon.addr) + "\n"
      "remote_addrs = " + toml_list(t.cordon_knows_swan_addr ? t.swan.addr : "") + "\n"
      "proposals = [\"" + t.ike_proposal + "\"]\n";
  if (t.ike_rekey_time >= 0) o += "rekey_time = " + std::to_string(t.ike_rekey_time) + "\n";
  if (t.dpd_delay >= 0) o += "dpd_delay = " + std::to_string(t.dpd_delay) + "\n";
  if (!t.dpd_action.empty()) o += "dpd_action = \"" + t.dpd_action + "\"\n";
  if (t.retransmit_timeout >= 0) o += "retransmit_timeout = " + std::to_string(t.retransmit_timeout) + "\n";
  if (t.retransmit_tries >= 0) o += "retransmit_tries = " + std::to_string(t.retransmit_tries) + "\n";
  if (!t.pool.empty()) o += "pools = [\"rw\"]\n";
  if (t.cordon.auth == "psk") o += "psk_file = \"" + psk_file.string() + "\"\n";
  o += "\n[ipsec.connections.site-b.local]\nauth = \"" + t.cordon.auth + "\"\nid = \"" + t.cordon.id + "\"\n";
  if (t.cordon.auth == "pubkey") {
    o += "cert = \"" + t.cordon.cert.string() + "\"\nkey = \"" + t.cordon.key.string() + "\"\n";
  }
  o += "\n[ipsec.connections.site-b.remote]\nauth = \"" + t.swan.auth + "\"\nid = \"" + t.swan.id + "\"\n";
  if (t.swan.auth == "pubkey") o += "cacerts = [\"" + t.ca.string() + "\"]\n";
  o += "\n[ipsec.connections.site-b.children.net]\n"
       "local_ts = [\"10.1.0.0/24\"]\n";
  // A remote access client's selector is the address it was given (the default).
  if (t.pool.empty()) o += "remote_ts = [\"10.2.0.0/24\"]\n";
  o += "esp_proposals = [\"" + t.esp_proposal + "\"]\n"
       "start_action = \"" + t.start_action + "\"\n";
  if (t.child_rekey_time >= 0) o += "rekey_time = " + std::to_string(t.child_rekey_time) + "\n";
  if (!t.pool.empty()) o += "\n[ipsec.pools.rw]\naddresses = \"" + t.pool + "\"\n";
  return o;
}

std::string render_swanctl(const Tunnel& t) {
  const std::string remote_addrs = t.swan_knows_cordon_addr ? t.cordon.addr : "%any";
  std::string o =
      "connections {\n"
      "  cordon {\n"
      "    local_addrs = " + t.swan.addr + "\n"
      "    remote_addrs = " + remote_addrs + "\n"
      "    proposals = " + t.ike_proposal + "\n"
      "    rekey_time = " + t.swan_ike_rekey_time + "\n";
  if (t.swan_virtual_ip) o += "    vips = 0.0.0.0\n";
  o += "    local {\n      auth = " + t.swan.auth + "\n      id = " + t.swan.id + "\n";
  if (t.swan.auth == "pubkey") o += "      certs = " + t.swan.cert.filename().string() + "\n";
  o += "    }\n    remote {\n      auth = " + t.cordon.auth + "\n      id = " + t.cordon.id + "\n    }\n";
  o += "    children {\n      net {\n"
       "        local_ts = " + std::string(t.swan_virtual_ip ? "dynamic" : "10.2.0.0/24") + "\n"
       "        remote_ts = 10.1.0.0/24\n"
       "        esp_proposals = " + t.esp_proposal + "\n"
       "        rekey_time = 0\n"
       "      }\n    }\n  }\n}\n";
  if (t.cordon.auth == "psk") {
    o += "secrets {\n  ike-cordon {\n    id-1 = " + t.cordon.id + "\n    id-2 = " + t.swan.id +
         "\n    secret = \"" + t.swan_psk + "\"\n  }\n}\n";
  }
  return o;
}

std::vector<SwanctlFile> swanctl_files(const Tunnel& t) {
  if (t.swan.auth != "pubkey") return {};
  return {{"x509ca/" + t.ca.filename().string(), read_file(t.ca), 0644},
          {"x509/" + t.swan.cert.filename().string(), read_file(t.swan.cert), 0644},
          {"private/" + t.swan.key.filename().string(), read_file(t.swan.key), 0600}};
}

nlohmann::json find_child(const nlohmann::json& list) {
  if (!list.is_object() || !list.contains("child_sas")) return nlohmann::json();
  for (const nlohmann::json& c : list["child_sas"]) {
    if (c.value("connection", "") == "site-b" && c.value("child", "") == "net") return c;
  }
  return nlohmann::json();
}

uint64_t sa_packets(const nlohmann::json& child, const char* direction) {
  if (!child.is_object() || !child.contains(direction)) return 0;
  return child[direction].value("packets", uint64_t{0});
}

void expect_five_pings(const Namespace& from, const std::string& to) {
  RunResult r = run(&from, {"ping", "-n", "-q", "-c", "5", "-i", "0.2", "-W", "2", to}, 30s);
  EXPECT_TRUE(r.ok()) << r.describe();
  EXPECT_NE(r.out.find("5 received"), std::string::npos) << r.out;
}

}  // namespace cordon::netns
