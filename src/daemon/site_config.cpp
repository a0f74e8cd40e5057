// The site-link configuration file (site_config.hpp). Two passes:
//  1. read: split each line into keyword and value, track the local section,
//     and file each line under the local host or remote N, refusing unknown,
//     misplaced, wrong-role and repeated keywords;
//  2. build: turn the filed values into a SiteConfig, then check what spans
//     several lines or remotes (address families, subnet pairs, overlaps,
//     heartbeat order, the secondary's primary and backup).
// Every problem is recorded and the passes go on, so one run reports all.
#include "daemon/site_config.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>

#include <fmt/format.h>

#include "daemon/size_classes.hpp"

namespace cordon::daemon {
namespace {

using namespace std::string_view_literals;

constexpr size_t kMaxInterfaceName = 15;  // IFNAMSIZ - 1
constexpr size_t kMaxSocketPath = 107;    // sizeof(sockaddr_un::sun_path) - 1
constexpr uint32_t kMaxRemoteNumber = 65535;
constexpr uint32_t kMaxSubnetNumber = 65535;

// ---------------------------------------------------------------------------
// The keywords. A keyword that only one role takes carries the reason the
// other role refuses it: a misplaced line gets an explanation, not "unknown".

enum class Scope : uint8_t { kLocal, kRemote };

struct Keyword {
  std::string_view name;
  Scope scope;
  bool primary;
  bool secondary;
  std::string_view refused;  // for the role that does not take it
};

constexpr std::string_view kKeyMaster =
    "the primary is the key master and chooses how keys are made and renewed; set this in the primary's "
    "file and remove it here";
constexpr std::string_view kSecondaryHeartbeat =
    "a secondary has one heartbeat for its primaries; set heartbeat_time and heartbeat_fail in the local "
    "section instead";

// Appendix A of the P³ functional specification lists ip .. load_balance and
// the remote keywords up to N/heartbeat_fail; the rest are Cordon additions
// (docs/site-links.md, "The configuration file").
constexpr Keyword kKeywords[] = {
    {"ip", Scope::kLocal, true, true, {}},
    {"address", Scope::kLocal, true, true, {}},
    {"port", Scope::kLocal, true, false,
     "a secondary does not listen for connections; give the port of its primary as N/port"},
    {"key_generation", Scope::kLocal, true, false, kKeyMaster},
    {"rekey_wait", Scope::kLocal, true, false, kKeyMaster},
    {"array_size", Scope::kLocal, true, false, kKeyMaster},
    {"data_array_time", Scope::kLocal, true, false, kKeyMaster},
    {"control_array_time", Scope::kLocal, true, false, kKeyMaster},
    {"heartbeat_time", Scope::kLocal, true, true, {}},  // a secondary: Cordon addition
    {"heartbeat_fail", Scope::kLocal, true, true, {}},  // a secondary: Cordon addition
    {"cluster_state", Scope::kLocal, true, true, {}},
    {"load_balance", Scope::kLocal, true, true, {}},
    {"host_id", Scope::kLocal, true, true, {}},
    {"interface", Scope::kLocal, true, true, {}},
    {"tunnel_address", Scope::kLocal, true, true, {}},
    {"state_dir", Scope::kLocal, true, true, {}},
    {"control_socket", Scope::kLocal, true, true, {}},
    {"size_classes", Scope::kLocal, true, true, {}},

    {"ip", Scope::kRemote, true, true, {}},
    {"address", Scope::kRemote, true, true, {}},
    {"key_type", Scope::kRemote, true, true, {}},
    {"port", Scope::kRemote, false, true,
     "a primary waits for its secondaries to connect; the port they use is the local `port`"},
    {"rekey_wait", Scope::kRemote, true, false, kKeyMaster},
    {"key_array", Scope::kRemote, true, false, kKeyMaster},
    {"data_array_time", Scope::kRemote, true, false, kKeyMaster},
    {"control_array_time", Scope::kRemote, true, false, kKeyMaster},
    {"heartbeat_time", Scope::kRemote, true, false, kSecondaryHeartbeat},
    {"heartbeat_fail", Scope::kRemote, true, false, kSecondaryHeartbeat},
    {"host_id", Scope::kRemote, true, true, {}},
    {"key_file", Scope::kRemote, true, true, {}},
    {"tunnel_address", Scope::kRemote, true, true, {}},
    {"group", Scope::kRemote, true, false,
     "groups of secondaries are kept in the primary's file; remove this line"},
    {"backup", Scope::kRemote, false, true,
     "only a secondary has backup primaries; mark the backup in the secondary's file"},
};

const Keyword* find_keyword(std::string_view name, Scope scope) {
  for (const Keyword& k : kKeywords) {
    if (k.name == name && k.scope == scope) return &k;
  }
  return nullptr;
}

bool takes(const Keyword& k, SiteRole role) { return role == SiteRole::kPrimary ? k.primary : k.secondary; }

std::string known_names(Scope scope, SiteRole role) {
  std::string out;
  for (const Keyword& k : kKeywords) {
    if (k.scope != scope || !takes(k, role)) continue;
    if (!out.empty()) out += ", ";
    out += scope == Scope::kRemote ? fmt::format("N/{}", k.name) : std::string(k.name);
  }
  if (scope == Scope::kRemote) out += ", N/subnetM, N/maskM";
  return out;
}

// ---------------------------------------------------------------------------
// Lines.

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

bool has_control_character(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t') || u == 0x7f;
  });
}

