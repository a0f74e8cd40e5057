// strongSwan as a peer of the netns tests, and the openssl test PKI
// (tests/netns/strongswan.hpp).
#include "tests/netns/strongswan.hpp"

#include <csignal>
#include <stdexcept>

namespace cordon::netns {
namespace {

// The plugins charon needs here: "kdf" for the PRF+ of IKEv2 (without it
// charon refuses every proposal with "KDF_PRF ... not supported"),
// kernel-libipsec because the test kernels have no ESP of their own.
constexpr const char* kCharonPlugins =
    "random nonce openssl kdf sha1 sha2 aes pem pkcs1 pkcs8 x509 revocation constraints pubkey "
    "curve25519 hmac gcm kernel-libipsec kernel-netlink socket-default vici updown";
constexpr const char* kSwanctlPlugins = "pem pkcs1 pkcs8 x509 revocation constraints pubkey openssl random";

// The directories `swanctl --load-all` reads next to swanctl.conf.
constexpr const char* kSwanctlDirs[] = {"x509", "x509ca", "x509aa", "x509ocsp", "x509crl", "x509ac", "pubkey",
                                        "private", "rsa", "ecdsa", "bliss", "pkcs8", "pkcs12"};

std::runtime_error failure(const std::string& what) { return std::runtime_error(what); }

}  // namespace

StrongSwan::StrongSwan(const Namespace& ns, fs::path dir, std::string label)
    : ns_(ns),
      dir_(std::move(dir)),
      conf_(dir_ / "strongswan.conf"),
      vici_(dir_ / "charon.vici"),
      log_(dir_ / "charon.log"),
      label_(std::move(label)) {
  fs::create_directories(dir_ / "swanctl");
  for (const char* sub : kSwanctlDirs) fs::create_directories(dir_ / "swanctl" / sub);
  write_strongswan_conf();
}

StrongSwan::~StrongSwan() {
  stop();
  if (::testing::Test::HasFailure()) print_log(label_ + " charon.log", log_);
}

void StrongSwan::write_strongswan_conf() const {
  const std::string text = std::string("# written by the netns test harness\n") +
                           "charon {\n"
                           "  load = " + kCharonPlugins + "\n"
                           "  plugins {\n"
                           "    vici { socket = unix://" + vici_.string() + " }\n"
                           "  }\n"
                           "  filelog {\n"
                           "    log {\n"
                           "      path = " + log_.string() + "\n"
                           "      time_format = %H:%M:%S\n"
                           "      flush_line = yes\n"
                           "      default = 1\n"
                           "      ike = 2\n"
                           "      cfg = 2\n"
                           "    }\n"
                           "  }\n"
                           "}\n"
                           "swanctl {\n"
                           "  load = " + kSwanctlPlugins + "\n"
                           "}\n";
  write_file(conf_, text);
}

void StrongSwan::configure(std::string_view swanctl_conf, const std::vector<SwanctlFile>& files) {
  write_file(dir_ / "swanctl" / "swanctl.conf", swanctl_conf, 0600);
  for (const SwanctlFile& f : files) write_file(dir_ / "swanctl" / f.path, f.content, f.mode);
}

RunResult StrongSwan::swanctl(std::vector<std::string> args, Clock::duration timeout) const {
  std::vector<std::string> argv = {"env", "STRONGSWAN_CONF=" + conf_.string(), "swanctl"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back("--uri");
  argv.push_back("unix://" + vici_.string());
  return run(&ns_, argv, timeout);
}

void StrongSwan::start() {
  charon_.reset();
  // A socket file left by a killed charon would look like a live one.
  std::error_code ec;
  fs::remove(vici_, ec);
  // unshare -m: a mount namespace of its own, where a fresh tmpfs on /run
  // hides the host's /run/charon.pid (and any other test's). sh execs charon,
  // so the Process's PID is charon's.
  const std::string script = "mount -t tmpfs none /run && exec /usr/lib/ipsec/charon";
  charon_ = std::make_unique<Process>(
      &ns_, std::vector<std::string>{"env", "STRONGSWAN_CONF=" + conf_.string(), "unshare", "-m", "sh", "-c", script},
      dir_ / "charon.out", label_ + " (start " + std::to_string(++starts_) + ")");
  bool exited = false;
  const bool ready = poll_until(deadline_in(20s), [&] {
    if (!charon_->running()) {
      exited = true;
      return true;
    }
    return fs::exists(vici_) && swanctl({"--stats"}, 10s).ok();
  }, 50ms);
  if (exited || !ready) {
    throw failure(label_ + (exited ? " exited at start" : " did not answer on vici within 20 s") + "\n" +
                  charon_->log_text() + "\n" + log_text());
  }
  load();
}

void StrongSwan::load() const {
  RunResult r = swanctl({"--load-all", "--file", (dir_ / "swanctl" / "swanctl.conf").string()});
  // swanctl exits 0 even when a section was refused; its output says so.
  if (!r.ok() || r.out.find("failed") != std::string::npos || r.err.find("failed") != std::string::npos) {
    throw failure(label_ + ": swanctl --load-all: " + r.describe());
  }
}

void StrongSwan::kill() {
  if (!charon_) return;
  charon_->signal(SIGKILL);
  charon_->wait_exit(deadline_in(10s));
  charon_.reset();
}

void StrongSwan::stop() {
  if (!charon_) return;
  charon_->stop();
  charon_.reset();
}

RunResult StrongSwan::initiate_child(const std::string& child) const {
  return swanctl({"--initiate", "--child", child, "--timeout", "20"}, 30s);
}
RunResult StrongSwan::rekey_child(const std::string& child) const { return swanctl({"--rekey", "--child", child}); }
RunResult StrongSwan::rekey_ike(const std::string& ike) const { return swanctl({"--rekey", "--ike", ike}); }

std::string StrongSwan::list_sas() const {
  RunResult r = swanctl({"--list-sas"}, 10s);
  return r.ok() ? r.out : "";
}

std::string StrongSwan::log_text() const {
  try {
    return read_file(log_);
  } catch (const std::exception&) {
    return "";
  }
}

// ---------------------------------------------------------------------------

std::string_view key_type_name(KeyType type) { return type == KeyType::kEcdsaP256 ? "ecdsa" : "rsa"; }

namespace {

fs::path make_key(const fs::path& path, KeyType type) {
  std::vector<std::string> argv = {"openssl", "genpkey", "-out", path.string()};
  if (type == KeyType::kEcdsaP256) {
    argv.insert(argv.end(), {"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"});
  } else {
    argv.insert(argv.end(), {"-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"});
  }
  run_checked(nullptr, argv);
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
  return path;
}

// OpenSSL 3.0's `x509 -req` starts every certificate now; `openssl ca`
// takes any window, from a database of its own in `base`.db/.
void sign_with_validity(const fs::path& base, const TestCa& ca, const fs::path& csr, const fs::path& ext,
                        const Validity& validity, const fs::path& out) {
  const fs::path db = base.string() + ".db";
  fs::create_directories(db);
  write_file(db / "index.txt", "");
  write_file(db / "ca.cnf", "[ca]\ndefault_ca = test\n"
                            "[test]\ndatabase = " + (db / "index.txt").string() + "\n"
                            "new_certs_dir = " + db.string() + "\n"
                            "rand_serial = yes\ndefault_md = sha256\npolicy = any\nunique_subject = no\n"
                            "[any]\ncommonName = supplied\n");
  run_checked(nullptr, {"openssl", "ca", "-batch", "-notext", "-config", (db / "ca.cnf").string(), "-cert",
                        ca.cert.string(), "-keyfile", ca.key.string(), "-in", csr.string(), "-extfile", ext.string(),
                        "-startdate", validity.not_before, "-enddate", validity.not_after, "-out", out.string()});
}

}  // namespace

TestCa make_test_ca(const fs::path& dir, std::string_view name, KeyType type) {
  const std::string base = std::string(name) + "-" + std::string(key_type_name(type));
  TestCa ca{dir / (base + ".pem"), make_key(dir / (base + ".key"), type)};
  run_checked(nullptr, {"openssl", "req", "-x509", "-new", "-key", ca.key.string(), "-out", ca.cert.string(),
                        "-days", "2", "-subj", "/CN=" + std::string(name), "-addext",
                        "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"});
  return ca;
}

TestCert make_test_cert(const fs::path& dir, const TestCa& ca, std::string_view dns_name, KeyType type,
                        const std::optional<Validity>& validity) {
  const std::string base = std::string(dns_name) + "-" + std::string(key_type_name(type));
  TestCert c{dir / (base + ".pem"), make_key(dir / (base + ".key"), type)};
  const fs::path csr = dir / (base + ".csr");
  const fs::path ext = dir / (base + ".ext");
  write_file(ext, "subjectAltName = DNS:" + std::string(dns_name) +
                      "\nbasicConstraints = CA:FALSE\nkeyUsage = digitalSignature\n");
  run_checked(nullptr, {"openssl", "req", "-new", "-key", c.key.string(), "-out", csr.string(), "-subj",
                        "/CN=" + std::string(dns_name)});
  if (validity) {
    sign_with_validity(dir / base, ca, csr, ext, *validity, c.cert);
    return c;
  }
  // Without -set_serial or -CAserial, OpenSSL 3 picks a random serial.
  run_checked(nullptr, {"openssl", "x509", "-req", "-in", csr.string(), "-CA", ca.cert.string(), "-CAkey",
                        ca.key.string(), "-days", "2", "-extfile", ext.string(), "-out", c.cert.string()});
  return c;
}

}  // namespace cordon::netns
