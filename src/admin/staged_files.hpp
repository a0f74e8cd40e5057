// Many output files that appear together or not at all (key sets of the
// whole network, the packages of one `updates build`): each is written into
// a private staging directory inside the output directory, everything is
// flushed with one syncfs(2) instead of one fsync per file, and only then
// are the files renamed into place and the directory synced. A crash before
// publish() leaves only the staging directory (removed by the destructor
// when the process survives).
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

namespace cordon::admin {

class StagedFiles {
 public:
  // Creates `dir` (0700) if needed, and the staging directory in it.
  explicit StagedFiles(std::string dir);
  ~StagedFiles();
  StagedFiles(const StagedFiles&) = delete;
  StagedFiles& operator=(const StagedFiles&) = delete;

  // Writes `name` (a plain file name, mode 0600) into the staging directory;
  // returns its final path.
  std::string add(const std::string& name, std::span<const std::byte> data);
  // Flushes and renames every added file into the output directory
  // (replacing files of the same name), then syncs the directory.
  void publish();

 private:
  std::string dir_;
  std::string staging_;
  std::vector<std::string> names_;
  bool published_ = false;
};

// A single file: creates its directory (0700) if needed, as StagedFiles does,
// then replaces `path` atomically with mode 0600 (os::write_file_atomic).
void write_private_file(const std::string& path, std::span<const std::byte> data);

}  // namespace cordon::admin
