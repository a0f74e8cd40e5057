// The daemon's own process, read from /proc/self for the standard process
// metrics (docs/metrics.md, "Process"). The names and meanings are those of
// the Prometheus client libraries' process collector, as the Prometheus
// documentation "Writing client libraries" ("Standard and runtime
// collectors") lists them; the fields are those of proc(5).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "os/linux/result.hpp"

namespace cordon::os {

struct ProcessStats {
  double cpu_seconds = 0;         // user + system time (proc(5), /proc/self/stat utime + stime)
  uint64_t resident_bytes = 0;    // rss pages times the page size
  uint64_t virtual_bytes = 0;     // vsize
  uint64_t open_fds = 0;          // entries of /proc/self/fd
  uint64_t max_fds = 0;           // RLIMIT_NOFILE, the soft limit
  double start_time_seconds = 0;  // Unix time: /proc/stat btime + starttime
};

// Reads them now. Fails only if /proc is not mounted or unreadable.
Result<ProcessStats> read_process_stats();

// The parsing, apart from the reading, so that tests can give known text:
// `stat` is /proc/self/stat, `boot_time` /proc/stat's btime in seconds.
struct StatFields {
  uint64_t utime_ticks = 0, stime_ticks = 0, start_ticks = 0, vsize = 0, rss_pages = 0;
};
std::optional<StatFields> parse_proc_stat(std::string_view stat);
std::optional<uint64_t> parse_boot_time(std::string_view proc_stat);

}  // namespace cordon::os
