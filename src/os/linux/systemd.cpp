#include "os/linux/systemd.hpp"

#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <string>

#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

namespace cordon::os {
namespace {

// "DEVICE:INODE", both in decimal, as systemd writes $JOURNAL_STREAM.
bool parse_stream(std::string_view text, uint64_t* device, uint64_t* inode) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) return false;
  const std::string_view d = text.substr(0, colon), i = text.substr(colon + 1);
  auto rd = std::from_chars(d.data(), d.data() + d.size(), *device);
  auto ri = std::from_chars(i.data(), i.data() + i.size(), *inode);
  return rd.ec == std::errc() && rd.ptr == d.data() + d.size() && ri.ec == std::errc() &&
         ri.ptr == i.data() + i.size();
}

}  // namespace

bool notify(std::string_view state) {
  const std::string text(state);
  return ::sd_notify(0, text.c_str()) > 0;
}

int64_t watchdog_interval_ns() {
  uint64_t usec = 0;
  if (::sd_watchdog_enabled(0, &usec) <= 0) return 0;
  return static_cast<int64_t>(usec) * 1000;
}

bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr) return false;
  uint64_t device = 0, inode = 0;
  if (!parse_stream(stream, &device, &inode)) return false;
  struct stat st{};
  if (::fstat(STDERR_FILENO, &st) != 0) return false;
  return static_cast<uint64_t>(st.st_dev) == device && static_cast<uint64_t>(st.st_ino) == inode;
}

Status journal_send(const std::vector<std::string>& fields) {
  std::vector<iovec> iov;
  iov.reserve(fields.size());
  for (const std::string& f : fields) iov.push_back(iovec{const_cast<char*>(f.data()), f.size()});
  const int r = ::sd_journal_sendv(iov.data(), static_cast<int>(iov.size()));
  if (r < 0) return sys_error("send to the journal", -r);
  return Ok{};
}

}  // namespace cordon::os