// `keyword value`, `keyword=value`, `keyword = value`: the keyword ends at
// the first `=` or blank; one `=` may follow the blanks.
struct SplitLine {
  std::string_view keyword;
  std::string_view value;
};

SplitLine split_line(std::string_view text) {
  size_t end = 0;
  while (end < text.size() && text[end] != '=' && !is_blank(text[end])) ++end;
  std::string_view rest = text.substr(end);
  while (!rest.empty() && is_blank(rest.front())) rest.remove_prefix(1);
  if (!rest.empty() && rest.front() == '=') rest.remove_prefix(1);
  return {text.substr(0, end), trim(rest)};
}

// Decimal digits only, no sign; `strict` also refuses leading zeros (remote
// and subnet numbers name things, so `01/ip` and `1/ip` must not both work).
std::optional<uint64_t> parse_unsigned(std::string_view text, bool strict = false) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  if (strict && text.size() > 1 && text.front() == '0') return std::nullopt;
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// ---------------------------------------------------------------------------
// Values. Each parser returns the value or what is wrong with it and how to
// fix it; the caller adds the file, line and keyword.

struct Problem {
  std::string message;
};
template <typename T>
using Parsed = cordon::Result<T, Problem>;

Problem problem(std::string message) { return Problem{std::move(message)}; }

Parsed<uint32_t> parse_range(std::string_view text, uint32_t min, uint32_t max, std::string_view unit = {}) {
  const auto v = parse_unsigned(text);
  if (!v || *v < min || *v > max) {
    return problem(fmt::format("\"{}\" is not a whole number from {} to {}{}; write one", text, min, max, unit));
  }
  return static_cast<uint32_t>(*v);
}

Parsed<uint32_t> parse_seconds(std::string_view text) { return parse_range(text, 1, kSiteMaxSeconds, " seconds"); }

Parsed<IpAddress::Family> parse_ip_version(std::string_view text) {
  if (text == "4") return IpAddress::Family::kV4;
  if (text == "6") return IpAddress::Family::kV6;
  return problem(fmt::format("\"{}\" is not an IP version; write 4 or 6", text));
}

Parsed<IpAddress> parse_address(std::string_view text) {
  if (auto a = IpAddress::parse(text)) return *a;
  return problem(fmt::format("\"{}\" is not an IP address; write one such as 192.0.2.1 or 2001:db8::1 (host "
                             "names are not resolved)",
                             text));
}

Parsed<HostId> parse_host_id(std::string_view text) {
  if (auto id = HostId::parse(text)) return *id;
  return problem(fmt::format("\"{}\" is not a host ID; write 0xNNNNHHHH (eight hex digits: network and host "
                             "number, neither zero), e.g. 0x00010002",
                             text));
}

Parsed<KeyGeneration> parse_key_generation(std::string_view text) {
  if (text == "1") return KeyGeneration::kSoftware;
  if (text == "2") return KeyGeneration::kHardware;
  return problem(fmt::format("\"{}\" is not a key generation method; write 1 (software) or 2 (hardware)", text));
}

// Clustering and load balancing (IPVS) are flags the reference format
// reserves and leaves unsupported; 0 is the only value that means "off".
Parsed<uint32_t> parse_unsupported_flag(std::string_view text, std::string_view feature) {
  const auto v = parse_unsigned(text);
  if (!v) return problem(fmt::format("\"{}\" is not a number; write 0", text));
  if (*v != 0) {
    return problem(fmt::format("{} (IPVS) is not supported by Cordon; write 0 or remove the line", feature));
  }
  return 0u;
}

Parsed<std::string> parse_interface(std::string_view text) {
  const bool ok = text.size() <= kMaxInterfaceName && text != "." && text != ".." &&
                  std::all_of(text.begin(), text.end(), [](char c) {
                    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                           c == '-' || c == '_' || c == '.';
                  });
  if (ok) return std::string(text);
  return problem(fmt::format("\"{}\" is not a usable interface name; use 1 to {} letters, digits, '-', '_' or '.'",
                             text, kMaxInterfaceName));
}

// Checked against the daemon's default MTU: a site link's interface has it.
Parsed<std::vector<uint16_t>> parse_site_size_classes(std::string_view text) {
  auto classes = parse_size_classes(text, kDefaultMtu);
  if (!classes) return problem(classes.error());
  return std::move(*classes);
}

