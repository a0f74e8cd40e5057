// The TCP tunnel under a connection flood (docs/protocol.md, "Streams under
// flood"), on real kernels:
//
//     c1 203.0.113.1          a 203.0.113.2          attacker 203.0.113.100-139
//          |                       |                        |
//   ============== "internet" 203.0.113.0/24 (a bridge) =================
//
// c1 is a coordinator with its TCP tunnel on port 4443; a is its client with
// UDP dropped in its own namespace (nftables), so its only path is the TCP
// tunnel. The attacker namespace holds 5,000 connections to c1's TCP port
// from 40 addresses (half of them from the first), a third each idle,
// stalled inside a frame, and sending garbage frames, and opens a new one
// whenever c1 closes one. Meanwhile a
// must reach c1 over TCP and pass 200 pings with at most 2 lost. Then the
// attacker stops reconnecting, and c1 must let go of all its connections
// within seconds while a's stream stays.
//
// The attacker's sockets are non-blocking, made by one thread of this test
// that entered the attacker namespace (setns(2) moves only that thread), and
// bounded by count (kHeld at once, kMaxConnects in all) and by time. The
// netns harness rules hold (netns_harness.hpp): namespaces made here,
// addresses assigned only inside them, no fixed sleeps, cleanup on failure.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "tests/netns/nat_topology.hpp"
#include "tests/netns/netns_harness.hpp"

namespace cordon::netns {
namespace {

using json = nlohmann::json;

constexpr const char* kC1 = "203.0.113.1";
constexpr const char* kA = "203.0.113.2";
constexpr int kTcpPort = 4443;
constexpr int kSources = 40;  // 203.0.113.100 .. 139: more than the pending pool's share per source
constexpr size_t kHeld = 5000;
constexpr uint64_t kMaxConnects = 1'000'000;

std::string attacker_address(int i) { return "203.0.113." + std::to_string(100 + i); }

// Holds kHeld connections to c1's TCP port from inside `ns` until stopped.
class FloodAttacker {
 public:
  explicit FloodAttacker(const Namespace& ns) : thread_([this, fd = ns.fd()] { run(fd); }) {}
  ~FloodAttacker() { stop(); }
  FloodAttacker(const FloodAttacker&) = delete;
  FloodAttacker& operator=(const FloodAttacker&) = delete;

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Keeps the connections it has, and opens no more.
  void stop_reopening() { reopen_ = false; }
  uint64_t connects() const { return connects_; }
  uint64_t established() const { return established_; }
  uint64_t ended_by_c1() const { return ended_; }
  bool failed() const { return failed_; }

 private:
  enum class Kind { kIdle, kPartialFrame, kGarbage };
  struct Held {
    Kind kind;
    bool connected = false;
  };

  void run(int ns_fd) {
    if (::setns(ns_fd, CLONE_NEWNET) != 0) {
      failed_ = true;
      return;
    }
    epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    const auto until = Clock::now() + std::chrono::seconds(90);  // a bound whatever the test does
    size_t next_kind = 0;
    while (!stop_ && Clock::now() < until) {
      while (reopen_ && held_.size() < kHeld && connects_ < kMaxConnects && open_one(static_cast<Kind>(next_kind++ % 3))) {
      }
      epoll_event events[256];
      const int n = ::epoll_wait(epoll_, events, 256, 50);
      for (int i = 0; i < n; ++i) serve(events[i].data.fd, events[i].events);
    }
    for (const auto& [fd, h] : held_) ::close(fd);
    held_.clear();
    ::close(epoll_);
  }

