#include "daemon/metrics_server.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <httplib.h>
#include <spdlog/spdlog.h>

#include "daemon/metrics_format.hpp"
#include "os/linux/clock.hpp"
#include "os/linux/process_stats.hpp"

namespace cordon::daemon {
namespace {

// Two threads take the connections: a scrape mostly waits for the control
// thread, and Prometheus scrapes one target at a time.
constexpr size_t kHttpThreads = 2;

// SO_REUSEADDR only. cpp-httplib's default sets SO_REUSEPORT, with which a
// second daemon would share the port instead of being told it is taken.
void reuse_address_only(int fd) {
  const int yes = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
}

// "metrics: cannot listen on ADDRESS (why)".
std::string bind_failure(const Endpoint& listen, int err) {
  return fmt::format("metrics: cannot listen on {} ({})", listen.to_string(),
                     err != 0 ? std::strerror(err) : "the address is in use or not this host's");
}

}  // namespace

cordon::Result<std::unique_ptr<MetricsServer>, std::string> MetricsServer::open(
    const DaemonConfig& config, std::chrono::milliseconds scrape_timeout) {
  if (!config.metrics) return std::unique_ptr<MetricsServer>();
  auto wake = os::EventFd::create();
  if (!wake) return cordon::fail("metrics: " + wake.error().message());
  auto server = std::make_unique<httplib::Server>();
  server->set_socket_options(reuse_address_only);
  server->new_task_queue = [] { return new httplib::ThreadPool(kHttpThreads); };
  errno = 0;
  const Endpoint& listen = config.metrics->listen;
  if (!server->bind_to_port(listen.address.to_string(), listen.port)) {
    const std::string failure = bind_failure(listen, errno);
    if (!config.metrics->optional) {
      return cordon::fail(
          fmt::format("{}; free that address, or choose another [metrics] listen in {}, or set "
                      "[metrics] optional = true to start without metrics",
                      failure, config.path));
    }
    spdlog::error(
        "{}; running without metrics ([metrics] optional = true in {}); free the address and restart to "
        "have them",
        failure, config.path);
    return std::unique_ptr<MetricsServer>();
  }
  const int64_t started = os::now().real_ns / kNsPerSecond;
  std::unique_ptr<MetricsServer> out(
      new MetricsServer(std::move(server), std::move(wake.value()), started, scrape_timeout));
  spdlog::info("metrics: serving GET /metrics on http://{}", listen.to_string());
  return out;
}

MetricsServer::MetricsServer(std::unique_ptr<httplib::Server> server, os::EventFd wake, int64_t start_time_seconds,
                             std::chrono::milliseconds scrape_timeout)
    : server_(std::move(server)),
      wake_(std::move(wake)),
      start_time_seconds_(start_time_seconds),
      scrape_timeout_(scrape_timeout) {
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& response) {
    std::optional<std::string> text = scrape();
    if (!text) {
      response.status = 503;
      response.set_content("the daemon did not answer in time; try again\n", "text/plain; charset=utf-8");
      return;
    }
    response.set_content(std::move(*text), kMetricsContentType);
  });
  thread_ = std::thread([this] {
    server_->listen_after_bind();
    listened_.store(true, std::memory_order_release);
  });
  // httplib's stop() does nothing before the accept loop runs, so the
  // destructor could wait forever for a thread that had not got there yet.
  while (!server_->is_running() && !listened_.load(std::memory_order_acquire)) std::this_thread::yield();
}

MetricsServer::~MetricsServer() {
  {
    MutexLock lock(mutex_);
    stopping_ = true;
    for (auto& answer : waiting_) answer->set_value(std::nullopt);
    waiting_.clear();
  }
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

std::optional<std::string> MetricsServer::scrape() {
  auto answer = std::make_shared<Answer>();
  std::future<std::optional<std::string>> text = answer->get_future();
  {
    MutexLock lock(mutex_);
    if (stopping_) return std::nullopt;
    waiting_.push_back(answer);
  }
  wake_.notify();
  if (text.wait_for(scrape_timeout_) != std::future_status::ready) return std::nullopt;
  return text.get();
}

void MetricsServer::serve_pending(const std::function<nlohmann::json()>& status) {
  wake_.drain();
  std::vector<std::shared_ptr<Answer>> answers;
  {
    MutexLock lock(mutex_);
    answers.swap(waiting_);
  }
  if (answers.empty()) return;
  MetricsContext context{CORDON_VERSION, start_time_seconds_, std::nullopt};
  if (auto process = os::read_process_stats()) {
    context.process = process.value();
  } else {
    spdlog::debug("metrics: process metrics left out: {}", process.error().message());
  }
  const std::string text = render_metrics(status(), context);
  for (auto& answer : answers) answer->set_value(text);
}

}  // namespace cordon::daemon
