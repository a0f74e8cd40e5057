// What only the PostgreSQL backend has to show (docs/administration.md,
// "PostgreSQL"): URIs and their messages, the schema version table, two
// administrators at once, a server that goes away, `network migrate`, and
// backups of a PostgreSQL database.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "admin/schema.hpp"
#include "postgres/pg_server.hpp"
#include "unit/admin_fixture.hpp"

namespace cordon::admin::test {
namespace {

// Every row of `table`, values as text (blobs in hex), in id order: equal
// on both backends when the rows are.
std::vector<std::string> rows_of(Database& db, const std::string& table) {
  std::vector<std::string> out;
  Statement st = db.prepare("SELECT * FROM " + table + " ORDER BY 1, 2");
  while (st.step()) {
    std::string row;
    for (int c = 0; c < st.columns(); ++c) {
      row += st.column_name(c) + "=";
      switch (st.kind(c)) {
        case ValueKind::kNull: row += "NULL"; break;
        case ValueKind::kInteger: row += std::to_string(st.int64(c)); break;
        case ValueKind::kText: row += "'" + st.text(c) + "'"; break;
        case ValueKind::kBlob:
          for (std::byte b : st.blob(c)) row += fmt::format("{:02x}", static_cast<unsigned>(b));
          break;
      }
      row += " ";
    }
    out.push_back(row);
  }
  return out;
}

// A network that fills every table.
void populate(Admin& a, const TempDir& dir) {
  a.add_host(coordinator("hub"));
  HostSpec gw = coordinator("gw");
  gw.subnets.push_back(*Prefix::parse("192.168.71.0/24"));
  // One IPsec subnet with a peer name, one without (a NULL to copy).
  gw.ipsec_subnets = {IpsecSubnet{*Prefix::parse("10.50.0.0/24"), "branch"},
                      IpsecSubnet{*Prefix::parse("10.3.7.0/24"), ""}};
  a.add_host(gw);
  a.add_host(client("road", "hub"));
  a.add_host(client("gone", "hub"));
  (void)a.add_user("road", "alice", std::nullopt);
  (void)a.add_user("gw", "bob", std::nullopt);
  a.add_group("office");
  a.add_member("office", "road");
  a.add_group("staff");
  a.add_member("staff", "gw");
  a.add_group_link("office", "staff");
  a.add_link("road", "gw");
  a.add_filter_rule(FilterTarget{FilterTarget::Kind::kHost, "gw"}, "allow in peer road proto tcp dport 443");
  a.set_reach("gw", FilterTarget{FilterTarget::Kind::kHost, "road"}, {*Prefix::parse("192.168.71.0/25")});
  a.compromise_host("gone");
  a.export_keyset("road", std::nullopt, dir.file("road.keyset"));
  a.set_admin_host(std::string("hub"));
  (void)a.build_updates(dir.file("updates"));
  // A console administrator (admin/console/accounts.hpp), as its table row.
  a.database().exec("INSERT INTO console_accounts (name, hash, created_at) "
                    "VALUES ('ops', '$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g', 1)");
}

// A unix-socket relay in front of the test server that, once armed, passes
// the next COMMIT on to the server, waits for the server's answer (the
// transaction is then committed), and closes both connections instead of
// passing the answer back: the client loses its connection during COMMIT
// with the change applied.
class CommitCutter {
 public:
  CommitCutter(const std::string& dir, const std::string& server_socket) : server_(server_socket) {
    listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string path = dir + "/.s.PGSQL.5432";
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(listener_, 8) != 0) {
      ADD_FAILURE() << "cannot listen on " << path;
    }
    accepter_ = std::thread([this] { accept_loop(); });
  }
  ~CommitCutter() {
    ::shutdown(listener_, SHUT_RDWR);
    accepter_.join();
    ::close(listener_);
    for (std::thread& t : relays_) t.join();
  }
  void arm() { armed_ = true; }
  bool cut() const { return cut_; }

