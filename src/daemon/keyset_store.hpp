// The installed key set on a host: <state_dir>/keyset (default
// /var/lib/cordon/keyset), the file `admin keyset export` wrote, stored
// as-is and so encrypted at rest (core/keys/keyset.hpp). Every change is
// one atomic write of the whole file, mode 0600 (os::write_file_atomic):
// a crash leaves the old key set or the new one, never a mix. Commands that
// change it hold an exclusive flock(2) on its directory from the check to
// the write, so two concurrent commands cannot store an older version over
// a newer one.
//
// Operations, each checked before anything is written ("bad input gets a
// clear error, and nothing changes", docs/design.md, "What every capability meets"):
//
//   install       a key set from the administrator: verified with the
//                 password (every byte authenticated), refused if it is for
//                 another network or host than the installed one, or not
//                 newer than it.
//   passwd        the installed key set under a new password (new salt,
//                 new nonces; same user key, host key and body).
//   apply_update  an update package, opened with the installed host key,
//                 or, when it replaces the host key, with the user's wrap of
//                 the new one (core/keys/update_package.hpp, format 2):
//                 refused if for another network or host, if its version
//                 is not newer than the installed one (old or replayed), or
//                 if it has no wrap for this key set's user (removed). The
//                 key set is re-sealed with the package's version, book and
//                 links (and new host key, if it rotated). If the package
//                 rotated the user key, the password asked for is the new
//                 one, and the key set takes the package's user-key wrap.
//   unlock / open_with_user_key
//                 what the daemon does at start (password) and on reload
//                 (the user key it keeps).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/crypto/secret.hpp"
#include "core/keys/keyset.hpp"
#include "core/keys/update_package.hpp"

namespace cordon::daemon {

struct StoreFailure {
  // The core's reason when the refusal comes from the key set or package
  // itself (wrong_password, tampered, other_host, stale_version, ...);
  // nullopt for a file-system problem or "no key set installed".
  std::optional<keys::KeySetError> code;
  std::string message;  // names the file(s) and says what to do
};

template <typename T>
using StoreResult = cordon::Result<T, StoreFailure>;

struct StoreDone {};

// What install and apply_update report.
struct InstallReport {
  keys::KeySetHeader header;                  // of the key set now installed
  std::optional<uint64_t> replaced_version;   // the version it replaced, if any
};
struct UpdateReport {
  keys::UpdateHeader update;
  uint64_t replaced_version = 0;
  size_t peers = 0;  // address book entries other than this host
  bool new_user_key = false;  // the package rotated the user key: a daemon must restart with the new password
};

class KeysetStore {
 public:
  // `path`: the installed key set file, e.g. keyset_path(state_dir).
  explicit KeysetStore(std::string path) : path_(std::move(path)) {}
  const std::string& path() const { return path_; }

  // Whether a file exists at path() (it may still be unreadable).
  bool installed() const;

  // The installed file's bytes. Refused when missing ("install one with
  // `cordon keyset install FILE`"), not regular or readable by group or
  // others.
  StoreResult<std::vector<std::byte>> read() const;
  // The installed header, without a password (not yet authenticated).
  StoreResult<keys::KeySetHeader> header() const;

  // Opens the installed key set with the password (daemon start) or the user
  // key (daemon reload).
  StoreResult<keys::OpenedKeySet> unlock(std::string_view password) const;
  StoreResult<keys::OpenedKeySet> open_with_user_key(const crypto::SecretBytes& user_key) const;

  // The checks install() makes that need no password: the file parses, and
  // it is for the installed key set's network and host and newer than it.
  // Lets the CLI refuse before asking for a password. `source` names the
  // file in messages.
  StoreResult<keys::KeySetHeader> check_install(std::span<const std::byte> file, const std::string& source) const;
  StoreResult<InstallReport> install(std::span<const std::byte> file, std::string_view password,
                                     const std::string& source) const;

  StoreResult<StoreDone> passwd(std::string_view old_password, std::string_view new_password) const;

  // The checks apply_update() makes that need no password (against the
  // installed header; repeated on the authenticated header later).
  StoreResult<keys::UpdateHeader> check_update(std::span<const std::byte> update, const std::string& source) const;
  StoreResult<UpdateReport> apply_update(std::span<const std::byte> update, std::string_view password,
                                         const std::string& source) const;
  StoreResult<UpdateReport> apply_update_with_user_key(std::span<const std::byte> update,
                                                       const crypto::SecretBytes& user_key,
                                                       const std::string& source) const;

 private:
  StoreResult<UpdateReport> apply_opened(std::span<const std::byte> update, const keys::OpenedKeySet& installed,
                                         const std::string& source, bool new_user_key = false) const;
  // When `password` is not the installed key set's: the user key of a
  // package that rotated it (user passwd --rotate-user-key), opened with
  // the new password, with the installed header and no host key or body.
  std::optional<keys::OpenedKeySet> with_new_user_key(std::span<const std::byte> update,
                                                      std::string_view password) const;
  StoreResult<StoreDone> store(std::span<const std::byte> file) const;

  std::string path_;
};

// <state_dir>/keyset.
std::string keyset_path(const std::string& state_dir);

// Reads a key set or update package given on the command line (any mode:
// it is encrypted and authenticated; the installed copy is made 0600).
StoreResult<std::vector<std::byte>> read_input_file(const std::string& path, std::string_view what);

}  // namespace cordon::daemon
