// Fresh link keys: keys that arrived on this machine with `cordon keyset
// install` or `cordon update apply` and have not been started yet. Their
// counters cannot have been used anywhere (the administrator makes new link
// keys for every export and update that brings one), so the daemon may
// start them without a counter floor record (docs/protocol.md, "Nonce
// uniqueness"). The record is consumed at the first start (or reload) that
// uses them: from then on the counter file covers them.
//
// The file is <key set>.fresh, e.g. /var/lib/cordon/keyset.fresh, written
// atomically, mode 0600. Version 1, text, one record per line:
//
//   cordon-fresh-keys v1\n
//   machine <32 hex digits, or "-" when the writer had no machine ID>\n
//   key <32 hex digits>\n          zero or more: link key fingerprints
//
// A file written on another machine (a copied state directory) marks no key
// fresh there.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/keys/keyset.hpp"
#include "core/keys/traffic_keys.hpp"
#include "core/result.hpp"

namespace cordon::daemon {

std::string fresh_keys_path(const std::string& keyset_path);

struct FreshKeys {
  std::optional<std::string> machine;
  std::vector<keys::KeyFingerprint> keys;
  friend bool operator==(const FreshKeys&, const FreshKeys&) = default;
};

std::string format_fresh_keys(const FreshKeys& fresh);
std::optional<FreshKeys> parse_fresh_keys(std::string_view text);

// Records every link key of a key set just installed or updated as fresh,
// for this machine (`machine`: os::read_machine_id()). Fails with a message
// naming the file.
Status<std::string> record_fresh_keys(const std::string& keyset_path, std::span<const keys::LinkKeyEntry> links,
                                      const std::optional<std::string>& machine);

// What install and apply_update call once the key set is stored: record_fresh_keys
// for this machine. A failure only means the daemon will ask for an explicit
// choice (`--accept-new-keys`) instead, so it is not an error of the install.
void note_fresh_keys(const std::string& keyset_path, std::span<const keys::LinkKeyEntry> links);

// The keys recorded fresh on this machine; none when the file is missing,
// unreadable, corrupt or from another machine (then the daemon asks for an
// explicit choice instead, which is the safe side).
std::vector<keys::KeyFingerprint> load_fresh_keys(const std::string& keyset_path,
                                                  const std::optional<std::string>& machine);

// Removes `used` from the record (the file goes when it is empty). Returns
// an error message, or nullopt.
std::optional<std::string> consume_fresh_keys(const std::string& keyset_path,
                                              std::span<const keys::KeyFingerprint> used);

}  // namespace cordon::daemon
