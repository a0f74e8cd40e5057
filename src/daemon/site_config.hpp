// The site-link configuration file (docs/site-links.md, "The configuration
// file"). The role comes from the caller, `cordon sitelink primary` or
// `secondary`; site_link.hpp makes the daemon's configuration from it.
//
// A site link joins two gateways, a primary and a secondary. The file keeps
// the layout of the P³ functional specification (Velocite Systems, 2011),
// Appendix A, so that an existing file reads unchanged: one keyword per line,
// a local section between `localstart` and `localend`, then one group of
// `N/keyword` lines per remote host:
//
//   # the primary's file
//   localstart
//   ip 4
//   address 192.0.2.1
//   host_id 0x00010001            # Cordon addition
//   tunnel_address 10.99.0.1/24   # Cordon addition
//   localend
//   1/ip 4
//   1/address 198.51.100.7
//   1/subnet1 192.168.20.0
//   1/mask1 255.255.255.0
//   1/host_id 0x00010002          # Cordon addition
//   1/key_file site-b.key         # Cordon addition
//
// The role is not written in the file: the caller passes it in, and each
// role accepts its own keywords (the secondary's file names its primary and,
// optionally, a backup primary as remotes).
//
// Parsing never stops at the first problem: every error is collected, with
// the line and the keyword as written (`2/subnet1`), so that an operator
// fixes a file in one pass. The parser reads no file other than the
// configuration itself: key files are only named here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/crypto/aead.hpp"
#include "core/result.hpp"
#include "core/types.hpp"
#include "daemon/config.hpp"

namespace cordon::daemon {

// Defaults from the P³ functional specification, Appendix A, section 1.
constexpr uint16_t kSiteDefaultPort = 5653;
constexpr uint32_t kSiteDefaultRekeyWait = 3600;          // seconds
constexpr uint32_t kSiteDefaultArraySize = 256;           // keys per key array
constexpr uint32_t kSiteDefaultDataArrayTime = 86400;     // seconds
constexpr uint32_t kSiteDefaultControlArrayTime = 82800;  // seconds
constexpr uint32_t kSiteDefaultHeartbeatTime = 15;        // seconds
constexpr uint32_t kSiteDefaultHeartbeatFail = 120;       // seconds
// Cordon's own: the TUN device and state directory match the daemon's
// defaults (config.hpp).
constexpr const char* kSiteDefaultInterface = kDefaultInterface;
constexpr const char* kSiteDefaultStateDir = kDefaultStateDir;

// Limits the parser enforces (ours; the reference text sets none).
constexpr uint32_t kSiteMaxSeconds = 1u << 31;  // every time keyword: 1 .. 2^31 s
constexpr uint32_t kSiteMaxArraySize = 4096;    // array_size and N/key_array: 0 (no arrays) .. 4096
constexpr size_t kSiteMaxGroupName = 32;        // N/group: [a-z0-9_-]{1,32}

// `key_generation`: where the primary's random numbers come from. Both
// values draw from the kernel's getrandom(2) in Cordon: a hardware RNG
// feeds the kernel's pool, so 2 is accepted and means the same as 1.
enum class KeyGeneration : uint8_t { kSoftware = 1, kHardware = 2 };

// How a primary rekeys a link. A secondary does not choose these (the
// primary is the key master); in its config they keep the defaults.
struct SiteKeying {
  uint32_t rekey_wait = kSiteDefaultRekeyWait;                  // seconds between rekeys
  uint32_t array_size = kSiteDefaultArraySize;                  // keys per key array
  uint32_t data_array_time = kSiteDefaultDataArrayTime;         // seconds, data key array
  uint32_t control_array_time = kSiteDefaultControlArrayTime;   // seconds, control key array
  friend bool operator==(const SiteKeying&, const SiteKeying&) = default;
};

// When to send a heartbeat, and how long after one to give up on the link.
// Always fail > time.
struct SiteHeartbeat {
  uint32_t time = kSiteDefaultHeartbeatTime;  // seconds of quiet before a heartbeat
  uint32_t fail = kSiteDefaultHeartbeatFail;  // seconds after one before the link is lost
  friend bool operator==(const SiteHeartbeat&, const SiteHeartbeat&) = default;
};

// The local section, between `localstart` and `localend`. `cluster_state`
// and `load_balance` are not kept: the only value accepted is 0.
struct SiteLocal {
  IpAddress address;  // `ip` + `address`: a primary listens here, a secondary sends from here
  uint16_t port = kSiteDefaultPort;  // primary: where secondaries connect
  KeyGeneration key_generation = KeyGeneration::kSoftware;  // primary only
  SiteKeying keying;       // primary: the defaults its remotes override
  SiteHeartbeat heartbeat;  // primary: the defaults its remotes override; secondary: its own

  // Cordon additions.
  HostId host_id;
  std::string interface = kSiteDefaultInterface;
  std::vector<uint16_t> size_classes;  // NodeConfig::size_classes (daemon/size_classes.hpp); empty: off
  Prefix tunnel_address;  // host bits kept: 10.99.0.1/24
  std::string state_dir = kSiteDefaultStateDir;  // resolved against the file's directory
  std::string control_socket;  // resolved; empty: the caller's default
};

// One `N/...` group. For a primary it is a secondary; for a secondary it is
// its primary or its backup primary.
struct SiteRemote {
  uint32_t number = 0;  // N, 1..65535
  IpAddress address;    // `N/ip` + `N/address`
  std::vector<Prefix> subnets;  // `N/subnetM` + `N/maskM`, in order of M, host bits zero
  crypto::Suite suite = crypto::Suite::kAes128Gcm;  // `N/key_type`: AES128 or AES256
  uint16_t port = kSiteDefaultPort;  // secondary only: the primary's port

  // Effective values, overrides applied: a primary's remote starts from the
  // local section's and takes `N/rekey_wait`, `N/key_array`, ... on top; a
  // secondary's remotes copy its local heartbeat and keep the default keying.
  SiteKeying keying;
  SiteHeartbeat heartbeat;

  // Cordon additions.
  HostId host_id;
  std::string key_file;  // resolved against the file's directory; not read here
  uint32_t key_file_line = 0;  // where N/key_file is written, for errors about the key file
  std::optional<IpAddress> tunnel_address;
  std::vector<std::string> groups;  // primary only, in the order written
  bool backup = false;              // secondary only: a backup primary
};

struct SiteConfig {
  std::string path;  // the file, as given
  SiteRole role = SiteRole::kPrimary;
  SiteLocal local;
  std::vector<SiteRemote> remotes;  // in order of N
};

// The configuration, or every error found (at least one), sorted by line.
// Errors are ConfigErrors with column 0 and `field` the keyword as written;
// line 0 is about the file as a whole (no local section, no remote).
using SiteConfigResult = cordon::Result<SiteConfig, std::vector<ConfigError>>;

// Parses and validates `text`; `path` names the file in errors and anchors
// relative paths (state_dir, control_socket, N/key_file). Pure: reads no
// file, never throws.
SiteConfigResult parse_site_config(std::string_view text, const std::string& path, SiteRole role);

// Reads the file at `path` and parses it. An unreadable file is one error.
SiteConfigResult load_site_config(const std::string& path, SiteRole role);

std::string_view site_role_name(SiteRole role);  // "primary", "secondary"

}  // namespace cordon::daemon
