// The web console's server (src/admin/console/server.hpp) on loopback, as
// a browser would use it through httplib's client: reads without a
// session, 403 for a write without a session or with a bad CSRF token, a
// login (wrong password counted and audited), a write that leaves the same
// audit row as the CLI plus one naming the console user. And the JSON the
// map is drawn from.
#include <httplib.h>

#include <fmt/format.h>

#include <gtest/gtest.h>

#include <poll.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "admin/console/accounts.hpp"
#include "admin/console/certificate.hpp"
#include "admin/console/server.hpp"
#include "admin/console/server_impl.hpp"
#include "admin/console/view.hpp"
#include "core/courier/status_report.hpp"
#include "daemon/control.hpp"
#include "tests/unit/admin_fixture.hpp"

namespace cordon::admin::console {
namespace {

using json = nlohmann::json;
using test::TempDir;

// The administration host's daemon as far as the console sees it: a real
// control socket answering "courier"/"network" with `answer`.
class FakeDaemon {
 public:
  FakeDaemon(const std::string& path, json answer) : answer_(std::move(answer)) {
    auto server = daemon::ControlServer::open(path);
    if (!server) throw std::runtime_error(server.error().message());
    server_.emplace(std::move(server.value()));
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd p{server_->fd(), POLLIN, 0};
        if (::poll(&p, 1, 50) > 0) server_->serve_pending([this](const json& request) { return reply(request); });
      }
    });
  }
  ~FakeDaemon() {
    stop_ = true;
    thread_.join();
  }
  void set_answer(json answer) {
    std::lock_guard lock(mutex_);
    answer_ = std::move(answer);
  }

 private:
  json reply(const json& request) {
    std::lock_guard lock(mutex_);
    if (request.value("command", "") == "courier" && request.value("action", "") == "network") return answer_;
    return {{"error", "not served by this test"}};
  }
  std::mutex mutex_;
  json answer_;
  std::optional<daemon::ControlServer> server_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class ConsoleServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = dir_.file("admin.db");
    Admin a = Admin::init(db_, test::test_network());
    a.add_host(test::coordinator("hub"));
    a.add_host(test::client("alpha", "hub"));
    a.add_host(test::client("beta", "hub"));
    a.add_group("ops");
    add_account(a, "root-admin", "correct horse 1");
    ConsoleOptions o;
    o.db_path = db_;
    o.listen_host = "127.0.0.1";
    o.socket = dir_.file("adm.sock");
    o.clock = [] { return int64_t{1'800'000'000}; };  // the rate limit's delays never run out
    o.certificate = console_certificate(std::nullopt, std::nullopt, db_, "127.0.0.1");
    server_ = ConsoleServer::open(o);
    thread_ = std::thread([this] { server_->run(); });
    client_ = std::make_unique<httplib::SSLClient>("127.0.0.1", server_->port());
    client_->enable_server_certificate_verification(false);
    ASSERT_TRUE(client_->Get("/api/session")) << "the console does not answer";
  }
  void TearDown() override {
    server_->stop();
    thread_.join();
  }

  httplib::Result post(const std::string& path, const json& body, const httplib::Headers& headers = {}) {
    return client_->Post(path.c_str(), headers, body.dump(), "application/json");
  }
  // Logs in; returns the Cookie header and the CSRF token.
  std::pair<std::string, std::string> login() {
    auto r = post("/api/login", {{"user", "root-admin"}, {"password", "correct horse 1"}});
    EXPECT_EQ(r->status, 200) << r->body;
    const std::string cookie = r->get_header_value("Set-Cookie");
    EXPECT_NE(cookie.find("Secure"), std::string::npos);
    EXPECT_NE(cookie.find("HttpOnly"), std::string::npos);
    EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos);
    return {cookie.substr(0, cookie.find(';')), json::parse(r->body).at("csrf").get<std::string>()};
  }
  std::vector<AuditEntry> audit() { return Admin::open(db_).audit_log(0); }

  TempDir dir_;
  std::string db_;
  std::unique_ptr<ConsoleServer> server_;
  std::thread thread_;
  std::unique_ptr<httplib::SSLClient> client_;
};

