// The encrypted network backup (backup.hpp).
#include "admin/backup.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "admin/copy.hpp"
#include "admin/internal.hpp"
#include "admin/schema.hpp"
#include "admin/staged_files.hpp"
#include "core/crypto/xchacha.hpp"
#include "core/wire/byte_io.hpp"
#include "os/linux/files.hpp"
#include "os/linux/random.hpp"

namespace cordon::admin {
namespace {

constexpr size_t kHeaderSize = 8 + 2 + 1 + 4 + 4 + keys::kSaltSize + crypto::kXChaChaNonceSize + 8;

// A private in-memory connection, closed on scope exit.
struct MemoryDb {
  sqlite3* db = nullptr;
  MemoryDb() {
    if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
      throw AdminError("cannot open an in-memory database for the backup");
    }
  }
  ~MemoryDb() { sqlite3_close_v2(db); }
  MemoryDb(const MemoryDb&) = delete;
  MemoryDb& operator=(const MemoryDb&) = delete;
};

crypto::SecretBytes derive_key(std::string_view password, const keys::Salt& salt, const keys::KdfParams& kdf) {
  if (auto bad = keys::check_password_length(password); !bad) throw AdminError("backup password: " + bad.error());
  if (!keys::kdf_supported(kdf)) {
    throw AdminError("the backup names key-derivation parameters out of bounds; it is damaged or not a backup");
  }
  auto key = keys::derive_password_key(password, salt, kdf);
  if (!key) throw AdminError("Argon2id could not run (not enough memory for the backup password's key)");
  return std::move(*key);
}

}  // namespace

namespace {

// The image of an SQLite connection's database.
crypto::SecretBytes image_of(sqlite3* source, const std::string& name) {
  MemoryDb mem;
  sqlite3_backup* backup = sqlite3_backup_init(mem.db, "main", source, "main");
  if (backup == nullptr) throw AdminError(std::string("cannot start the backup: ") + sqlite3_errmsg(mem.db));
  const int rc = sqlite3_backup_step(backup, -1);
  sqlite3_backup_finish(backup);
  if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
    throw DatabaseLocked(
        fmt::format("network database {} is locked by another `cordon admin` command; wait for it to "
                    "finish and run this command again",
                    name));
  }
  if (rc != SQLITE_DONE) throw AdminError(fmt::format("network database {}: backup failed: {}", name, sqlite3_errstr(rc)));
  sqlite3_int64 size = 0;
  unsigned char* data = sqlite3_serialize(mem.db, "main", &size, 0);
  if (data == nullptr) throw AdminError("cannot serialise the database for the backup (out of memory?)");
  crypto::SecretBytes image(
      std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), static_cast<size_t>(size)));
  // Bytes 18 and 19 of the header are the file format's read/write
  // versions, 2 in WAL mode (https://sqlite.org/fileformat2.html, 1.3.3).
  // The image is written back as a plain file without its -wal companion,
  // so mark it as a rollback-journal database; opening it turns WAL on again.
  if (image.size() >= 20) {
    image.mutable_view()[18] = std::byte{1};
    image.mutable_view()[19] = std::byte{1};
  }
  crypto::wipe(std::span<std::byte>(reinterpret_cast<std::byte*>(data), static_cast<size_t>(size)));
  sqlite3_free(data);
  return image;
}

}  // namespace

crypto::SecretBytes snapshot_database(Database& db) {
  if (db.backend() == Backend::kSqlite) return image_of(db.handle(), db.path());
  // A PostgreSQL database: its rows, from one snapshot, copied into an
  // SQLite database in memory, whose image is the backup's plaintext as for
  // an SQLite database (docs/administration.md, "PostgreSQL").
  Database mem = Database::open_memory();
  Transaction read(db, Transaction::Kind::kRead);
  Transaction write(mem, Transaction::Kind::kMigration);
  (void)copy_tables(db, mem);
  write.commit();
  read.commit();
  return image_of(mem.handle(), db.path());
}

