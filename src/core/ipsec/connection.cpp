#include "core/ipsec/connection.hpp"

#include <memory>

#include <openssl/x509.h>

namespace cordon::ipsec {
namespace {

std::vector<std::byte> bytes_of(std::string_view text) {
  const auto* p = reinterpret_cast<const std::byte*>(text.data());
  return std::vector<std::byte>(p, p + text.size());
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// "CN=gw, O=Example" as the DER of an X.509 Name, through OpenSSL (RFC
// 4514's string form, left to right as written, as strongSwan reads it).
std::optional<std::vector<std::byte>> dn_der(std::string_view text) {
  std::unique_ptr<X509_NAME, decltype(&X509_NAME_free)> name(X509_NAME_new(), X509_NAME_free);
  if (!name) return std::nullopt;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view part = trim(text.substr(start, comma - start));
    start = comma + 1;
    const size_t eq = part.find('=');
    if (eq == std::string_view::npos || eq == 0) return std::nullopt;
    const std::string field(trim(part.substr(0, eq)));
    const std::string value(trim(part.substr(eq + 1)));
    if (X509_NAME_add_entry_by_txt(name.get(), field.c_str(), MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.data()),
                                   static_cast<int>(value.size()), -1, 0) != 1) {
      return std::nullopt;
    }
  }
  unsigned char* der = nullptr;
  const int size = i2d_X509_NAME(name.get(), &der);
  if (size <= 0) return std::nullopt;
  std::vector<std::byte> out(reinterpret_cast<std::byte*>(der), reinterpret_cast<std::byte*>(der) + size);
  OPENSSL_free(der);
  return out;
}

}  // namespace

std::optional<Identity> parse_identity(std::string_view text) {
  Identity id;
  id.text = std::string(text);
  if (text.empty()) return std::nullopt;
  if (text == "%any") {
    id.any = true;
    return id;
  }
  if (auto a = IpAddress::parse(text)) {
    id.type = a->is_v4() ? IdType::kIpv4Addr : IdType::kIpv6Addr;
    const auto* p = reinterpret_cast<const std::byte*>(a->bytes.data());
    id.data.assign(p, p + a->size());
    return id;
  }
  if (text.find('=') != std::string_view::npos) {
    auto der = dn_der(text);
    if (!der) return std::nullopt;
    id.type = IdType::kDerAsn1Dn;
    id.data = std::move(*der);
    return id;
  }
  // strongSwan's convention: a leading '@' forces an FQDN ("@gw" is the
  // name "gw"); a name with '@' elsewhere is an email address.
  if (text.front() == '@') {
    id.type = IdType::kFqdn;
    id.data = bytes_of(text.substr(1));
    return id.data.empty() ? std::nullopt : std::optional<Identity>(id);
  }
  id.type = text.find('@') != std::string_view::npos ? IdType::kRfc822Addr : IdType::kFqdn;
  id.data = bytes_of(text);
  return id;
}

}  // namespace cordon::ipsec
