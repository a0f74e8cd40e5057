// The console's TLS certificate (docs/console.md, "Certificate"): the
// administrator's own (--cert FILE --key FILE; a key file that group or
// others can access is refused), or a self-signed one that the console
// makes once and keeps next to the network database (in kConsoleStateDir
// for a PostgreSQL one): console-cert.pem and console-key.pem, both mode 0600, written atomically, reused at every
// start. Its SHA-256 fingerprint is printed so that the administrator can
// compare it with what the browser shows.
//
// The self-signed certificate: an ECDSA P-256 key (every browser accepts
// it; Ed25519 certificates are not accepted by Chromium for TLS), serial 128
// random bits, valid 825 days (the longest validity Apple platforms accept
// for a TLS server certificate), subjectAltName DNS:localhost and
// IP:127.0.0.1 plus the listen address when it is an IP address.
#pragma once

#include <optional>
#include <string>

namespace cordon::admin::console {

// Where the self-signed pair is kept when the database is PostgreSQL.
constexpr const char* kConsoleStateDir = "/var/lib/cordon";

struct CertificateFiles {
  std::string cert, key;
  std::string fingerprint;  // SHA-256 of the DER certificate, "AB:CD:..."
  bool generated = false;   // made at this start
};

// --cert/--key given: checks them (the key private to its owner, both
// readable, the key matching the certificate). Otherwise the kept
// self-signed pair beside `db_path`, made when missing; `listen_host` goes
// into its subjectAltName.
CertificateFiles console_certificate(const std::optional<std::string>& cert, const std::optional<std::string>& key,
                                     const std::string& db_path, const std::string& listen_host);

// Fingerprint of the first certificate in a PEM file.
std::string certificate_fingerprint(const std::string& cert_path);

}  // namespace cordon::admin::console
