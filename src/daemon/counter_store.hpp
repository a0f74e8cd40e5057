// The persisted counter floor: <state_dir>/<interface>.counter.
//
// The core never uses a packet counter below the floor it was started with,
// and asks for a higher floor to be stored durably before it uses counters
// above the stored one (core/node.hpp, TickResult::persist_counter_floor).
// That is what keeps (key, nonce) pairs unique across restarts and crashes
// (DESIGN.md, decision 3). The file is one text line:
//
//   cordon-counter-floor v1 <decimal>\n
//
// written atomically with fsync (os::write_file_atomic), mode 0600. A missing
// file means 0 (first start); a corrupt file stops the daemon, because
// guessing a floor could repeat a nonce.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace cordon::daemon {

struct CounterLoad {
  std::optional<uint64_t> floor;
  std::string error;  // when !floor: names the file and says what to do
  bool missing = false;  // no file yet: a first start with this state_dir and interface
};

class CounterStore {
 public:
  explicit CounterStore(std::string path) : path_(std::move(path)) {}

  const std::string& path() const { return path_; }

  CounterLoad load() const;

  // Creates the state directory (0700) if needed and replaces the file.
  // Returns an error message, or nullopt once the floor is durable.
  std::optional<std::string> store(uint64_t floor) const;

 private:
  std::string path_;
};

// The file format, exposed for tests.
std::string format_counter_floor(uint64_t floor);
std::optional<uint64_t> parse_counter_floor(std::string_view text);

}  // namespace cordon::daemon
