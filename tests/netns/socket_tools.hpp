// Small TCP and UDP servers and clients for netns tests, as python3 socket
// scripts run inside a namespace (nftables_test.cpp, open_traffic_test.cpp):
//
//   serve-tcp PORT          tells each client the address it came from
//                           ("peer=A")
//   ask-tcp HOST PORT T     prints the server's line; exit 1 on failure
//   serve-udp PORT          echoes datagrams
//   ask-udp HOST PORT T     one round trip; exit 1 without an answer
//
// A connection that must fail is given a one-second timeout, one that must
// get through five seconds; waiting for a server polls with a deadline.
// The servers stop with this object.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tests/netns/netns_harness.hpp"

namespace cordon::netns {

class SocketTools {
 public:
  // Writes the script into `dir`, which holds the servers' logs too.
  explicit SocketTools(fs::path dir);

  // Start a server in `ns` and wait until it answers; throw if it does not.
  void serve_tcp(const Namespace& ns, uint16_t port);
  void serve_udp(const Namespace& ns, uint16_t port);

  // The line a TCP server at host:port sent ("peer=..."), or "" when
  // nothing came (after one second when no answer is expected).
  std::string tcp_answer(const Namespace& from, const std::string& host, uint16_t port, bool expect_answer = true);
  bool udp_answered(const Namespace& from, const std::string& host, uint16_t port, bool expect_answer = true);

 private:
  RunResult ask(const Namespace& from, const char* kind, const std::string& host, uint16_t port, const char* timeout);
  void serve(const Namespace& ns, const char* kind, uint16_t port);

  fs::path dir_, script_;
  std::vector<std::unique_ptr<Process>> servers_;
};

}  // namespace cordon::netns