TEST_F(ConsoleServerTest, MapStateWithoutDaemonIsAllUnknownWithAReason) {
  auto r = client_->Get("/api/state");
  ASSERT_EQ(r->status, 200);
  EXPECT_NE(r->get_header_value("Content-Security-Policy").find("script-src 'self'"), std::string::npos);
  const json j = json::parse(r->body);
  EXPECT_FALSE(j["live"]["answered"].get<bool>());
  EXPECT_FALSE(j["live"]["why"].get<std::string>().empty());
  ASSERT_EQ(j["hosts"].size(), 3u);
  for (const json& h : j["hosts"]) EXPECT_EQ(h["state"], "unknown") << h.dump();
  ASSERT_EQ(j["links"].size(), 2u) << "alpha-hub and beta-hub";
  for (const json& l : j["links"]) EXPECT_EQ(l["path"], "unknown");
}

// hub's status report, sealed under its host key as a coordinator seals it
// (core/courier/status_report.hpp), in the daemon's "network" answer: alpha
// reachable over TCP, beta as given.
// `signer`: whose host key tags it (a forgery when not hub's).
json network_answer(Admin& a, Reachability beta, const char* signer = "0x00010001") {
  const HostId hub = *HostId::parse("0x00010001");
  Statement st = a.database().prepare("SELECT host_key FROM hosts WHERE id = ?1");
  st.bind(1, static_cast<int64_t>(HostId::parse(signer)->value));
  EXPECT_TRUE(st.step());
  const crypto::SecretBytes key(st.blob(0));
  courier::StatusReport r;
  r.coordinator = hub;
  r.time_s = 1'800'000'000;
  courier::ClientState alpha, b;
  alpha.host = *HostId::parse("0x00010002");
  alpha.state = Reachability::kReachable;
  alpha.tcp = true;
  b.host = *HostId::parse("0x00010003");
  b.state = beta;
  r.clients = {alpha, b};
  const auto sealed = courier::seal_status_report(r, key);
  EXPECT_TRUE(sealed);
  std::string hex;
  for (std::byte x : *sealed) hex += fmt::format("{:02x}", static_cast<unsigned>(x));
  return {{"self", "0x00010002"},
          {"now", r.time_s + 5},
          {"reports", {{{"coordinator", hub.to_string()}, {"version", r.time_s * 1000}, {"payload", hex}}}}};
}

TEST_F(ConsoleServerTest, MapStateFollowsTheCoordinatorsReports) {
  Admin a = Admin::open(db_);
  FakeDaemon daemon(dir_.file("adm.sock"), network_answer(a, Reachability::kReachable));
  auto states = [&] {
    const json j = json::parse(client_->Get("/api/state")->body);
    EXPECT_TRUE(j["live"]["answered"].get<bool>()) << j["live"].dump();
    EXPECT_TRUE(j["live"]["problems"].empty()) << j["live"].dump();
    std::map<std::string, std::string> out;
    for (const json& h : j["hosts"]) out[h["name"]] = h["state"];
    for (const json& l : j["links"]) out[l["a_name"].get<std::string>() + "-" + l["b_name"].get<std::string>()] = l["path"];
    return out;
  };
  using M = std::map<std::string, std::string>;
  EXPECT_EQ(states(), (M{{"hub", "reachable"}, {"alpha", "reachable"}, {"beta", "reachable"},
                         {"hub-alpha", "tcp"}, {"hub-beta", "direct"}}));
  daemon.set_answer(network_answer(a, Reachability::kUnreachable));
  EXPECT_EQ(states(), (M{{"hub", "reachable"}, {"alpha", "reachable"}, {"beta", "unreachable"},
                         {"hub-alpha", "tcp"}, {"hub-beta", "none"}}));
}

TEST_F(ConsoleServerTest, ForgedReportIsSetAsideAndSaidSo) {
  Admin a = Admin::open(db_);
  json answer = network_answer(a, Reachability::kReachable, "0x00010002");  // tagged under alpha's key
  FakeDaemon daemon(dir_.file("adm.sock"), answer);
  const json j = json::parse(client_->Get("/api/state")->body);
  EXPECT_FALSE(j["live"]["problems"].empty()) << j["live"].dump();
  for (const json& h : j["hosts"]) EXPECT_EQ(h["state"], "unknown") << h.dump();
}

