// strongSwan's charon as the IPsec peer of the netns tests (docs/ipsec.md,
// "Example: site to site with strongSwan"), and a test PKI made with the
// openssl command line.
//
// charon runs in a namespace of the test with its own strongswan.conf (the
// STRONGSWAN_CONF environment variable) and a private /run in a mount
// namespace of its own: its pid file path is fixed, so two charons of
// parallel tests would otherwise refuse each other. It can use only
// kernel-libipsec here (ESP in user space through a TUN device `ipsec0`,
// routes in table 220), which always sends ESP in UDP on port 4500.
// swanctl talks to it over a vici socket in the test's temporary directory.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/netns/netns_harness.hpp"

namespace cordon::netns {

// A file charon or swanctl reads, relative to the swanctl directory
// ("x509ca/ca.pem", "private/gw-b.key").
struct SwanctlFile {
  std::string path;
  std::string content;
  unsigned mode = 0600;
};

class StrongSwan {
 public:
  // Files go to `dir` (charon.log, strongswan.conf, swanctl/...). Nothing
  // runs until start().
  StrongSwan(const Namespace& ns, fs::path dir, std::string label = "charon");
  // Stops charon; prints charon.log if the test failed.
  ~StrongSwan();
  StrongSwan(const StrongSwan&) = delete;
  StrongSwan& operator=(const StrongSwan&) = delete;

  // Writes swanctl.conf and the files it names.
  void configure(std::string_view swanctl_conf, const std::vector<SwanctlFile>& files = {});
  // Starts charon and waits until vici answers, then loads the config.
  // Throws with the logs on failure.
  void start();
  // SIGKILL: the peer vanishes without a word (for dead peer detection).
  void kill();
  // SIGTERM, then SIGKILL.
  void stop();
  bool running() const { return charon_ != nullptr; }

  // `swanctl ARGS --uri ...` with this instance's strongswan.conf.
  RunResult swanctl(std::vector<std::string> args, Clock::duration timeout = 30s) const;
  void load() const;  // --load-all; throws on failure
  RunResult initiate_child(const std::string& child) const;
  RunResult rekey_child(const std::string& child) const;
  RunResult rekey_ike(const std::string& ike) const;
  std::string list_sas() const;  // the text of --list-sas ("" on failure)

  const fs::path& log_path() const { return log_; }
  std::string log_text() const;

 private:
  void write_strongswan_conf() const;

  const Namespace& ns_;
  fs::path dir_, conf_, vici_, log_;
  std::string label_;
  std::unique_ptr<Process> charon_;
  int starts_ = 0;
};

// ---------------------------------------------------------------------------
// A test PKI: one CA and end-entity certificates it signs, all made with
// `openssl` into a directory.

enum class KeyType { kEcdsaP256, kRsa2048 };
std::string_view key_type_name(KeyType type);  // "ecdsa" or "rsa"

struct TestCa {
  fs::path cert, key;
};
struct TestCert {
  fs::path cert, key;  // key: PKCS#8 PEM, mode 0600
};

// A self-signed CA "CN=<name>" with basicConstraints CA:TRUE.
TestCa make_test_ca(const fs::path& dir, std::string_view name, KeyType type);
// A validity window other than "from now for two days", as `openssl ca`
// takes it: "YYYYMMDDHHMMSSZ".
struct Validity {
  std::string not_before, not_after;
};
// An end-entity certificate "CN=<dns_name>" with subjectAltName DNS:<dns_name>,
// signed by `ca`, valid from now for two days or for `validity`.
TestCert make_test_cert(const fs::path& dir, const TestCa& ca, std::string_view dns_name, KeyType type,
                        const std::optional<Validity>& validity = std::nullopt);

}  // namespace cordon::netns
