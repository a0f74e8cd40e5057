// Who sends the datagrams dropped as `unknown_peer` or `auth_failure`, for
// the periodic drop log (activity_log.hpp): the sender's host number, from
// the header in the clear, and the source address. Counters say how many;
// a sample says who, so that the operator can tell a typo in an `id` from
// a wrong key file (docs/configuration.md, "Troubleshooting").
//
// Only direct datagrams are sampled (verdict_dispatch.cpp says why); the
// log names the causes of the others without a sender. A worker offers
// samples from each batch it dispatches; its slot keeps the
// first one offered until the control thread takes it, once per report
// interval. The slot is a one-writer, one-reader handoff (an atomic flag,
// no lock), so a flood of bad datagrams costs the hot path one load per
// batch and the log one line per interval. A sample holds no key material.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "core/drop_reason.hpp"
#include "core/types.hpp"

namespace cordon::daemon {

struct DropSample {
  uint16_t sender_host = 0;  // the low half of the sender's host ID, as its header says
  Endpoint from;
};

class DropSampleSlot {
 public:
  // Worker side: keeps `sample` unless the slot holds one already.
  void offer(const DropSample& sample) {
    if (full_.load(std::memory_order_acquire)) return;
    sample_ = sample;
    full_.store(true, std::memory_order_release);
  }
  // Control thread side: the sample, and the slot is empty again.
  std::optional<DropSample> take() {
    if (!full_.load(std::memory_order_acquire)) return std::nullopt;
    DropSample out = sample_;
    full_.store(false, std::memory_order_release);
    return out;
  }

 private:
  std::atomic<bool> full_{false};
  DropSample sample_;
};

// What the log adds after "unknown_peer=N" or "auth_failure=N": the likely
// causes, and the sample's address and host number when there is one.
// Empty for other reasons.
std::string drop_cause(DropReason reason, const std::optional<DropSample>& sample);

}  // namespace cordon::daemon