TEST_F(ConsoleServerTest, PageAndPinnedD3AreServed) {
  auto page = client_->Get("/");
  ASSERT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("/d3.min.js"), std::string::npos);
  auto d3 = client_->Get("/d3.min.js");
  ASSERT_EQ(d3->status, 200);
  EXPECT_NE(d3->body.find("d3={version:\"3.5."), std::string::npos);
  EXPECT_EQ(json::parse(client_->Get("/api/about")->body)["d3"]["package"], "libjs-d3 3.5.17-4");
}

TEST_F(ConsoleServerTest, WritesWithoutSessionOrWithBadCsrfAre403) {
  auto r = post("/api/link/add", {{"a", "alpha"}, {"b", "beta"}});
  EXPECT_EQ(r->status, 403);
  EXPECT_NE(json::parse(r->body)["error"].get<std::string>().find("not logged in"), std::string::npos);
  const auto [cookie, csrf] = login();
  r = post("/api/link/add", {{"a", "alpha"}, {"b", "beta"}}, {{"Cookie", cookie}});
  EXPECT_EQ(r->status, 403);
  EXPECT_NE(json::parse(r->body)["error"].get<std::string>().find("X-CSRF-Token"), std::string::npos);
  r = post("/api/link/add", {{"a", "alpha"}, {"b", "beta"}}, {{"Cookie", cookie}, {kCsrfHeader, csrf + "0"}});
  EXPECT_EQ(r->status, 403);
  r = client_->Post("/api/link/add", {{"Cookie", cookie}, {kCsrfHeader, csrf}}, "a=alpha&b=beta",
                    "application/x-www-form-urlencoded");
  EXPECT_EQ(r->status, 415) << "a cross-site form cannot post JSON";
  for (const AuditEntry& e : audit()) EXPECT_NE(e.operation, "link add") << "nothing was changed";
}

TEST_F(ConsoleServerTest, LoginThenAddLinkIsAuditedLikeTheCli) {
  const auto [cookie, csrf] = login();
  auto s = client_->Get("/api/session", {{"Cookie", cookie}});
  EXPECT_EQ(json::parse(s->body)["user"], "root-admin");
  auto r = post("/api/link/add", {{"a", "alpha"}, {"b", "beta"}}, {{"Cookie", cookie}, {kCsrfHeader, csrf}});
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body)["added"], 1);
  const std::vector<AuditEntry> rows = audit();
  ASSERT_GE(rows.size(), 2u);
  EXPECT_EQ(rows[rows.size() - 2].operation, "link add");
  EXPECT_EQ(rows[rows.size() - 2].arguments, "a=alpha b=beta");
  EXPECT_EQ(rows[rows.size() - 2].result, "ok");
  EXPECT_EQ(rows.back().operation, "console link add");
  EXPECT_EQ(rows.back().arguments, "user=root-admin a=alpha b=beta");
  // The same again is refused by the facade, and both rows say so.
  r = post("/api/link/add", {{"a", "alpha"}, {"b", "beta"}}, {{"Cookie", cookie}, {kCsrfHeader, csrf}});
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(json::parse(r->body)["error"].get<std::string>().find("already linked"), std::string::npos);
  EXPECT_EQ(audit().back().result.rfind("refused: ", 0), 0u);
  // Move into a group; logout ends the session.
  r = post("/api/group/move", {{"host", "beta"}, {"to", "ops"}}, {{"Cookie", cookie}, {kCsrfHeader, csrf}});
  EXPECT_EQ(r->status, 200) << r->body;
  r = post("/api/logout", json::object(), {{"Cookie", cookie}, {kCsrfHeader, csrf}});
  EXPECT_EQ(r->status, 200);
  r = post("/api/link/add", {{"a", "hub"}, {"b", "beta"}}, {{"Cookie", cookie}, {kCsrfHeader, csrf}});
  EXPECT_EQ(r->status, 403);
}

TEST_F(ConsoleServerTest, SendUpdatesRefusedLikeTheCliWithoutAnAdministrationHost) {
  const auto [cookie, csrf] = login();
  auto r = post("/api/updates/send", json::object(), {{"Cookie", cookie}, {kCsrfHeader, csrf}});
  EXPECT_EQ(r->status, 400) << r->body;
  std::string cli_error;
  try {
    Admin::open(db_).unsent_packages();
  } catch (const AdminError& e) {
    cli_error = e.what();
  }
  EXPECT_FALSE(cli_error.empty());
  EXPECT_EQ(json::parse(r->body)["error"], cli_error);
  EXPECT_EQ(audit().back().operation, "console updates send");
  EXPECT_EQ(audit().back().result, "refused: " + cli_error);
  EXPECT_TRUE(Admin::open(db_).pending_updates().size() > 0) << "nothing was built";
}