  bool open_one(Kind kind) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in from{.sin_family = AF_INET};
    // Every other connection from the first address, which so reaches its
    // cap; the rest spread over all of them.
    const int source = connects_ % 2 == 0 ? 0 : static_cast<int>(connects_ / 2 % kSources);
    ::inet_pton(AF_INET, attacker_address(source).c_str(), &from.sin_addr);
    sockaddr_in to{.sin_family = AF_INET, .sin_port = htons(kTcpPort)};
    ::inet_pton(AF_INET, kC1, &to.sin_addr);
    ++connects_;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof(from)) != 0 ||
        (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0 && errno != EINPROGRESS)) {
      ::close(fd);
      return false;
    }
    epoll_event ev{.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP, .data = {.fd = fd}};
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
    held_[fd] = Held{kind};
    return true;
  }

  void serve(int fd, uint32_t events) {
    auto it = held_.find(fd);
    if (it == held_.end()) return;
    Held& h = it->second;
    if ((events & EPOLLOUT) && !(events & EPOLLERR) && !h.connected) {
      h.connected = true;
      ++established_;
      say(fd, h.kind);
      epoll_event ev{.events = EPOLLIN | EPOLLRDHUP, .data = {.fd = fd}};
      ::epoll_ctl(epoll_, EPOLL_CTL_MOD, fd, &ev);
    }
    if (events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP | EPOLLIN)) {
      // c1 closed it (or refused it): open another.
      ++ended_;
      ::close(fd);
      held_.erase(it);
    }
  }

  // What each kind sends once connected (core/wire/stream_frame.hpp).
  static void say(int fd, Kind kind) {
    std::vector<uint8_t> bytes;
    if (kind == Kind::kPartialFrame) {
      bytes = {0x05, 0xdc};             // a 1,500-byte datagram follows...
      bytes.resize(2 + 100, 0x42);      // ...but only 100 bytes of it come
    } else if (kind == Kind::kGarbage) {
      for (int frame = 0; frame < 3; ++frame) {
        bytes.push_back(0);
        bytes.push_back(60);
        for (int i = 0; i < 60; ++i) bytes.push_back(static_cast<uint8_t>(i * 37 + frame));
      }
    }
    if (!bytes.empty()) (void)::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  }

  std::atomic<bool> stop_{false}, failed_{false}, reopen_{true};
  std::atomic<uint64_t> connects_{0}, established_{0}, ended_{0};
  int epoll_ = -1;
  std::unordered_map<int, Held> held_;
  std::thread thread_;  // last: starts once the members above exist
};

// No timer here counts: mesh timers short enough for the test to take
// well under a minute (docs/configuration.md, [host]).
MeshTimers timers() {
  MeshTimers t = short_mesh_timers();
  t.tcp_port = kTcpPort;
  return t;
}

void block_udp(const ManagedHost& host, const fs::path& rules_file) {
  write_file(rules_file, "table inet cordon_udp_block {\n"
                         "  chain out { type filter hook output priority 0; meta l4proto udp drop; }\n"
                         "  chain in { type filter hook input priority 0; meta l4proto udp drop; }\n"
                         "}\n");
  run_checked(&host.ns(), {"nft", "-f", rules_file.string()}, 10s);
}

uint64_t tunnel_count(const json& status, const char* group, const char* key) {
  auto t = status.find("tcp_tunnel");
  if (t == status.end() || !t->is_object()) return 0;
  const json& g = group ? t->value(group, json::object()) : *t;
  return g.value(key, uint64_t{0});
}

int ping_count(const ManagedHost& from, const std::string& to, int count) {
  RunResult r = run(&from.ns(), {"ping", "-n", "-q", "-c", std::to_string(count), "-i", "0.1", "-W", "2", to}, 30s);
  auto stats = parse_ping_stats(r.out);
  return stats ? stats->received : -1;
}

using TcpFloodTest = NetnsTest;

