// The encrypted network backup (`network export` / `network import`).
//
// File layout (big-endian):
//
//   +--------------+----------+-----------+------------+------------+---------+
//   | "CRDNBKUP" 8 | format 2 | kdf alg 1 | opslimit 4 | memlimit 4 | salt 16 |
//   +--------------+----------+-----------+------------+------------+---------+
//   | nonce 24 | length 8 | ciphertext (length) | tag 16 |
//   +----------+----------+---------------------+--------+
//
// The plaintext is a consistent image of the SQLite database (backup API
// into memory, then sqlite3_serialize), so the backup never touches the
// disk unencrypted. Key = Argon2id(backup password, salt) with the
// chosen-password cost (3 passes, 64 MiB; core/keys/password.hpp): the
// backup holds every key of the network. Cipher: XChaCha20-Poly1305
// (crypto/xchacha.hpp), AAD = every byte before the ciphertext, so the
// header is authenticated too.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/crypto/secret.hpp"
#include "core/keys/password.hpp"

namespace cordon::admin {

class Database;

constexpr std::string_view kBackupMagic = "CRDNBKUP";
constexpr uint16_t kBackupFormat = 1;

// The database image (a read snapshot). Throws AdminError.
crypto::SecretBytes snapshot_database(Database& db);

// Seals an image. Randomness (salt, nonce) is drawn here (os::random_bytes).
std::vector<std::byte> seal_backup(const crypto::SecretBytes& image, std::string_view password);

// Opens a backup file: the image, or AdminError naming what is wrong
// (truncated, not a backup, newer format, wrong password or damaged).
crypto::SecretBytes open_backup(std::span<const std::byte> file, std::string_view password);

// Checks that an image is a Cordon network database this program can use
// (integrity_check, schema version, a network row); returns the network
// number. Throws AdminError.
uint16_t check_image(const crypto::SecretBytes& image);

}  // namespace cordon::admin