 private:
  void accept_loop() {
    for (;;) {
      const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) return;
      const int server = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      std::strncpy(addr.sun_path, server_.c_str(), sizeof(addr.sun_path) - 1);
      if (::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        ::close(client);
        ::close(server);
        continue;
      }
      relays_.emplace_back([this, client, server] { relay(client, server); });
    }
  }
  // Until either side closes; both descriptors are closed on return.
  void relay(int client, int server) {
    char buf[65536];
    bool committing = false;
    for (;;) {
      pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
      if (::poll(fds, 2, -1) < 0) break;
      if (fds[0].revents != 0) {
        const ssize_t n = ::read(client, buf, sizeof(buf));
        if (n <= 0) break;
        // A simple-query COMMIT: 'Q', its length, "COMMIT" and a NUL.
        if (armed_ && std::string_view(buf, static_cast<size_t>(n)).find(std::string_view("COMMIT\0", 7)) !=
                          std::string_view::npos) {
          committing = true;
        }
        if (::write(server, buf, static_cast<size_t>(n)) != n) break;
      }
      if (fds[1].revents != 0) {
        const ssize_t n = ::read(server, buf, sizeof(buf));
        if (n <= 0) break;
        if (committing) {  // the server's answer to COMMIT: swallowed
          armed_ = false;
          cut_ = true;
          break;
        }
        if (::write(client, buf, static_cast<size_t>(n)) != n) break;
      }
    }
    ::close(client);
    ::close(server);
  }

  std::string server_;
  int listener_ = -1;
  std::thread accepter_;
  std::vector<std::thread> relays_;
  std::atomic<bool> armed_{false}, cut_{false};
};

class PostgresTest : public ::testing::Test {
 protected:
  void SetUp() override { uri = pg::fresh_database(); }
  void TearDown() override {
    if (pg::server().running()) pg::drop_database(uri);
  }
  TempDir dir;
  std::string uri;
};

TEST_F(PostgresTest, InitKeepsTheSchemaVersionInItsTableAndRefusesANonEmptyDatabase) {
  Admin a = Admin::init(uri, test_network());
  EXPECT_EQ(a.database().backend(), Backend::kPostgres);
  EXPECT_EQ(a.network_info().schema_version, latest_schema_version());
  EXPECT_EQ(pg::query(uri, "SELECT version FROM cordon_schema"), std::to_string(latest_schema_version()));
  expect_refused([&] { Admin::init(uri, test_network()); }, {"is not empty", "a Cordon network among them", "createdb"});
}

TEST_F(PostgresTest, AnOlderProgramRefusesANewerSchema) {
  (void)Admin::init(uri, test_network());
  pg::query(uri, "UPDATE cordon_schema SET version = 99");
  expect_refused([&] { Admin::open(uri); },
                 {"schema version 99, newer than this cordon understands", "use the cordon release that wrote it"});
}

// A database of schema version 7 (before IPsec subnets) is upgraded on
// open: its tunneled subnets stay, and the new table takes IPsec subnets.
TEST_F(PostgresTest, AVersion7DatabaseGainsIpsecSubnetsWithoutLoss) {
  {
    Admin a = Admin::init(uri, test_network());
    HostSpec gw = coordinator("gw");
    gw.subnets = {*Prefix::parse("192.168.71.0/24")};
    a.add_host(gw);
  }
  pg::query(uri, "DROP TABLE ipsec_subnets; UPDATE cordon_schema SET version = 7");
  Admin a = Admin::open(uri);
  EXPECT_EQ(pg::query(uri, "SELECT version FROM cordon_schema"), std::to_string(latest_schema_version()));
  EXPECT_EQ(a.show_host("gw").subnets, std::vector<Prefix>{*Prefix::parse("192.168.71.0/24")});
  HostChange change;
  change.ipsec_subnets = std::vector<IpsecSubnet>{IpsecSubnet{*Prefix::parse("10.50.0.0/24"), "branch"}};
  EXPECT_EQ(a.set_host("gw", change).ipsec_subnets, change.ipsec_subnets);
  EXPECT_EQ(pg::query(uri, "SELECT prefix || ' ' || peer FROM ipsec_subnets"), "10.50.0.0/24 branch");
}

TEST_F(PostgresTest, ADatabaseWithoutTheNetworkIsNotACordonDatabase) {
  expect_refused([&] { Admin::open(uri); }, {"is not a Cordon network database", "network init"});
}

