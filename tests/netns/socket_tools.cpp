#include "tests/netns/socket_tools.hpp"

#include <stdexcept>

namespace cordon::netns {
namespace {

constexpr auto kWait = 10s;
// Debian 12's interpreter, not whichever a developer's PATH finds first.
constexpr const char* kPython = "/usr/bin/python3";
constexpr const char* kRefusedTimeout = "1";
constexpr const char* kAnsweredTimeout = "5";

constexpr const char* kSocketsScript = R"(import socket, sys

def listener(kind, port):
    s = socket.socket(socket.AF_INET6, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", int(port)))
    return s

def serve_tcp(port):
    s = listener(socket.SOCK_STREAM, port)
    s.listen(16)
    while True:
        c, peer = s.accept()
        host = peer[0][7:] if peer[0].startswith("::ffff:") else peer[0]
        c.sendall(("peer=" + host + "\n").encode())
        c.close()

def serve_udp(port):
    s = listener(socket.SOCK_DGRAM, port)
    while True:
        data, peer = s.recvfrom(2048)
        s.sendto(data, peer)

def ask_tcp(host, port, timeout):
    c = socket.create_connection((host, int(port)), timeout=float(timeout))
    print(c.makefile().readline().strip())

def ask_udp(host, port, timeout):
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(float(timeout))
    s.sendto(b"ping", (host, int(port)))
    print(s.recvfrom(2048)[0].decode())

try:
    {"serve-tcp": serve_tcp, "serve-udp": serve_udp, "ask-tcp": ask_tcp, "ask-udp": ask_udp}[sys.argv[1]](*sys.argv[2:])
except OSError as e:
    print(e, file=sys.stderr)
    sys.exit(1)
)";


}  // namespace

SocketTools::SocketTools(fs::path dir) : dir_(std::move(dir)), script_(dir_ / "sockets.py") {
  write_file(script_, kSocketsScript);
}

void SocketTools::serve(const Namespace& ns, const char* kind, uint16_t port) {
  const std::string p = std::to_string(port);
  servers_.push_back(std::make_unique<Process>(&ns, std::vector<std::string>{kPython, script_.string(), kind, p},
                                               dir_ / (ns.name() + "-" + kind + "-" + p + ".log"),
                                               std::string(kind) + " " + p));
}

void SocketTools::serve_tcp(const Namespace& ns, uint16_t port) {
  serve(ns, "serve-tcp", port);
  if (!wait_for_tcp_listener(ns, port, deadline_in(kWait))) {
    throw std::runtime_error("no TCP server on port " + std::to_string(port) + " in " + ns.name());
  }
}

void SocketTools::serve_udp(const Namespace& ns, uint16_t port) {
  serve(ns, "serve-udp", port);
  // Loopback passes every ruleset of these tests, so this only waits for the bind.
  if (!poll_until(deadline_in(kWait), [&] { return ask(ns, "ask-udp", "127.0.0.1", port, "0.2").ok(); })) {
    throw std::runtime_error("no UDP server on port " + std::to_string(port) + " in " + ns.name());
  }
}

RunResult SocketTools::ask(const Namespace& from, const char* kind, const std::string& host, uint16_t port,
                           const char* timeout) {
  return run(&from, {kPython, script_.string(), kind, host, std::to_string(port), timeout}, kWait);
}

std::string SocketTools::tcp_answer(const Namespace& from, const std::string& host, uint16_t port,
                                    bool expect_answer) {
  RunResult r = ask(from, "ask-tcp", host, port, expect_answer ? kAnsweredTimeout : kRefusedTimeout);
  return r.ok() ? r.out.substr(0, r.out.find('\n')) : std::string();
}

bool SocketTools::udp_answered(const Namespace& from, const std::string& host, uint16_t port, bool expect_answer) {
  return ask(from, "ask-udp", host, port, expect_answer ? kAnsweredTimeout : kRefusedTimeout).ok();
}

}  // namespace cordon::netns
