// `network init` / `network show` / `network set`, and opening the facade
// (admin.hpp).
#include <sys/stat.h>

#include <filesystem>

#include "admin/addressing.hpp"
#include "admin/internal.hpp"
#include "admin/schema.hpp"
#include "os/linux/files.hpp"
#include "os/linux/random.hpp"

namespace cordon::admin {
namespace {

void check_network_spec(const NetworkSpec& spec) {
  if (spec.number == 0) throw AdminError("--number: the network number must be 1 to 65535");
  check_name(spec.name, "network name");
  if (!spec.ipv4.address.is_v4()) {
    throw AdminError(fmt::format("--ipv4: {} is not an IPv4 prefix", spec.ipv4.to_string()));
  }
  if (!host_bits_zero(spec.ipv4)) {
    throw AdminError(fmt::format("--ipv4: {} has host bits set; did you mean {}?", spec.ipv4.to_string(),
                                 masked(spec.ipv4).to_string()));
  }
  if (max_offset(spec.ipv4) == 0) {
    throw AdminError(
        fmt::format("--ipv4: {} is too small for any host; use a prefix of /30 or shorter", spec.ipv4.to_string()));
  }
  if (spec.ipv6) {
    if (spec.ipv6->address.is_v4()) {
      throw AdminError(fmt::format("--ipv6: {} is not an IPv6 prefix", spec.ipv6->to_string()));
    }
    if (!host_bits_zero(*spec.ipv6)) {
      throw AdminError(fmt::format("--ipv6: {} has host bits set; did you mean {}?", spec.ipv6->to_string(),
                                   masked(*spec.ipv6).to_string()));
    }
    if (max_offset(*spec.ipv6) == 0) {
      throw AdminError(fmt::format("--ipv6: {} is too small for any host", spec.ipv6->to_string()));
    }
  }
}

void prepare_parent_directory(const std::string& path) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) return;
  if (auto st = os::ensure_dir(parent.string(), 0700); !st) {
    throw AdminError(fmt::format("cannot create the directory for the network database: {}", st.error().message()));
  }
}

}  // namespace

Admin::Admin(Database db) : db_(std::move(db)) {}
Admin::Admin(Admin&&) noexcept = default;
Admin& Admin::operator=(Admin&&) noexcept = default;
Admin::~Admin() = default;

HostId Admin::host_id(uint16_t number) const { return HostId{(uint32_t{network_.number} << 16) | number}; }

NetworkSpec load_network(Database& db) {
  // Read, then reset at once: a cached statement left stepped would hold
  // its read snapshot, and a long-running console would neither see other
  // administrators' changes nor be able to write after them.
  Statement& st = db.cached("SELECT number, name, ipv4, ipv6 FROM network WHERE id = 1");
  if (!st.step()) {
    st.reset();
    throw AdminError(fmt::format("network database {} has no network yet; run `cordon admin network init`", db.path()));
  }
  NetworkSpec spec;
  spec.number = static_cast<uint16_t>(st.int64(0));
  spec.name = st.text(1);
  const std::string ipv4 = st.text(2);
  const std::optional<std::string> ipv6 = st.is_null(3) ? std::nullopt : std::optional(st.text(3));
  st.reset();
  const auto v4 = Prefix::parse(ipv4);
  if (!v4) throw AdminError(fmt::format("network database {}: network.ipv4 is damaged", db.path()));
  spec.ipv4 = *v4;
  if (ipv6) {
    const auto v6 = Prefix::parse(*ipv6);
    if (!v6) throw AdminError(fmt::format("network database {}: network.ipv6 is damaged", db.path()));
    spec.ipv6 = *v6;
  }
  return spec;
}

int64_t load_rekey_period(Database& db) {
  Statement& st = db.cached("SELECT rekey_period FROM network WHERE id = 1");
  if (!st.step()) {
    throw AdminError(fmt::format("network database {} has no network yet; run `cordon admin network init`", db.path()));
  }
  const int64_t seconds = st.int64(0);
  st.reset();
  return seconds;
}