TEST_F(PostgresTest, MessagesNameTheServerButNeverThePassword) {
  const std::string dir_of_server = pg::server().dir();
  expect_refused([&] { Admin::open("postgresql://cordon:hunter2@/no_such_db?host=" + dir_of_server); },
                 {"postgresql://cordon@/no_such_db?host=" + dir_of_server, "does not exist", "createdb"});
  try {
    Admin::open("postgresql://cordon:hunter2@/no_such_db?host=" + dir_of_server);
  } catch (const AdminError& e) {
    EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
  }
  expect_refused([&] { Admin::open("postgresql://cordon:hunter2@/x?host=" + dir.file("nothing-here")); },
                 {"cannot connect to PostgreSQL server", dir.file("nothing-here"), "check that the server is running"});
  expect_refused([&] { Admin::open("postgresql://stranger@/postgres?host=" + dir_of_server); },
                 {"cannot log in to PostgreSQL server postgresql://stranger@/postgres", "role \"stranger\" does not exist",
                  "check the user, its password", "pg_hba.conf"});
  expect_refused([&] { Admin::open("postgresql://u:hunter2@[::1/x"); }, {"not a valid PostgreSQL URI"});
  try {
    Admin::open("postgresql://u:hunter2@[::1/x");
  } catch (const AdminError& e) {
    EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
  }
  EXPECT_EQ(database_name("postgres://u:secret@db.example:5433/net"), "postgresql://u@db.example:5433/net");
}

// Two administrators: while one holds the write lock, the other waits at
// most kBusyTimeoutMs and is refused, naming what to do; nothing is lost.
TEST_F(PostgresTest, ASecondWriterIsRefusedWhileTheFirstHoldsTheLock) {
  Admin first = Admin::init(uri, test_network());
  Admin second = Admin::open(uri);
  {
    Admin::Batch batch(first);
    first.add_host(coordinator("hub"));
    expect_refused([&] { second.add_host(client("c1")); },
                   {"locked by another `cordon admin` command", "run this command again"});
    batch.commit();
  }
  second.add_host(client("c1", "hub"));
  const auto hosts = first.list_hosts();
  ASSERT_EQ(hosts.size(), 2u);
  EXPECT_EQ(first.show_host("c1").name, "c1");
}

TEST_F(PostgresTest, ConcurrentWritersNeverLoseAChange) {
  (void)Admin::init(uri, test_network());
  constexpr int kPerWriter = 15;
  std::atomic<int> refused{0};
  auto writer = [&](const std::string& prefix) {
    Admin a = Admin::open(uri);
    for (int i = 0; i < kPerWriter; ++i) {
      for (;;) {  // a refusal changed nothing: the administrator runs the command again
        try {
          a.add_group(prefix + std::to_string(i));
          break;
        } catch (const DatabaseLocked&) {
          ++refused;
        }
      }
    }
  };
  std::thread one(writer, "a");
  std::thread two(writer, "b");
  one.join();
  two.join();
  Admin a = Admin::open(uri);
  EXPECT_EQ(a.list_groups().size(), 2u * kPerWriter);
  int ok_rows = 0;
  for (const AuditEntry& e : a.audit_log(0)) ok_rows += e.operation == "group add" && e.result == "ok";
  EXPECT_EQ(ok_rows, 2 * kPerWriter);
}

// The server dies in the middle of a command: nothing of it is kept, the
// message says so, and the network works again once the server is back.
TEST_F(PostgresTest, AServerKilledMidTransactionKeepsNothingOfIt) {
  Admin a = Admin::init(uri, test_network());
  a.add_host(coordinator("hub"));
  {
    Admin::Batch batch(a);
    a.add_host(client("c1", "hub"));
    pg::server().crash();
    expect_refused([&] { batch.commit(); }, {"connection to PostgreSQL server", "was lost", "nothing was changed"});
  }
  pg::server().start();
  Admin again = Admin::open(uri);
  const auto hosts = again.list_hosts();
  ASSERT_EQ(hosts.size(), 1u);
  EXPECT_EQ(hosts[0].name, "hub");
  // The first Admin reconnects at its next transaction.
  a.add_host(client("c2", "hub"));
  EXPECT_EQ(again.list_hosts().size(), 2u);
}

