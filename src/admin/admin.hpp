// The administrator's facade over the network database: every `cordon admin`
// command is one call here, one transaction (database.hpp), one audit row.
// The CLI (src/cli/admin_*.cpp) and bench/admin_scale.cpp use only this
// header, and delivery.hpp for the control requests of couriers.
//
// Hosts are named by ID (0xNNNNHHHH) or name wherever a HostRef is taken.
// Errors are AdminError with a one-line message that names the host, field
// or file and says what to do; nothing is changed when one is thrown.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "admin/database.hpp"
#include "admin/dirty.hpp"
#include "core/crypto/secret.hpp"
#include "core/keys/address_book.hpp"
#include "core/keys/keyset.hpp"
#include "core/keys/password.hpp"
#include "core/types.hpp"

namespace cordon::admin {

using keys::Role;

constexpr const char* kDefaultDatabasePath = "/var/lib/cordon/admin.db";

// ---- Network --------------------------------------------------------------

struct NetworkSpec {
  uint16_t number = 0;  // 1..65535
  std::string name;
  Prefix ipv4;  // tunnel addresses are allocated from these
  std::optional<Prefix> ipv6;
};

struct NetworkInfo {
  NetworkSpec spec;
  int64_t created_at = 0;  // Unix seconds
  int64_t schema_version = 0;
  int64_t rekey_period = keys::kDefaultRekeyPeriod;  // seconds; 0 = off
  // The administration host (docs/couriers.md), if designated, and its
  // courier: 0 when the host is a client without one (then key sets carry
  // neither).
  std::optional<HostId> admin_host;
  std::string admin_host_name;
  HostId admin_courier;
  int64_t hosts = 0, coordinators = 0, users = 0, groups = 0, links = 0, dirty_hosts = 0;
};

// `network set --rekey-period`: the period before and after, and how many
// hosts now wait for an update.
struct RekeyPeriodChange {
  int64_t previous = 0, current = 0;
  int64_t dirty_hosts = 0;
};


// ---- Hosts ----------------------------------------------------------------

// The client's coordinators: its registry, rendezvous and courier, one
// coordinator for all three by default, each settable on its own
// (docs/administration.md, "Concepts"). Each is a HostRef; "coordinator" sets all
// three, the others override it.
struct CoordinatorChoice {
  std::optional<std::string> coordinator, registry, rendezvous, courier;
  bool any() const { return coordinator || registry || rendezvous || courier; }
};

// An IPsec peer's subnet: a LAN behind a third-party IPsec gateway, or a
// remote-access pool, that a coordinator's IPsec gateway reaches
// (docs/ipsec.md, "Routing IPsec subnets from Cordon hosts"). Hosts route
// it to that coordinator like a tunneled subnet; `peer` names the IPsec
// connection for the administrator only and never leaves the database.
struct IpsecSubnet {
  Prefix prefix;
  std::string peer;  // empty: no name given
  // "10.50.0.0/24=branch-office", or the prefix alone without a peer.
  std::string to_string() const;
  // The same text back; nullopt when the part before '=' is no prefix or
  // nothing follows '=' (the peer name is checked where it is stored).
  static std::optional<IpsecSubnet> parse(std::string_view text);
  friend bool operator==(const IpsecSubnet&, const IpsecSubnet&) = default;
};

struct HostSpec {
  std::string name;
  Role role = Role::kClient;
  std::optional<HostId> id;  // nullopt: the lowest free host number
  std::vector<Endpoint> endpoints;
  CoordinatorChoice coordinators;
  std::vector<Prefix> subnets;  // tunneled subnets: coordinators (gateways) only
  std::vector<IpsecSubnet> ipsec_subnets;  // IPsec peers' subnets: coordinators only
  bool admin_host = false;      // designate it the administration host (set_admin_host)
};

struct HostChange {
  std::optional<std::string> name;
  std::optional<Role> role;
  std::optional<std::vector<Endpoint>> endpoints;  // replaces the list; empty clears it
  CoordinatorChoice coordinators;
  bool clear_coordinators = false;
  std::optional<std::vector<Prefix>> subnets;  // replaces the list; empty clears it
  std::optional<std::vector<IpsecSubnet>> ipsec_subnets;  // the same
};

struct HostInfo {
  HostId id;
  std::string name;
  Role role = Role::kClient;
  std::optional<Prefix> tunnel_v4, tunnel_v6;  // address with the network's prefix length
  std::vector<Endpoint> endpoints;
  HostId registry, rendezvous, courier;  // 0 = none
  std::vector<Prefix> subnets;
  std::vector<IpsecSubnet> ipsec_subnets;
  uint64_t keyset_version = 0;  // last version exported or built
  bool exported = false;        // a key set was exported at least once
  DirtyKind dirty = DirtyKind::kNone;
  bool host_key_rotation_pending = false;
  int64_t created_at = 0;
  // Filled by show_host only:
  std::vector<std::string> users;
  std::vector<std::string> groups;
  std::vector<HostId> peers;
};

// ---- Users, groups, links -------------------------------------------------

struct UserInfo {
  HostId host;
  std::string host_name;
  std::string name;
  bool generated_password = false;
  keys::KdfParams kdf;
  int64_t created_at = 0;
};

// What `user passwd` does with the user key (docs/administration.md,
// "Resetting a password at the administrator"): kDefault rotates it for a
// forced reset (a generated password) and keeps it for a chosen one.
enum class UserKeyChoice : uint8_t { kDefault, kRotate, kKeep };

struct RotateResult {
  size_t link_keys = 0;
  size_t host_keys = 0;
};

struct NewPassword {
  UserInfo user;
  // The generated password, to be shown once; empty when the password was
  // chosen (--password-file).
  crypto::SecretBytes generated;
  bool user_key_rotated = false;  // user passwd only
  RotateResult rotated;           // keys replaced with it (none for a host without a key set)
};

struct GroupInfo {
  std::string name;
  std::vector<std::pair<HostId, std::string>> members;
  std::vector<std::string> linked_groups;
};

// ---- Filter rules (docs/gateways.md, "Central rules") ----------------------

// Whom a rule is for: one host (by ID or name) or one group.
struct FilterTarget {
  enum class Kind : uint8_t { kHost, kGroup } kind = Kind::kHost;
  std::string name;
};

// What a rule filters: protected traffic (inside the tunnel; the grammar of
// docs/gateways.md, "Rules") or open traffic (the host's firewall; the
// grammar of docs/firewall.md, "Rules").
enum class FilterTraffic : uint8_t { kProtected, kOpen };
// "protected" or "open", as the database, `filter list` and --json write it.
inline const char* filter_traffic_name(FilterTraffic t) {
  return t == FilterTraffic::kOpen ? "open" : "protected";
}

struct FilterRuleInfo {
  int64_t number = 0;  // never reused
  int64_t position = 0;
  FilterTraffic traffic = FilterTraffic::kProtected;
  FilterTarget target;            // the host's name, or the group's
  std::optional<HostId> host;     // the host's ID, for a host rule
  std::string text;               // as written
  // The text a host receives (peers by host ID), or empty when its peers
  // name no host any more (a removed host, an empty group): then no host
  // receives it.
  std::string exported;
  int64_t created_at = 0;
};

// ---- Reach limits (docs/gateways.md, "Reach") ------------------------------

struct ReachInfo {
  HostId gateway;
  std::string gateway_name;
  FilterTarget who;  // the host or group limited
  std::vector<Prefix> prefixes;
};

struct LinkInfo {
  HostId a, b;
  std::string a_name, b_name;
  // Why the link exists: "manual", "coordinator", "courier" (the
  // administration courier and another coordinator), "group G-H"; a link
  // is removed when nothing asks for it any more.
  std::vector<std::string> reasons;
  int64_t created_at = 0;
  std::optional<int64_t> rotated_at;
};

struct LinkChange {
  std::vector<std::pair<HostId, HostId>> added;    // new pairs (new keys)
  std::vector<std::pair<HostId, HostId>> removed;  // pairs gone (keys dropped at the next update)
  size_t unchanged = 0;                            // pairs that already existed / still needed
  // `link add` on a pair already linked for another reason: which reason,
  // and that no key was made (the link is now also an explicit one).
  std::optional<std::string> already_linked;
};

// `network set --admin-host`: the administration host before and after,
// the administration courier now (0: none), how many hosts now wait for an
// update, and the courier links made or dropped.
struct AdminHostChange {
  std::optional<HostId> previous, current;
  HostId courier;
  int64_t dirty_hosts = 0;
  LinkChange links;
};

// ---- Keys, exports, updates -------------------------------------------------

struct ExportedKeySet {
  HostId host;
  std::string host_name;
  std::string user;
  uint64_t version = 0;
  std::string path;
  size_t peers = 0;
  size_t rotated_links = 0;  // link keys renewed because the host was exported before
};

// `network recover`: every key of the network replaced in one transaction
// (recover.cpp; docs/administration.md, "Recovering from a leak").
struct RecoveryResult {
  RotateResult rotated;
  size_t user_keys = 0;
  std::vector<ExportedKeySet> keysets;  // one per user, in the --out directory
  std::vector<NewPassword> passwords;   // one per user, generated, shown once
  // Hosts with no user: no key set could be made; they need `user add` and
  // `keyset export` before they can rejoin.
  std::vector<std::pair<HostId, std::string>> without_users;
};

struct BuiltPackage {
  HostId host;
  std::string host_name;
  uint64_t version = 0;
  DirtyKind kind = DirtyKind::kNone;
  bool new_host_key = false;
  bool urgent = false;  // a revocation: couriers forward it first (dirty.hpp)
  HostId via;           // its courier; the host itself for a coordinator; 0: a client without one
  size_t peers = 0;
  std::string path;     // empty when no --out directory was given
};

struct BuildResult {
  std::vector<BuiltPackage> packages;
  // Dirty hosts that have never had a key set: they need `keyset export`,
  // not an update (an update is sealed under a host key they don't have).
  std::vector<std::pair<HostId, std::string>> awaiting_keyset;
};

struct PendingUpdate {
  HostId host;
  std::string host_name;
  DirtyKind kind = DirtyKind::kNone;
  bool exported = false;
  bool urgent = false;
};

// ---- Delivery by couriers (delivery.hpp; docs/administration.md, "Delivery
// by couriers") ----------------------------------------------------------------

// A built package not yet handed to the administration host's daemon.
struct OutgoingPackage {
  HostId host;
  std::string host_name;
  uint64_t version = 0;
  DirtyKind kind = DirtyKind::kNone;
  bool new_host_key = false;
  bool urgent = false;
  HostId via;
  std::vector<std::byte> package;
  std::string file_name() const;  // "0xNNNNHHHH-vVERSION.update", as `updates build --out` names it
};

struct SendBatch {
  HostId admin_host, admin_courier;
  // Urgent packages first, then by host and version (a package that
  // replaces the host key before the later ones of its host).
  std::vector<OutgoingPackage> packages;
  // Packages for a client without a courier: nothing can hand them over.
  std::vector<OutgoingPackage> unroutable;
};

// What the administration host's daemon holds (its "reports" answer,
// docs/couriers.md, "Control commands"), parsed but not yet believed.
struct CourierReports {
  struct Report {
    enum class Kind : uint8_t { kReceipt, kNotice } kind = Kind::kReceipt;
    HostId subject;
    uint64_t version = 0;
    std::vector<std::byte> payload;  // a receipt's bytes (core/courier/item.hpp)
    HostId courier;                  // a notice's courier
    std::string state;               // a notice's: "held" or "refused"
    std::string reason;              // a notice's refusal reason
  };
  struct Outbox {
    HostId dest;
    std::string kind;  // "package", ...
    uint64_t version = 0;
    HostId next_hop;
    std::string state;
  };
  HostId self;
  std::optional<HostId> admin_host;
  std::vector<Report> reports;
  std::vector<Outbox> outbox;
};

enum class DeliveryState : uint8_t {
  kBuilt,             // not yet handed to the administration host's daemon
  kWaiting,           // in that daemon's outbox (next_hop)
  kInTransit,         // handed over; nothing heard since
  kHeld,              // a courier's notice: it holds the package (courier)
  kApplied,           // the host's verified receipt: applied, or already applied
  kFailed,            // the host's verified receipt: refused (reason)
  kRefusedByCourier,  // a courier's notice: refused (courier, reason)
};
std::string_view delivery_state_name(DeliveryState state);  // "built", "waiting", "in_transit", ...

// One built package and what is known of its way.
struct DeliveryStatus {
  HostId host;
  std::string host_name;
  uint64_t version = 0;
  DirtyKind kind = DirtyKind::kNone;
  bool new_host_key = false;
  bool urgent = false;
  HostId via;
  DeliveryState state = DeliveryState::kBuilt;
  HostId next_hop;                // kWaiting
  HostId courier;                 // kHeld, kRefusedByCourier
  uint64_t confirmed_version = 0;  // kApplied: the version the host has installed
  int64_t confirmed_at = 0;        // kApplied, kFailed: the host's time
  std::string reason;              // kFailed, kRefusedByCourier
  int64_t built_at = 0;
  std::optional<int64_t> sent_at;
  // A receipt for this host did not verify under its host key: counted,
  // shown, never believed.
  bool unverified_receipt = false;
};

struct DeliveryReport {
  std::vector<DeliveryStatus> packages;  // by host, then version
  bool daemon_answered = false;
  size_t receipts = 0, notices = 0;  // in the daemon's answer
  size_t unverified_receipts = 0;    // receipts not believed
  size_t applied = 0, pending = 0, failed = 0;
};

// `network migrate`: where the network went, and the rows copied per table.
struct MigrationResult {
  std::string target;  // the URI without its password
  std::vector<std::pair<std::string, int64_t>> rows;
};

struct AuditEntry {
  int64_t id = 0;
  int64_t time = 0;
  std::string operation, arguments, result;
};

// ---- The facade ------------------------------------------------------------

class Admin {
 public:
  // `network init`: creates the database file (mode 0600; refuses an
  // existing file) and the network.
  static Admin init(const std::string& path, const NetworkSpec& spec);
  // Every other command: opens an existing database.
  static Admin open(const std::string& path);
  // `network import`: decrypts a backup into a new database file at `path`
  // (refuses an existing file), or into an empty PostgreSQL database when
  // `path` is a postgresql:// URI.
  static NetworkInfo import_backup(const std::string& backup_file, const std::string& path, std::string_view password);

