// FakeFileStore: a disk in memory for the simulations (daemon/file_store.hpp).
// A write is durable when write_atomic returns, as the daemon's is after its
// fsync; how long that takes, and a crash during it, are the simulation
// host's to model (SimHostOptions::floor_write_delay_ns: a write not yet
// due is never handed to the store, so a kill() loses it).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "daemon/file_store.hpp"

namespace cordon::testing {

class FakeFileStore final : public daemon::FileStore {
 public:
  os::Result<std::string> read(const std::string& path, size_t max_bytes) override;
  os::Status write_atomic(const std::string& path, std::string_view text, unsigned mode) override;
  os::Status ensure_dir(const std::string& path, unsigned mode) override;
  os::Status remove(const std::string& path) override;

  // Test side.
  std::optional<std::string> contents(const std::string& path) const;
  std::optional<unsigned> mode(const std::string& path) const;
  uint64_t writes() const { return writes_; }

 private:
  struct File {
    std::string text;
    unsigned mode = 0;
  };
  std::map<std::string, File> files_;
  uint64_t writes_ = 0;
};

}  // namespace cordon::testing
