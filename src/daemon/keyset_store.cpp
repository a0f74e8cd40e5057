#include "daemon/keyset_store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "core/keys/password.hpp"
#include "daemon/fresh_keys.hpp"
#include "os/linux/fd.hpp"
#include "os/linux/files.hpp"
#include "os/linux/random.hpp"

namespace cordon::daemon {
namespace {

StoreFailure failure(const keys::KeySetFailure& f, const std::string& source) {
  return StoreFailure{f.code, fmt::format("{}: {}", source, f.message())};
}

StoreFailure plain(std::string message) { return StoreFailure{std::nullopt, std::move(message)}; }

std::vector<std::byte> to_bytes(const std::string& text) {
  const auto bytes = std::as_bytes(std::span(text.data(), text.size()));
  return {bytes.begin(), bytes.end()};
}

std::string network_text(HostId id) { return fmt::format("0x{:04x}", id.network()); }

// Fresh randomness for one seal: every salt and nonce is new (xchacha.hpp:
// random 192-bit nonces never repeat in practice).
template <size_t N>
std::optional<StoreFailure> fill_random(std::array<std::byte, N>& out) {
  if (auto st = os::random_bytes(out); !st) {
    return plain(fmt::format("the random number generator failed ({}); nothing was changed", st.error().message()));
  }
  return std::nullopt;
}

std::optional<StoreFailure> fresh_nonces(keys::KeySetNonces& nonces) {
  if (auto f = fill_random(nonces.host_key)) return f;
  return fill_random(nonces.body);
}

// A host keeps one identity: the messages say how to give the machine a new
// one on purpose.
StoreFailure other_host(const std::string& what, const std::string& source, HostId got, HostId installed,
                        const std::string& path, bool network) {
  return StoreFailure{
      network ? keys::KeySetError::kOtherNetwork : keys::KeySetError::kOtherHost,
      fmt::format("{} {} is for host {} (network {}), but the key set installed at {} is for host {} (network {}); "
                  "nothing was changed. Use the file made for host {}. To re-purpose this machine as host {}, stop "
                  "the daemon, remove {} and install the new key set",
                  what, source, got.to_string(), network_text(got), path, installed.to_string(),
                  network_text(installed), installed.to_string(), got.to_string(), path)};
}

std::optional<StoreFailure> check_same_identity(const std::string& what, const std::string& source, HostId got,
                                                HostId installed, const std::string& path) {
  if (got == installed) return std::nullopt;
  return other_host(what, source, got, installed, path, got.network() != installed.network());
}

std::string parent_of(const std::string& path) {
  const std::string dir = std::filesystem::path(path).parent_path().string();
  return dir.empty() ? "." : dir;
}

// Two `cordon` commands changing the key set at once could each check
// against the same installed version and the slower one would then write
// an older version over a newer one. Every read-check-write sequence holds
// an exclusive flock(2) on the key set's directory (no lock file to leave
// behind); the daemon only reads, and rename(2) keeps its reads whole.
StoreResult<os::Fd> lock_directory(const std::string& keyset) {
  const std::string dir = parent_of(keyset);
  if (auto made = os::ensure_dir(dir, 0700); !made) {
    return plain(fmt::format("cannot create {}: {}; nothing was changed", dir, made.error().message()));
  }
  os::Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return plain(fmt::format("cannot open {}: {}; nothing was changed", dir, std::strerror(errno)));
  while (::flock(fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) {
      return plain(fmt::format("cannot lock {}: {}; nothing was changed", dir, std::strerror(errno)));
    }
  }
  return fd;
}

}  // namespace

std::string keyset_path(const std::string& state_dir) {
  return (std::filesystem::path(state_dir) / "keyset").string();
}

StoreResult<std::vector<std::byte>> read_input_file(const std::string& path, std::string_view what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    return plain(fmt::format("{} {} is not a regular file", what, path));
  }
  auto text = os::read_file(path);
  if (!text) {
    if (text.error().err == ENOENT) return plain(fmt::format("{} {} does not exist; check the path", what, path));
    return plain(fmt::format("cannot read {} {}: {}", what, path, text.error().message()));
  }
  return to_bytes(text.value());
}

bool KeysetStore::installed() const {
  struct stat st {};
  return ::lstat(path_.c_str(), &st) == 0;
}

StoreResult<std::vector<std::byte>> KeysetStore::read() const {
  auto text = os::read_private_file(path_);
  if (!text) {
    const int err = text.error().err;
    if (err == ENOENT) {
      return plain(fmt::format("no key set is installed at {}; install one with `cordon keyset install FILE`",
                               path_));
    }
    if (err == EACCES && ::access(path_.c_str(), R_OK) == 0) {
      // read_private_file's refusal: group or others may read it.
      return plain(fmt::format("the installed key set: {}", text.error().message()));
    }
    return plain(fmt::format("cannot read the installed key set: {}", text.error().message()));
  }
  return to_bytes(text.value());
}