  Admin(Admin&&) noexcept;
  Admin& operator=(Admin&&) noexcept;
  ~Admin();

  Database& database() { return db_; }
  HostId host_id(uint16_t number) const;

  // Several operations in one transaction (bench/admin_scale, bulk scripts):
  // while a Batch is open, each call joins it instead of committing; the
  // batch commits in commit() or rolls back in its destructor.
  class Batch {
   public:
    explicit Batch(Admin& admin);
    ~Batch();
    Batch(const Batch&) = delete;
    Batch& operator=(const Batch&) = delete;
    void commit();

   private:
    Admin& admin_;
    std::unique_ptr<Transaction> tx_;
  };

  NetworkInfo network_info();
  // `network set --rekey-period`: every link's rekey period, in seconds: 0
  // (off) or keys::kMinRekeyPeriod..kMaxRekeyPeriod; anything else is
  // refused. A new value marks every host for an address-book update, whose
  // package carries it (core/keys/keyset.hpp, tag 3); the same value
  // changes nothing.
  RekeyPeriodChange set_rekey_period(int64_t seconds);
  // `network set --admin-host`: designates the administration host (an ID
  // or name; nullopt: none). A client without a courier is refused. A new
  // host or courier marks every host for an address-book update (key sets
  // carry both) and links the administration courier with every other
  // coordinator (reason "courier"); designating the same host changes
  // nothing.
  AdminHostChange set_admin_host(const std::optional<std::string>& ref);
  // `network migrate --to URI`: copies this SQLite database into the empty
  // PostgreSQL database `uri` in one transaction (every table, the audit
  // log, and an audit row for the migration on both sides).
  MigrationResult migrate_to(const std::string& uri);
  // `network export`: a consistent copy of the database sealed under a key
  // derived from `password` (Argon2id, chosen-password cost); 0600, atomic.
  void export_backup(const std::string& out_file, std::string_view password);

