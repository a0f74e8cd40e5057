// The administrator's side of couriers (docs/couriers.md; docs/administration.md,
// "Delivery by couriers"): the administration host and its settings in key
// sets, courier links, revoked hosts in coordinators' key sets, urgent
// marks, the deliveries kept, the send directory, and what `updates status`
// believes of the daemon's reports.
#include <sqlite3.h>
#include <sys/stat.h>

#include <map>
#include <set>

#include <fmt/format.h>

#include "admin/delivery.hpp"
#include "admin/live_status.hpp"
#include "admin/schema.hpp"
#include "core/courier/item.hpp"
#include "core/courier/status_report.hpp"
#include "tests/unit/admin_fixture.hpp"

namespace cordon::admin::test {
namespace {

using json = nlohmann::json;

// hub and hub2 (coordinators), x and y (clients of hub), z (client of
// hub2), each with a user and an installed key set; nothing pending.
class AdminCourierTest : public AdminTest {
 protected:
  void SetUp() override {
    AdminTest::SetUp();
    hub = a().add_host(coordinator("hub")).id;
    hub2 = a().add_host(coordinator("hub2")).id;
    x = a().add_host(client("x", "hub")).id;
    y = a().add_host(client("y", "hub")).id;
    z = a().add_host(client("z", "hub2")).id;
    for (const char* h : {"hub", "hub2", "x", "y", "z"}) passwords[h] = add_user(h, "u");
    a().export_all_keysets(dir.file("keysets"));
    EXPECT_TRUE(a().pending_updates().empty());
  }

  std::map<std::string, PendingUpdate> pending() {
    std::map<std::string, PendingUpdate> out;
    for (const PendingUpdate& p : a().pending_updates()) out[p.host_name] = p;
    return out;
  }

  std::set<std::string> pending_names() {
    std::set<std::string> out;
    for (const PendingUpdate& p : a().pending_updates()) out.insert(p.host_name);
    return out;
  }

  void clear_marks() { a().database().exec("UPDATE hosts SET dirty = 0, urgent = 0"); }

  std::vector<std::string> reasons(const std::string& a_name, const std::string& b_name) {
    for (const LinkInfo& l : a().list_links()) {
      if ((l.a_name == a_name && l.b_name == b_name) || (l.a_name == b_name && l.b_name == a_name)) return l.reasons;
    }
    return {};
  }

  BuildResult build() { return a().build_updates(dir.file("updates")); }

  // The deliveries kept, as "host-vVERSION" strings.
  std::set<std::string> kept() {
    std::set<std::string> out;
    Statement st = a().database().prepare("SELECT h.name, d.version FROM deliveries d JOIN hosts h ON h.id = d.host");
    while (st.step()) out.insert(st.text(0) + "-v" + std::to_string(st.int64(1)));
    return out;
  }

  Role role_of(HostId h) {
    Statement st = a().database().prepare("SELECT role FROM hosts WHERE id = ?1");
    st.bind(1, static_cast<int64_t>(h.value));
    EXPECT_TRUE(st.step());
    return static_cast<Role>(st.int64(0));
  }

  crypto::SecretBytes host_key(HostId h) {
    Statement st = a().database().prepare("SELECT host_key FROM hosts WHERE id = ?1");
    st.bind(1, static_cast<int64_t>(h.value));
    EXPECT_TRUE(st.step());
    return crypto::SecretBytes(st.blob(0));
  }

  static std::string hex(std::span<const std::byte> bytes) {
    std::string out;
    for (std::byte b : bytes) out += fmt::format("{:02x}", static_cast<unsigned>(b));
    return out;
  }

  json receipt(HostId h, uint64_t version, uint64_t installed, courier::Receipt::Outcome outcome,
               const crypto::SecretBytes& key, const std::string& reason = "") {
    courier::Receipt r;
    r.host = h;
    r.version = version;
    r.installed = installed;
    r.outcome = outcome;
    r.time_s = 1'800'000'000;
    r.reason = reason;
    const auto sealed = courier::seal_receipt(r, key);
    EXPECT_TRUE(sealed.has_value());
    return json{{"kind", "receipt"}, {"subject", h.to_string()}, {"version", version}, {"payload", hex(*sealed)}};
  }

  static json notice(HostId h, uint64_t version, HostId courier, const std::string& state,
                     const std::string& reason = "none") {
    return json{{"kind", "notice"},   {"subject", h.to_string()}, {"version", version},
                {"courier", courier.to_string()}, {"state", state},          {"reason", reason}};
  }

