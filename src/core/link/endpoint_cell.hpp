// A peer's current underlay endpoint, read by every worker on every send and
// written rarely (roaming, reconfiguration). A sequence lock over atomic
// words: readers never block and never see a torn endpoint.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>

#include "core/types.hpp"

namespace cordon::link {

class EndpointCell {
 public:
  std::optional<Endpoint> load() const;
  void store(const std::optional<Endpoint>& e);  // single writer at a time (caller serialises)

 private:
  // words_[0..1]: address bytes; words_[2]: port | family << 16 | present << 24 | stream << 32.
  std::atomic<uint64_t> seq_{0};
  std::atomic<uint64_t> words_[3] = {};
};

}  // namespace cordon::link
