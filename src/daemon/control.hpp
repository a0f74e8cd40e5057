// The control socket: how `cordon status` talks to a running daemon.
//
// A Unix stream socket at host.control_socket (default
// /run/cordon/<interface>.sock), in a directory of mode 0700, itself mode
// 0600 and owned by root: only root may ask. The protocol is one request
// line and one reply:
//
//   client -> daemon   {"command":"status"}\n
//   daemon -> client   one JSON document (status_json.hpp), then close
//
//   client -> daemon   {"command":"rekey","peer":"0x0001000b"}\n
//   daemon -> client   {"rekey":"0x0001000b"} or {"error":"..."}
//
//   client -> daemon   {"command":"reload"}\n
//   daemon -> client   {"reloaded":true,"peers":N,"version":V} or {"error":"..."}
//
//   client -> daemon   {"command":"sitelink","action":"shutdown","group":"east"}\n
//   daemon -> client   {"sessions":[{"peer":"0x00010002","name":"remote 1","ok":true,...}]} or {"error":"..."}
//
//   client -> daemon   {"command":"courier","action":"send","dir":"/tmp/..."}\n
//   daemon -> client   {"accepted":[...],"refused":[...]}  (docs/couriers.md, "Control commands")
//
// "courier" is known to a daemon in managed mode; its actions are send,
// reports and status.
//
// "sitelink" is known to a daemon started by `cordon sitelink` only; its
// actions are status, rekey, shutdown, start (on "peer", "group" or
// "all": true) and return (a secondary: back from its backup primary).
//
// "reload" does what SIGHUP does: read the config file again and, in
// managed mode, the installed key set (with the user key the daemon holds),
// then apply it. `cordon update apply` sends it after storing an update.
// "version" is the key set's version; manual mode leaves it out.
//
// An unknown command is answered with {"error": "..."}. Both ends of the
// protocol live in this file.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/result.hpp"
#include "os/linux/fd.hpp"
#include "os/linux/result.hpp"

namespace cordon::daemon {

class ControlServer {
 public:
  // Creates the directory (0700) and the listening socket (0600). A stale
  // socket left by a crashed daemon is replaced; a socket that a live daemon
  // still answers on is an error, which also keeps a second daemon off the
  // same interface.
  static os::Result<ControlServer> open(const std::string& path);

  ControlServer(ControlServer&& other) noexcept;
  ControlServer& operator=(ControlServer&& other) noexcept;
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;
  ~ControlServer();  // removes the socket file

  int fd() const { return listener_.get(); }
  const std::string& path() const { return path_; }

  using Handler = std::function<nlohmann::json(const nlohmann::json& request)>;

  // Serves every client waiting in the accept queue: reads its request,
  // answers with handler(request) and closes. A client gets at most
  // kClientTimeoutMs to send its line, so a stuck client delays the
  // control thread by at most that.
  void serve_pending(const Handler& handler);

  static constexpr int kClientTimeoutMs = 1000;

 private:
  ControlServer() = default;
  void serve_client(int client, const Handler& handler);

  os::Fd listener_;
  std::string path_;
};

// The client side, used by `cordon status`.
struct ControlError {
  std::string message;  // what went wrong and what to do
  // No daemon listens on the socket (no file there, or nobody accepts):
  // `cordon update apply` then says the update waits for the next start.
  bool no_daemon = false;
};
// The reply document, or why there is none.
using ControlReply = cordon::Result<nlohmann::json, ControlError>;
ControlReply control_request(const std::string& socket_path, const nlohmann::json& request);

// The two ends without the socket, so the fuzz target can feed them bytes.
// answer_request: what a client sent (its line and anything after it) -> the
// reply document; bytes that are not a JSON object get {"error": ...}.
nlohmann::json answer_request(std::string_view received, const ControlServer::Handler& handler);

// The daemon's commands: {"command":"status"} answers with `status()`,
// {"command":"reload"} with `reload()`; anything else gets {"error": ...}
// naming what the daemon knows.
// {"command":"rekey","peer":"0x0001000b"} forces a rekey of that link
// (docs/protocol.md, "Rekey exchange").
struct ControlCommands {
  std::function<nlohmann::json()> status;
  std::function<nlohmann::json()> reload;  // may be empty: "reload" is then refused
  std::function<nlohmann::json(const nlohmann::json&)> rekey;  // may be empty
  std::function<nlohmann::json(const nlohmann::json&)> sitelink;  // site links only (site_link.hpp)
  std::function<nlohmann::json(const nlohmann::json&)> courier;   // managed mode (courier_service.hpp)
  std::function<nlohmann::json(const nlohmann::json&)> ipsec;     // [ipsec] (ipsec_service.hpp)
};
nlohmann::json dispatch_command(const nlohmann::json& request, const ControlCommands& commands);
// Status only (kept for callers that serve no reload).
nlohmann::json dispatch_command(const nlohmann::json& request, const std::function<nlohmann::json()>& status);
// parse_control_reply: the daemon's reply bytes -> the document, or an error
// naming `socket_path`.
ControlReply parse_control_reply(std::string_view reply, const std::string& socket_path);

}  // namespace cordon::daemon