Parsed<Prefix> parse_tunnel_prefix(std::string_view text) {
  if (auto p = Prefix::parse(text)) return *p;
  return problem(fmt::format("\"{}\" is not an address with a prefix length; write this host's tunnel address "
                             "and the tunnel network's length, e.g. 10.99.0.1/24",
                             text));
}

Parsed<crypto::Suite> parse_key_type(std::string_view text) {
  const auto is = [&](std::string_view want) {
    return text.size() == want.size() && std::equal(text.begin(), text.end(), want.begin(), [](char a, char b) {
             return (a >= 'a' && a <= 'z' ? static_cast<char>(a - 'a' + 'A') : a) == b;
           });
  };
  if (is("AES128")) return crypto::Suite::kAes128Gcm;
  if (is("AES256")) return crypto::Suite::kAes256Gcm;
  return problem(fmt::format("\"{}\" is not a key type; write AES128 or AES256", text));
}

Parsed<bool> parse_yes_no(std::string_view text) {
  if (text == "yes") return true;
  if (text == "no") return false;
  return problem(fmt::format("\"{}\" is neither yes nor no; write one of them", text));
}

Parsed<std::string> parse_group(std::string_view text) {
  const bool ok = text.size() <= kSiteMaxGroupName && std::all_of(text.begin(), text.end(), [](char c) {
                    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
                  });
  if (ok) return std::string(text);
  return problem(fmt::format("\"{}\" is not a group name; use 1 to {} lower-case letters, digits, '_' or '-'", text,
                             kSiteMaxGroupName));
}

// A subnet mask as a prefix length. An IPv4 subnet takes a dotted mask
// (255.255.255.0), as the reference format writes it; an IPv6 subnet takes
// an IPv6 mask (ffff:ffff:ffff:ffff::) or a prefix length (64). The set bits
// must come first.
std::optional<uint8_t> contiguous_length(const IpAddress& mask) {
  unsigned length = 0;
  bool ended = false;
  for (size_t i = 0; i < mask.size(); ++i) {
    for (int bit = 7; bit >= 0; --bit) {
      const bool set = (mask.bytes[i] >> bit) & 1;
      if (set && ended) return std::nullopt;
      if (set) ++length;
      ended = ended || !set;
    }
  }
  return static_cast<uint8_t>(length);
}

Parsed<uint8_t> parse_mask(std::string_view text, IpAddress::Family family) {
  const bool v4 = family == IpAddress::Family::kV4;
  const auto address = IpAddress::parse(text);
  if (address && address->family == family) {
    if (auto length = contiguous_length(*address)) return *length;
    return problem(fmt::format("{} is not a contiguous mask (its one bits must all come first); write one such "
                               "as {}",
                               text, v4 ? "255.255.255.0" : "ffff:ffff:ffff:ffff::"));
  }
  if (!v4 && !address) {
    if (const auto length = parse_unsigned(text); length && *length <= 128) return static_cast<uint8_t>(*length);
  }
  return problem(v4 ? fmt::format("\"{}\" is not a mask for an IPv4 subnet; write a dotted mask such as "
                                  "255.255.255.0",
                                  text)
                    : fmt::format("\"{}\" is not a mask for an IPv6 subnet; write an IPv6 mask such as "
                                  "ffff:ffff:ffff:ffff:: or a prefix length from 0 to 128",
                                  text));
}

Prefix masked(const Prefix& p) {
  Prefix out = p;
  for (size_t i = 0; i < out.address.bytes.size(); ++i) {
    const int bits_here = std::clamp(static_cast<int>(p.length) - static_cast<int>(i * 8), 0, 8);
    out.address.bytes[i] &= static_cast<uint8_t>(bits_here == 0 ? 0 : 0xff << (8 - bits_here));
  }
  return out;
}

bool overlaps(const Prefix& a, const Prefix& b) {
  if (a.address.family != b.address.family) return false;
  return a.length <= b.length ? a.contains(b.address) : b.contains(a.address);
}

const char* family_name(IpAddress::Family f) { return f == IpAddress::Family::kV4 ? "IPv4" : "IPv6"; }
const char* family_digit(IpAddress::Family f) { return f == IpAddress::Family::kV4 ? "4" : "6"; }

// ---------------------------------------------------------------------------
// Pass 1 output: each keyword's line and value, as written.

struct Entry {
  uint32_t line = 0;
  std::string keyword;  // as written: "2/subnet1"
  std::string value;
};

using Entries = std::map<std::string, Entry, std::less<>>;

struct RemoteDraft {
  uint32_t number = 0;
  uint32_t first_line = 0;
  Entries keys;                      // by name without "N/"
  std::vector<Entry> groups;         // N/group, in order
  std::map<uint32_t, Entry> subnets;  // by M
  std::map<uint32_t, Entry> masks;    // by M
};

// Where a remote's subnet came from, for the overlap check.
struct SubnetAt {
  uint32_t remote = 0;
  Prefix prefix;
  const Entry* entry = nullptr;
};

