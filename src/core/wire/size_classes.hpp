// Size classes (docs/protocol.md, "Size classes"): every datagram a host
// seals, data or control, is padded up to one of a few sizes, so that its
// size says little about what it carries and control messages look like
// data (the P³ functional specification, Velocite Systems 2011, section
// 2.1.5: "Limit differences in packet sizes").
//
// A class is the size of a datagram on a direct path: header, plaintext and
// tag (kOverhead + plaintext). The padding is zero bytes after the
// plaintext, inside the ciphertext: the receiver already ignores bytes after
// an inner packet's IP total length, after a control message and after a
// keepalive (docs/protocol.md, "Wire format"). A datagram larger than every
// class is sent as it is; the daemon makes the largest class the MTU's
// datagram, so none is.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/wire/header.hpp"

namespace cordon::wire {

// The most classes a host may have, and the smallest a class may be: a
// keepalive's datagram.
constexpr size_t kMaxSizeClasses = 16;
constexpr size_t kMinSizeClass = kOverhead + 1;

// The plaintext length to seal `length` bytes of plaintext as: the smallest
// class (ascending `classes`) that holds length + kOverhead, less kOverhead;
// `length` when `classes` is empty (off) or none holds it.
inline size_t padded_length(std::span<const uint16_t> classes, size_t length) {
  for (const uint16_t c : classes) {
    if (c >= length + kOverhead) return c - kOverhead;
  }
  return length;
}

}  // namespace cordon::wire
