// libFuzzer target for both ends of the control socket protocol
// (daemon/control.hpp). Every input is fed to both:
//   - daemon side: the bytes a client sent, to daemon::answer_request (line
//     cut, JSON parse, object check) with the daemon's own command dispatch
//     (dispatch_command); the reply is serialised as serve_client
//     sends it.
//   - CLI side: the bytes a daemon sent, to daemon::parse_control_reply, and a
//     document that comes back is rendered the way `cordon status` does
//     (format_status against the document's "time", and --json's dump).
// Then the daemon's reply goes through the CLI side as well.
//
// Asserts, besides "no crash, hang, leak or escaping exception" (a dump of
// invalid UTF-8 would throw): every reply is an object; a reply is a
// document or an error, never neither; rendering always yields the summary
// line.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/node.hpp"
#include "daemon/control.hpp"
#include "daemon/status_format.hpp"
#include "daemon/status_json.hpp"

namespace {

using namespace cordon;
using nlohmann::json;

constexpr int64_t kT0 = int64_t{1'800'000'000} * kNsPerSecond;
const std::string kSocket = "/run/cordon/cordon0.sock";  // only named in errors

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// A node with one named peer, so that "status" answers with a peer row.
std::unique_ptr<Node> make_node() {
  PeerConfig p;
  p.id = HostId{0x0001000b};
  p.name = "site-b";
  p.link_key = crypto::SecretBytes(kLinkKeySize);
  p.allowed_prefixes = {*Prefix::parse("10.77.0.2/32")};
  p.endpoint = Endpoint::parse("192.0.2.2:51820");
  NodeConfig config;
  config.self = HostId{0x0001000a};
  config.peers.push_back(std::move(p));
  return std::make_unique<Node>(std::move(config), 1, 0, Now{1, kT0});
}

// What Daemon::answer does: the daemon's real dispatch, answering status
// from this node.
json answer(const Node& node, const json& request) {
  return daemon::dispatch_command(request, [&] {
    return daemon::status_to_json(node.status(), daemon::StatusContext{"cordon0", 51820, kT0});
  });
}

// What `cordon status` does with the reply bytes (cli/status_command.cpp).
void render(std::string_view reply_bytes) {
  const daemon::ControlReply reply = daemon::parse_control_reply(reply_bytes, kSocket);
  if (!reply) {
    check(!reply.error().message.empty());
    return;
  }
  const json& doc = *reply;
  const auto time = doc.find("time");
  const int64_t now = time != doc.end() && time->is_number_integer() ? time->get<int64_t>() : kT0 / kNsPerSecond;
  check(daemon::format_status(doc, now).starts_with("interface "));
  check(!doc.dump(2).empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::unique_ptr<Node> node = make_node();
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);

  const json reply =
      daemon::answer_request(bytes, [&](const json& request) { return answer(*node, request); });
  check(reply.is_object());
  const std::string sent = reply.dump() + "\n";

  render(bytes);
  render(sent);
  return 0;
}
