#include "daemon/file_store.hpp"

#include <unistd.h>

#include <cerrno>

#include "os/linux/files.hpp"

namespace cordon::daemon {
namespace {

class SystemFiles final : public FileStore {
 public:
  os::Result<std::string> read(const std::string& path, size_t max_bytes) override {
    return os::read_file(path, max_bytes);
  }
  os::Status write_atomic(const std::string& path, std::string_view text, unsigned mode) override {
    return os::write_file_atomic(path, text, static_cast<mode_t>(mode));
  }
  os::Status ensure_dir(const std::string& path, unsigned mode) override {
    return os::ensure_dir(path, static_cast<mode_t>(mode));
  }
  os::Status remove(const std::string& path) override {
    if (::unlink(path.c_str()) == 0 || errno == ENOENT) return os::Ok{};
    return os::sys_error("remove " + path);
  }
};

}  // namespace

FileStore& system_files() {
  static SystemFiles files;
  return files;
}

}  // namespace cordon::daemon
