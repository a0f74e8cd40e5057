#include "testing/fake_file_store.hpp"

#include <cerrno>

namespace cordon::testing {

os::Result<std::string> FakeFileStore::read(const std::string& path, size_t max_bytes) {
  auto it = files_.find(path);
  if (it == files_.end()) return os::sys_error("open " + path, ENOENT);
  if (it->second.text.size() > max_bytes) return os::sys_error("read " + path, EFBIG);
  return it->second.text;
}

os::Status FakeFileStore::write_atomic(const std::string& path, std::string_view text, unsigned mode) {
  files_[path] = File{std::string(text), mode};
  ++writes_;
  return os::Ok{};
}

// Directories are implied by the paths of the files in them.
os::Status FakeFileStore::ensure_dir(const std::string&, unsigned) { return os::Ok{}; }

os::Status FakeFileStore::remove(const std::string& path) {
  files_.erase(path);
  return os::Ok{};
}

std::optional<std::string> FakeFileStore::contents(const std::string& path) const {
  auto it = files_.find(path);
  if (it == files_.end()) return std::nullopt;
  return it->second.text;
}

std::optional<unsigned> FakeFileStore::mode(const std::string& path) const {
  auto it = files_.find(path);
  if (it == files_.end()) return std::nullopt;
  return it->second.mode;
}

}  // namespace cordon::testing