StoreResult<keys::KeySetHeader> KeysetStore::header() const {
  auto file = read();
  if (!file) return file.error();
  auto header = keys::parse_keyset_header(file.value());
  if (!header) return failure(header.error(), fmt::format("installed key set {}", path_));
  return header.value();
}

StoreResult<keys::OpenedKeySet> KeysetStore::unlock(std::string_view password) const {
  auto file = read();
  if (!file) return file.error();
  auto opened = keys::open_keyset(file.value(), password);
  if (!opened) return failure(opened.error(), fmt::format("key set {}", path_));
  return std::move(opened.value());
}

StoreResult<keys::OpenedKeySet> KeysetStore::open_with_user_key(const crypto::SecretBytes& user_key) const {
  auto file = read();
  if (!file) return file.error();
  auto opened = keys::open_keyset_with_user_key(file.value(), user_key);
  if (!opened) return failure(opened.error(), fmt::format("key set {}", path_));
  return std::move(opened.value());
}

StoreResult<keys::KeySetHeader> KeysetStore::check_install(std::span<const std::byte> file,
                                                           const std::string& source) const {
  auto header = keys::parse_keyset_header(file);
  if (!header) return failure(header.error(), fmt::format("key set {}", source));
  if (!installed()) return header.value();

  auto current = this->header();
  if (!current) {
    return plain(fmt::format("{}; nothing was changed. If that file is damaged, move it away and install again",
                             current.error().message));
  }
  const keys::KeySetHeader& now = current.value();
  const keys::KeySetHeader& next = header.value();
  if (auto refused = check_same_identity("key set", source, next.host, now.host, path_)) return *refused;
  if (next.version <= now.version) {
    return StoreFailure{
        keys::KeySetError::kStaleVersion,
        fmt::format("key set {} is version {}, {} the installed version {} at {}; nothing was changed. Install a "
                    "newer export (`cordon admin keyset export`), or apply an update package (`cordon update "
                    "apply`)",
                    source, next.version, next.version == now.version ? "the same as" : "older than", now.version,
                    path_)};
  }
  return header.value();
}

StoreResult<InstallReport> KeysetStore::install(std::span<const std::byte> file, std::string_view password,
                                                const std::string& source) const {
  auto lock = lock_directory(path_);
  if (!lock) return lock.error();
  auto checked = check_install(file, source);
  if (!checked) return checked.error();
  std::optional<uint64_t> replaced;
  if (installed()) {
    if (auto current = header()) replaced = current.value().version;
  }

  // Opening verifies every byte: the password opens the user key, which
  // opens the host key, which opens the body; each AEAD covers the header.
  auto opened = keys::open_keyset(file, password);
  if (!opened) return failure(opened.error(), fmt::format("key set {}", source));

  if (auto stored = store(file); !stored) return stored.error();
  note_fresh_keys(path_, opened.value().body.links);  // key_admission.hpp
  return InstallReport{opened.value().header, replaced};
}

StoreResult<StoreDone> KeysetStore::passwd(std::string_view old_password, std::string_view new_password) const {
  if (auto length = keys::check_password_length(new_password); !length) {
    return StoreFailure{keys::KeySetError::kBadPasswordLength, "the new password: " + length.error()};
  }
  auto lock = lock_directory(path_);
  if (!lock) return lock.error();
  auto opened = unlock(old_password);
  if (!opened) return opened.error();

  // A password the user chooses always gets the full Argon2id cost
  // (password.hpp, kdf_policy).
  keys::Salt salt{};
  crypto::XChaChaNonce user_key_nonce{};
  keys::KeySetNonces nonces;
  if (auto f = fill_random(salt)) return *f;
  if (auto f = fill_random(user_key_nonce)) return *f;
  if (auto f = fresh_nonces(nonces)) return *f;
  auto sealed = keys::reseal_with_password(opened.value(), new_password,
                                           keys::kdf_policy(keys::PasswordOrigin::kChosen), salt, user_key_nonce,
                                           nonces);
  if (!sealed) return failure(sealed.error(), fmt::format("key set {}", path_));

  // Check the new file opens with the new password before it replaces the
  // only copy of this host's keys.
  if (auto check = keys::open_keyset(sealed.value(), new_password); !check) {
    return plain(fmt::format("the re-sealed key set does not open with the new password ({}); nothing was changed",
                             check.error().message()));
  }
  return store(sealed.value());
}

StoreResult<keys::UpdateHeader> KeysetStore::check_update(std::span<const std::byte> update,
                                                          const std::string& source) const {
  auto header = keys::parse_update_header(update);
  if (!header) return failure(header.error(), fmt::format("update {}", source));
  auto current = this->header();
  if (!current) return current.error();
  const keys::UpdateHeader& next = header.value();
  const keys::KeySetHeader& now = current.value();
  if (auto refused = check_same_identity("update", source, next.host, now.host, path_)) return *refused;
  if (next.version <= now.version) {
    return StoreFailure{keys::KeySetError::kStaleVersion,
                        fmt::format("update {} brings key set version {}, older than or the same as the installed "
                                    "version {}: already applied or replayed; nothing was changed",
                                    source, next.version, now.version)};
  }
  return next;
}

