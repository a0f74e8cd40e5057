// `updates build`: one package per dirty host (admin.hpp; format in
// core/keys/update_package.hpp; classification in dirty.hpp).
//
// Everything happens in the command's one transaction: each dirty host gets
// its next key-set version and a package sealed under the host key it holds,
// or, when its host key was replaced (keys.cpp), under the new host key with
// one wrap of it per current user; the files are staged and renamed into
// --out, and only then does COMMIT mark them built. If the transaction
// fails, nothing is marked built and the next build makes them again.
// Each package is also stored in deliveries, for `updates send` (delivery.cpp),
// with its urgent mark and the courier that hands it over; the files in
// --out are for carrying by hand, and --out may be left out.
#include <algorithm>
#include <optional>

#include "admin/internal.hpp"
#include "admin/snapshot.hpp"
#include "admin/staged_files.hpp"
#include "core/keys/update_package.hpp"

namespace cordon::admin {
namespace {

// Above this many dirty hosts, reading the whole network in one query per
// table is cheaper than per-host lookups.
constexpr size_t kLoadAllThreshold = 512;

struct DirtyHost {
  HostId id;
  std::string name;
  DirtyKind kind;
  bool exported;
  uint64_t version;
  bool urgent;
  HostId via;  // the courier that hands its packages over (docs/couriers.md)
};

std::vector<DirtyHost> dirty_hosts(Database& db) {
  std::vector<DirtyHost> out;
  Statement st = db.prepare(
      "SELECT id, name, dirty, exported, keyset_version, urgent, CASE WHEN role = 2 THEN id ELSE courier END "
      "FROM hosts WHERE dirty <> 0 ORDER BY id");
  while (st.step()) {
    out.push_back(DirtyHost{host_from_sql(st.int64(0)), st.text(1), static_cast<DirtyKind>(st.int64(2)),
                            st.int64(3) != 0, static_cast<uint64_t>(st.int64(4)), st.int64(5) != 0,
                            st.is_null(6) ? HostId{} : host_from_sql(st.int64(6))});
  }
  return out;
}

}  // namespace

std::vector<PendingUpdate> Admin::pending_updates() {
  return run_query(db_, batch_, [&] {
    std::vector<PendingUpdate> out;
    for (const DirtyHost& d : dirty_hosts(db_)) out.push_back(PendingUpdate{d.id, d.name, d.kind, d.exported, d.urgent});
    return out;
  });
}

BuildResult Admin::build_updates(const std::string& out_dir) {
  return run_command(db_, batch_, "updates build", out_dir.empty() ? std::string("out=none") : "out=" + out_dir, [&] {
    BuildResult result;
    std::vector<DirtyHost> build;
    for (DirtyHost& d : dirty_hosts(db_)) {
      // A host without a key set has no host key to open a package with.
      if (d.exported) {
        build.push_back(std::move(d));
      } else {
        result.awaiting_keyset.emplace_back(d.id, d.name);
      }
    }
    if (build.empty()) return result;

    std::vector<HostId> ids;
    for (const DirtyHost& d : build) ids.push_back(d.id);
    const Snapshot snapshot =
        build.size() > kLoadAllThreshold ? Snapshot::load_all(db_, network_) : Snapshot::load_for(db_, network_, ids);
    std::optional<StagedFiles> files;
    if (!out_dir.empty()) files.emplace(out_dir);
    for (const DirtyHost& d : build) {
      Statement& keys_row = db_.cached("SELECT host_key, next_host_key FROM hosts WHERE id = ?1");
      keys_row.bind(1, sql_id(d.id));
      keys_row.step();
      const crypto::SecretBytes host_key(keys_row.blob(0));
      const crypto::SecretBytes next_key =
          keys_row.is_null(1) ? crypto::SecretBytes() : crypto::SecretBytes(keys_row.blob(1));
      keys_row.reset();

      keys::UpdateHeader header;
      header.host = d.id;
      header.version = d.version + 1;
      // A rotated host key is a keys change whatever the mark says.
      header.kind = next_key.empty() ? update_kind(d.kind) : keys::UpdateKind::kKeys;
      header.new_host_key = !next_key.empty();
      const keys::KeySetBody body = snapshot.body_for(d.id);
      const auto nonce = random_array<crypto::kXChaChaNonceSize>();
      // A new host key goes to the host's current users only, each under
      // its own user key (a removed user has none here).
      const auto users = next_key.empty() ? std::vector<keys::UserKeyHolder>() : user_key_holders(db_, d.id);
      if (!next_key.empty() && users.empty()) {
        throw AdminError(fmt::format("cannot build the update of {}: its host key was replaced but it has no user to "
                                     "receive it; add one (`cordon admin user add --host {} --name NAME`) and build "
                                     "again",
                                     host_label(db_, d.id), d.id.to_string()));
      }
      auto package = keys::seal_update(header, host_key, next_key, body, nonce, users);
      if (!package) {
        throw AdminError(
            fmt::format("cannot build the update of {}: {}", host_label(db_, d.id), package.error().message()));
      }
      BuiltPackage built{d.id,
                         d.name,
                         header.version,
                         header.kind == keys::UpdateKind::kKeys ? DirtyKind::kKeys : DirtyKind::kAddressBook,
                         header.new_host_key,
                         d.urgent,
                         d.via,
                         body.links.size(),
                         {}};
      if (files) built.path = files->add(fmt::format("{}-v{}.update", d.id.to_string(), header.version), package.value());
      db_.cached(
             "UPDATE hosts SET keyset_version = ?1, dirty = 0, urgent = 0, "
             "host_key = COALESCE(next_host_key, host_key), next_host_key = NULL WHERE id = ?2")
          .bind(1, static_cast<int64_t>(header.version))
          .bind(2, sql_id(d.id))
          .run();
      store_delivery(db_, built, package.value());
      result.packages.push_back(std::move(built));
    }
    if (files) files->publish();
    return result;
  });
}

}  // namespace cordon::admin