std::vector<std::byte> seal_backup(const crypto::SecretBytes& image, std::string_view password) {
  const keys::KdfParams kdf = keys::kdf_policy(keys::PasswordOrigin::kChosen);
  const auto salt = random_array<keys::kSaltSize>();
  const auto nonce = random_array<crypto::kXChaChaNonceSize>();
  const crypto::SecretBytes key = derive_key(password, salt, kdf);

  std::vector<std::byte> out(kHeaderSize + image.size() + crypto::kXChaChaTagSize);
  wire::ByteWriter w(out);
  w.text(kBackupMagic);
  w.u16(kBackupFormat);
  w.u8(static_cast<uint8_t>(kdf.alg));
  w.u32(kdf.opslimit);
  w.u32(kdf.memlimit);
  w.bytes(salt);
  w.bytes(nonce);
  w.u64(image.size());
  const auto header = std::span<const std::byte>(out).first(kHeaderSize);
  if (!crypto::xchacha_seal(key.view(), nonce, header, image.view(), w.rest())) {
    throw AdminError("cannot encrypt the backup");
  }
  return out;
}

crypto::SecretBytes open_backup(std::span<const std::byte> file, std::string_view password) {
  wire::ByteReader r(file);
  const auto magic = r.bytes(kBackupMagic.size());
  if (!magic) throw AdminError("the file is too short to be a Cordon network backup");
  if (std::memcmp(magic->data(), kBackupMagic.data(), kBackupMagic.size()) != 0) {
    throw AdminError("the file is not a Cordon network backup (made by `cordon admin network export`)");
  }
  const auto format = r.u16();
  const auto alg = r.u8();
  const auto ops = r.u32();
  const auto mem = r.u32();
  keys::Salt salt{};
  crypto::XChaChaNonce nonce{};
  const bool ok_salt = r.copy(salt);
  const bool ok_nonce = r.copy(nonce);
  const auto length = r.u64();
  if (!format || !alg || !ops || !mem || !ok_salt || !ok_nonce || !length) {
    throw AdminError("the backup ends early; copy it again");
  }
  if (*format != kBackupFormat) {
    throw AdminError(
        fmt::format("the backup has format {}, newer than this cordon understands ({}); use a newer "
                    "cordon",
                    *format, kBackupFormat));
  }
  if (*length > r.remaining() || r.remaining() - *length != crypto::kXChaChaTagSize) {
    throw AdminError(
        fmt::format("the backup should hold {} bytes after its header but holds {}; it is truncated or "
                    "damaged, copy it again",
                    *length + crypto::kXChaChaTagSize, r.remaining()));
  }
  const keys::KdfParams kdf{static_cast<keys::KdfAlg>(*alg), *ops, *mem};
  if (*alg != static_cast<uint8_t>(keys::KdfAlg::kArgon2id13)) {
    throw AdminError("the backup names an unknown key-derivation function; it is damaged or from a newer cordon");
  }
  const crypto::SecretBytes key = derive_key(password, salt, kdf);
  const auto header = file.first(kHeaderSize);
  crypto::SecretBytes image(static_cast<size_t>(*length));
  if (!crypto::xchacha_open(key.view(), nonce, header, file.subspan(kHeaderSize), image.mutable_view())) {
    throw AdminError("the backup password is wrong, or the backup was altered or damaged; check the password");
  }
  return image;
}

uint16_t check_image(const crypto::SecretBytes& image) {
  MemoryDb mem;
  const auto size = static_cast<sqlite3_int64>(image.size());
  auto* buf = static_cast<unsigned char*>(sqlite3_malloc64(static_cast<sqlite3_uint64>(size)));
  if (buf == nullptr) throw AdminError("out of memory while checking the backup");
  std::memcpy(buf, image.view().data(), image.size());
  // SQLITE_DESERIALIZE_FREEONCLOSE: SQLite owns (and frees) the copy.
  if (sqlite3_deserialize(mem.db, "main", buf, size, size,
                          SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_READONLY) != SQLITE_OK) {
    throw AdminError("the backup does not hold an SQLite database");
  }
  auto scalar = [&](const char* sql) -> std::optional<std::string> {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(mem.db, sql, -1, &st, nullptr) != SQLITE_OK) return std::nullopt;
    std::optional<std::string> out;
    if (sqlite3_step(st) == SQLITE_ROW) {
      const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
      out = t != nullptr ? std::string(t) : std::string();
    }
    sqlite3_finalize(st);
    return out;
  };
  if (scalar("PRAGMA integrity_check") != std::optional<std::string>("ok")) {
    throw AdminError("the database inside the backup fails PRAGMA integrity_check; it cannot be restored");
  }
  const auto version = scalar("PRAGMA user_version");
  const int64_t v = version ? std::stoll(*version) : 0;
  if (v > latest_schema_version()) {
    throw AdminError(
        fmt::format("the backup has schema version {}, newer than this cordon understands (up to {}); "
                    "use the cordon release that made it",
                    v, latest_schema_version()));
  }
  const auto number = scalar("SELECT number FROM network WHERE id = 1");
  if (v < 1 || !number) throw AdminError("the backup holds no Cordon network");
  return static_cast<uint16_t>(std::stoul(*number));
}