StoreResult<UpdateReport> KeysetStore::apply_update(std::span<const std::byte> update, std::string_view password,
                                                    const std::string& source) const {
  auto lock = lock_directory(path_);
  if (!lock) return lock.error();
  if (auto checked = check_update(update, source); !checked) return checked.error();
  auto opened = unlock(password);
  if (!opened && opened.error().code == keys::KeySetError::kWrongPassword) {
    // Not the installed key set's password: it may be the new one of a
    // rotated user key, which the package carries.
    if (auto adopted = with_new_user_key(update, password)) return apply_opened(update, *adopted, source, true);
  }
  if (!opened) return opened.error();
  return apply_opened(update, opened.value(), source);
}

std::optional<keys::OpenedKeySet> KeysetStore::with_new_user_key(std::span<const std::byte> update,
                                                                 std::string_view password) const {
  auto installed = header();
  auto package = keys::parse_update_header(update);
  if (!installed || !package) return std::nullopt;
  const keys::HostKeyWrap* wrap = package.value().wrap_for(installed.value().user);
  if (wrap == nullptr) return std::nullopt;
  auto user_key = keys::unwrap_user_key(wrap->user_key, password);
  if (!user_key) return std::nullopt;
  // The package replaces the host key and the body (open_update_for), so
  // only the installed header (for the version checks) is still needed.
  keys::OpenedKeySet adopted;
  adopted.header = installed.value();
  adopted.wrapped_user_key = wrap->user_key;
  adopted.user_key = std::move(user_key.value());
  return adopted;
}

StoreResult<UpdateReport> KeysetStore::apply_update_with_user_key(std::span<const std::byte> update,
                                                                  const crypto::SecretBytes& user_key,
                                                                  const std::string& source) const {
  auto lock = lock_directory(path_);
  if (!lock) return lock.error();
  if (auto checked = check_update(update, source); !checked) return checked.error();
  auto opened = open_with_user_key(user_key);
  if (!opened) return opened.error();
  return apply_opened(update, opened.value(), source);
}

StoreResult<UpdateReport> KeysetStore::apply_opened(std::span<const std::byte> update,
                                                    const keys::OpenedKeySet& installed, const std::string& source,
                                                    bool new_user_key) const {
  // The same checks again, now against the authenticated header.
  auto header = keys::parse_update_header(update);
  if (!header) return failure(header.error(), fmt::format("update {}", source));
  if (auto refused = check_same_identity("update", source, header.value().host, installed.header.host, path_)) {
    return *refused;
  }
  if (header.value().version <= installed.header.version) {
    return StoreFailure{keys::KeySetError::kStaleVersion,
                        fmt::format("update {} brings key set version {}, older than or the same as the installed "
                                    "version {}: already applied or replayed; nothing was changed",
                                    source, header.value().version, installed.header.version)};
  }

  auto opened = keys::open_update_for(update, installed);
  if (!opened && opened.error().code == keys::KeySetError::kWrongUserKey) {
    return StoreFailure{keys::KeySetError::kWrongUserKey,
                        fmt::format("update {} gives user {} a new user key (the administrator reset the password); "
                                    "apply it with the new password the administrator gave you; nothing was changed",
                                    source, installed.header.user)};
  }
  if (!opened) return failure(opened.error(), fmt::format("update {}", source));

  keys::KeySetNonces nonces;
  if (auto f = fresh_nonces(nonces)) return *f;
  auto sealed = keys::apply_update(installed, opened.value(), nonces);
  if (!sealed) return failure(sealed.error(), fmt::format("update {}", source));

  // The new key set must open with the user key the host (and a running
  // daemon) holds, or the daemon could not reload it.
  auto check = keys::open_keyset_with_user_key(sealed.value(), installed.user_key);
  if (!check) {
    return plain(fmt::format("update {}: the updated key set does not open ({}); nothing was changed", source,
                             check.error().message()));
  }
  if (auto stored = store(sealed.value()); !stored) return stored.error();
  note_fresh_keys(path_, check.value().body.links);  // key_admission.hpp
  const size_t entries = check.value().body.book.entries.size();
  return UpdateReport{opened.value().header, installed.header.version, entries > 0 ? entries - 1 : 0,
                      new_user_key};
}

StoreResult<StoreDone> KeysetStore::store(std::span<const std::byte> file) const {
  // The directory exists: the caller holds its lock (lock_directory).
  if (auto written = os::write_file_atomic(path_, file, 0600); !written) {
    return plain(fmt::format("cannot store the key set at {}: {}; the installed key set is unchanged", path_,
                             written.error().message()));
  }
  return StoreDone{};
}

}  // namespace cordon::daemon
