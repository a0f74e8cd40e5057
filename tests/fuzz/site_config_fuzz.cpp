// libFuzzer target for the site-link configuration parser: the input is the
// text of a site-link file, fed to daemon::parse_site_config once as a
// primary's file and once as a secondary's (the role comes from the command
// line, not the file). The parser reads no file, so nothing is set up.
//
// Asserts, besides "no crash, hang, leak or escaping exception": a result is
// either a config or a non-empty error list, never both; every error names
// the file, has a message, sits on a line of the input (0: the file as a
// whole) and they come sorted by line; a config that passes holds what the
// checks promise (site_config.hpp): values in range, heartbeat_fail longer
// than heartbeat_time, subnets without host bits, remotes in order of N with
// distinct host IDs, a primary with a remote, a secondary with one primary
// and at most one backup.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "daemon/site_config.hpp"

namespace {

using namespace cordon;
using daemon::SiteConfig;
using daemon::SiteRemote;
using daemon::SiteRole;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

const std::string kPath = "/etc/cordon/site.conf";  // only named in errors and joined to relative paths

bool no_host_bits(const Prefix& p) {
  for (size_t bit = p.length; bit < p.address.size() * 8; ++bit) {
    if ((p.address.bytes[bit / 8] >> (7 - bit % 8)) & 1) return false;
  }
  return true;
}

bool seconds_ok(uint32_t s) { return s >= 1 && s <= daemon::kSiteMaxSeconds; }

void check_timers(const daemon::SiteKeying& k, const daemon::SiteHeartbeat& h) {
  check(seconds_ok(k.rekey_wait) && seconds_ok(k.data_array_time) && seconds_ok(k.control_array_time));
  check(k.array_size >= 1 && k.array_size <= daemon::kSiteMaxArraySize);
  check(seconds_ok(h.time) && seconds_ok(h.fail) && h.fail > h.time);
}

void check_remote(const SiteConfig& c, const SiteRemote& r) {
  check(r.number >= 1 && r.number <= 65535);
  check(r.host_id.value != 0 && r.host_id != c.local.host_id);
  check(!r.key_file.empty());
  check(r.address.family == c.local.address.family);
  check(r.port != 0);
  check(r.suite == crypto::Suite::kAes128Gcm || r.suite == crypto::Suite::kAes256Gcm);
  check_timers(r.keying, r.heartbeat);
  for (const Prefix& p : r.subnets) check(p.length <= p.address.size() * 8 && no_host_bits(p));
  for (const std::string& g : r.groups) check(!g.empty() && g.size() <= daemon::kSiteMaxGroupName);
  if (c.role == SiteRole::kPrimary) {
    check(!r.backup);
  } else {
    check(r.groups.empty() && r.keying == daemon::SiteKeying{} && r.heartbeat == c.local.heartbeat);
  }
}

void check_config(const SiteConfig& c, SiteRole role) {
  check(c.path == kPath && c.role == role);
  check(c.local.host_id.value != 0);
  check(!c.local.interface.empty() && c.local.interface.size() <= 15);
  check(!c.local.state_dir.empty() && c.local.control_socket.size() <= 107);
  check(c.local.port != 0);
  check_timers(c.local.keying, c.local.heartbeat);
  size_t backups = 0;
  for (size_t i = 0; i < c.remotes.size(); ++i) {
    check_remote(c, c.remotes[i]);
    if (i > 0) check(c.remotes[i - 1].number < c.remotes[i].number);
    for (size_t j = 0; j < i; ++j) check(c.remotes[j].host_id != c.remotes[i].host_id);
    backups += c.remotes[i].backup ? 1 : 0;
  }
  if (role == SiteRole::kPrimary) {
    check(!c.remotes.empty());
  } else {
    check(backups <= 1 && c.remotes.size() - backups == 1);
  }
}

void run(std::string_view text, SiteRole role) {
  const daemon::SiteConfigResult result = daemon::parse_site_config(text, kPath, role);
  if (result) return check_config(*result, role);
  const auto& errors = result.error();
  check(!errors.empty());
  const auto lines = static_cast<uint32_t>(std::count(text.begin(), text.end(), '\n') + 1);
  for (size_t i = 0; i < errors.size(); ++i) {
    const daemon::ConfigError& e = errors[i];
    check(e.file == kPath && !e.message.empty() && e.column == 0 && !e.to_string().empty());
    check(e.line <= lines);
    if (i > 0) check(errors[i - 1].line <= e.line);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  run(text, SiteRole::kPrimary);
  run(text, SiteRole::kSecondary);
  return 0;
}