  HostInfo add_host(const HostSpec& spec);
  HostInfo set_host(const std::string& ref, const HostChange& change);
  void remove_host(const std::string& ref);
  // The host's links are dropped on every peer (their next packages lose
  // the keys), the host is removed, and its ID is never given out again.
  std::vector<HostId> compromise_host(const std::string& ref);
  std::vector<HostInfo> list_hosts();
  HostInfo show_host(const std::string& ref);

  // `password`: the user's chosen password (9..32 bytes); nullopt generates
  // one (returned once in NewPassword::generated).
  NewPassword add_user(const std::string& host_ref, const std::string& name, std::optional<std::string_view> password);
  // Bulk variant for bench/admin_scale: a generated password that the
  // caller does not need back; skips formatting it. Same effect otherwise.
  void add_user_generated(HostId host, const std::string& name);
  // Removes the user. If the host has had a key set, its host key and
  // link keys are rotated (rotate_host_keys), so that the next package locks
  // the user out; removing its last user is then refused.
  RotateResult remove_user(const std::string& host_ref, const std::string& name);
  NewPassword reset_password(const std::string& host_ref, const std::string& name,
                             std::optional<std::string_view> password,
                             UserKeyChoice user_key = UserKeyChoice::kDefault);
  std::vector<UserInfo> list_users(const std::optional<std::string>& host_ref);

