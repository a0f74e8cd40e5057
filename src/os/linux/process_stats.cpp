#include "os/linux/process_stats.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <string>
#include <vector>

#include "os/linux/files.hpp"

namespace cordon::os {
namespace {

std::optional<uint64_t> number(std::string_view text) {
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// The space-separated fields after the command name. The name is in
// parentheses and may itself hold spaces and parentheses, so the fields
// start after the last ')' (proc(5), /proc/pid/stat).
std::vector<std::string_view> fields_after_comm(std::string_view stat) {
  std::vector<std::string_view> out;
  const size_t close = stat.rfind(')');
  if (close == std::string_view::npos) return out;
  std::string_view rest = stat.substr(close + 1);
  while (!rest.empty()) {
    const size_t start = rest.find_first_not_of(" \n");
    if (start == std::string_view::npos) break;
    rest = rest.substr(start);
    const size_t end = rest.find_first_of(" \n");
    out.push_back(rest.substr(0, end));
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  }
  return out;
}

}  // namespace

// proc(5) numbers the fields from 1 with the pid; after the name, field 3
// (state) is index 0: utime (14), stime (15), starttime (22), vsize (23),
// rss (24).
std::optional<StatFields> parse_proc_stat(std::string_view stat) {
  const std::vector<std::string_view> f = fields_after_comm(stat);
  if (f.size() < 22) return std::nullopt;
  const auto utime = number(f[11]), stime = number(f[12]), start = number(f[19]), vsize = number(f[20]),
             rss = number(f[21]);
  if (!utime || !stime || !start || !vsize || !rss) return std::nullopt;
  return StatFields{*utime, *stime, *start, *vsize, *rss};
}

std::optional<uint64_t> parse_boot_time(std::string_view proc_stat) {
  size_t at = 0;
  while (at < proc_stat.size()) {
    size_t end = proc_stat.find('\n', at);
    if (end == std::string_view::npos) end = proc_stat.size();
    const std::string_view line = proc_stat.substr(at, end - at);
    if (line.starts_with("btime ")) return number(line.substr(6));
    at = end + 1;
  }
  return std::nullopt;
}

Result<ProcessStats> read_process_stats() {
  auto stat = read_file("/proc/self/stat", 4096);
  if (!stat) return cordon::fail(stat.error());
  auto system = read_file("/proc/stat", 1024 * 1024);
  if (!system) return cordon::fail(system.error());
  const auto fields = parse_proc_stat(stat.value());
  const auto boot = parse_boot_time(system.value());
  if (!fields || !boot) return cordon::fail(sys_error("parse /proc/self/stat and /proc/stat", 0));
  const long ticks = ::sysconf(_SC_CLK_TCK);
  const long page = ::sysconf(_SC_PAGESIZE);
  if (ticks <= 0 || page <= 0) return cordon::fail(sys_error("sysconf"));
  ProcessStats out;
  out.cpu_seconds = static_cast<double>(fields->utime_ticks + fields->stime_ticks) / static_cast<double>(ticks);
  out.resident_bytes = fields->rss_pages * static_cast<uint64_t>(page);
  out.virtual_bytes = fields->vsize;
  out.start_time_seconds =
      static_cast<double>(*boot) + static_cast<double>(fields->start_ticks) / static_cast<double>(ticks);
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end; it.increment(ec)) {
    ++out.open_fds;
  }
  if (ec) return cordon::fail(sys_error("list /proc/self/fd", ec.value()));
  struct rlimit limit {};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return cordon::fail(sys_error("getrlimit RLIMIT_NOFILE"));
  out.max_fds = static_cast<uint64_t>(limit.rlim_cur);
  return out;
}

}  // namespace cordon::os
