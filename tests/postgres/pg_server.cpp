// The test binary's PostgreSQL server (pg_server.hpp).
#include "postgres/pg_server.hpp"

#include <fcntl.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace cordon::admin::test::pg {
namespace {

namespace fs = std::filesystem;

// Debian installs each major version under /usr/lib/postgresql/N/bin.
std::string bin_dir() {
  std::error_code ec;
  std::string best;
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const fs::path bin = e.path() / "bin";
    if (fs::exists(bin / "initdb") && fs::exists(bin / "postgres") && bin.string() > best) best = bin.string();
  }
  if (best.empty()) {
    throw std::runtime_error(
        "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin: install the postgresql package "
        "(scripts/install-deps.sh)");
  }
  return best;
}

std::string log_of(const std::string& file) {
  std::ifstream in(file);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs `argv` in the background as `nobody` when we are root (initdb and
// postgres refuse root), its output appended to `log`.
pid_t spawn(const std::vector<std::string>& argv, const std::string& dir, const std::string& log) {
  const passwd* nobody = ::getuid() == 0 ? ::getpwnam("nobody") : nullptr;
  if (::getuid() == 0 && nobody == nullptr) throw std::runtime_error("no user `nobody` to run PostgreSQL as");
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid > 0) return pid;
  const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (fd >= 0) {
    ::dup2(fd, 1);
    ::dup2(fd, 2);
  }
  if (nobody != nullptr && (::setgid(nobody->pw_gid) != 0 || ::setuid(nobody->pw_uid) != 0)) ::_exit(126);
  // A test binary that dies without its TearDown (a crash, SIGKILL) takes
  // its server with it: SIGQUIT is PostgreSQL's immediate shutdown. Set
  // after setuid, which clears it.
  if (::prctl(PR_SET_PDEATHSIG, SIGQUIT) != 0 || ::getppid() == 1) ::_exit(126);
  if (::chdir(dir.c_str()) != 0) ::_exit(126);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execv(args[0], args.data());
  ::_exit(127);
}

int wait_for(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

class Environment : public ::testing::Environment {
 public:
  void SetUp() override {
    try {
      server().start();
    } catch (const std::exception& e) {
      FAIL() << "the test PostgreSQL server did not start: " << e.what();
    }
  }
  void TearDown() override {
    server().stop();
    server().remove_dir();
  }
};

const auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new Environment);

}  // namespace

void Server::start() {
  const std::string bin = bin_dir();
  if (dir_.empty()) {
    std::string templ = (fs::temp_directory_path() / "cordon-pg-test-XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = templ;
    if (::getuid() == 0) {
      const passwd* nobody = ::getpwnam("nobody");
      if (nobody == nullptr || ::chown(dir_.c_str(), nobody->pw_uid, nobody->pw_gid) != 0) {
        throw std::runtime_error("cannot give " + dir_ + " to nobody");
      }
    }
    const pid_t init = spawn({bin + "/initdb", "-D", dir_ + "/data", "-U", "cordon", "-A", "trust", "-E", "UTF8",
                              "--no-locale", "--no-sync"},
                             dir_, dir_ + "/initdb.log");
    const int status = wait_for(init);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      throw std::runtime_error("initdb failed: " + log_of(dir_ + "/initdb.log"));
    }
  }
  // Only the socket in our directory: no TCP listener at all. fsync off:
  // a test cluster is thrown away, and crash() is an immediate shutdown of
  // the processes, not of the machine.
  pid_ = spawn({bin + "/postgres", "-D", dir_ + "/data", "-k", dir_, "-c", "listen_addresses=", "-c", "fsync=off",
                "-c", "full_page_writes=off", "-c", "max_connections=40"},
               dir_, dir_ + "/server.log");
  const std::string conninfo = uri("postgres");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (PQping(conninfo.c_str()) != PQPING_OK) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("postgres exited: " + log_of(dir_ + "/server.log"));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("postgres did not answer within 60 s: " + log_of(dir_ + "/server.log"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the poll's interval
  }
}

void Server::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGINT);
  wait_for(pid_);
  pid_ = -1;
}

void Server::crash() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGQUIT);
  wait_for(pid_);
  pid_ = -1;
}

void Server::remove_dir() {
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
  dir_.clear();
}

std::string Server::uri(const std::string& name) const { return "postgresql://cordon@/" + name + "?host=" + dir_; }

Server& server() {
  static Server s;
  return s;
}

std::string query(const std::string& uri, const std::string& sql) {
  PGconn* conn = PQconnectdb(uri.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    const std::string error = PQerrorMessage(conn);
    PQfinish(conn);
    throw std::runtime_error("cannot connect to " + uri + ": " + error);
  }
  PGresult* r = PQexec(conn, sql.c_str());
  const ExecStatusType status = PQresultStatus(r);
  std::string out;
  if (status == PGRES_TUPLES_OK && PQntuples(r) > 0 && PQnfields(r) > 0) out = PQgetvalue(r, 0, 0);
  const std::string error = PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(conn);
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) throw std::runtime_error(sql + ": " + error);
  return out;
}

std::string fresh_database() {
  static std::atomic<int> next{0};
  const std::string name = "cordon_test_" + std::to_string(++next);
  query(server().uri("postgres"), "CREATE DATABASE " + name + " STRATEGY = FILE_COPY");
  return server().uri(name);
}

void drop_database(const std::string& uri) {
  const size_t start = uri.find("@/") + 2;
  const std::string name = uri.substr(start, uri.find('?') - start);
  query(server().uri("postgres"), "DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
}

}  // namespace cordon::admin::test::pg