class Parser {
 public:
  Parser(std::string path, SiteRole role) : path_(std::move(path)), role_(role) {
    dir_ = std::filesystem::path(path_).parent_path();
  }

  SiteConfigResult run(std::string_view text);

 private:
  void error(uint32_t line, std::string field, std::string message) {
    errors_.push_back(ConfigError{path_, line, 0, std::move(field), std::move(message)});
  }
  void value_error(const Entry& e, const Problem& p) {
    // A trailing comment is the likeliest reason a good value looks bad.
    const bool comment = e.value.find('#') != std::string::npos;
    error(e.line, e.keyword, comment ? p.message + " (a comment must be on a line of its own)" : p.message);
  }

  // Pass 1.
  void read_line(uint32_t line, std::string_view text);
  void read_marker(uint32_t line, std::string_view keyword, std::string_view value);
  void read_local(uint32_t line, std::string_view keyword, std::string_view value);
  void read_remote(uint32_t line, std::string_view keyword, std::string_view value);
  bool refuse_misplaced(uint32_t line, std::string_view keyword, std::string_view name, Scope scope);
  void file_entry(Entries& into, std::string name, Entry entry);
  void file_numbered(std::map<uint32_t, Entry>& into, uint32_t m, Entry entry);
  void finish_sections();

  // Pass 2.
  template <typename T, typename F>
  std::optional<T> get(const Entries& entries, std::string_view name, F parse);
  std::string resolve(std::string_view path) const {
    if (path.empty() || path.front() == '/') return std::string(path);
    return (dir_ / std::string(path)).lexically_normal().string();
  }
  void require(const Entries& entries, std::string_view name, uint32_t line, std::string field,
               std::string_view what);
  std::optional<IpAddress> read_address(const Entries& entries, std::string_view prefix);
  void build_local(SiteLocal& local);
  void read_keying(const Entries& entries, std::string_view array_keyword, SiteKeying& keying);
  void read_heartbeat(const Entries& entries, SiteHeartbeat& heartbeat);
  void check_heartbeat(const Entries& entries, const SiteHeartbeat& heartbeat);
  SiteRemote build_remote(const RemoteDraft& draft, const SiteLocal& local);
  void read_subnets(const RemoteDraft& draft, SiteRemote& remote);
  std::optional<Prefix> read_subnet(const Entry& subnet, const Entry& mask);
  void check_remotes(const SiteConfig& config);
  void check_secondary_remotes(const SiteConfig& config);

  std::string path_;
  SiteRole role_;
  std::filesystem::path dir_;
  std::vector<ConfigError> errors_;

  // The local section: where it opened, whether it is open now.
  uint32_t local_start_ = 0;
  bool inside_local_ = false;
  Entries local_;
  std::map<uint32_t, RemoteDraft> remotes_;  // by N
  std::optional<IpAddress> local_address_;  // once parsed
  std::vector<SubnetAt> subnet_lines_;
};

// ---------------------------------------------------------------------------
// Pass 1.

void Parser::read_line(uint32_t line, std::string_view text) {
  text = trim(text);
  if (text.empty() || text.front() == '#') return;
  const auto [keyword, value] = split_line(text);
  if (has_control_character(text)) {
    error(line, std::string(keyword), "contains a control character; remove it (a line holds printable text)");
    return;
  }
  if (keyword.empty()) {
    error(line, "", "has no keyword before `=`; write `keyword value`");
    return;
  }
  if (keyword == "localstart" || keyword == "localend") return read_marker(line, keyword, value);
  if (value.empty()) {
    error(line, std::string(keyword), fmt::format("needs a value; write `{} VALUE` on one line", keyword));
    return;
  }
  if (keyword.find('/') != std::string_view::npos) return read_remote(line, keyword, value);
  read_local(line, keyword, value);
}

void Parser::read_marker(uint32_t line, std::string_view keyword, std::string_view value) {
  const std::string field(keyword);
  if (!value.empty()) error(line, field, "takes no value; write it alone on its line");
  if (keyword == "localend") {
    if (!inside_local_) error(line, field, "without a localstart before it; open the local section with localstart");
    inside_local_ = false;
    return;
  }
  if (inside_local_) {
    error(line, field,
          fmt::format("the local section opened on line {} is still open; end it with localend first",
                      local_start_));
  } else if (local_start_ != 0) {
    error(line, field,
          fmt::format("a second local section (the first opens on line {}); keep one local section", local_start_));
  } else {
    local_start_ = line;
  }
  inside_local_ = true;
}

