// The [metrics] HTTP server (daemon/metrics_server.hpp) on loopback: a
// scrape waits for the control thread, played here by the test, which
// answers through serve_pending; no answer in time is 503; other paths are
// 404; stopping answers a waiting scrape at once; a taken port is refused
// (or logged with `optional`). The HTTP client runs in a forked child, so
// that this process's one test thread can be the control thread.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <httplib.h>

#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "daemon/metrics_server.hpp"

namespace cordon::daemon {
namespace {

using namespace std::chrono_literals;

// A port the kernel just gave out on 127.0.0.1, and released.
uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::abort();
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

DaemonConfig config_on(uint16_t port, bool optional = false) {
  DaemonConfig config;
  config.path = "cordon.toml";
  config.metrics = MetricsConfig{Endpoint{IpAddress::v4(0x7f000001u), port}, optional};
  return config;
}

struct Answer {
  int status = 0;  // 0: no answer
  std::string content_type, body;
};

Answer get(uint16_t port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(10);
  auto result = client.Get(path);
  if (!result) return {};
  return Answer{result->status, result->get_header_value("Content-Type"), result->body};
}

// A GET in a child process; finish() collects the answer through a pipe:
// the status on the first line, then the body.
class ChildGet {
 public:
  ChildGet(uint16_t port, const std::string& path) {
    if (::pipe(pipe_) != 0) std::abort();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(pipe_[0]);
      const Answer a = get(port, path);
      const std::string out = std::to_string(a.status) + "\n" + a.body;
      for (size_t done = 0; done < out.size();) {
        const ssize_t n = ::write(pipe_[1], out.data() + done, out.size() - done);
        if (n <= 0) break;
        done += static_cast<size_t>(n);
      }
      ::_exit(0);
    }
    ::close(pipe_[1]);
  }
  Answer finish() {
    std::string text;
    char buf[4096];
    for (ssize_t n; (n = ::read(pipe_[0], buf, sizeof(buf))) > 0;) text.append(buf, static_cast<size_t>(n));
    ::close(pipe_[0]);
    ::waitpid(pid_, nullptr, 0);
    const size_t nl = text.find('\n');
    if (nl == std::string::npos) return {};
    return Answer{std::stoi(text.substr(0, nl)), "", text.substr(nl + 1)};
  }

 private:
  int pipe_[2] = {-1, -1};
  pid_t pid_ = -1;
};

bool readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

nlohmann::json tiny_status() { return {{"host", "0x0001000a"}, {"interface", "cordon0"}, {"role", "client"}}; }

TEST(MetricsServerTest, AScrapeIsAnsweredByTheControlThread) {
  const uint16_t port = free_port();
  auto server = MetricsServer::open(config_on(port));
  ASSERT_TRUE(server.ok()) << server.error();
  ASSERT_TRUE(server.value());
  MetricsServer& m = *server.value();
  EXPECT_FALSE(readable(m.wake_fd(), 0));
  ChildGet child(port, "/metrics");
  ASSERT_TRUE(readable(m.wake_fd(), 10000)) << "the scrape did not wake the control thread";
  int documents = 0;
  m.serve_pending([&] {
    ++documents;
    return tiny_status();
  });
  const Answer a = child.finish();
  EXPECT_EQ(documents, 1);
  EXPECT_EQ(a.status, 200);
  EXPECT_NE(a.body.find("\ncordon_info{host=\"0x0001000a\",interface=\"cordon0\",role=\"client\","), std::string::npos)
      << a.body;
  EXPECT_NE(a.body.find("\nprocess_open_fds "), std::string::npos) << a.body;
  // Nothing waits now: no document is built.
  m.serve_pending([&] {
    ++documents;
    return tiny_status();
  });
  EXPECT_EQ(documents, 1);
}

// "[::1]:PORT" binds the IPv6 loopback (the port the kernel gave out on
// 127.0.0.1 is free there too in practice; a clash fails the test loudly).
TEST(MetricsServerTest, ListensOnIpv6Loopback) {
  const uint16_t port = free_port();
  DaemonConfig config = config_on(port);
  config.metrics->listen = *Endpoint::parse("[::1]:" + std::to_string(port));
  auto server = MetricsServer::open(config);
  ASSERT_TRUE(server.ok()) << server.error();
  ASSERT_TRUE(server.value());
  httplib::Client client("::1", port);
  auto result = client.Get("/nothing-here");
  ASSERT_TRUE(result) << "no answer on [::1]:" << port;
  EXPECT_EQ(result->status, 404);
}

TEST(MetricsServerTest, OtherPathsAre404WithoutWakingTheControlThread) {
  const uint16_t port = free_port();
  auto server = MetricsServer::open(config_on(port));
  ASSERT_TRUE(server.ok() && server.value());
  EXPECT_EQ(get(port, "/").status, 404);
  EXPECT_EQ(get(port, "/metrics/x").status, 404);
  EXPECT_FALSE(readable(server.value()->wake_fd(), 0));
}

TEST(MetricsServerTest, NoAnswerInTimeIs503) {
  const uint16_t port = free_port();
  auto server = MetricsServer::open(config_on(port), 200ms);
  ASSERT_TRUE(server.ok() && server.value());
  const Answer a = get(port, "/metrics");  // nobody serves
  EXPECT_EQ(a.status, 503);
  // The late answer goes to a scrape that gave up: nothing breaks.
  server.value()->serve_pending(tiny_status);
}

TEST(MetricsServerTest, StoppingAnswersAWaitingScrapeAtOnce) {
  const uint16_t port = free_port();
  auto server = MetricsServer::open(config_on(port), 60s);
  ASSERT_TRUE(server.ok() && server.value());
  ChildGet child(port, "/metrics");
  ASSERT_TRUE(readable(server.value()->wake_fd(), 10000));
  const auto before = std::chrono::steady_clock::now();
  server.value().reset();
  const Answer a = child.finish();
  EXPECT_EQ(a.status, 503);
  EXPECT_LT(std::chrono::steady_clock::now() - before, 30s) << "the stop waited for the scrape timeout";
}

TEST(MetricsServerTest, ATakenPortIsRefusedOrLoggedWhenOptional) {
  const uint16_t port = free_port();
  auto first = MetricsServer::open(config_on(port));
  ASSERT_TRUE(first.ok() && first.value());
  auto second = MetricsServer::open(config_on(port));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error(), "metrics: cannot listen on 127.0.0.1:" + std::to_string(port) +
                                " (Address already in use); free that address, or choose another [metrics] listen "
                                "in cordon.toml, or set [metrics] optional = true to start without metrics");
  auto optional = MetricsServer::open(config_on(port, true));
  ASSERT_TRUE(optional.ok());
  EXPECT_FALSE(optional.value());
  DaemonConfig off;
  auto none = MetricsServer::open(off);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none.value());
}

}  // namespace
}  // namespace cordon::daemon