TEST_F(TcpFloodTest, ClientKeepsItsTunnelWhileStrangersHoldFiveThousandConnections) {
  TempDir dir("netns-tcpflood");
  AdminDb admin(dir / "admin.db");
  ManagedHost c1("c1", dir.path());
  ManagedHost a("a", dir.path());
  Namespace attacker_ns("flood-attacker");
  Switch internet("flood-inet");
  internet.attach(c1.ns(), "ul0", std::string(kC1) + "/24");
  internet.attach(a.ns(), "ul0", std::string(kA) + "/24");
  internet.attach(attacker_ns, "ul0", attacker_address(0) + "/24");
  for (int i = 1; i < kSources; ++i)
    run_checked(&attacker_ns, {"ip", "addr", "add", attacker_address(i) + "/24", "dev", "ul0"}, 10s);

  admin.checked({"network", "init", "--number", "1", "--name", "flood", "--ipv4", "10.77.0.0/16"});
  c1.add_to(admin, {"--role", "coordinator", "--endpoint", endpoint_text(kC1, ManagedHost::kPort)});
  a.add_to(admin, {"--role", "client", "--coordinator", "c1"});
  for (ManagedHost* h : {&c1, &a}) {
    h->install_keyset(admin);
    h->write_config(timers());
  }
  c1.start();
  ASSERT_TRUE(wait_for_tcp_listener(c1.ns(), kTcpPort, deadline_in(10s)));

  // The flood is on before a needs the tunnel.
  const auto flood_start = Clock::now();
  FloodAttacker flood(attacker_ns);
  ASSERT_TRUE(poll_until(deadline_in(15s), [&] { return flood.established() >= kHeld; }, 100ms))
      << "the attacker established only " << flood.established() << " of " << kHeld << " connections";
  ASSERT_FALSE(flood.failed());

  block_udp(a, dir / "udp-block.nft");
  a.start();
  json sa;
  ASSERT_TRUE(poll_until(deadline_in(25s), [&] {
    sa = a.status();
    return sa.value("tcp", false) && peer_path(sa, c1.id()) == "tcp";
  }, 200ms)) << "a never got onto the TCP tunnel under the flood\n" << sa.dump(2) << "\n" << c1.status().dump(2);
  std::cout << "a on TCP " << std::chrono::duration<double>(Clock::now() - flood_start).count()
            << " s into the flood; attacker connects so far " << flood.connects() << "\n";

  RunResult ping = run(&a.ns(), {"ping", "-n", "-q", "-c", "200", "-i", "0.05", "-W", "2", c1.tun4()}, 40s);
  const auto stats = parse_ping_stats(ping.out);
  ASSERT_TRUE(stats.has_value()) << ping.describe();
  const json s1 = c1.status();
  std::cout << "ping " << stats->received << "/" << stats->transmitted << "; attacker connects " << flood.connects()
            << ", ended by c1 " << flood.ended_by_c1() << "\n";
  EXPECT_GE(stats->received, 198) << ping.describe();

  // The strangers stop coming back: c1 lets go of every one still pending
  // within the first-datagram time (5 s), while a keeps its stream.
  flood.stop_reopening();
  json s2;
  EXPECT_TRUE(poll_until(deadline_in(20s), [&] {
    s2 = c1.status();
    return s2.value("tcp_streams", 0) == 1 && tunnel_count(s2, nullptr, "pending") == 0;
  }, 200ms)) << s2.dump(2);
  EXPECT_GT(tunnel_count(s2, "closed", "no_first_datagram"), 0u) << s2.dump(2);
  EXPECT_EQ(tunnel_count(s2, nullptr, "authenticated"), 1u) << s2.dump(2);
  EXPECT_GE(ping_count(a, c1.tun4(), 10), 10);
  flood.stop();

  // Every stranger was let go of and counted; a's stream is the one
  // authenticated stream, and the pending pool stayed within its bounds.
  EXPECT_GE(tunnel_count(s1, nullptr, "authenticated"), 1u) << s1.dump(2);
  EXPECT_LE(tunnel_count(s1, nullptr, "pending"), 256u) << s1.dump(2);
  EXPECT_GT(tunnel_count(s1, "evicted", "same_source"), 0u) << s1.dump(2);
  EXPECT_GT(tunnel_count(s1, "evicted", "oldest"), 0u) << s1.dump(2);
  EXPECT_GT(flood.ended_by_c1(), 0u);
}

}  // namespace
}  // namespace cordon::netns