// `network import --db postgresql://...`: the image, brought up to date in
// memory, copied into an empty PostgreSQL database in one transaction.
NetworkInfo Admin::import_into_postgres(const crypto::SecretBytes& image, const std::string& backup_file,
                                        const std::string& uri) {
  Database mem = Database::open_memory();
  const auto size = static_cast<sqlite3_int64>(image.size());
  auto* buf = static_cast<unsigned char*>(sqlite3_malloc64(static_cast<sqlite3_uint64>(size)));
  if (buf == nullptr) throw AdminError("out of memory while restoring the backup");
  std::memcpy(buf, image.view().data(), image.size());
  if (sqlite3_deserialize(mem.handle(), "main", buf, size, size,
                          SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_RESIZEABLE) != SQLITE_OK) {
    throw AdminError("the backup does not hold an SQLite database");
  }
  mem.exec("PRAGMA journal_mode=MEMORY");  // the image may say WAL, which an in-memory database cannot keep
  {
    Transaction tx(mem, Transaction::Kind::kMigration);
    mem.apply_migrations();
    tx.commit();
  }
  Database target = Database::open(uri, Database::Mode::kCreateEmpty);
  (void)copy_network(mem, target, "network import", "from=" + backup_file);
  return Admin::open(uri).network_info();
}

void Admin::export_backup(const std::string& out_file, std::string_view password) {
  const std::string args = "out=" + out_file;
  if (batch_ != nullptr) throw AdminError("`network export` cannot run inside a batch; commit the batch first");
  try {
    if (auto bad = keys::check_password_length(password); !bad) throw AdminError("backup password: " + bad.error());
    // The image is a read snapshot of its own, not part of a write
    // transaction: SQLite's backup API cannot read through a connection
    // that is writing (sqlite3_backup_step answers SQLITE_LOCKED).
    const crypto::SecretBytes image = snapshot_database(db_);
    const std::vector<std::byte> sealed = seal_backup(image, password);
    write_private_file(out_file, sealed);
  } catch (const DatabaseLocked&) {
    throw;
  } catch (const AdminError& e) {
    record_refusal(db_, "network export", args, e.what());
    throw;
  }
  run_command(db_, batch_, "network export", args, [] {});
}

NetworkInfo Admin::import_backup(const std::string& backup_file, const std::string& path, std::string_view password) {
  (void)os::init_crypto();
  std::error_code ec;
  if (!is_postgres_uri(path) && std::filesystem::exists(path, ec)) {
    throw AdminError(
        fmt::format("{} already exists; `network import` never overwrites a network database (move it "
                    "away or pass another --db)",
                    path));
  }
  auto bytes = os::read_file(backup_file, size_t{4} << 30);
  if (!bytes) throw AdminError(fmt::format("{}: {}", backup_file, bytes.error().message()));
  const auto file = std::as_bytes(std::span(bytes.value().data(), bytes.value().size()));
  crypto::SecretBytes image;
  try {
    image = open_backup(file, password);
  } catch (const AdminError& e) {
    throw AdminError(fmt::format("{}: {}", backup_file, e.what()));
  }
  (void)check_image(image);
  if (is_postgres_uri(path)) return import_into_postgres(image, backup_file, path);

  // Write the image next to its final name, then link(2) it into place:
  // link fails if the name exists, so an existing database is never
  // replaced, even one created since the check above.
  const std::filesystem::path target(path);
  if (!target.parent_path().empty()) {
    if (auto st = os::ensure_dir(target.parent_path().string(), 0700); !st) {
      throw AdminError(fmt::format("--db: {}", st.error().message()));
    }
  }
  const std::string temp = path + ".import-tmp";
  std::filesystem::remove(temp, ec);
  write_private_file(temp, image.view());
  const int rc = ::link(temp.c_str(), path.c_str());
  const int err = errno;
  std::filesystem::remove(temp, ec);
  if (rc != 0) {
    throw AdminError(fmt::format("cannot create {}: {}", path, std::strerror(err)));
  }
  Admin admin = Admin::open(path);
  run_command(admin.db_, nullptr, "network import", "from=" + backup_file, [] {});
  return admin.network_info();
}

}  // namespace cordon::admin
