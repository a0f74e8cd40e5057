// GET /metrics: the status document rendered in the Prometheus text
// exposition format, version 0.0.4 (the Prometheus documentation
// "Exposition formats", "Text-based format"). docs/metrics.md lists every
// metric; docs/design.md, decision 14, says why this is a pure function of
// the document `cordon status --json` prints: the two can never disagree,
// and tests feed it known documents.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "os/linux/process_stats.hpp"

namespace cordon::daemon {

// What the document does not hold.
struct MetricsContext {
  std::string version;                      // cordon_info{version}
  int64_t start_time_seconds = 0;           // cordon_start_time_seconds (Unix)
  std::optional<os::ProcessStats> process;  // none: the process_* metrics are left out
};

// The exposition text for `status`, a document of status_to_json (with
// "courier" in managed mode). A field the document lacks counts as zero or
// absent; nothing throws.
std::string render_metrics(const nlohmann::json& status, const MetricsContext& context);

// A label value with backslash, double quote and line feed escaped as the
// format asks (`\\`, `\"`, `\n`).
std::string escape_label_value(std::string_view value);

// The Content-Type of the text format, version 0.0.4.
inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace cordon::daemon