  json answer(const json& reports, const json& outbox = json::array()) {
    return json{{"self", x.to_string()}, {"admin_host", x.to_string()}, {"reports", reports}, {"outbox", outbox}};
  }

  const DeliveryStatus* row(const DeliveryReport& r, HostId h) {
    const DeliveryStatus* found = nullptr;
    for (const DeliveryStatus& s : r.packages) {
      if (s.host == h) found = &s;  // the newest
    }
    return found;
  }

  HostId hub, hub2, x, y, z;
  std::map<std::string, std::string> passwords;
};

// ---- Schema ------------------------------------------------------------------------

// A database of schema version 5 opens, migrates to the latest version
// and gains the courier columns and table (version 6), and the console
// accounts (version 7), empty. (admin_ipsec_subnets_test.cpp checks the
// latest version by number.)
TEST(AdminCourierMigration, Version5DatabaseMigrates) {
  TempDir dir;
  const std::string path = dir.file("v5.db");
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
    for (const Migration& m : migrations()) {
      if (m.version > 5) break;
      ASSERT_EQ(sqlite3_exec(raw, m.sql, nullptr, nullptr, nullptr), SQLITE_OK) << m.version;
    }
    ASSERT_EQ(sqlite3_exec(raw,
                           "INSERT INTO network (id, number, name, ipv4, ipv6, created_at) "
                           "VALUES (1, 1, 'old', '10.77.0.0/24', NULL, 0);"
                           "INSERT INTO hosts (id, number, name, role, host_key, dirty, created_at) "
                           "VALUES (65537, 1, 'hub', 2, zeroblob(32), 0, 0);"
                           "PRAGMA user_version = 5;",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(raw);
  }
  ::chmod(path.c_str(), 0600);
  Admin admin = Admin::open(path);
  NetworkInfo info = admin.network_info();
  EXPECT_EQ(info.schema_version, latest_schema_version());
  EXPECT_FALSE(info.admin_host.has_value());
  Statement st = admin.database().prepare(
      "SELECT urgent, (SELECT COUNT(*) FROM deliveries), (SELECT COUNT(*) FROM console_accounts) FROM hosts");
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.int64(0), 0);
  EXPECT_EQ(st.int64(1), 0);
  EXPECT_EQ(st.int64(2), 0);
  st.reset();
  admin.set_admin_host("hub");
  info = admin.network_info();
  ASSERT_TRUE(info.admin_host.has_value());
  EXPECT_EQ(info.admin_host->value, 65537u);
  EXPECT_EQ(info.admin_courier.value, 65537u);
  EXPECT_EQ(info.admin_host_name, "hub");
}

// ---- The administration host -----------------------------------------------------------

TEST_F(AdminCourierTest, DesignationMarksEveryHostAndKeySetsCarryIt) {
  const AdminHostChange change = a().set_admin_host("x");
  EXPECT_FALSE(change.previous.has_value());
  EXPECT_EQ(change.current, std::optional(x));
  EXPECT_EQ(change.courier, hub);  // a client: its courier
  EXPECT_EQ(change.dirty_hosts, 5);
  const auto p = pending();
  for (const char* h : {"hub", "hub2", "x", "y", "z"}) ASSERT_EQ(p.count(h), 1u) << h;
  // hub-hub2 is a new courier link: keys for both ends, address book for the others.
  EXPECT_EQ(p.at("hub").kind, DirtyKind::kKeys);
  EXPECT_EQ(p.at("hub2").kind, DirtyKind::kKeys);
  EXPECT_EQ(p.at("y").kind, DirtyKind::kAddressBook);
  EXPECT_FALSE(p.at("y").urgent);
  const auto log = a().audit_log(1);
  EXPECT_EQ(log.front().operation, "network set");
  EXPECT_EQ(log.front().arguments, "admin-host=x");

  const NetworkInfo info = a().network_info();
  EXPECT_EQ(info.admin_host, std::optional(x));
  EXPECT_EQ(info.admin_courier, hub);
  const keys::OpenedKeySet ks = export_and_open("z", passwords.at("z"));
  EXPECT_EQ(ks.body.admin_host, std::optional(x));
  EXPECT_EQ(ks.body.admin_courier, std::optional(hub));
  // Packages carry it too.
  const BuildResult r = build();
  EXPECT_FALSE(r.packages.empty());

  // The same host again changes nothing.
  clear_marks();
  EXPECT_EQ(a().set_admin_host("x").dirty_hosts, 0);
  // A coordinator is its own courier; a change marks every host again.
  const AdminHostChange moved = a().set_admin_host(hub2.to_string());
  EXPECT_EQ(moved.previous, std::optional(x));
  EXPECT_EQ(moved.courier, hub2);
  EXPECT_EQ(pending_names().size(), 5u);
  EXPECT_EQ(export_and_open("y", passwords.at("y")).body.admin_courier, std::optional(hub2));

  // None: key sets carry neither.
  clear_marks();
  EXPECT_FALSE(a().set_admin_host(std::nullopt).current.has_value());
  EXPECT_EQ(pending_names().size(), 5u);
  const keys::OpenedKeySet none = export_and_open("y", passwords.at("y"));
  EXPECT_FALSE(none.body.admin_host.has_value());
  EXPECT_FALSE(none.body.admin_courier.has_value());
}

TEST_F(AdminCourierTest, DesignationRefusesUnknownHostsAndClientsWithoutCourier) {
  expect_refused([&] { a().set_admin_host("nope"); }, {"--admin-host", "no host named 'nope'"});
  a().set_host("z", [] {
    HostChange c;
    c.clear_coordinators = true;
    return c;
  }());
  clear_marks();
  const std::string without = dump();
  expect_refused([&] { a().set_admin_host("z"); },
                 {"--admin-host", "'z'", "client without a courier", "host set 0x00010005 --courier"});
  EXPECT_EQ(dump(), without);

  // `host add --admin-host` designates in the same command, with the same rule.
  HostSpec orphan = client("orphan");
  orphan.admin_host = true;
  expect_refused([&] { a().add_host(orphan); }, {"--admin-host", "client without a courier"});
  EXPECT_EQ(dump(), without);
  HostSpec admin = client("admin", "hub");
  admin.admin_host = true;
  const HostId id = a().add_host(admin).id;
  EXPECT_EQ(a().network_info().admin_host, std::optional(id));
  EXPECT_EQ(a().network_info().admin_courier, hub);
}

TEST_F(AdminCourierTest, TheAdministrationHostKeepsItsCourierAndCannotBeRemoved) {
  a().set_admin_host("x");
  HostChange clear;
  clear.clear_coordinators = true;
  expect_refused([&] { a().set_host("x", clear); }, {"host set", "client without a courier"});
  expect_refused([&] { a().remove_host("x"); }, {"administration host", "--admin-host HOST"});
  // Its courier moves: every host is marked, and the courier links follow.
  clear_marks();
  HostChange move;
  move.coordinators.courier = "hub2";
  a().set_host("x", move);
  EXPECT_EQ(a().network_info().admin_courier, hub2);
  EXPECT_EQ(pending_names().size(), 5u);
  EXPECT_EQ(reasons("hub", "hub2"), std::vector<std::string>{"courier"});
}

// ---- Courier links -----------------------------------------------------------------------

TEST_F(AdminCourierTest, CourierLinksFollowCoordinatorsAndTheAdministrationCourier) {
  EXPECT_TRUE(reasons("hub", "hub2").empty());
  a().set_admin_host("x");  // courier: hub
  EXPECT_EQ(reasons("hub", "hub2"), std::vector<std::string>{"courier"});

  // A new coordinator is linked with the administration courier.
  a().add_host(coordinator("hub3"));
  EXPECT_EQ(reasons("hub", "hub3"), std::vector<std::string>{"courier"});
  EXPECT_TRUE(reasons("hub2", "hub3").empty());

  // The link cannot be removed by hand; the message says why and what to do.
  expect_refused([&] { a().remove_link("hub", "hub2"); },
                 {"administration courier", "network set --admin-host"});

  // A coordinator made a client loses its courier link (and gets a
  // coordinator link if hub serves it).
  HostChange to_client;
  to_client.role = Role::kClient;
  to_client.coordinators.coordinator = "hub2";
  a().set_host("hub3", to_client);
  EXPECT_TRUE(reasons("hub", "hub3").empty());
  EXPECT_EQ(reasons("hub2", "hub3"), std::vector<std::string>{"coordinator"});

  // The administration courier moves: the old links go, new ones come.
  clear_marks();
  const AdminHostChange change = a().set_admin_host("z");  // courier hub2
  EXPECT_EQ(change.courier, hub2);
  EXPECT_EQ(reasons("hub", "hub2"), std::vector<std::string>{"courier"});  // hub2 is now the courier
  a().add_host(coordinator("hub4"));
  EXPECT_EQ(reasons("hub2", "hub4"), std::vector<std::string>{"courier"});
  EXPECT_TRUE(reasons("hub", "hub4").empty());

  // A manual link stays when the courier reason goes.
  a().add_link("hub", "hub2");
  a().set_admin_host(std::nullopt);
  EXPECT_EQ(reasons("hub", "hub2"), std::vector<std::string>{"manual"});
  EXPECT_TRUE(reasons("hub2", "hub4").empty());
  for (const LinkInfo& l : a().list_links()) {
    for (const std::string& r : l.reasons) EXPECT_NE(r, "courier");
  }
}

TEST_F(AdminCourierTest, CompromisedAdministrationCourierLeavesNoRoute) {
  a().set_admin_host("x");
  clear_marks();
  a().compromise_host("hub");
  // x lost its courier: key sets no longer carry the settings, and sending
  // is refused with what to do.
  const NetworkInfo info = a().network_info();
  EXPECT_EQ(info.admin_host, std::optional(x));
  EXPECT_EQ(info.admin_courier.value, 0u);
  EXPECT_FALSE(export_and_open("z", passwords.at("z")).body.admin_host.has_value());
  expect_refused([&] { a().unsent_packages(); }, {"client without a courier", "--courier"});
  // Every host was marked (the settings changed), urgent.
  for (const auto& [name, p] : pending()) EXPECT_TRUE(p.urgent) << name;
  EXPECT_EQ(pending_names().size(), 4u);
}

// ---- Revoked hosts and urgent marks ---------------------------------------------------------

TEST_F(AdminCourierTest, CoordinatorsCarryTheRevokedHostsAndAreMarkedUrgent) {
  a().compromise_host("y");
  a().compromise_host("z");
  const auto p = pending();
  // Every coordinator, even hub2 which y was never linked with; every host
  // marked is urgent.
  ASSERT_EQ(p.count("hub2"), 1u);
  ASSERT_EQ(p.count("hub"), 1u);
  EXPECT_TRUE(p.at("hub").urgent);
  EXPECT_TRUE(p.at("hub2").urgent);
  EXPECT_EQ(p.count("x"), 0u);  // x was not linked with y or z

  const BuildResult r = build();
  ASSERT_EQ(r.packages.size(), 2u);
  const std::vector<HostId> revoked{y, z};
  for (const BuiltPackage& b : r.packages) {
    EXPECT_TRUE(b.urgent) << b.host_name;
    EXPECT_EQ(b.via, b.host) << "a coordinator hands its own packages over";
    keys::OpenedKeySet installed;
    installed.header.user = "u";
    installed.host_key = host_key(b.host);
    auto opened = keys::open_update_for(read_bytes(b.path), installed);
    ASSERT_TRUE(opened.ok()) << opened.error().message();
    EXPECT_EQ(opened.value().body.revoked, revoked);
  }
  // Built: the marks are gone, and the flag is stored with the package.
  EXPECT_TRUE(a().pending_updates().empty());
  Statement st = a().database().prepare("SELECT COUNT(*) FROM hosts WHERE urgent <> 0");
  ASSERT_TRUE(st.step());
  EXPECT_EQ(st.int64(0), 0);
  st.reset();
  Statement d = a().database().prepare("SELECT urgent FROM deliveries");
  while (d.step()) EXPECT_EQ(d.int64(0), 1);

  // Key sets: a coordinator's lists them, a client's does not.
  EXPECT_EQ(export_and_open("hub", passwords.at("hub")).body.revoked, revoked);
  EXPECT_TRUE(export_and_open("x", passwords.at("x")).body.revoked.empty());
}

TEST_F(AdminCourierTest, RevocationsAreUrgentAndRoutineChangesAreNot) {
  a().add_link("x", "z");
  for (const auto& [name, p] : pending()) EXPECT_FALSE(p.urgent) << name;
  build();
  a().remove_link("x", "z");
  auto p = pending();
  EXPECT_TRUE(p.at("x").urgent);
  EXPECT_TRUE(p.at("z").urgent);
  build();

  a().add_group("g");
  a().add_member("g", "x");
  a().add_member("g", "y");
  a().add_group("h");
  a().add_member("h", "z");
  a().add_group_link("g", "h");
  for (const auto& [name, q] : pending()) EXPECT_FALSE(q.urgent) << name;
  build();
  a().remove_member("h", "z");
  p = pending();
  EXPECT_TRUE(p.at("z").urgent);
  EXPECT_TRUE(p.at("x").urgent);
  build();

  a().add_user("y", "carol", std::nullopt);
  build();
  a().remove_user("y", "carol");
  p = pending();
  EXPECT_TRUE(p.at("y").urgent);
  EXPECT_TRUE(p.at("hub").urgent);  // its link key with y changed
  const BuildResult r = build();
  for (const BuiltPackage& b : r.packages) EXPECT_TRUE(b.urgent) << b.host_name;

  // Endpoints are routine.
  HostChange endpoint;
  endpoint.endpoints = std::vector<Endpoint>{*Endpoint::parse("192.0.2.9:51820")};
  a().set_host("y", endpoint);
  for (const auto& [name, q] : pending()) EXPECT_FALSE(q.urgent) << name;
}

// ---- Deliveries ----------------------------------------------------------------------------

TEST_F(AdminCourierTest, DeliveriesKeepTheNewestAndAnUnconfirmedHostKeyPackage) {
  a().add_link("x", "y");
  build();  // x-v2, y-v2, ...
  EXPECT_EQ(kept().count("x-v2"), 1u);
  a().rotate_host("x");  // x-v3 replaces the host key
  build();
  EXPECT_EQ(kept().count("x-v2"), 0u) << "superseded";
  EXPECT_EQ(kept().count("x-v3"), 1u);
  a().rotate_link("x", "y");
  build();  // x-v4: routine, sealed under the key x-v3 brings
  std::set<std::string> k = kept();
  EXPECT_EQ(k.count("x-v3"), 1u) << "a host that missed v3 cannot open v4";
  EXPECT_EQ(k.count("x-v4"), 1u);
  a().rotate_link("x", "y");
  build();  // x-v5
  k = kept();
  EXPECT_EQ(k.count("x-v3"), 1u);
  EXPECT_EQ(k.count("x-v4"), 0u);
  EXPECT_EQ(k.count("x-v5"), 1u);

  // A newer host-key package makes the older one unneeded.
  a().rotate_host("x");
  build();  // x-v6
  k = kept();
  EXPECT_EQ(k.count("x-v3"), 0u);
  EXPECT_EQ(k.count("x-v6"), 1u);
  a().rotate_link("x", "y");
  build();  // x-v7
  k = kept();
  EXPECT_EQ(k.count("x-v6"), 1u);
  EXPECT_EQ(k.count("x-v7"), 1u);

  // The host confirms v6 applied: only the newest stays.
  a().set_admin_host("hub");
  a().delivery_status(parse_courier_reports(
      answer(json::array({receipt(x, 6, 6, courier::Receipt::Outcome::kApplied, host_key(x))}))));
  k = kept();
  EXPECT_EQ(k.count("x-v6"), 0u);
  EXPECT_EQ(k.count("x-v7"), 1u);
}

// ---- Sending ------------------------------------------------------------------------------

TEST_F(AdminCourierTest, SendingNeedsAnAdministrationHost) {
  a().add_link("x", "y");
  build();
  expect_refused([&] { a().unsent_packages(); },
                 {"no administration host is designated", "cordon admin network set --admin-host HOST"});
}

TEST_F(AdminCourierTest, SendDirectoryHoldsThePackagesAndTheManifestUrgentFirst) {
  a().set_admin_host("x");
  build();
  a().compromise_host("z");  // hub, hub2 urgent
  a().add_link("x", "y");    // x, y, hub routine (hub: already urgent)
  build();
  const SendBatch batch = a().unsent_packages();
  EXPECT_EQ(batch.admin_host, x);
  EXPECT_EQ(batch.admin_courier, hub);
  EXPECT_TRUE(batch.unroutable.empty());
  ASSERT_FALSE(batch.packages.empty());
  // Urgent first.
  bool routine_seen = false;
  for (const OutgoingPackage& p : batch.packages) {
    if (!p.urgent) routine_seen = true;
    EXPECT_FALSE(p.urgent && routine_seen) << p.host_name << " urgent after a routine package";
    EXPECT_EQ(p.via, role_of(p.host) == Role::kCoordinator ? p.host : hub) << p.host_name;
  }
  EXPECT_TRUE(batch.packages.front().urgent);

  TempDir parent;
  std::string path;
  {
    const SendDirectory send(batch.packages, parent.path().string());
    path = send.path();
    EXPECT_EQ(path.rfind((parent.path() / "cordon-send.").string(), 0), 0u) << path;
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0700u);
    const auto manifest_bytes = read_bytes(path + "/manifest.json");
    const json manifest = json::parse(std::string(reinterpret_cast<const char*>(manifest_bytes.data()),
                                                  manifest_bytes.size()));
    EXPECT_EQ(manifest, send_manifest(batch.packages));
    ASSERT_EQ(manifest.at("packages").size(), batch.packages.size());
    for (size_t i = 0; i < batch.packages.size(); ++i) {
      const OutgoingPackage& p = batch.packages[i];
      const json& entry = manifest["packages"][i];
      EXPECT_EQ(entry.at("file"), fmt::format("{}-v{}.update", p.host.to_string(), p.version));
      EXPECT_EQ(entry.at("via"), p.via.to_string());
      EXPECT_EQ(entry.at("urgent"), p.urgent);
      EXPECT_EQ(read_bytes(path + "/" + p.file_name()), p.package);
      // The same bytes `updates build --out` wrote.
      EXPECT_EQ(read_bytes(dir.file("updates") + "/" + p.file_name()), p.package);
    }
  }
  EXPECT_FALSE(fs::exists(path)) << "removed with its files";