  void add_group(const std::string& name);
  LinkChange remove_group(const std::string& name);
  LinkChange add_member(const std::string& group, const std::string& host_ref);
  LinkChange remove_member(const std::string& group, const std::string& host_ref);
  std::vector<GroupInfo> list_groups();

  LinkChange add_link(const std::string& a, const std::string& b);
  LinkChange remove_link(const std::string& a, const std::string& b);
  LinkChange add_group_link(const std::string& group_a, const std::string& group_b);
  LinkChange remove_group_link(const std::string& group_a, const std::string& group_b);
  std::vector<LinkInfo> list_links();

  // A rule for a host or group, last in order or just before rule
  // `before` (one for the same traffic). Its text is parsed now: a bad
  // rule, or a protected one naming an unknown host or group after `peer`,
  // is refused with the word at fault. Every host it is for is marked for
  // an address-book update.
  FilterRuleInfo add_filter_rule(const FilterTarget& target, const std::string& text,
                                 std::optional<int64_t> before = std::nullopt,
                                 FilterTraffic traffic = FilterTraffic::kProtected);
  FilterRuleInfo remove_filter_rule(int64_t number);
  // Every rule in order, protected and open; with a host, the rules that
  // host receives (its own and its groups'), in the order it applies them.
  std::vector<FilterRuleInfo> list_filter_rules(const std::optional<std::string>& host_ref);

