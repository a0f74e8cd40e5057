// The console's TLS certificate (certificate.hpp), with OpenSSL 3.
#include "admin/console/certificate.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <filesystem>
#include <memory>

#include <fmt/format.h>

#include "admin/database.hpp"
#include "os/linux/files.hpp"

namespace cordon::admin::console {
namespace {

constexpr long kValidDays = 825;

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using Ext = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;

[[noreturn]] void fail(const std::string& what) {
  throw AdminError(fmt::format("console certificate: {} failed (OpenSSL); nothing was written", what));
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

void add_extension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  Ext ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) fail("adding an extension");
}

std::string alt_names(const std::string& listen_host) {
  std::string names = "DNS:localhost,IP:127.0.0.1";
  const bool ip = listen_host.find_first_not_of("0123456789.") == std::string::npos ||
                  listen_host.find(':') != std::string::npos;
  if (!listen_host.empty() && listen_host != "127.0.0.1" && listen_host != "0.0.0.0" && listen_host != "::") {
    names += (ip ? ",IP:" : ",DNS:") + listen_host;
  }
  return names;
}

// A new self-signed certificate and its key, as PEM texts.
std::pair<std::string, std::string> make_self_signed(const std::string& listen_host) {
  Pkey key(EVP_EC_gen("P-256"));
  if (!key) fail("making a P-256 key");
  Cert cert(X509_new());
  if (!cert) fail("X509_new");
  X509_set_version(cert.get(), 2);  // v3
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof(serial)) != 1) fail("RAND_bytes");
  serial[0] &= 0x7f;  // positive (RFC 5280 section 4.1.2.2)
  BIGNUM* bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  if (bn == nullptr || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get())) == nullptr) fail("the serial");
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60 * 60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), kValidDays * 24 * 60 * 60);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("cordon console"), -1,
                             -1, 0);
  X509_set_issuer_name(cert.get(), name);
  add_extension(cert.get(), NID_subject_alt_name, alt_names(listen_host));
  add_extension(cert.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_extension(cert.get(), NID_ext_key_usage, "serverAuth");
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) fail("signing");
  Bio cert_bio(BIO_new(BIO_s_mem())), key_bio(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509(cert_bio.get(), cert.get()) != 1) fail("writing the certificate");
  if (PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    fail("writing the key");
  }
  return {bio_text(cert_bio.get()), bio_text(key_bio.get())};
}

void write_private(const std::string& path, const std::string& text) {
  if (auto st = os::write_file_atomic(path, text, 0600); !st) {
    throw AdminError(fmt::format("console certificate: {}", st.error().message()));
  }
}

// The key must be the certificate's (else TLS fails later, obscurely).
void check_pair(const std::string& cert_path, const std::string& key_path) {
  auto key_text = os::read_private_file(key_path);
  if (!key_text) {
    throw AdminError(fmt::format("--key: {}; make it private to its owner (chmod 600 {})", key_text.error().message(),
                                 key_path));
  }
  Bio kb(BIO_new_mem_buf(key_text->data(), static_cast<int>(key_text->size())));
  Pkey key(PEM_read_bio_PrivateKey(kb.get(), nullptr, nullptr, nullptr));
  OPENSSL_cleanse(key_text->data(), key_text->size());
  if (!key) throw AdminError(fmt::format("--key: {} holds no PEM private key", key_path));
  auto cert_text = os::read_file(cert_path);
  if (!cert_text) throw AdminError(fmt::format("--cert: {}", cert_text.error().message()));
  Bio cb(BIO_new_mem_buf(cert_text->data(), static_cast<int>(cert_text->size())));
  Cert cert(PEM_read_bio_X509(cb.get(), nullptr, nullptr, nullptr));
  if (!cert) throw AdminError(fmt::format("--cert: {} holds no PEM certificate", cert_path));
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    throw AdminError(fmt::format("--key: {} is not the key of the certificate {}", key_path, cert_path));
  }
}

}  // namespace

std::string certificate_fingerprint(const std::string& cert_path) {
  auto text = os::read_file(cert_path);
  if (!text) throw AdminError(fmt::format("console certificate: {}", text.error().message()));
  Bio bio(BIO_new_mem_buf(text->data(), static_cast<int>(text->size())));
  Cert cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) throw AdminError(fmt::format("console certificate: {} holds no PEM certificate", cert_path));
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert.get(), EVP_sha256(), md, &len) != 1) fail("the fingerprint");
  std::string out;
  for (unsigned int i = 0; i < len; ++i) out += fmt::format("{}{:02X}", i == 0 ? "" : ":", md[i]);
  return out;
}

CertificateFiles console_certificate(const std::optional<std::string>& cert, const std::optional<std::string>& key,
                                     const std::string& db_path, const std::string& listen_host) {
  CertificateFiles out;
  if (cert.has_value() != key.has_value()) throw AdminError("--cert and --key go together: give both or neither");
  if (cert) {
    check_pair(*cert, *key);
    out.cert = *cert;
    out.key = *key;
  } else {
    // A PostgreSQL database has no directory of its own on this machine:
    // the pair goes to Cordon's state directory instead.
    std::filesystem::path dir = is_postgres_uri(db_path) ? std::filesystem::path(kConsoleStateDir)
                                                         : std::filesystem::path(db_path).parent_path();
    if (dir.empty()) dir = ".";
    std::error_code ec;
    if (!std::filesystem::exists(dir, ec)) {
      // Cordon's state directory on a machine that never ran the daemon.
      std::filesystem::create_directories(dir, ec);
      if (ec) throw AdminError(fmt::format("console certificate: cannot create {}: {}", dir.string(), ec.message()));
      std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
    }
    out.cert = (dir / "console-cert.pem").string();
    out.key = (dir / "console-key.pem").string();
    if (!std::filesystem::exists(out.cert) || !std::filesystem::exists(out.key)) {
      auto [cert_pem, key_pem] = make_self_signed(listen_host);
      write_private(out.key, key_pem);
      OPENSSL_cleanse(key_pem.data(), key_pem.size());
      write_private(out.cert, cert_pem);
      out.generated = true;
    }
    check_pair(out.cert, out.key);
  }
  out.fingerprint = certificate_fingerprint(out.cert);
  return out;
}

}  // namespace cordon::admin::console