// A keyword the other scope knows, or the other role: explained and
// dropped. Returns true when the line was refused.
bool Parser::refuse_misplaced(uint32_t line, std::string_view keyword, std::string_view name, Scope scope) {
  const std::string field(keyword);
  const Keyword* k = find_keyword(name, scope);
  if (k == nullptr) {
    const Scope other = scope == Scope::kLocal ? Scope::kRemote : Scope::kLocal;
    std::string hint;
    if (scope == Scope::kRemote && name == "array_size") {
      hint = "the per-remote override of array_size is N/key_array";
    } else if (scope == Scope::kLocal && name == "key_array") {
      hint = "the local keyword is array_size; N/key_array overrides it for remote N";
    } else if (const Keyword* there = find_keyword(name, other); there != nullptr && takes(*there, role_)) {
      hint = scope == Scope::kLocal
                 ? fmt::format("{} is a remote keyword; write it N/{} for remote N", name, name)
                 : fmt::format("{} is a local keyword; set it between localstart and localend", name);
    } else {
      for (const Keyword& candidate : kKeywords) {
        if (candidate.scope == scope && takes(candidate, role_) && edit_distance(name, candidate.name) <= 2) {
          hint = fmt::format("did you mean `{}`? ", candidate.name);
          break;
        }
      }
      hint += fmt::format("the {} keywords of a {} are {}", scope == Scope::kLocal ? "local" : "remote",
                          site_role_name(role_), known_names(scope, role_));
    }
    error(line, field, fmt::format("unknown keyword; {}", hint));
    return true;
  }
  if (!takes(*k, role_)) {
    error(line, field, fmt::format("not a keyword of a {}: {}", site_role_name(role_), k->refused));
    return true;
  }
  return false;
}

void Parser::file_entry(Entries& into, std::string name, Entry entry) {
  if (auto it = into.find(name); it != into.end()) {
    error(entry.line, entry.keyword,
          fmt::format("already set on line {}; keep one of the two lines", it->second.line));
    return;
  }
  into.emplace(std::move(name), std::move(entry));
}

void Parser::file_numbered(std::map<uint32_t, Entry>& into, uint32_t m, Entry entry) {
  if (auto it = into.find(m); it != into.end()) {
    error(entry.line, entry.keyword,
          fmt::format("already set on line {}; keep one of the two lines", it->second.line));
    return;
  }
  into.emplace(m, std::move(entry));
}

void Parser::read_local(uint32_t line, std::string_view keyword, std::string_view value) {
  if (refuse_misplaced(line, keyword, keyword, Scope::kLocal)) return;
  if (!inside_local_) {
    error(line, std::string(keyword), "is a local keyword outside the local section; move it between localstart "
                                      "and localend");
  }
  // Kept even when misplaced, so that its value is checked and no
  // "missing" error follows.
  file_entry(local_, std::string(keyword), Entry{line, std::string(keyword), std::string(value)});
}

void Parser::read_remote(uint32_t line, std::string_view keyword, std::string_view value) {
  const std::string field(keyword);
  const size_t slash = keyword.find('/');
  const auto number = parse_unsigned(keyword.substr(0, slash), true);
  if (!number || *number < 1 || *number > kMaxRemoteNumber) {
    error(line, field,
          fmt::format("\"{}\" is not a remote number; write N/keyword with N from 1 to {} (no leading zeros)",
                      keyword.substr(0, slash), kMaxRemoteNumber));
    return;
  }
  const std::string_view name = keyword.substr(slash + 1);
  // N/subnetM and N/maskM carry a second number, M.
  std::string_view base;
  for (std::string_view pair : {"subnet"sv, "mask"sv}) {
    if (name.starts_with(pair)) base = pair;
  }
  const bool numbered = !base.empty();
  if (!numbered && refuse_misplaced(line, keyword, name, Scope::kRemote)) return;
  std::optional<uint64_t> m;
  if (numbered) {
    m = parse_unsigned(name.substr(base.size()), true);
    if (!m || *m > kMaxSubnetNumber) {
      error(line, field,
            fmt::format("is not {0}/{1}M with a subnet number M from 0 to {2}; write M without leading zeros, "
                        "the same on a subnet and its mask (e.g. {0}/subnet1 and {0}/mask1)",
                        *number, base, kMaxSubnetNumber));
      return;
    }
  }
  if (inside_local_) {
    error(line, field, "is a remote keyword inside the local section; move it after localend");
  }

  RemoteDraft& remote = remotes_[static_cast<uint32_t>(*number)];
  if (remote.number == 0) remote = RemoteDraft{static_cast<uint32_t>(*number), line, {}, {}, {}, {}};
  Entry entry{line, field, std::string(value)};
  if (numbered) {
    file_numbered(base == "subnet" ? remote.subnets : remote.masks, static_cast<uint32_t>(*m), std::move(entry));
  } else if (name == "group") {
    remote.groups.push_back(std::move(entry));
  } else {
    file_entry(remote.keys, std::string(name), std::move(entry));
  }
}

void Parser::finish_sections() {
  if (inside_local_) {
    error(local_start_, "localstart", "the local section opened here has no localend; add localend after the "
                                      "local keywords");
  } else if (local_start_ == 0) {
    error(0, "localstart", "no local section; put the local keywords between a localstart line and a localend "
                           "line");
  }
}