  // Limits what `who` (a host, or each member of a group) reaches of
  // `gateway`'s tunneled subnets to `prefixes`, replacing an earlier limit
  // of the same pair. Each prefix must lie inside one of the gateway's
  // subnets. A host limited through itself and its groups reaches the
  // union. Marks the gateway and the hosts for an address-book update.
  ReachInfo set_reach(const std::string& gateway, const FilterTarget& who, const std::vector<Prefix>& prefixes);
  void clear_reach(const std::string& gateway, const FilterTarget& who);
  std::vector<ReachInfo> list_reach(const std::optional<std::string>& gateway);

  RotateResult rotate_link(const std::string& a, const std::string& b);
  RotateResult rotate_host(const std::string& ref);
  RotateResult rotate_all();

  // One key set for `host_ref` and its user `user` (nullopt: the host's only
  // user), written atomically with mode 0600. A host exported before gets
  // new link keys first (its peers are marked for a "keys" update), unless
  // `keep_keys`: two installations of one key set would reuse nonces
  // (docs/administration.md, "Exporting again").
  ExportedKeySet export_keyset(const std::string& host_ref, const std::optional<std::string>& user,
                               const std::string& out_file, bool keep_keys = false);
  // Every host's key set (one per user: DIR/0xNNNNHHHH-USER.keyset) with a
  // few queries for the whole network; hosts without users are skipped.
  // Link keys of hosts exported before are rotated first, as above.
  std::vector<ExportedKeySet> export_all_keysets(const std::string& out_dir, bool keep_keys = false);

  // `network recover`: after a leak of the database or a backup, replaces
  // every link, host and user key and every password, and writes each
  // user's new key set into `out_dir`; nothing the old database held opens
  // them.
  RecoveryResult recover_network(const std::string& out_dir);

  std::vector<PendingUpdate> pending_updates();
  // One package per dirty host, stored in the database for `updates send`
  // (deliveries) and, when `out_dir` is not empty, written there too.
  BuildResult build_updates(const std::string& out_dir);

  // `updates send`: the built packages not yet handed over, with the
  // administration host and courier. Refused when no administration host
  // is designated, or it is a client without a courier.
  SendBatch unsent_packages();
  // The daemon took these (host, version) packages: marks them sent.
  void mark_sent(const std::vector<std::pair<HostId, uint64_t>>& accepted, const std::string& socket);
  // `updates status`: records what `reports` (nullopt: the daemon did not
  // answer) says, believing a receipt only when its tag verifies under the
  // host's current host key, and returns the state of every package kept.
  // Recording is idempotent; a receipt recorded stays recorded.
  DeliveryReport delivery_status(const std::optional<CourierReports>& reports);

  std::vector<AuditEntry> audit_log(int64_t limit);

 private:
  explicit Admin(Database db);
  static NetworkInfo import_into_postgres(const crypto::SecretBytes& image, const std::string& backup_file,
                                          const std::string& uri);
  friend class Batch;
  friend struct Command;

  Database db_;
  NetworkSpec network_;
  Transaction* batch_ = nullptr;
};

}  // namespace cordon::admin
