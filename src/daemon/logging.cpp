#include "daemon/logging.hpp"

#include <atomic>
#include <cstdio>
#include <mutex>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include "os/linux/systemd.hpp"

namespace cordon::daemon {
namespace {

thread_local const LogContext* t_context = nullptr;
std::atomic<uint32_t> g_host{0};
std::atomic<bool> g_journal{false};

// Records to the journal, one sd_journal_sendv per record. Should the
// journal refuse one (journald restarting), the record goes to stderr, which
// systemd also collects, so nothing is lost.
class JournalSink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    const std::string_view text(msg.payload.data(), msg.payload.size());
    auto sent = os::journal_send(journal_record(msg.level, text, HostId{g_host.load()}, t_context));
    if (!sent) std::fprintf(stderr, "%.*s\n", static_cast<int>(text.size()), text.data());
  }
  void flush_() override {}
};

}  // namespace

ScopedLogContext::ScopedLogContext(const LogContext& context) : previous_(t_context) { t_context = &context; }
ScopedLogContext::~ScopedLogContext() { t_context = previous_; }
const LogContext* current_log_context() { return t_context; }

void set_log_host(HostId host) { g_host.store(host.value); }
bool logging_to_journal() { return g_journal.load(); }

int journal_priority(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug: return 7;
    case spdlog::level::info: return 6;
    case spdlog::level::warn: return 4;
    case spdlog::level::err: return 3;
    default: return 2;
  }
}

std::vector<std::string> journal_record(spdlog::level::level_enum level, std::string_view message, HostId host,
                                        const LogContext* context) {
  std::vector<std::string> fields;
  fields.push_back("MESSAGE=" + std::string(message));
  fields.push_back("PRIORITY=" + std::to_string(journal_priority(level)));
  fields.emplace_back("SYSLOG_IDENTIFIER=cordon");
  if (host.value != 0) fields.push_back("CORDON_HOST=" + host.to_string());
  if (context == nullptr) return fields;
  if (!context->event.empty()) fields.push_back("CORDON_EVENT=" + std::string(context->event));
  if (!context->reason.empty() && context->reason != "none") {
    fields.push_back("CORDON_REASON=" + std::string(context->reason));
  }
  if (context->peer.value != 0) fields.push_back("CORDON_PEER=" + context->peer.to_string());
  return fields;
}

bool set_log_level(const std::string& level) {
  const auto parsed = spdlog::level::from_str(level);
  // from_str answers `off` for any name it does not know.
  if (parsed == spdlog::level::off && level != "off") return false;
  spdlog::set_level(parsed);
  return true;
}

bool init_logging(const std::string& level) {
  auto logger = spdlog::get("cordon");
  if (!logger) {
    if (os::stderr_is_journal()) {
      logger = std::make_shared<spdlog::logger>("cordon", std::make_shared<JournalSink>());
      spdlog::register_logger(logger);
      g_journal.store(true);
    } else {
      logger = spdlog::stderr_color_mt("cordon");
      logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    }
  }
  spdlog::set_default_logger(logger);
  return set_log_level(level);
}

}  // namespace cordon::daemon