// ---------------------------------------------------------------------------
// Pass 2.

template <typename T, typename F>
std::optional<T> Parser::get(const Entries& entries, std::string_view name, F parse) {
  const auto it = entries.find(name);
  if (it == entries.end()) return std::nullopt;
  Parsed<T> parsed = parse(std::string_view(it->second.value));
  if (!parsed) {
    value_error(it->second, parsed.error());
    return std::nullopt;
  }
  return std::move(parsed).value();
}

void Parser::require(const Entries& entries, std::string_view name, uint32_t line, std::string field,
                     std::string_view what) {
  if (entries.find(name) == entries.end()) error(line, std::move(field), fmt::format("missing; {}", what));
}

// `ip` and `address` together: the address, checked against the version
// when both are given. `prefix` is "" or "N/", for the field names.
std::optional<IpAddress> Parser::read_address(const Entries& entries, std::string_view prefix) {
  const auto version = get<IpAddress::Family>(entries, "ip", parse_ip_version);
  const auto address = get<IpAddress>(entries, "address", parse_address);
  if (version && address && address->family != *version) {
    const Entry& e = entries.find("address")->second;
    error(e.line, e.keyword,
          fmt::format("{} is an {} address but {}ip is {} (line {}); make them agree", e.value,
                      family_name(address->family), prefix, family_digit(*version), entries.find("ip")->second.line));
  }
  return address;
}

// `array_keyword`: array_size in the local section, N/key_array for a remote.
void Parser::read_keying(const Entries& entries, std::string_view array_keyword, SiteKeying& keying) {
  const auto array_size = [](std::string_view t) { return parse_range(t, 0, kSiteMaxArraySize, " keys"); };
  if (auto v = get<uint32_t>(entries, "rekey_wait", parse_seconds)) keying.rekey_wait = *v;
  if (auto v = get<uint32_t>(entries, array_keyword, array_size)) keying.array_size = *v;
  if (auto v = get<uint32_t>(entries, "data_array_time", parse_seconds)) keying.data_array_time = *v;
  if (auto v = get<uint32_t>(entries, "control_array_time", parse_seconds)) keying.control_array_time = *v;
}

void Parser::read_heartbeat(const Entries& entries, SiteHeartbeat& heartbeat) {
  if (auto v = get<uint32_t>(entries, "heartbeat_time", parse_seconds)) heartbeat.time = *v;
  if (auto v = get<uint32_t>(entries, "heartbeat_fail", parse_seconds)) heartbeat.fail = *v;
}

// A link is declared lost heartbeat_fail seconds after a heartbeat went out
// unanswered, so it must outlast the quiet time that sends heartbeats.
// Checked where either was written (the effective values of a remote).
void Parser::check_heartbeat(const Entries& entries, const SiteHeartbeat& heartbeat) {
  const auto fail = entries.find("heartbeat_fail");
  const auto time = entries.find("heartbeat_time");
  const Entry* at = fail != entries.end() ? &fail->second : time != entries.end() ? &time->second : nullptr;
  if (at == nullptr || heartbeat.fail > heartbeat.time) return;
  error(at->line, at->keyword,
        fmt::format("heartbeat_fail ({} s) must be longer than heartbeat_time ({} s); raise heartbeat_fail or "
                    "lower heartbeat_time",
                    heartbeat.fail, heartbeat.time));
}

void Parser::build_local(SiteLocal& local) {
  const uint32_t at = local_start_;
  local_address_ = read_address(local_, "");
  if (local_address_) local.address = *local_address_;
  require(local_, "address", at, "address",
          role_ == SiteRole::kPrimary ? "add `address`, the address secondaries connect to"
                                      : "add `address`, the address this secondary connects from");
  if (auto v = get<uint32_t>(local_, "port", [](std::string_view t) { return parse_range(t, 1, 65535); })) {
    local.port = static_cast<uint16_t>(*v);
  }
  if (auto v = get<KeyGeneration>(local_, "key_generation", parse_key_generation)) local.key_generation = *v;
  read_keying(local_, "array_size", local.keying);
  read_heartbeat(local_, local.heartbeat);
  check_heartbeat(local_, local.heartbeat);
  get<uint32_t>(local_, "cluster_state", [](std::string_view t) { return parse_unsupported_flag(t, "clustering"); });
  get<uint32_t>(local_, "load_balance",
                [](std::string_view t) { return parse_unsupported_flag(t, "load balancing"); });

  if (auto v = get<HostId>(local_, "host_id", parse_host_id)) local.host_id = *v;
  require(local_, "host_id", at, "host_id", "add `host_id 0xNNNNHHHH`, this gateway's host ID");
  if (auto v = get<std::string>(local_, "interface", parse_interface)) local.interface = *v;
  if (auto v = get<std::vector<uint16_t>>(local_, "size_classes", parse_site_size_classes)) local.size_classes = *v;
  if (auto v = get<Prefix>(local_, "tunnel_address", parse_tunnel_prefix)) local.tunnel_address = *v;
  require(local_, "tunnel_address", at, "tunnel_address",
          "add `tunnel_address`, this gateway's address on the tunnel with the network's length, e.g. "
          "10.99.0.1/24");
  const auto path = [this](std::string_view t) -> Parsed<std::string> { return resolve(t); };
  if (auto v = get<std::string>(local_, "state_dir", path)) local.state_dir = *v;
  const auto socket = [this](std::string_view t) -> Parsed<std::string> {
    std::string resolved = resolve(t);
    if (resolved.size() > kMaxSocketPath) {
      return problem(fmt::format("the socket path is {} bytes long, more than {}; choose a shorter path",
                                 resolved.size(), kMaxSocketPath));
    }
    return resolved;
  };
  if (auto v = get<std::string>(local_, "control_socket", socket)) local.control_socket = *v;
}

