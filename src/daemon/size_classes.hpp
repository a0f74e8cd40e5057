// The size classes setting (docs/configuration.md, "size_classes";
// docs/protocol.md, "Size classes"), the same text in the TOML config and
// in a site-link file:
//
//   off                  no padding (the default)
//   constant             every datagram padded to the MTU's
//   128, 256, 512, 1024  these datagram sizes, and the MTU's above them
//
// A size is a datagram's length on a direct path (UDP payload: the 8-byte
// header, the plaintext, the 16-byte tag), from wire::kMinSizeClass (25,
// a keepalive) to the MTU's datagram (mtu + 24), ascending, at most
// wire::kMaxSizeClasses of them counting the MTU's.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace cordon::daemon {

// NodeConfig::size_classes for `text` with an interface MTU of `mtu`, or
// what is wrong and what to write.
cordon::Result<std::vector<uint16_t>, std::string> parse_size_classes(std::string_view text, unsigned mtu);

// `classes`, parsed for another MTU, made to fit an interface of `mtu` (a
// reload that changes host.mtu, which needs a restart): classes above its
// datagram are dropped and its datagram becomes the top class. Off stays off.
std::vector<uint16_t> fit_size_classes(std::vector<uint16_t> classes, unsigned mtu);

}  // namespace cordon::daemon
