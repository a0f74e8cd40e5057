#include "core/ipsec/proposal.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>

namespace cordon::ipsec {
namespace {

struct EncrName {
  std::string_view name;
  Encryption value;
};
// aesNNNgcm16 and aesNNNgcm128 both name the 16-byte ICV (128-bit) variant,
// as in strongSwan.
constexpr std::array<EncrName, 10> kEncryption = {{
    {"aes128", {EncrId::kAesCbc, 128}},
    {"aes192", {EncrId::kAesCbc, 192}},
    {"aes256", {EncrId::kAesCbc, 256}},
    {"aes128gcm16", {EncrId::kAesGcm16, 128}},
    {"aes192gcm16", {EncrId::kAesGcm16, 192}},
    {"aes256gcm16", {EncrId::kAesGcm16, 256}},
    {"aes128gcm128", {EncrId::kAesGcm16, 128}},
    {"aes192gcm128", {EncrId::kAesGcm16, 192}},
    {"aes256gcm128", {EncrId::kAesGcm16, 256}},
    {"chacha20poly1305", {EncrId::kChaCha20Poly1305, 256}},
}};

template <typename T>
struct Named {
  std::string_view name;
  T value;
};
constexpr std::array<Named<IntegId>, 3> kIntegrity = {{
    {"sha256", IntegId::kHmacSha256_128},
    {"sha384", IntegId::kHmacSha384_192},
    {"sha512", IntegId::kHmacSha512_256},
}};
constexpr std::array<Named<PrfId>, 3> kPrf = {{
    {"prfsha256", PrfId::kHmacSha256},
    {"prfsha384", PrfId::kHmacSha384},
    {"prfsha512", PrfId::kHmacSha512},
}};
constexpr std::array<Named<DhGroup>, 5> kDh = {{
    {"modp2048", DhGroup::kModp2048},
    {"ecp256", DhGroup::kEcp256},
    {"ecp384", DhGroup::kEcp384},
    {"x25519", DhGroup::kCurve25519},
    {"curve25519", DhGroup::kCurve25519},
}};
constexpr std::array<Named<EsnId>, 2> kEsn = {{{"esn", EsnId::kYes}, {"noesn", EsnId::kNo}}};

template <typename T, size_t N>
std::optional<T> lookup(const std::array<Named<T>, N>& table, std::string_view word) {
  for (const auto& entry : table) {
    if (entry.name == word) return entry.value;
  }
  return std::nullopt;
}

template <typename T, size_t N>
std::string_view name_of(const std::array<Named<T>, N>& table, T value) {
  for (const auto& entry : table) {
    if (entry.value == value) return entry.name;
  }
  return "?";
}

std::string_view encryption_name(const Encryption& e) {
  for (const auto& entry : kEncryption) {
    if (entry.value == e) return entry.name;
  }
  return "?";
}

template <typename T>
void add_unique(std::vector<T>& list, const T& value) {
  if (std::find(list.begin(), list.end(), value) == list.end()) list.push_back(value);
}

// The PRF strongSwan derives from an integrity keyword when a non-AEAD IKE
// proposal names no PRF: HMAC-SHA-256-128 implies PRF_HMAC_SHA2_256.
PrfId prf_for(IntegId integ) {
  switch (integ) {
    case IntegId::kHmacSha384_192: return PrfId::kHmacSha384;
    case IntegId::kHmacSha512_256: return PrfId::kHmacSha512;
    default: return PrfId::kHmacSha256;
  }
}

std::string keyword_help(ProtocolId protocol) {
  std::string help = "aes128 aes192 aes256 aes128gcm16 aes256gcm16 chacha20poly1305 sha256 sha384 sha512 ";
  if (protocol == ProtocolId::kIke) help += "prfsha256 prfsha384 prfsha512 ";
  help += "modp2048 ecp256 ecp384 x25519";
  if (protocol != ProtocolId::kIke) help += " esn noesn";
  return help;
}

Result<Ok, std::string> check_complete(const ProposalSpec& p, std::string_view text) {
  const bool any_combined = std::any_of(p.encryption.begin(), p.encryption.end(),
                                        [](const Encryption& e) { return e.combined(); });
  const bool any_plain = std::any_of(p.encryption.begin(), p.encryption.end(),
                                     [](const Encryption& e) { return !e.combined(); });
  if (p.protocol == ProtocolId::kAh) {
    if (!p.encryption.empty()) return fail(fmt::format("\"{}\": AH does not encrypt; name only sha256, sha384 or sha512", text));
    if (p.integrity.empty()) return fail(fmt::format("\"{}\": AH needs an integrity algorithm (sha256)", text));
    return Ok{};
  }
  if (p.encryption.empty()) return fail(fmt::format("\"{}\": no encryption algorithm; add e.g. aes256gcm16", text));
  // RFC 7296 section 3.3: a proposal mixing combined-mode and plain ciphers
  // cannot say whether integrity applies; strongSwan refuses it too.
  if (any_combined && any_plain) {
    return fail(fmt::format("\"{}\": mixes an AEAD cipher with a CBC one; write them as two proposals", text));
  }
  if (any_combined && !p.integrity.empty()) {
    return fail(fmt::format("\"{}\": an AEAD cipher carries its own integrity; drop the sha keyword (prfsha256 names the PRF)", text));
  }
  if (any_plain && p.integrity.empty()) {
    return fail(fmt::format("\"{}\": a CBC cipher needs an integrity algorithm; add sha256", text));
  }
  if (p.protocol == ProtocolId::kIke) {
    if (p.prf.empty()) return fail(fmt::format("\"{}\": an AEAD IKE proposal needs a PRF; add prfsha256", text));
    if (p.dh.empty()) return fail(fmt::format("\"{}\": an IKE proposal needs a DH group; add ecp256 or x25519", text));
  }
  return Ok{};
}

// Whether `a` holds a transform of `b`, with `a`'s order deciding.
template <typename T>
std::optional<T> first_shared(const std::vector<T>& ours, const std::vector<T>& theirs) {
  for (const T& v : ours) {
    if (std::find(theirs.begin(), theirs.end(), v) != theirs.end()) return v;
  }
  return std::nullopt;
}

// One type's choice: both absent is fine (no transform of that type), one
// side absent is a mismatch, except that an absent ESN list means "no ESN"
// (RFC 7296 section 3.3.2: ESN is mandatory in ESP proposals, but peers that
// omit it mean none).
template <typename T>
bool choose(const std::vector<T>& ours, const std::vector<T>& theirs, T& out) {
  if (ours.empty() && theirs.empty()) return true;
  const auto shared = first_shared(ours, theirs);
  if (!shared) return false;
  out = *shared;
  return true;
}

std::optional<Chosen> match(const ProposalSpec& ours, const ProposalSpec& theirs) {
  if (ours.protocol != theirs.protocol) return std::nullopt;
  Chosen c;
  if (!choose(ours.encryption, theirs.encryption, c.encryption)) return std::nullopt;
  if (!choose(ours.integrity, theirs.integrity, c.integrity)) return std::nullopt;
  if (!choose(ours.prf, theirs.prf, c.prf)) return std::nullopt;
  // A child proposal without DH groups asks for no PFS: the same as one
  // listing NONE (RFC 7296 section 3.3.2).
  const std::vector<DhGroup> no_pfs = {DhGroup::kNone};
  const bool child = ours.protocol != ProtocolId::kIke;
  if (!choose(child && ours.dh.empty() ? no_pfs : ours.dh, child && theirs.dh.empty() ? no_pfs : theirs.dh, c.dh)) {
    return std::nullopt;
  }
  const std::vector<EsnId> no_esn = {EsnId::kNo};
  if (!choose(ours.esn.empty() ? no_esn : ours.esn, theirs.esn.empty() ? no_esn : theirs.esn, c.esn)) {
    return std::nullopt;
  }
  if (ours.protocol != ProtocolId::kIke) c.prf = PrfId::kHmacSha256;  // unused outside IKE
  return c;
}

}  // namespace

Result<ProposalSpec, std::string> parse_proposal(std::string_view text, ProtocolId protocol) {
  ProposalSpec p;
  p.protocol = protocol;
  if (text.empty()) return fail(std::string("an empty proposal; write e.g. \"aes256gcm16-prfsha256-ecp256\""));
  size_t start = 0;
  while (start <= text.size()) {
    const size_t dash = std::min(text.find('-', start), text.size());
    const std::string_view word = text.substr(start, dash - start);
    start = dash + 1;
    bool known = false;
    for (const auto& entry : kEncryption) {
      if (entry.name == word) {
        add_unique(p.encryption, entry.value);
        known = true;
      }
    }
    if (known) continue;
    if (auto v = lookup(kIntegrity, word)) {
      add_unique(p.integrity, *v);
    } else if (auto v = lookup(kPrf, word); v && protocol == ProtocolId::kIke) {
      add_unique(p.prf, *v);
    } else if (auto v = lookup(kDh, word)) {
      add_unique(p.dh, *v);
    } else if (auto v = lookup(kEsn, word); v && protocol != ProtocolId::kIke) {
      add_unique(p.esn, *v);
    } else {
      return fail(fmt::format("\"{}\": unknown algorithm \"{}\"; the known ones are {}", text, word,
                              keyword_help(protocol)));
    }
  }
  // strongSwan's rule: a non-AEAD IKE proposal without a PRF takes the PRFs
  // of its integrity algorithms.
  if (protocol == ProtocolId::kIke && p.prf.empty()) {
    for (IntegId integ : p.integrity) add_unique(p.prf, prf_for(integ));
  }
  auto complete = check_complete(p, text);
  if (!complete) return fail(std::move(complete.error()));
  return p;
}

std::vector<ProposalSpec> default_ike_proposals() {
  return {
      *parse_proposal("aes256gcm16-aes128gcm16-chacha20poly1305-prfsha256-prfsha384-x25519-ecp256-ecp384-modp2048",
                      ProtocolId::kIke),
      *parse_proposal("aes256-aes128-sha256-sha384-x25519-ecp256-ecp384-modp2048", ProtocolId::kIke),
  };
}

std::vector<ProposalSpec> default_esp_proposals() {
  return {
      *parse_proposal("aes256gcm16-aes128gcm16-chacha20poly1305-noesn-esn", ProtocolId::kEsp),
      *parse_proposal("aes256-aes128-sha256-sha384-noesn-esn", ProtocolId::kEsp),
  };
}

std::optional<Selection> select_proposal(std::span<const ProposalSpec> ours, std::span<const ProposalSpec> theirs) {
  for (const ProposalSpec& mine : ours) {
    for (size_t i = 0; i < theirs.size(); ++i) {
      if (auto chosen = match(mine, theirs[i])) return Selection{*chosen, i};
    }
  }
  return std::nullopt;
}

std::optional<Chosen> accept_answer(std::span<const ProposalSpec> offered, const ProposalSpec& answer) {
  // RFC 7296 section 3.3: the accepted proposal holds one transform of each
  // type present; more than one is a protocol error.
  if (answer.encryption.size() > 1 || answer.integrity.size() > 1 || answer.prf.size() > 1 || answer.dh.size() > 1 ||
      answer.esn.size() > 1) {
    return std::nullopt;
  }
  for (const ProposalSpec& mine : offered) {
    auto chosen = match(mine, answer);
    if (!chosen) continue;
    // Every type the answer names must have matched: match() already fails
    // when only one side has a type, except for ESN, whose absence is "no".
    return chosen;
  }
  return std::nullopt;
}

std::string proposal_name(const ProposalSpec& p) {
  std::vector<std::string_view> words;
  for (const auto& e : p.encryption) words.push_back(encryption_name(e));
  for (IntegId v : p.integrity) words.push_back(name_of(kIntegrity, v));
  for (PrfId v : p.prf) words.push_back(name_of(kPrf, v));
  for (DhGroup v : p.dh) {
    if (v != DhGroup::kNone) words.push_back(name_of(kDh, v));
  }
  for (EsnId v : p.esn) words.push_back(name_of(kEsn, v));
  return fmt::format("{}", fmt::join(words, "-"));
}

std::string proposals_name(std::span<const ProposalSpec> proposals) {
  std::vector<std::string> names;
  for (const ProposalSpec& p : proposals) names.push_back(proposal_name(p));
  return names.empty() ? std::string("(none)") : fmt::format("{}", fmt::join(names, ", "));
}

std::string chosen_name(const Chosen& c, ProtocolId protocol) {
  ProposalSpec p;
  p.protocol = protocol;
  if (protocol != ProtocolId::kAh) p.encryption = {c.encryption};
  if (c.integrity != IntegId::kNone) p.integrity = {c.integrity};
  if (protocol == ProtocolId::kIke) p.prf = {c.prf};
  if (c.dh != DhGroup::kNone) p.dh = {c.dh};
  if (protocol != ProtocolId::kIke) p.esn = {c.esn};
  return proposal_name(p);
}

}  // namespace cordon::ipsec
