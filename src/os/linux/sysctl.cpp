#include "os/linux/sysctl.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "os/linux/fd.hpp"
#include "os/linux/files.hpp"

namespace cordon::os {
namespace {

// "net.ipv4.ip_forward" -> "/proc/sys/net/ipv4/ip_forward".
std::string path_of(std::string_view name) {
  std::string path = "/proc/sys/";
  for (char c : name) path += c == '.' ? '/' : c;
  return path;
}

}  // namespace

Result<std::string> read_sysctl(std::string_view name) {
  auto text = read_file(path_of(name), 4096);
  if (!text) return sys_error("read " + std::string(name), text.error().err);
  std::string v = std::move(text.value());
  const auto first = v.find_first_not_of(" \t\n");
  if (first == std::string::npos) return std::string();
  return v.substr(first, v.find_last_not_of(" \t\n") - first + 1);
}

Status write_sysctl(std::string_view name, std::string_view value) {
  Fd fd(::open(path_of(name).c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return sys_error("open " + std::string(name) + " for writing");
  const std::string line = std::string(value) + "\n";
  if (::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    return sys_error("set " + std::string(name) + " to " + std::string(value));
  }
  return Ok{};
}

}  // namespace cordon::os
