// The files the daemon keeps state in (the counter file), behind a small
// interface so that the simulations persist counter floors through the
// production code (counter_keeper.hpp) on an in-memory disk
// (testing/fake_file_store.hpp) that a simulated crash can cut short.
//
// The rules are those of os/linux/files.hpp: a write replaces the file
// atomically and durably (temp file, fsync, rename, fsync of the
// directory) with exactly `mode`, so a reader or a crash sees the old
// content or the new, never a mix; a missing file reads as an error with
// err == ENOENT; a file longer than max_bytes is refused (EFBIG).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "os/linux/result.hpp"  // os::Result, os::SysError: portable, no system header

namespace cordon::daemon {

class FileStore {
 public:
  virtual ~FileStore() = default;

  virtual os::Result<std::string> read(const std::string& path, size_t max_bytes) = 0;
  virtual os::Status write_atomic(const std::string& path, std::string_view text, unsigned mode) = 0;
  // Creates the directory and its missing parents; an existing one stays.
  virtual os::Status ensure_dir(const std::string& path, unsigned mode) = 0;
  // Removes a file; one that is already gone is not an error.
  virtual os::Status remove(const std::string& path) = 0;
};

// The machine's file system (os/linux/files.hpp).
FileStore& system_files();

}  // namespace cordon::daemon
