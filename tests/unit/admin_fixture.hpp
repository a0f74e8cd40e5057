// Shared set-up for the admin unit tests (tests/unit/admin_*_test.cpp): a
// private temporary directory, a fresh network database in it, and helpers
// to read back what the admin wrote (key sets, packages, table contents).
//
// The suites that use no SQLite-only feature are compiled twice: into
// unit_tests on SQLite files, and with CORDON_ADMIN_TEST_POSTGRES into
// admin_postgres_tests, where each test's database is a fresh one on the
// binary's private PostgreSQL server (tests/postgres/pg_server.hpp).
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "admin/admin.hpp"
#include "core/keys/keyset.hpp"
#include "core/keys/update_package.hpp"
#ifdef CORDON_ADMIN_TEST_POSTGRES
#include "postgres/pg_server.hpp"
#endif

namespace cordon::admin::test {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string templ = (fs::temp_directory_path() / "cordon-admin-test-XXXXXX").string();
    if (::mkdtemp(templ.data()) != nullptr) path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

inline std::vector<std::byte> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(chars.size());
  for (size_t i = 0; i < chars.size(); ++i) out[i] = static_cast<std::byte>(chars[i]);
  return out;
}

inline NetworkSpec test_network() {
  NetworkSpec spec;
  spec.number = 1;
  spec.name = "test";
  spec.ipv4 = *Prefix::parse("10.77.0.0/24");
  spec.ipv6 = *Prefix::parse("fd77::/64");
  return spec;
}

inline HostSpec client(const std::string& name, const std::string& coordinator = "") {
  HostSpec s;
  s.name = name;
  s.role = Role::kClient;
  if (!coordinator.empty()) s.coordinators.coordinator = coordinator;
  return s;
}

inline HostSpec coordinator(const std::string& name) {
  HostSpec s;
  s.name = name;
  s.role = Role::kCoordinator;
  s.endpoints.push_back(*Endpoint::parse("192.0.2.1:51820"));
  return s;
}

// Every table but the audit log, as text: "nothing changed" compares two dumps.
inline std::string content_dump(Database& db) {
  std::string out;
  for (const char* table : {"network", "hosts", "endpoints", "subnets", "ipsec_subnets", "users", "host_groups",
                            "group_members", "group_links", "links", "compromised_hosts", "filter_rules"}) {
    out += std::string("[") + table + "]\n";
    Statement st = db.prepare(std::string("SELECT * FROM ") + table + " ORDER BY 1, 2");
    while (st.step()) {
      for (int c = 0; c < st.columns(); ++c) out += (st.is_null(c) ? "NULL" : st.text(c)) + "|";
      out += "\n";
    }
  }
  return out;
}

// A database for one test: a file in `dir`, or a fresh PostgreSQL database.
inline std::string test_database(const TempDir& dir) {
#ifdef CORDON_ADMIN_TEST_POSTGRES
  (void)dir;
  return pg::fresh_database();
#else
  return dir.file("admin.db");
#endif
}

inline void drop_test_database(const std::string& db) {
#ifdef CORDON_ADMIN_TEST_POSTGRES
  pg::drop_database(db);
#else
  (void)db;
#endif
}

// A fixture with a fresh network: 10.77.0.0/24 and fd77::/64, network 1.
class AdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir.path().empty());
    db_path = test_database(dir);
    admin.emplace(Admin::init(db_path, test_network()));
  }
  void TearDown() override {
    admin.reset();
    drop_test_database(db_path);
  }
  Admin& a() { return *admin; }
  std::string dump() { return content_dump(admin->database()); }

  // The generated password of a new user (for opening its key sets).
  std::string add_user(const std::string& host, const std::string& user) {
    NewPassword p = a().add_user(host, user, std::nullopt);
    return std::string(keys::as_text(p.generated));
  }
  keys::OpenedKeySet export_and_open(const std::string& host, const std::string& password,
                                     const std::optional<std::string>& user = std::nullopt) {
    const std::string path = dir.file(host + ".keyset");
    a().export_keyset(host, user, path);
    auto opened = keys::open_keyset(read_bytes(path), password);
    EXPECT_TRUE(opened.ok()) << (opened.ok() ? "" : opened.error().message());
    return std::move(opened.value());
  }

  // `gateway`'s subnets as `host`'s key set lists them.
  std::vector<Prefix> subnets_seen_by(const std::string& host, const std::string& password, HostId gateway) {
    const auto opened = export_and_open(host, password);
    for (const auto& e : opened.body.book.entries) {
      if (e.id == gateway) return e.subnets;
    }
    ADD_FAILURE() << host << " has no entry for " << gateway.to_string();
    return {};
  }

  TempDir dir;
  std::string db_path;
  std::optional<Admin> admin;
};

// AdminTest with two clients, a and b, linked by hand.
class LinkedPairTest : public AdminTest {
 protected:
  void SetUp() override {
    AdminTest::SetUp();
    a().add_host(client("a"));
    a().add_host(client("b"));
    a().add_link("a", "b");
  }
};

// Expects `body` to throw AdminError whose message contains every `needle`.
template <typename F>
void expect_refused(F&& body, std::initializer_list<std::string_view> needles) {
  try {
    body();
    ADD_FAILURE() << "expected an AdminError";
  } catch (const AdminError& e) {
    const std::string message = e.what();
    for (std::string_view n : needles) {
      EXPECT_NE(message.find(n), std::string::npos) << "message: " << message << "\nmissing: " << n;
    }
  }
}

}  // namespace cordon::admin::test