Admin Admin::init(const std::string& path, const NetworkSpec& spec) {
  check_network_spec(spec);
  (void)os::init_crypto();
  if (!is_postgres_uri(path)) prepare_parent_directory(path);
  Admin admin(Database::open(path, Database::Mode::kCreate));
  try {
    const std::string args = fmt::format("number={} name={} ipv4={}{}", spec.number, spec.name, spec.ipv4.to_string(),
                                         spec.ipv6 ? " ipv6=" + spec.ipv6->to_string() : "");
    run_command(admin.db_, nullptr, "network init", args, [&] {
      admin.db_.cached("INSERT INTO network (id, number, name, ipv4, ipv6, created_at) VALUES (1, ?1, ?2, ?3, ?4, ?5)")
          .bind(1, int64_t{spec.number})
          .bind(2, spec.name)
          .bind(3, spec.ipv4.to_string())
          .bind(4, spec.ipv6 ? std::optional<std::string>(spec.ipv6->to_string()) : std::nullopt)
          .bind(5, now_seconds())
          .run();
    });
  } catch (...) {
    // Don't leave a half-made database behind: the next `init` must work.
    admin.db_.discard();
    throw;
  }
  admin.network_ = spec;
  return admin;
}

Admin Admin::open(const std::string& path) {
  (void)os::init_crypto();
  Admin admin(Database::open(path, Database::Mode::kOpenExisting));
  Transaction tx(admin.db_, Transaction::Kind::kRead);
  admin.network_ = load_network(admin.db_);
  tx.commit();
  return admin;
}

NetworkInfo Admin::network_info() {
  return run_query(db_, batch_, [&] {
    NetworkInfo info;
    info.spec = load_network(db_);
    info.schema_version = db_.user_version();
    info.rekey_period = load_rekey_period(db_);
    Statement st = db_.prepare(
        "SELECT (SELECT created_at FROM network WHERE id = 1), (SELECT COUNT(*) FROM hosts), "
        "(SELECT COUNT(*) FROM hosts WHERE role = 2), (SELECT COUNT(*) FROM users), "
        "(SELECT COUNT(*) FROM host_groups), (SELECT COUNT(*) FROM links), "
        "(SELECT COUNT(*) FROM hosts WHERE dirty <> 0)");
    st.step();
    info.created_at = st.int64(0);
    info.hosts = st.int64(1);
    info.coordinators = st.int64(2);
    info.users = st.int64(3);
    info.groups = st.int64(4);
    info.links = st.int64(5);
    info.dirty_hosts = st.int64(6);
    info.admin_host = load_admin_host(db_);
    if (info.admin_host) {
      Statement& name = db_.cached("SELECT name FROM hosts WHERE id = ?1");
      name.bind(1, sql_id(*info.admin_host));
      if (name.step()) info.admin_host_name = name.text(0);
      name.reset();
    }
    if (const std::optional<AdminRoute> route = load_admin_route(db_)) info.admin_courier = route->courier;
    return info;
  });
}

RekeyPeriodChange Admin::set_rekey_period(int64_t seconds) {
  return run_command(db_, batch_, "network set", fmt::format("rekey-period={}", seconds), [&] {
    if (!keys::rekey_period_allowed(seconds)) {
      throw AdminError(fmt::format("--rekey-period: {} is out of range; it must be {}; nothing was changed", seconds,
                                   keys::rekey_period_range()));
    }
    RekeyPeriodChange change{load_rekey_period(db_), seconds, 0};
    if (change.previous != seconds) {
      db_.cached("UPDATE network SET rekey_period = ?1 WHERE id = 1").bind(1, seconds).run();
      // Every key set carries it: a setting of the whole network, not a key.
      mark_all_dirty(db_, DirtyKind::kAddressBook);
    }
    Statement& st = db_.cached("SELECT COUNT(*) FROM hosts WHERE dirty <> 0");
    st.step();
    change.dirty_hosts = st.int64(0);
    st.reset();
    return change;
  });
}

std::vector<AuditEntry> Admin::audit_log(int64_t limit) {
  return run_query(db_, batch_, [&] { return read_audit(db_, limit); });
}

Admin::Batch::Batch(Admin& admin) : admin_(admin) {
  if (admin_.batch_ != nullptr) throw AdminError("a batch is already open on this database");
  tx_ = std::make_unique<Transaction>(admin_.db_, Transaction::Kind::kWrite);
  admin_.batch_ = tx_.get();
}

Admin::Batch::~Batch() { admin_.batch_ = nullptr; }

void Admin::Batch::commit() {
  record_audit(admin_.db_, "batch", "", "ok");
  tx_->commit();
  admin_.batch_ = nullptr;
}

}  // namespace cordon::admin
