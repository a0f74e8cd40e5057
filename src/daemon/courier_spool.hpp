// The courier's spool on disk (docs/couriers.md, "The spool"):
// <state_dir>/courier, mode 0700, one file per item:
//
//   <id, 16 hex digits>.item    "CRDNSPL1" | the encoded item (core/courier/item.hpp)
//
// Each file is written with os::write_file_atomic (temporary file, fsync,
// rename, fsync of the directory) before the courier acknowledges the
// item, so a kill -9 or a power cut at any point leaves the item whole or
// absent, never torn. load() reads every file back at start; a file that
// does not parse (a disk error, or bytes put there by hand) is renamed
// to <name>.bad, reported, and not loaded.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/result.hpp"

namespace cordon::daemon {

constexpr std::string_view kSpoolMagic = "CRDNSPL1";

// The bytes of one spool file for an encoded item, and back: the item's
// bytes, or why the file is refused (a fuzzed parser: tests/fuzz).
std::vector<std::byte> spool_file_bytes(std::span<const std::byte> encoded_item);
cordon::Result<std::vector<std::byte>, std::string> parse_spool_file(std::span<const std::byte> file);

class CourierSpool {
 public:
  // `dir` is created (0700) when missing.
  static cordon::Result<CourierSpool, std::string> open(std::string dir);

  struct Loaded {
    std::vector<std::pair<uint64_t, std::vector<std::byte>>> items;  // (id, encoded item)
    std::vector<std::string> problems;                                // one line per file set aside
  };
  Loaded load() const;

  // Durable when it returns true; `error` says why not.
  bool store(uint64_t id, std::span<const std::byte> encoded, std::string& error) const;
  void erase(uint64_t id) const;
  const std::string& dir() const { return dir_; }

 private:
  explicit CourierSpool(std::string dir) : dir_(std::move(dir)) {}
  std::string path_of(uint64_t id) const;
  std::string dir_;
};

}  // namespace cordon::daemon
