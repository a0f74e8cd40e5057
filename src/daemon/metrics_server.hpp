// [metrics]: GET /metrics over HTTP (cpp-httplib), in a thread of its own
// (docs/metrics.md; docs/design.md, decision 14).
//
// The control thread owns every piece of state the metrics show, so a
// scrape does not read any of it. The HTTP handler queues a request and
// wakes the control thread through wake_fd(), which the daemon's poller
// watches; the control thread builds the status document once for every
// scrape waiting (serve_pending) and hands each its text. A scrape that gets
// no answer within kScrapeTimeout is answered 503. Every other path is 404.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.hpp"
#include "daemon/config.hpp"
#include "daemon/stream_outbox.hpp"
#include "os/linux/poller.hpp"

namespace httplib {
class Server;
}

namespace cordon::daemon {

class MetricsServer {
 public:
  // How long a scrape waits for the control thread before it gets 503:
  // well under Prometheus's default scrape timeout of 10 s.
  static constexpr std::chrono::milliseconds kScrapeTimeout{5000};

  // config.metrics: binds its address now and serves from a new thread.
  // Null when [metrics] is off, or when the address cannot be bound and
  // `optional` is set (the error is logged). The error names the address
  // and the file and says what to do. Tests shorten `scrape_timeout`.
  static cordon::Result<std::unique_ptr<MetricsServer>, std::string> open(
      const DaemonConfig& config, std::chrono::milliseconds scrape_timeout = kScrapeTimeout);
  ~MetricsServer();  // stops serving; scrapes still waiting get 503
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Readable when scrapes wait; the control thread then calls serve_pending.
  int wake_fd() const { return wake_.fd(); }
  // Control thread: answers every waiting scrape with the metrics of one
  // status document (status_to_json's, with "courier" in managed mode).
  void serve_pending(const std::function<nlohmann::json()>& status);

 private:
  using Answer = std::promise<std::optional<std::string>>;  // nullopt: 503
  MetricsServer(std::unique_ptr<httplib::Server> server, os::EventFd wake, int64_t start_time_seconds,
                std::chrono::milliseconds scrape_timeout);
  // HTTP thread: queues a scrape and waits for its text.
  std::optional<std::string> scrape();

  std::unique_ptr<httplib::Server> server_;
  os::EventFd wake_;
  int64_t start_time_seconds_ = 0;
  std::chrono::milliseconds scrape_timeout_;
  Mutex mutex_;
  std::vector<std::shared_ptr<Answer>> waiting_ CORDON_GUARDED_BY(mutex_);
  bool stopping_ CORDON_GUARDED_BY(mutex_) = false;
  std::atomic<bool> listened_{false};  // listen_after_bind returned
  std::thread thread_;                 // runs server_->listen_after_bind()
};

}  // namespace cordon::daemon
