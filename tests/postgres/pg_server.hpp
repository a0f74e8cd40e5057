// A private PostgreSQL server for the admin tests on the PostgreSQL backend
// (docs/administration.md, "PostgreSQL"): one per test binary, started by a
// GoogleTest global environment in a fresh temporary directory, listening
// only on a unix socket in that directory (no TCP). As root it runs as
// `nobody`, since initdb and postgres refuse root. Each test gets its own
// database (fresh_database), so tests stay independent. Missing PostgreSQL
// binaries fail the tests; scripts/install-deps.sh installs them.
#pragma once

#include <sys/types.h>

#include <string>

namespace cordon::admin::test::pg {

class Server {
 public:
  // initdb (the first time), then postgres; waits until it answers.
  void start();
  // Fast shutdown (SIGINT), waited for.
  void stop();
  // Immediate shutdown (SIGQUIT to the postmaster, which kills every
  // backend at once, as a crash would): the next start() recovers.
  void crash();
  bool running() const { return pid_ > 0; }
  // The URI of database `name` as user `cordon`.
  std::string uri(const std::string& name) const;
  const std::string& dir() const { return dir_; }
  void remove_dir();

 private:
  std::string dir_;
  pid_t pid_ = -1;
};

// The server of this test binary.
Server& server();

// A new empty database; its URI.
std::string fresh_database();
// Drops the database of `uri` (fresh_database's), closing its connections.
void drop_database(const std::string& uri);
// Runs SQL on the database of `uri` through its own connection; the first
// column of the first row ("" when none). Throws std::runtime_error.
std::string query(const std::string& uri, const std::string& sql);

}  // namespace cordon::admin::test::pg
