// The daemon's side of the counter file (counter_store.hpp): what it holds
// in memory, what it reads at start and writes as the node asks, and which
// link keys it lets start or a reload adopt (key_admission.hpp,
// fresh_keys.hpp). The control thread owns it; nothing else touches the
// file.
//
//   open          at start, before the link keys are wiped: read the file
//                 (or its version 1 name), admit the configured keys, and
//                 return the floor and receive floors for the Node
//   admit_reload  before a reload hands new keys to the node: admit them
//                 and record them durably
//   raise_floor / set_receive_floors + store
//                 what TickResult asks to persist
//   consume_fresh once the file lists the running keys
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/node.hpp"
#include "core/node_config.hpp"
#include "core/result.hpp"
#include "daemon/counter_store.hpp"

namespace cordon::daemon {

class CounterKeeper {
 public:
  struct Where {
    std::string path;                   // counter_file_path
    std::string legacy_path;            // legacy_counter_file_path
    std::optional<std::string> keyset;  // managed mode: the key set (its .fresh record)
    std::optional<std::string> machine; // os::read_machine_id()
    FileStore* files = &system_files();  // where the counter file is
  };
  struct Start {
    uint64_t floor = 0;
    std::vector<ReceiveFloor> receive;
  };

  explicit CounterKeeper(Where where);

  const std::string& path() const { return store_.path(); }
  const CounterFile& file() const { return file_; }

  // The floors to start from, or the error that stops the start (it names
  // the file, or the peers and the file). Logs what it found.
  Result<Start, std::string> open(const NodeConfig& config, bool accept_new_keys);
  // An error: why the reload must not adopt `next` (nothing changed then).
  Status<std::string> admit_reload(const NodeConfig& next);

  void raise_floor(uint64_t floor) { file_.floor = std::max(file_.floor, floor); }
  void set_receive_floors(std::vector<ReceiveFloor> floors) { file_.receive = std::move(floors); }
  // Writes the file; the error names it.
  Status<std::string> store();
  void consume_fresh();

 private:
  bool managed() const { return where_.keyset.has_value(); }
  std::vector<keys::KeyFingerprint> fresh() const;

  Where where_;
  CounterStore store_;
  CounterFile file_;
};

}  // namespace cordon::daemon