TEST_F(ConsoleServerTest, RemovedAccountCanNoLongerWrite) {
  const auto [cookie, csrf] = login();
  Admin a = Admin::open(db_);
  remove_account(a, "root-admin");
  auto r = post("/api/link/add", {{"a", "alpha"}, {"b", "beta"}}, {{"Cookie", cookie}, {kCsrfHeader, csrf}});
  EXPECT_EQ(r->status, 403) << r->body;
  EXPECT_NE(json::parse(r->body)["error"].get<std::string>().find("was removed"), std::string::npos);
  EXPECT_TRUE(json::parse(client_->Get("/api/session", {{"Cookie", cookie}})->body)["user"].is_null());
}

TEST_F(ConsoleServerTest, WrongPasswordsAreAuditedThenRateLimited) {
  for (int i = 0; i < kFreeFailures; ++i) {
    auto r = post("/api/login", {{"user", "root-admin"}, {"password", "wrong password"}});
    EXPECT_EQ(r->status, 403);
  }
  auto r = post("/api/login", {{"user", "root-admin"}, {"password", "correct horse 1"}});
  EXPECT_EQ(r->status, 429) << "even the right password waits";
  EXPECT_FALSE(r->get_header_value("Retry-After").empty());
  int refused = 0;
  for (const AuditEntry& e : audit()) {
    if (e.operation == "console login" && e.result.rfind("refused", 0) == 0) {
      ++refused;
      EXPECT_NE(e.arguments.find("user=root-admin from=127.0.0.1"), std::string::npos);
    }
  }
  EXPECT_EQ(refused, kFreeFailures);
}

TEST_F(ConsoleServerTest, AddressInUseNamesIt) {
  ConsoleOptions o;
  o.db_path = db_;
  o.listen_host = "127.0.0.1";
  o.listen_port = server_->port();
  o.certificate = console_certificate(std::nullopt, std::nullopt, db_, "127.0.0.1");
  try {
    ConsoleServer::open(o);
    FAIL() << "a second console on the same port";
  } catch (const AdminError& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:" + std::to_string(server_->port())), std::string::npos)
        << e.what();
  }
}

TEST(ConsoleCertificate, SelfSignedKeptPrivateAndReused) {
  TempDir dir;
  const std::string db = dir.file("admin.db");
  const CertificateFiles first = console_certificate(std::nullopt, std::nullopt, db, "127.0.0.1");
  EXPECT_TRUE(first.generated);
  EXPECT_EQ(first.fingerprint.size(), 32u * 3 - 1);
  for (const std::string& f : {first.cert, first.key}) {
    EXPECT_EQ(std::filesystem::status(f).permissions() & std::filesystem::perms::all,
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write)
        << f;
  }
  const CertificateFiles again = console_certificate(std::nullopt, std::nullopt, db, "127.0.0.1");
  EXPECT_FALSE(again.generated);
  EXPECT_EQ(again.fingerprint, first.fingerprint);
  // Given files: a key that others can read is refused.
  std::filesystem::permissions(first.key, std::filesystem::perms::group_read, std::filesystem::perm_options::add);
  EXPECT_THROW(console_certificate(first.cert, first.key, dir.file("x/admin.db"), "127.0.0.1"), AdminError);
  EXPECT_THROW(console_certificate(first.cert, std::nullopt, db, "127.0.0.1"), AdminError);
}