SiteRemote Parser::build_remote(const RemoteDraft& draft, const SiteLocal& local) {
  SiteRemote remote;
  remote.number = draft.number;
  const std::string n = std::to_string(draft.number);
  const std::string prefix = n + "/";
  const auto& keys = draft.keys;

  if (auto a = read_address(keys, prefix)) {
    remote.address = *a;
    const Entry& e = keys.find("address")->second;
    if (local_address_ && a->family != local_address_->family) {
      error(e.line, e.keyword,
            fmt::format("is an {} address but the local address is {}; both ends of a link use the same IP "
                        "version",
                        family_name(a->family), family_name(local.address.family)));
    }
  }
  require(keys, "address", draft.first_line, prefix + "address",
          fmt::format("add {}/address, the remote gateway's IP address", n));
  read_subnets(draft, remote);
  if (auto v = get<crypto::Suite>(keys, "key_type", parse_key_type)) remote.suite = *v;
  if (auto v = get<uint32_t>(keys, "port", [](std::string_view t) { return parse_range(t, 1, 65535); })) {
    remote.port = static_cast<uint16_t>(*v);
  }

  remote.heartbeat = local.heartbeat;
  if (role_ == SiteRole::kPrimary) {
    remote.keying = local.keying;
    read_keying(keys, "key_array", remote.keying);
    read_heartbeat(keys, remote.heartbeat);
    check_heartbeat(keys, remote.heartbeat);
  }

  if (auto v = get<HostId>(keys, "host_id", parse_host_id)) remote.host_id = *v;
  require(keys, "host_id", draft.first_line, prefix + "host_id",
          fmt::format("add {}/host_id 0xNNNNHHHH, the remote gateway's host ID", n));
  const auto path = [this](std::string_view t) -> Parsed<std::string> { return resolve(t); };
  if (auto v = get<std::string>(keys, "key_file", path)) {
    remote.key_file = *v;
    remote.key_file_line = keys.find("key_file")->second.line;
  }
  require(keys, "key_file", draft.first_line, prefix + "key_file",
          fmt::format("add {}/key_file, the path of the file holding this link's key", n));
  if (auto v = get<IpAddress>(keys, "tunnel_address", parse_address)) remote.tunnel_address = *v;
  if (auto v = get<bool>(keys, "backup", parse_yes_no)) remote.backup = *v;

  std::map<std::string, uint32_t> seen_groups;
  for (const Entry& e : draft.groups) {
    Parsed<std::string> group = parse_group(e.value);
    if (!group) {
      value_error(e, group.error());
    } else if (auto [it, fresh] = seen_groups.emplace(group.value(), e.line); !fresh) {
      error(e.line, e.keyword,
            fmt::format("remote {} is already in group {} (line {}); remove this line", n, it->first, it->second));
    } else {
      remote.groups.push_back(std::move(group).value());
    }
  }
  return remote;
}

void Parser::read_subnets(const RemoteDraft& draft, SiteRemote& remote) {
  const std::string n = std::to_string(draft.number);
  for (const auto& [m, subnet] : draft.subnets) {
    const auto mask = draft.masks.find(m);
    if (mask == draft.masks.end()) {
      error(subnet.line, subnet.keyword, fmt::format("has no {}/mask{}; add the subnet's mask", n, m));
      continue;
    }
    if (auto prefix = read_subnet(subnet, mask->second)) {
      remote.subnets.push_back(*prefix);
      subnet_lines_.push_back(SubnetAt{draft.number, *prefix, &subnet});
    }
  }
  for (const auto& [m, mask] : draft.masks) {
    if (draft.subnets.count(m) == 0) {
      error(mask.line, mask.keyword, fmt::format("has no {}/subnet{}; add the subnet or remove the mask", n, m));
    }
  }
}

