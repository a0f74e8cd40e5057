// libFuzzer target for the [open] table's entries (os/linux/open_rule_text.hpp):
// any text, as a config file holds it, through the four parsers.
//
// Asserts, besides "no crash, hang or leak": a refusal says why; an entry
// that parses, put into a gateway's policy, is either refused by
// check_open_policy with a reason or renders to a script
// (os/linux/nft_ruleset.hpp), whose quoted strings are only the interface
// names the check allowed, so no text of the entry can start a statement.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "os/linux/open_rule_text.hpp"

namespace {

using namespace cordon;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

os::OpenPolicy gateway() {
  os::OpenPolicy p;
  p.tun_interface = "cordon0";
  p.forwards = true;
  p.protected_sources = {Prefix::parse("10.77.0.0/16").value()};
  p.udp_ports = {51820};
  return p;
}

// The script renders exactly when the check passes, and holds no byte of
// the entry that could end a string or a statement.
void renders(const os::OpenPolicy& p) {
  const auto checked = os::check_open_policy(p);
  const auto script = os::render_open_policy(p);
  check(checked.ok() == script.ok());
  if (!script.ok()) {
    check(!script.error().message().empty());
    return;
  }
  for (char c : script.value()) check(c == '\n' || (c >= 0x20 && c < 0x7f));
}

template <typename T>
bool parsed(const os::Parsed<T>& r) {
  if (!r.ok()) check(!r.error().empty());
  return r.ok();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  os::OpenPolicy p = gateway();
  if (auto r = os::parse_open_rule(text); parsed(r)) p.rules.push_back(r.value());
  if (auto r = os::parse_lan(text); parsed(r)) p.lans.push_back(r.value());
  if (auto r = os::parse_source_nat(text); parsed(r)) p.snat.push_back(r.value());
  if (auto r = os::parse_port_forward(text); parsed(r)) p.forwards_in.push_back(r.value());
  renders(p);
  return 0;
}