TEST(ConsoleAccounts, HashedAuditedAndVerified) {
  TempDir dir;
  const std::string db = dir.file("admin.db");
  Admin a = Admin::init(db, test::test_network());
  add_account(a, "ops", "a long password");
  EXPECT_THROW(add_account(a, "ops", "another password"), AdminError);
  EXPECT_THROW(add_account(a, "bad name", "a long password"), AdminError);
  EXPECT_THROW(add_account(a, "short", "tiny"), AdminError);
  // Only the Argon2id hash is stored, in the database.
  const std::optional<std::string> hash = account_hash(a, "ops");
  ASSERT_TRUE(hash);
  EXPECT_EQ(hash->rfind("$argon2id$", 0), 0u) << *hash;
  EXPECT_EQ(hash->find("a long password"), std::string::npos);
  EXPECT_TRUE(verify_password(hash, "a long password"));
  EXPECT_FALSE(verify_password(hash, "a long passworD"));
  EXPECT_FALSE(account_hash(a, "nobody"));
  EXPECT_FALSE(verify_password(std::nullopt, "a long password"));
  EXPECT_EQ(list_accounts(a), std::vector<std::string>{"ops"});
  // Another administrator opening the same database sees the account.
  Admin other = Admin::open(db);
  EXPECT_EQ(list_accounts(other), std::vector<std::string>{"ops"});
  remove_account(a, "ops");
  EXPECT_FALSE(account_hash(a, "ops"));
  EXPECT_THROW(remove_account(a, "ops"), AdminError);
  std::vector<std::string> ops;
  for (const AuditEntry& e : a.audit_log(0)) ops.push_back(e.operation + " " + e.result.substr(0, 7));
  EXPECT_EQ(ops, (std::vector<std::string>{"network init ok", "console-user add ok", "console-user add refused",
                                           "console-user add refused", "console-user add refused",
                                           "console-user remove ok", "console-user remove refused"}));
}

TEST(ConsoleView, NodesAndEdgesColouredByLiveState) {
  TempDir dir;
  const std::string db = dir.file("admin.db");
  Admin a = Admin::init(db, test::test_network());
  HostSpec gw = test::coordinator("gw");
  gw.subnets.push_back(*Prefix::parse("192.168.50.0/24"));
  gw.ipsec_subnets.push_back(IpsecSubnet{*Prefix::parse("10.50.0.0/24"), "branch"});
  const HostInfo hub = a.add_host(gw);
  const HostInfo c = a.add_host(test::client("alpha", "gw"));
  LiveState live;
  live.answered = true;
  live.hosts[hub.id].state = HostState::kReachable;
  live.hosts[c.id].state = HostState::kUnreachable;
  live.paths[{hub.id, c.id}] = PathKind::kTcp;
  const json j = state_json(a, live);
  ASSERT_EQ(j["hosts"].size(), 2u);
  EXPECT_EQ(j["hosts"][0]["name"], "gw");
  EXPECT_TRUE(j["hosts"][0]["gateway"].get<bool>());
  EXPECT_EQ(j["hosts"][0]["subnets"][0], "192.168.50.0/24");
  EXPECT_EQ(j["hosts"][0]["ipsec_subnets"], json::array({"10.50.0.0/24=branch"}));
  EXPECT_EQ(j["hosts"][1]["ipsec_subnets"], json::array());
  EXPECT_EQ(j["hosts"][0]["state"], "reachable");
  EXPECT_EQ(j["hosts"][1]["state"], "unreachable");
  EXPECT_EQ(j["hosts"][1]["registry"], hub.id.to_string());
  ASSERT_EQ(j["links"].size(), 1u);
  EXPECT_EQ(j["links"][0]["path"], "tcp");
  EXPECT_EQ(j["links"][0]["reasons"][0], "coordinator");
  a.add_host(test::client("alphabet", "gw"));
  const json h = host_json(a, "alpha", live, DeliveryReport{});
  EXPECT_EQ(h["links"].size(), 1u);
  ASSERT_EQ(h["audit"].size(), 1u) << h["audit"].dump();
  EXPECT_EQ(h["audit"][0]["arguments"], "name=alpha role=client coordinator=gw") << "not alphabet's";
}

TEST(ConsoleCookie, ValueByName) {
  EXPECT_EQ(cookie_value("a=1; __Host-cordon_session=abc; b=2", kSessionCookie), "abc");
  EXPECT_EQ(cookie_value("__Host-cordon_session=xyz", kSessionCookie), "xyz");
  EXPECT_EQ(cookie_value("x__Host-cordon_session=no", kSessionCookie), "");
  EXPECT_EQ(cookie_value("", kSessionCookie), "");
}

}  // namespace
}  // namespace cordon::admin::console