// The connection breaks while COMMIT is under way: the admin asks the
// server on a new connection whether the transaction committed, and says.
// A deferred constraint trigger ends its own backend at COMMIT.
TEST_F(PostgresTest, AConnectionLostDuringCommitIsSettledByAskingTheServer) {
  Admin a = Admin::init(uri, test_network());
  pg::query(uri,
            "CREATE FUNCTION cut() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); RETURN NULL; END $$; "
            "CREATE CONSTRAINT TRIGGER cut_at_commit AFTER INSERT ON host_groups "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION cut()");
  expect_refused([&] { a.add_group("g"); },
                 {"was lost during COMMIT", "the server rolled the change back", "aborted), nothing was changed",
                  "run the command again"});
  pg::query(uri, "DROP TRIGGER cut_at_commit ON host_groups");
  EXPECT_TRUE(a.list_groups().empty());
  a.add_group("g");
  EXPECT_EQ(a.list_groups().size(), 1u);
}

// The connection breaks after the server committed but before its answer
// arrived: the server says the transaction committed, so the command
// succeeded, once, and says so by returning normally.
TEST_F(PostgresTest, ACommitWhoseAnswerIsLostIsKnownToHaveCommitted) {
  (void)Admin::init(uri, test_network());
  CommitCutter cutter(dir.path().string(), pg::server().dir() + "/.s.PGSQL.5432");
  const std::string name = uri.substr(uri.find("@/") + 2, uri.find('?') - uri.find("@/") - 2);
  Admin a = Admin::open("postgresql://cordon@/" + name + "?host=" + dir.path().string());
  cutter.arm();
  a.add_group("g");
  EXPECT_TRUE(cutter.cut());
  ASSERT_EQ(a.list_groups().size(), 1u);
  int rows = 0;
  for (const AuditEntry& e : a.audit_log(0)) rows += e.operation == "group add";
  EXPECT_EQ(rows, 1);  // one row: the command was neither lost nor repeated
}

TEST_F(PostgresTest, AServerThatIsDownIsNamedWithWhatToDo) {
  (void)Admin::init(uri, test_network());
  pg::server().stop();
  std::string message;
  try {
    Admin::open(uri);
  } catch (const AdminError& e) {
    message = e.what();
  }
  pg::server().start();
  EXPECT_NE(message.find("cannot connect to PostgreSQL server postgresql://cordon@/"), std::string::npos) << message;
  EXPECT_NE(message.find("check that the server is running"), std::string::npos) << message;
}

TEST_F(PostgresTest, MigrateCopiesEveryTableOfAnSqliteDatabase) {
  const std::string file = dir.file("admin.db");
  Admin source = Admin::init(file, test_network());
  populate(source, dir);
  const MigrationResult result = source.migrate_to(uri);
  EXPECT_EQ(result.target, database_name(uri));

  Admin target = Admin::open(uri);
  for (const char* table : schema_tables()) {
    std::vector<std::string> from = rows_of(source.database(), table), to = rows_of(target.database(), table);
    if (std::string_view(table) == "audit") {
      // Each side has one more row: its own record of the migration.
      ASSERT_FALSE(from.empty());
      ASSERT_FALSE(to.empty());
      EXPECT_NE(from.back().find("'network migrate'"), std::string::npos);
      EXPECT_NE(to.back().find("'network migrate'"), std::string::npos);
      from.pop_back();
      to.pop_back();
    }
    EXPECT_FALSE(std::string_view(table) != "compromised_hosts" && std::string_view(table) != "group_links" &&
                 from.empty())
        << table << " was not filled by the test network";
    EXPECT_EQ(from, to) << table;
  }
  // Generated ids continue above the copied ones.
  (void)target.add_user("hub", "carol", std::nullopt);
  target.add_group("lab");
  target.add_filter_rule(FilterTarget{FilterTarget::Kind::kGroup, "lab"}, "allow out proto icmp");
  EXPECT_EQ(target.list_users(std::nullopt).size(), 3u);

  // A second migration finds the target in use.
  expect_refused([&] { source.migrate_to(uri); }, {"is not empty", "a Cordon network among them"});
  expect_refused([&] { target.migrate_to(pg::fresh_database()); }, {"already in PostgreSQL"});
}

TEST_F(PostgresTest, ABackupOfAPostgresDatabaseRestoresOnBothBackends) {
  Admin a = Admin::init(uri, test_network());
  populate(a, dir);
  const std::string backup = dir.file("net.backup");
  a.export_backup(backup, "correct horse battery");

  const std::string file = dir.file("restored.db");
  (void)Admin::import_backup(backup, file, "correct horse battery");
  const std::string other = pg::fresh_database();
  (void)Admin::import_backup(backup, other, "correct horse battery");
  Admin from_file = Admin::open(file);
  Admin from_pg = Admin::open(other);
  for (const char* table : schema_tables()) {
    if (std::string_view(table) == "audit") continue;  // each restore adds its own row
    EXPECT_EQ(rows_of(a.database(), table), rows_of(from_file.database(), table)) << table;
    EXPECT_EQ(rows_of(a.database(), table), rows_of(from_pg.database(), table)) << table;
  }
  expect_refused([&] { Admin::import_backup(backup, other, "correct horse battery"); }, {"is not empty"});
  pg::drop_database(other);
}

}  // namespace
}  // namespace cordon::admin::test