std::optional<Prefix> Parser::read_subnet(const Entry& subnet, const Entry& mask) {
  const auto address = IpAddress::parse(subnet.value);
  if (!address) {
    const bool cidr = subnet.value.find('/') != std::string::npos;
    value_error(subnet, problem(cidr ? fmt::format("\"{}\" has a prefix length; write the network address alone "
                                                   "and its mask on {}",
                                                   subnet.value, mask.keyword)
                                     : fmt::format("\"{}\" is not a network address; write one such as "
                                                   "192.168.20.0",
                                                   subnet.value)));
    return std::nullopt;
  }
  Parsed<uint8_t> length = parse_mask(mask.value, address->family);
  if (!length) {
    value_error(mask, length.error());
    return std::nullopt;
  }
  const Prefix prefix{*address, length.value()};
  if (masked(prefix) != prefix) {
    error(subnet.line, subnet.keyword,
          fmt::format("{} has bits set past its mask {} ({}); write the network address {}", subnet.value,
                      mask.value, mask.keyword, masked(prefix).address.to_string()));
    return std::nullopt;
  }
  return prefix;
}

void Parser::check_remotes(const SiteConfig& config) {
  std::map<uint32_t, const SiteRemote*> ids;
  for (const SiteRemote& r : config.remotes) {
    if (r.host_id.value == 0) continue;  // missing or bad: reported already
    const Entry& e = remotes_.at(r.number).keys.find("host_id")->second;
    if (r.host_id == config.local.host_id) {
      error(e.line, e.keyword, "is this gateway's own host_id; give the remote gateway's host ID");
    } else if (auto [it, fresh] = ids.emplace(r.host_id.value, &r); !fresh) {
      error(e.line, e.keyword,
            fmt::format("remote {} has the same host ID; each remote is a different gateway", it->second->number));
    }
  }
  if (role_ == SiteRole::kSecondary) return check_secondary_remotes(config);

  if (config.remotes.empty()) {
    error(0, "", "a primary with no remote; add the secondaries as 1/address, 1/host_id, 1/key_file, ...");
  }
  // A primary routes each subnet to one secondary. (A secondary's primary
  // and backup primary serve the same subnets, so it is not checked there.)
  for (size_t i = 0; i < subnet_lines_.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      const SubnetAt& a = subnet_lines_[j];
      const SubnetAt& b = subnet_lines_[i];
      if (a.remote == b.remote || !overlaps(a.prefix, b.prefix)) continue;
      error(b.entry->line, b.entry->keyword,
            fmt::format("{} overlaps {} of remote {} ({}, line {}); each address is routed to one remote",
                        b.prefix.to_string(), a.prefix.to_string(), a.remote, a.entry->keyword, a.entry->line));
      break;
    }
  }
}

// A secondary connects to one primary and may fail over to one backup.
void Parser::check_secondary_remotes(const SiteConfig& config) {
  const SiteRemote* primary = nullptr;
  const SiteRemote* backup = nullptr;
  for (const SiteRemote& r : config.remotes) {
    const SiteRemote*& slot = r.backup ? backup : primary;
    if (slot == nullptr) {
      slot = &r;
      continue;
    }
    const RemoteDraft& d = remotes_.at(r.number);
    const auto b = d.keys.find("backup");
    error(b != d.keys.end() ? b->second.line : d.first_line, fmt::format("{}/backup", r.number),
          r.backup ? fmt::format("remote {} is the backup primary already; a secondary has at most one backup",
                                 slot->number)
                   : fmt::format("remote {} is the primary already; a secondary has one primary: mark the other "
                                 "`{}/backup yes`",
                                 slot->number, r.number));
  }
  if (primary == nullptr) {
    error(0, "", backup == nullptr
                     ? "a secondary with no primary; add its primary as 1/address, 1/host_id, 1/key_file, ..."
                     : "a secondary with only a backup primary; add its primary (a remote without `backup yes`)");
  }
}

SiteConfigResult Parser::run(std::string_view text) {
  uint32_t line = 0;
  while (!text.empty()) {
    ++line;
    const size_t end = text.find('\n');
    read_line(line, text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
  }
  finish_sections();

  SiteConfig config;
  config.path = path_;
  config.role = role_;
  build_local(config.local);
  for (const auto& [number, draft] : remotes_) config.remotes.push_back(build_remote(draft, config.local));
  check_remotes(config);

  if (errors_.empty()) return config;
  std::stable_sort(errors_.begin(), errors_.end(),
                   [](const ConfigError& a, const ConfigError& b) { return a.line < b.line; });
  return std::move(errors_);
}

}  // namespace

std::string_view site_role_name(SiteRole role) { return role == SiteRole::kPrimary ? "primary" : "secondary"; }

SiteConfigResult parse_site_config(std::string_view text, const std::string& path, SiteRole role) {
  return Parser(path, role).run(text);
}

SiteConfigResult load_site_config(const std::string& path, SiteRole role) {
  auto text = read_config_text(path, ReadHints{"give --config a site-link file", "check its permissions",
                                               "check the path given to --config"});
  if (!text) return std::vector{text.error()};
  return parse_site_config(*text, path, role);
}

}  // namespace cordon::daemon
