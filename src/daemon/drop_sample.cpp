#include "daemon/drop_sample.hpp"

#include <fmt/format.h>

namespace cordon::daemon {
namespace {

std::string sender_text(const std::optional<DropSample>& sample) {
  if (!sample) return "";
  return fmt::format(" from {} with host number 0x{:04x}", sample->from.to_string(), sample->sender_host);
}

}  // namespace

std::string drop_cause(DropReason reason, const std::optional<DropSample>& sample) {
  switch (reason) {
    case DropReason::kUnknownPeer:
      // The header names the sender by host number only (core/wire/header.hpp).
      return fmt::format("unknown_peer{}: no peer here has that host number: the sender's host.id differs from "
                         "the `id` this host has for it",
                         sender_text(sample));
    case DropReason::kAuthFailure:
      // Both host IDs are labels of the traffic key derivation
      // (docs/protocol.md, "Key derivation"), so an `id` typo on the sender looks like a wrong
      // key here.
      return fmt::format("auth_failure{}: the two ends hold different link keys, or the sender has another ID "
                         "for this host or for itself (both IDs are in the key derivation): compare the key files "
                         "and the `id` values on both ends",
                         sender_text(sample));
    default:
      return "";
  }
}

}  // namespace cordon::daemon