  // The daemon took some: those are sent, the rest stay for the next send.
  const OutgoingPackage& first = batch.packages.front();
  const SendReply reply = parse_send_reply(json{
      {"accepted", json::array({json{{"host", first.host.to_string()}, {"version", first.version}}})},
      {"refused", json::array({json{{"file", batch.packages.back().file_name()}, {"error", "spool_full"}}})}});
  ASSERT_EQ(reply.accepted.size(), 1u);
  EXPECT_EQ(reply.refused.at(0).second, "spool_full");
  a().mark_sent(reply.accepted, "/run/cordon/cordon0.sock");
  const SendBatch again = a().unsent_packages();
  EXPECT_EQ(again.packages.size(), batch.packages.size() - 1);
  const DeliveryReport status = a().delivery_status(std::nullopt);
  EXPECT_FALSE(status.daemon_answered);
  for (const DeliveryStatus& s : status.packages) {
    const bool sent = s.host == first.host && s.version == first.version;
    EXPECT_EQ(s.state, sent ? DeliveryState::kInTransit : DeliveryState::kBuilt) << s.host_name;
  }

  expect_refused([&] { parse_send_reply(json{{"error", "not the administration host"}}); },
                 {"refused", "not the administration host"});
  expect_refused([&] { parse_send_reply(json{{"accepted", "x"}}); }, {"accepted", "not a list"});
}

// ---- Status ------------------------------------------------------------------------------

TEST_F(AdminCourierTest, StatusBelievesOnlyReceiptsThatVerify) {
  a().set_admin_host("x");
  build();  // every host: v2
  a().mark_sent({{y, 2}, {z, 2}, {hub, 2}, {hub2, 2}}, "s");

  crypto::SecretBytes forged_key(32);
  const json reports = json::array({
      receipt(y, 2, 2, courier::Receipt::Outcome::kApplied, host_key(y)),
      // z's receipt, tagged under another key: a courier making one up.
      receipt(z, 2, 2, courier::Receipt::Outcome::kApplied, forged_key),
      receipt(hub2, 2, 1, courier::Receipt::Outcome::kRefused, host_key(hub2), "altered"),
      notice(hub, 2, hub, "held"),
  });
  const json outbox = json::array(
      {json{{"dest", x.to_string()}, {"kind", "package"}, {"version", 2}, {"next_hop", hub.to_string()},
            {"state", "waiting"}}});
  const CourierReports parsed = parse_courier_reports(answer(reports, outbox));
  EXPECT_EQ(parsed.self, x);
  const DeliveryReport r = a().delivery_status(parsed);
  EXPECT_TRUE(r.daemon_answered);
  EXPECT_EQ(r.receipts, 3u);
  EXPECT_EQ(r.notices, 1u);
  EXPECT_EQ(r.unverified_receipts, 1u);

  const DeliveryStatus* sy = row(r, y);
  ASSERT_NE(sy, nullptr);
  EXPECT_EQ(sy->state, DeliveryState::kApplied);
  EXPECT_EQ(sy->confirmed_version, 2u);
  EXPECT_EQ(sy->confirmed_at, 1'800'000'000);

  const DeliveryStatus* sz = row(r, z);
  ASSERT_NE(sz, nullptr);
  EXPECT_EQ(sz->state, DeliveryState::kInTransit) << "a forged receipt is never believed";
  EXPECT_TRUE(sz->unverified_receipt);

  const DeliveryStatus* s2 = row(r, hub2);
  ASSERT_NE(s2, nullptr);
  EXPECT_EQ(s2->state, DeliveryState::kFailed);
  EXPECT_EQ(s2->reason, "altered");

  const DeliveryStatus* sh = row(r, hub);
  ASSERT_NE(sh, nullptr);
  EXPECT_EQ(sh->state, DeliveryState::kHeld);
  EXPECT_EQ(sh->courier, hub);

  const DeliveryStatus* sx = row(r, x);
  ASSERT_NE(sx, nullptr);
  EXPECT_EQ(sx->state, DeliveryState::kWaiting);
  EXPECT_EQ(sx->next_hop, hub);

  EXPECT_EQ(r.applied, 1u);
  EXPECT_EQ(r.failed, 1u);
  EXPECT_EQ(r.pending, 3u);

  // Recording again changes nothing; without the daemon the states stay.
  Statement snapshot = a().database().prepare("SELECT group_concat(host || ':' || version || ':' || "
                                               "IFNULL(outcome, '') || ':' || updated_at) FROM deliveries");
  ASSERT_TRUE(snapshot.step());
  const std::string rows_before = snapshot.text(0);
  snapshot.reset();
  a().delivery_status(parsed);
  ASSERT_TRUE(snapshot.step());
  EXPECT_EQ(snapshot.text(0), rows_before);
  snapshot.reset();
  const DeliveryReport offline = a().delivery_status(std::nullopt);
  EXPECT_EQ(row(offline, y)->state, DeliveryState::kApplied);
  EXPECT_EQ(row(offline, hub2)->state, DeliveryState::kFailed);
  EXPECT_EQ(row(offline, hub)->state, DeliveryState::kHeld);
  EXPECT_EQ(row(offline, x)->state, DeliveryState::kBuilt);  // the outbox is only known while it answers

  // A later refusal does not undo a confirmation; a courier refusal shows.
  a().delivery_status(parse_courier_reports(answer(json::array(
      {receipt(y, 2, 1, courier::Receipt::Outcome::kRefused, host_key(y), "late"),
       notice(z, 2, hub2, "refused", "spool_full")}))));
  const DeliveryReport later = a().delivery_status(std::nullopt);
  EXPECT_EQ(row(later, y)->state, DeliveryState::kApplied);
  EXPECT_EQ(row(later, z)->state, DeliveryState::kRefusedByCourier);
  EXPECT_EQ(row(later, z)->courier, hub2);
  EXPECT_EQ(row(later, z)->reason, "spool_full");
}

TEST_F(AdminCourierTest, AReceiptFiledUnderAnotherHostIsNotBelieved) {
  a().set_admin_host("x");
  build();
  // y's genuine receipt, filed by the daemon under z.
  json r = receipt(y, 2, 2, courier::Receipt::Outcome::kApplied, host_key(y));
  r["subject"] = z.to_string();
  const DeliveryReport report = a().delivery_status(parse_courier_reports(answer(json::array({r}))));
  EXPECT_EQ(report.unverified_receipts, 1u);
  EXPECT_EQ(report.applied, 0u);
}

TEST_F(AdminCourierTest, MalformedReportsAreRefusedByField) {
  expect_refused([&] { parse_courier_reports(json{{"reports", json::array()}}); }, {"self", "missing"});
  expect_refused([&] { parse_courier_reports(json{{"self", "host"}, {"reports", json::array()}}); },
                 {"self", "not a host ID"});
  json bad = answer(json::array({json{{"kind", "receipt"}, {"subject", "0x00010002"}, {"version", 2},
                                      {"payload", "zz"}}}));
  expect_refused([&] { parse_courier_reports(bad); }, {"payload", "not hex"});
  // A kind from a later version is left alone.
  json later = answer(json::array({json{{"kind", "future"}, {"subject", "0x00010002"}, {"version", 2}}}));
  EXPECT_TRUE(parse_courier_reports(later).reports.empty());
  EXPECT_EQ(reports_request(), (json{{"command", "courier"}, {"action", "reports"}}));
  EXPECT_EQ(send_request("/tmp/d"), (json{{"command", "courier"}, {"action", "send"}, {"dir", "/tmp/d"}}));
}


// `cordon admin status` (admin/live_status.hpp): what the coordinators'
// reports say, believed only when their tags verify.
class LiveStatusTest : public AdminCourierTest {
 protected:
  static constexpr int64_t kNow = 1'800'000'000;

  json report_entry(HostId coordinator, const crypto::SecretBytes& key, int64_t time_s,
                    std::vector<courier::ClientState> clients) {
    courier::StatusReport r;
    r.coordinator = coordinator;
    r.time_s = time_s;
    r.relay_packets = 12;
    r.clients = std::move(clients);
    const auto sealed = courier::seal_status_report(r, key);
    EXPECT_TRUE(sealed);
    return json{{"coordinator", coordinator.to_string()}, {"version", time_s * 1000}, {"payload", hex(*sealed)}};
  }

  courier::ClientState client_state(HostId host, Reachability state, std::vector<courier::PeerPath> peers = {}) {
    courier::ClientState c;
    c.host = host;
    c.state = state;
    c.last_heard_s = kNow - 3;
    c.public_endpoint = Endpoint::parse("198.51.100.7:40000");
    c.peers = std::move(peers);
    return c;
  }

  const LiveHost& host(const LiveStatus& s, HostId id) {
    for (const LiveHost& h : s.hosts)
      if (h.id == id) return h;
    ADD_FAILURE() << "no host " << id.to_string();
    return s.hosts.front();
  }
};

TEST_F(LiveStatusTest, BelievesOnlyReportsThatVerify) {
  const json reply = {
      {"self", hub.to_string()},
      {"now", kNow},
      {"reports",
       json::array({report_entry(hub, host_key(hub), kNow - 10,
                                 {client_state(x, Reachability::kReachable, {{y, PathKind::kDirect}}),
                                  client_state(y, Reachability::kUnreachable)}),
                    // hub2's report, tagged under another host's key: forged.
                    report_entry(hub2, host_key(x), kNow - 10, {client_state(z, Reachability::kReachable)})})}};
  const LiveStatus s = live_status(a(), reply, "", 0);
  EXPECT_EQ(s.now_s, kNow);
  ASSERT_EQ(s.reports.size(), 1u);
  ASSERT_EQ(s.problems.size(), 1u);
  EXPECT_NE(s.problems[0].find("hub2"), std::string::npos) << s.problems[0];
  EXPECT_NE(s.problems[0].find("does not verify"), std::string::npos) << s.problems[0];
  EXPECT_EQ(host(s, hub).state, Reachability::kReachable);
  EXPECT_EQ(host(s, x).state, Reachability::kReachable);
  ASSERT_EQ(host(s, x).peers.size(), 1u);
  EXPECT_EQ(host(s, x).peers[0].path, PathKind::kDirect);
  EXPECT_EQ(host(s, y).state, Reachability::kUnreachable);
  EXPECT_EQ(host(s, z).state, Reachability::kUnknown);
  EXPECT_EQ(host(s, hub2).state, Reachability::kUnknown);

  const json j = live_status_json(s);
  EXPECT_EQ(j["coordinators"][0]["name"], "hub");
  EXPECT_EQ(j["coordinators"][0]["clients"][0]["peers"][0]["name"], "y");
  EXPECT_EQ(j["coordinators"][0]["clients"][0]["peers"][0]["path"], "direct");
  EXPECT_EQ(j["coordinators"][0]["relay"]["packets"], 12);
  EXPECT_EQ(j["daemon_error"], nullptr);
  const std::string text = format_live_status(s);
  EXPECT_NE(text.find("5 hosts: 2 reachable, 1 unreachable, 2 unknown"), std::string::npos) << text;
  EXPECT_NE(text.find("y direct"), std::string::npos) << text;
}

TEST_F(LiveStatusTest, AStaleReportMakesItsCoordinatorUnreachableAndItsClientsUnknown) {
  const json reply = {{"now", kNow},
                      {"reports", json::array({report_entry(hub, host_key(hub), kNow - kStaleReportSeconds - 1,
                                                            {client_state(x, Reachability::kReachable)})})}};
  const LiveStatus s = live_status(a(), reply, "", 0);
  ASSERT_EQ(s.reports.size(), 1u);
  EXPECT_TRUE(s.reports[0].stale);
  EXPECT_EQ(host(s, hub).state, Reachability::kUnreachable);
  EXPECT_EQ(host(s, x).state, Reachability::kUnknown);
  EXPECT_NE(format_live_status(s).find("stale"), std::string::npos);
}

TEST_F(LiveStatusTest, NoDaemonShowsTheDatabaseWithTheReason) {
  const LiveStatus s = live_status(a(), std::nullopt, "cannot connect to /run/cordon/cordon0.sock", kNow);
  EXPECT_EQ(s.hosts.size(), 5u);
  for (const LiveHost& h : s.hosts) EXPECT_EQ(h.state, Reachability::kUnknown);
  EXPECT_EQ(live_status_json(s)["daemon_error"], "cannot connect to /run/cordon/cordon0.sock");
  EXPECT_NE(format_live_status(s).find("warning: no live state: cannot connect"), std::string::npos);
  // A daemon that refuses, and answers that are not reports.
  EXPECT_NE(live_status(a(), json{{"error", "unknown courier action"}}, "", kNow).daemon_error.find("refused"),
            std::string::npos);
  const LiveStatus odd = live_status(
      a(), json{{"reports", json::array({json{{"coordinator", "nonsense"}}, json{{"coordinator", "0x00090009"}, {"payload", "00"}}})}},
      "", kNow);
  EXPECT_EQ(odd.problems.size(), 2u);
  EXPECT_TRUE(odd.reports.empty());
}

}  // namespace
}  // namespace cordon::admin::test
