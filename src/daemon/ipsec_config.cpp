// [ipsec]: the IPsec gateway's connections, pools and manually keyed SAs
// (docs/ipsec.md, "Configuration"), shaped like strongSwan's swanctl.conf.
// Key, certificate and CRL files are read here, as [[peer]] key files are,
// so that every problem is reported with its file, line and field at once.
#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "core/ipsec/manual_sa.hpp"
#include "core/ipsec/x509.hpp"
#include "daemon/config_reader.hpp"
#include "os/linux/files.hpp"

namespace cordon::daemon::config_detail {
namespace {

constexpr std::array<std::string_view, 7> kIpsecKeys = {"interface", "listen_address", "mtu", "cookie_threshold",
                                                       "connections", "pools", "sa"};
constexpr std::array<std::string_view, 17> kConnectionKeys = {
    "local_addrs", "remote_addrs", "remote_port", "proposals", "rekey_time", "dpd_delay", "dpd_action",
    "retransmit_timeout", "retransmit_tries",
    "fragmentation", "encap", "virtual_ip", "pools", "psk_file", "local", "remote", "children"};
constexpr std::array<std::string_view, 6> kAuthKeys = {"auth", "id", "cert", "key", "cacerts", "crls"};
constexpr std::array<std::string_view, 9> kChildKeys = {"local_ts", "remote_ts", "esp_proposals", "ah_proposals",
                                                       "mode", "rekey_time", "rekey_bytes", "rekey_packets",
                                                       "start_action"};
constexpr std::array<std::string_view, 2> kPoolKeys = {"addresses", "dns"};
constexpr std::array<std::string_view, 11> kSaKeys = {"name", "spi", "direction", "protocol", "mode", "encryption",
                                                     "key_file", "local", "remote", "local_ts", "remote_ts"};
// RFC 7296 section 2.15: a pre-shared key must be as hard to guess as a
// key; shorter than this is refused.
constexpr size_t kMinPskBytes = 16;
constexpr int64_t kMaxLifetimeSeconds = 30 * 86400;




std::string_view trim_line(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.remove_suffix(1);
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  return s;
}

}  // namespace

void Reader::read_ipsec(const toml::node& node, DaemonConfig& config) {
  const toml::table* ipsec = section(node, "ipsec");
  if (!ipsec) return;
  check_keys(*ipsec, "ipsec.", kIpsecKeys);
  IpsecSettings& out = config.ipsec.emplace();
  out.offloads = config.offloads;  // [host] is read first
  if (auto name = get_string(*ipsec, "interface", "ipsec.interface")) {
    if (name->empty() || name->size() > 15) {
      error(ipsec->get("interface")->source(), "ipsec.interface", "not a device name; use 1 to 15 characters");
    } else {
      out.interface = *name;
    }
  }
  if (auto text = get_string(*ipsec, "listen_address", "ipsec.listen_address")) {
    if (auto a = IpAddress::parse(*text)) {
      out.listen_address = *a;
    } else {
      error(ipsec->get("listen_address")->source(), "ipsec.listen_address",
            fmt::format("\"{}\" is not an IP address; write e.g. \"0.0.0.0\"", *text));
    }
  }
  if (auto mtu = get_integer(*ipsec, "mtu", "ipsec.mtu", 576, 65535, "")) out.mtu = static_cast<unsigned>(*mtu);
  if (auto t = get_integer(*ipsec, "cookie_threshold", "ipsec.cookie_threshold", 0, 100000, " half-open IKE SAs")) {
    out.gateway.cookie_threshold = static_cast<uint32_t>(*t);
  }
  if (const toml::node* pools = ipsec->get("pools")) read_ipsec_pools(*pools, out.gateway);
  if (const toml::node* conns = ipsec->get("connections")) {
    const toml::table* table = conns->as_table();
    if (!table) {
      error(conns->source(), "ipsec.connections", "expected tables [ipsec.connections.NAME]");
    } else {
      for (auto&& [name, value] : *table) read_ipsec_connection(std::string(name.str()), value, out.gateway);
    }
  }
  if (const toml::node* sas = ipsec->get("sa")) read_ipsec_manual(*sas, out.gateway);
  // A connection's pools must exist.
  for (const ipsec::ConnectionConfig& c : out.gateway.connections) {
    for (const std::string& pool : c.pools) {
      const bool known = std::any_of(out.gateway.pools.begin(), out.gateway.pools.end(),
                                     [&](const ipsec::PoolConfig& p) { return p.name == pool; });
      if (!known) {
        error(ipsec->source(), fmt::format("ipsec.connections.{}.pools", c.name),
              fmt::format("no pool \"{}\"; add [ipsec.pools.{}] with addresses = \"CIDR\"", pool, pool));
      }
    }
  }
}

void Reader::read_ipsec_pools(const toml::node& node, ipsec::GatewayConfig& gateway) {
  const toml::table* pools = node.as_table();
  if (!pools) {
    error(node.source(), "ipsec.pools", "expected tables [ipsec.pools.NAME]");
    return;
  }
  for (auto&& [key, value] : *pools) {
    const std::string field = fmt::format("ipsec.pools.{}", key.str());
    const toml::table* pool = value.as_table();
    if (!pool) {
      error(value.source(), field, "expected a table with addresses = \"CIDR\"");
      continue;
    }
    check_keys(*pool, field + ".", kPoolKeys);
    ipsec::PoolConfig p;
    p.name = std::string(key.str());
    if (auto text = get_string(*pool, "addresses", field + ".addresses", true, "add addresses = \"10.3.7.0/24\"")) {
      auto prefix = parse_cidr(*text);
      if (!prefix) {
        error(pool->get("addresses")->source(), field + ".addresses",
              fmt::format("\"{}\" is not a CIDR prefix; write e.g. \"10.3.7.0/24\"", *text));
        continue;
      }
      p.addresses = masked(*prefix);
    }
    get_string_array(*pool, "dns", field + ".dns", false, {}, [&](std::string text, const toml::source_region& where) {
      if (auto a = IpAddress::parse(text)) {
        p.dns.push_back(*a);
      } else {
        error(where, field + ".dns", fmt::format("\"{}\" is not an IP address", text));
      }
    });
    gateway.pools.push_back(std::move(p));
  }
}

std::vector<ipsec::TrafficSelector> Reader::read_selectors(const toml::table& table, std::string_view key,
                                                           const std::string& field) {
  std::vector<ipsec::TrafficSelector> out;
  get_string_array(table, key, field, false, {}, [&](std::string text, const toml::source_region& where) {
    if (auto t = ipsec::parse_selector(text)) {
      out.push_back(*t);
    } else {
      error(where, field, fmt::format("\"{}\" is not an address or CIDR prefix; write e.g. \"10.1.0.0/24\"", text));
    }
  });
  return out;
}

std::vector<ipsec::ProposalSpec> Reader::read_proposals(const toml::table& table, std::string_view key,
                                                        const std::string& field, ipsec::ProtocolId protocol) {
  std::vector<ipsec::ProposalSpec> out;
  get_string_array(table, key, field, false, {}, [&](std::string text, const toml::source_region& where) {
    auto p = ipsec::parse_proposal(text, protocol);
    if (p) {
      out.push_back(std::move(*p));
    } else {
      error(where, field, p.error());
    }
  });
  return out;
}

std::vector<IpAddress> Reader::read_addresses(const toml::table& table, std::string_view key,
                                              const std::string& field) {
  std::vector<IpAddress> out;
  get_string_array(table, key, field, false, {}, [&](std::string text, const toml::source_region& where) {
    if (text == "%any") return;
    if (auto a = IpAddress::parse(text)) {
      out.push_back(*a);
    } else {
      error(where, field, fmt::format("\"{}\" is not an IP address (names are not resolved); or write \"%any\"", text));
    }
  });
  return out;
}

std::optional<crypto::SecretBytes> Reader::read_psk(const std::string& path, const toml::source_region& where,
                                                    const std::string& field) {
  auto text = os::read_private_file(resolve(path), 4096);
  if (!text) {
    error(where, field, fmt::format("{}; the pre-shared key file must be private to its owner (chmod 600)",
                                    text.error().message()));
    return std::nullopt;
  }
  // strongSwan's forms: "0x" hex, "0s" base64 is not accepted here (use hex),
  // else the text itself.
  const std::string_view line = trim_line(*text);
  crypto::SecretBytes secret;
  if (line.substr(0, 2) == "0x") {
    auto bytes = ipsec::decode_hex(line.substr(2));
    if (!bytes) {
      error(where, field, fmt::format("{}: \"0x\" must be followed by hex digits", path));
      crypto::wipe(std::as_writable_bytes(std::span(text->data(), text->size())));
      return std::nullopt;
    }
    secret = crypto::SecretBytes(*bytes);
    crypto::wipe(*bytes);
  } else {
    secret = crypto::SecretBytes(std::as_bytes(std::span(line.data(), line.size())));
  }
  crypto::wipe(std::as_writable_bytes(std::span(text->data(), text->size())));
  if (secret.size() < kMinPskBytes) {
    error(where, field, fmt::format("{}: the key is {} bytes; use at least {} (e.g. `openssl rand -hex 32 > {}`)", path,
                                    secret.size(), kMinPskBytes, path));
    return std::nullopt;
  }
  return secret;
}

void Reader::read_ipsec_auth(const toml::table& conn, std::string_view side, const std::string& field,
                             ipsec::AuthConfig& out, bool local) {
  const toml::node* node = conn.get(side);
  const std::string prefix = fmt::format("{}.{}", field, side);
  if (!node || !node->as_table()) {
    error(node ? node->source() : conn.source(), prefix,
          fmt::format("missing; add [{}] with auth = \"psk\" or \"pubkey\" and id", prefix));
    return;
  }
  const toml::table& t = *node->as_table();
  check_keys(t, prefix + ".", kAuthKeys);
  const auto auth = get_string(t, "auth", prefix + ".auth", true, "add auth = \"psk\" or auth = \"pubkey\"");
  if (auth && *auth != "psk" && *auth != "pubkey") {
    error(t.get("auth")->source(), prefix + ".auth", fmt::format("\"{}\" is not known; use \"psk\" or \"pubkey\"", *auth));
  }
  out.kind = auth == "pubkey" ? ipsec::AuthKind::kPubkey : ipsec::AuthKind::kPsk;
  const std::string id_default = local ? "" : "%any";
  if (auto id = get_string(t, "id", prefix + ".id")) {
    if (auto parsed = ipsec::parse_identity(*id)) {
      out.id = std::move(*parsed);
    } else {
      error(t.get("id")->source(), prefix + ".id",
            fmt::format("\"{}\" is not an identity; write an address, a name, user@domain or \"CN=..., O=...\"", *id));
    }
  } else if (!local) {
    out.id = *ipsec::parse_identity("%any");
  }
  if (out.kind != ipsec::AuthKind::kPubkey) return;
  if (local) {
    auto cert = get_string(t, "cert", prefix + ".cert", true, "name our certificate file, e.g. cert = \"gw.pem\"");
    auto key = get_string(t, "key", prefix + ".key", true, "name our private key file, e.g. key = \"gw.key\"");
    if (cert) {
      auto text = os::read_file(resolve(*cert));
      auto certs = text ? ipsec::Certificate::all_from_pem(std::as_bytes(std::span(text->data(), text->size())))
                        : Result<std::vector<ipsec::Certificate>, ipsec::CertError>(ipsec::CertError::kBadEncoding);
      if (!text || !certs || certs->empty()) {
        error(t.get("cert")->source(), prefix + ".cert",
              fmt::format("{}: {}; give a PEM certificate (then its intermediates)", *cert,
                          text ? std::string(to_string(certs ? ipsec::CertError::kBadEncoding : certs.error()))
                               : text.error().message()));
      } else {
        out.certificate = certs->front().der();
        for (size_t i = 1; i < certs->size(); ++i) out.intermediates.push_back((*certs)[i].der());
      }
    }
    if (key) {
      auto text = os::read_private_file(resolve(*key), 1 << 20);
      if (!text) {
        error(t.get("key")->source(), prefix + ".key",
              fmt::format("{}; the private key file must be private to its owner (chmod 600)", text.error().message()));
      } else {
        auto parsed = ipsec::PrivateKey::from_pem(std::as_bytes(std::span(text->data(), text->size())));
        if (!parsed) {
          error(t.get("key")->source(), prefix + ".key",
                fmt::format("{}: {}; give an unencrypted PEM private key (RSA, ECDSA P-256/P-384 or Ed25519)", *key,
                            to_string(parsed.error())));
        } else {
          out.private_key = crypto::SecretBytes(std::as_bytes(std::span(text->data(), text->size())));
        }
        crypto::wipe(std::as_writable_bytes(std::span(text->data(), text->size())));
      }
    }
    return;
  }
  get_string_array(t, "cacerts", prefix + ".cacerts", true, "name the CA certificates that issue the peer's, e.g. cacerts = [\"ca.pem\"]",
                   [&](std::string path, const toml::source_region& where) {
                     auto text = os::read_file(resolve(path));
                     auto certs = text ? ipsec::Certificate::all_from_pem(
                                             std::as_bytes(std::span(text->data(), text->size())))
                                       : Result<std::vector<ipsec::Certificate>, ipsec::CertError>(
                                             ipsec::CertError::kBadEncoding);
                     if (!text || !certs || certs->empty()) {
                       error(where, prefix + ".cacerts",
                             fmt::format("{}: {}; give PEM CA certificates", path,
                                         text ? std::string("no certificate in it") : text.error().message()));
                       return;
                     }
                     for (const auto& c : *certs) out.ca_certificates.push_back(c.der());
                   });
  get_string_array(t, "crls", prefix + ".crls", false, {}, [&](std::string path, const toml::source_region& where) {
    auto text = os::read_file(resolve(path));
    if (!text) {
      error(where, prefix + ".crls", text.error().message());
      return;
    }
    const auto bytes = std::as_bytes(std::span(text->data(), text->size()));
    auto crl = ipsec::Crl::from_pem(bytes);
    if (!crl) crl = ipsec::Crl::from_der(bytes);
    if (!crl) {
      error(where, prefix + ".crls", fmt::format("{}: not a CRL in PEM or DER", path));
      return;
    }
    out.crls.emplace_back(bytes.begin(), bytes.end());
  });
}

void Reader::read_ipsec_child(const std::string& name, const toml::node& node, const std::string& field,
                              ipsec::ConnectionConfig& conn) {
  const std::string prefix = fmt::format("{}.children.{}", field, name);
  const toml::table* t = node.as_table();
  if (!t) {
    error(node.source(), prefix, "expected a table with local_ts, remote_ts and esp_proposals");
    return;
  }
  check_keys(*t, prefix + ".", kChildKeys);
  ipsec::ChildConfig c;
  c.name = name;
  c.local_ts = read_selectors(*t, "local_ts", prefix + ".local_ts");
  c.remote_ts = read_selectors(*t, "remote_ts", prefix + ".remote_ts");
  if (t->get("ah_proposals")) {
    if (t->get("esp_proposals")) {
      error(t->get("ah_proposals")->source(), prefix + ".ah_proposals", "a child is ESP or AH: keep one of the two lists");
    }
    c.protocol = ipsec::ProtocolId::kAh;
    c.proposals = read_proposals(*t, "ah_proposals", prefix + ".ah_proposals", ipsec::ProtocolId::kAh);
  } else {
    c.proposals = read_proposals(*t, "esp_proposals", prefix + ".esp_proposals", ipsec::ProtocolId::kEsp);
    if (!t->get("esp_proposals")) c.proposals = ipsec::default_esp_proposals();
  }
  if (auto mode = get_string(*t, "mode", prefix + ".mode")) {
    if (*mode == "transport") {
      c.mode = ipsec::ChildMode::kTransport;
    } else if (*mode != "tunnel") {
      error(t->get("mode")->source(), prefix + ".mode", fmt::format("\"{}\": use \"tunnel\" or \"transport\"", *mode));
    }
  }
  if (auto v = get_integer(*t, "rekey_time", prefix + ".rekey_time", 0, kMaxLifetimeSeconds, " seconds")) {
    c.rekey_time_ns = *v * kNsPerSecond;
  }
  if (auto v = get_integer(*t, "rekey_bytes", prefix + ".rekey_bytes", 0, INT64_MAX, " bytes")) c.rekey_bytes = *v;
  if (auto v = get_integer(*t, "rekey_packets", prefix + ".rekey_packets", 0, INT64_MAX, " packets")) c.rekey_packets = *v;
  if (auto start = get_string(*t, "start_action", prefix + ".start_action")) {
    if (*start == "start") {
      c.start_action = ipsec::StartAction::kStart;
    } else if (*start != "none") {
      error(t->get("start_action")->source(), prefix + ".start_action",
            fmt::format("\"{}\": use \"start\" (initiate at start) or \"none\"", *start));
    }
  }
  conn.children.push_back(std::move(c));
}

void Reader::read_ipsec_connection(const std::string& name, const toml::node& node, ipsec::GatewayConfig& gateway) {
  const std::string field = fmt::format("ipsec.connections.{}", name);
  const toml::table* t = node.as_table();
  if (!t) {
    error(node.source(), field, "expected a table with remote_addrs, local, remote and children");
    return;
  }
  check_keys(*t, field + ".", kConnectionKeys);
  ipsec::ConnectionConfig c;
  c.name = name;
  c.local_addrs = read_addresses(*t, "local_addrs", field + ".local_addrs");
  c.remote_addrs = read_addresses(*t, "remote_addrs", field + ".remote_addrs");
  if (auto port = get_integer(*t, "remote_port", field + ".remote_port", 1, 65535, "")) {
    c.remote_port = static_cast<uint16_t>(*port);
  }
  c.proposals = read_proposals(*t, "proposals", field + ".proposals", ipsec::ProtocolId::kIke);
  if (!t->get("proposals")) c.proposals = ipsec::default_ike_proposals();
  if (auto v = get_integer(*t, "rekey_time", field + ".rekey_time", 0, kMaxLifetimeSeconds, " seconds")) {
    c.rekey_time_ns = *v * kNsPerSecond;
  }
  if (auto v = get_integer(*t, "dpd_delay", field + ".dpd_delay", 0, 3600, " seconds")) c.dpd_delay_ns = *v * kNsPerSecond;
  if (auto v = get_integer(*t, "retransmit_timeout", field + ".retransmit_timeout", 1, 60, " seconds")) {
    c.retransmit_timeout_ns = *v * kNsPerSecond;
  }
  if (auto v = get_integer(*t, "retransmit_tries", field + ".retransmit_tries", 1, 20, "")) {
    c.retransmit_tries = static_cast<int>(*v);
  }
  if (auto action = get_string(*t, "dpd_action", field + ".dpd_action")) {
    if (*action == "restart") {
      c.dpd_action = ipsec::DpdAction::kRestart;
    } else if (*action != "clear") {
      error(t->get("dpd_action")->source(), field + ".dpd_action",
            fmt::format("\"{}\": use \"clear\" or \"restart\"", *action));
    }
  }
  if (auto v = get_boolean(*t, "fragmentation", field + ".fragmentation")) c.fragmentation = *v;
  if (auto v = get_boolean(*t, "encap", field + ".encap")) c.force_encapsulation = *v;
  if (auto v = get_boolean(*t, "virtual_ip", field + ".virtual_ip")) c.request_virtual_ip = *v;
  get_string_array(*t, "pools", field + ".pools", false, {},
                   [&](std::string pool, const toml::source_region&) { c.pools.push_back(std::move(pool)); });
  read_ipsec_auth(*t, "local", field, c.local, true);
  read_ipsec_auth(*t, "remote", field, c.remote, false);
  if (c.local.kind == ipsec::AuthKind::kPsk || c.remote.kind == ipsec::AuthKind::kPsk) {
    if (auto path = get_string(*t, "psk_file", field + ".psk_file", true,
                               "name the pre-shared key file, e.g. psk_file = \"site.psk\" (mode 0600)")) {
      if (auto psk = read_psk(*path, t->get("psk_file")->source(), field + ".psk_file")) {
        c.local.psk = *psk;
        c.remote.psk = std::move(*psk);
      }
    }
  }
  if (const toml::node* children = t->get("children"); children && children->as_table()) {
    for (auto&& [child, value] : *children->as_table()) read_ipsec_child(std::string(child.str()), value, field, c);
  }
  if (c.children.empty()) {
    error(t->source(), field + ".children",
          "no children; add [" + field + ".children.NAME] with local_ts, remote_ts and esp_proposals");
  }
  gateway.connections.push_back(std::move(c));
}

void Reader::read_ipsec_manual(const toml::node& node, ipsec::GatewayConfig& gateway) {
  const toml::array* sas = node.as_array();
  if (!sas) {
    error(node.source(), "ipsec.sa", "expected [[ipsec.sa]] tables");
    return;
  }
  for (size_t i = 0; i < sas->size(); ++i) {
    const toml::table* t = (*sas)[i].as_table();
    const std::string field = fmt::format("ipsec.sa[{}]", i);
    if (!t) {
      error((*sas)[i].source(), field, "expected a table");
      continue;
    }
    check_keys(*t, field + ".", kSaKeys);
    const size_t errors_before = errors_.size();
    ipsec::ManualSaFields f;
    f.name = get_string(*t, "name", field + ".name").value_or(fmt::format("sa{}", i));
    f.spi = get_string(*t, "spi", field + ".spi", true, "add spi = \"0x00001000\"").value_or("");
    f.direction = get_string(*t, "direction", field + ".direction", true, "add direction = \"in\" or \"out\"").value_or("");
    f.protocol = get_string(*t, "protocol", field + ".protocol").value_or("esp");
    f.mode = get_string(*t, "mode", field + ".mode").value_or("tunnel");
    f.encryption = get_string(*t, "encryption", field + ".encryption", true,
                              "add encryption = \"aes256gcm16\" (\"sha256\" for AH)").value_or("");
    f.local = get_string(*t, "local", field + ".local", true, "add local = \"ADDRESS\"").value_or("");
    f.remote = get_string(*t, "remote", field + ".remote", true, "add remote = \"ADDRESS\"").value_or("");
    get_string_array(*t, "local_ts", field + ".local_ts", false, {},
                     [&](std::string s, const toml::source_region&) { f.local_ts.push_back(std::move(s)); });
    get_string_array(*t, "remote_ts", field + ".remote_ts", false, {},
                     [&](std::string s, const toml::source_region&) { f.remote_ts.push_back(std::move(s)); });
    const auto key = get_string(*t, "key_file", field + ".key_file", true,
                                "name the key file: hex, the encryption key (with salt) then the integrity key");
    if (key) {
      auto text = os::read_private_file(resolve(*key), 4096);
      if (!text) {
        error(t->get("key_file")->source(), field + ".key_file",
              fmt::format("{}; the key file must be private to its owner (chmod 600)", text.error().message()));
      } else {
        f.key_hex = std::string(trim_line(*text));
        crypto::wipe(std::as_writable_bytes(std::span(text->data(), text->size())));
      }
    }
    if (errors_.size() != errors_before) continue;
    auto sa = ipsec::build_manual_sa(f);
    crypto::wipe(std::as_writable_bytes(std::span(f.key_hex.data(), f.key_hex.size())));
    if (!sa) {
      const std::string_view bad = sa.error().field == "key" ? "key_file" : std::string_view(sa.error().field);
      const toml::node* where = t->get(bad);
      error(where ? where->source() : t->source(), fmt::format("{}.{}", field, bad),
            sa.error().field == "key" ? fmt::format("{}: {}", *key, sa.error().message) : sa.error().message);
      continue;
    }
    gateway.manual_sas.push_back(std::move(*sa));
  }
}

}  // namespace cordon::daemon::config_detail
