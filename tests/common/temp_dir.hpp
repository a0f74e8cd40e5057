// A fresh directory per test under the system temp dir, removed afterwards,
// with a helper that writes a file at a chosen mode (key files must be 0600).
#pragma once

#include <stdlib.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

namespace cordon::testkit {

class TempDir {
 public:
  explicit TempDir(const std::string& tag = "test") {
    std::string templ = (std::filesystem::temp_directory_path() / ("cordon-" + tag + "-XXXXXX")).string();
    if (::mkdtemp(templ.data()) == nullptr) std::abort();
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

  std::string write(const std::string& name, const std::string& content, mode_t mode = 0600) const {
    const std::string p = (path_ / name).string();
    std::ofstream(p, std::ios::binary | std::ios::trunc) << content;
    ::chmod(p.c_str(), mode);
    return p;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace cordon::testkit
