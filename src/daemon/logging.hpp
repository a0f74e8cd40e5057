// Logging: spdlog, to the journal or to stderr (docs/operations.md, "The
// journal").
//  - Under systemd, when stderr is the journal stream the unit connected
//    (os::stderr_is_journal), every record goes to the journal in its
//    native protocol with structured fields: PRIORITY, SYSLOG_IDENTIFIER
//    "cordon", CORDON_HOST (this host's ID, once the config is read), and
//    from the record's LogContext CORDON_EVENT, CORDON_REASON, CORDON_PEER.
//  - Otherwise one line per record on stderr, fields only as the text says
//    them.
// Logs name peers by host ID and drops by their stable reason names
// (core/drop_reason.hpp); they never contain key material.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

#include "core/types.hpp"
#include "daemon/log_events.hpp"

namespace cordon::daemon {

// Installs the logger: the journal under systemd, stderr otherwise. `level`
// is one of trace, debug, info, warn, error, critical, off; returns false
// (and keeps the old level) otherwise.
bool init_logging(const std::string& level);
bool set_log_level(const std::string& level);
// Whether records go to the journal (init_logging chose it).
bool logging_to_journal();

// This host's ID, for CORDON_HOST on every record from now on.
void set_log_host(HostId host);

// What one record is about. Empty views and a zero peer add no field.
struct LogContext {
  std::string_view event;   // CORDON_EVENT: log_events.hpp, or a core event (rekey_failed, session_lost)
  std::string_view reason;  // CORDON_REASON: a drop, rekey or session reason; "none" adds nothing
  HostId peer{};            // CORDON_PEER
};

// The context of the records this thread logs while it lives (spdlog's
// loggers here are synchronous: the sink runs on the logging thread).
class ScopedLogContext {
 public:
  explicit ScopedLogContext(const LogContext& context);
  ~ScopedLogContext();
  ScopedLogContext(const ScopedLogContext&) = delete;
  ScopedLogContext& operator=(const ScopedLogContext&) = delete;

 private:
  const LogContext* previous_;
};

// The context set by the innermost ScopedLogContext of this thread, if any.
const LogContext* current_log_context();

// Logs one record with its context.
template <typename... Args>
void log_with(spdlog::level::level_enum level, const LogContext& context, fmt::format_string<Args...> format,
              Args&&... args) {
  ScopedLogContext scope(context);
  spdlog::log(level, format, std::forward<Args>(args)...);
}
template <typename... Args>
void log_event(spdlog::level::level_enum level, LogEvent event, fmt::format_string<Args...> format, Args&&... args) {
  log_with(level, LogContext{.event = log_event_name(event)}, format, std::forward<Args>(args)...);
}
template <typename... Args>
void log_peer_event(spdlog::level::level_enum level, LogEvent event, HostId peer, fmt::format_string<Args...> format,
                    Args&&... args) {
  log_with(level, LogContext{.event = log_event_name(event), .peer = peer}, format, std::forward<Args>(args)...);
}

// The journal record of one log record: "FIELD=value" entries, MESSAGE
// first. `host` zero adds no CORDON_HOST.
std::vector<std::string> journal_record(spdlog::level::level_enum level, std::string_view message, HostId host,
                                        const LogContext* context);

// syslog(3) priority of a level: debug 7, info 6, warning 4, error 3, critical 2.
int journal_priority(spdlog::level::level_enum level);

}  // namespace cordon::daemon
