#include "daemon/daemon.hpp"

#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <csignal>
#include <memory>
#include <string_view>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/node.hpp"
#include "daemon/activity_log.hpp"
#include "daemon/offload_status.hpp"
#include "daemon/control.hpp"
#include "daemon/counter_keeper.hpp"
#include "daemon/courier_service.hpp"
#include "daemon/file_store.hpp"
#include "daemon/forwarding.hpp"
#include "daemon/ipsec_service.hpp"
#include "daemon/local_endpoints.hpp"
#include "daemon/logging.hpp"
#include "daemon/managed.hpp"
#include "daemon/metrics_server.hpp"
#include "daemon/open_firewall.hpp"
#include "daemon/open_policy.hpp"
#include "daemon/start_checks.hpp"
#include "daemon/reload.hpp"
#include "daemon/service_manager.hpp"
#include "daemon/site_link.hpp"
#include "daemon/size_classes.hpp"
#include "daemon/status_json.hpp"
#include "daemon/stream_outbox.hpp"
#include "daemon/tcp_tunnel.hpp"
#include "daemon/tunnel_interface.hpp"
#include "daemon/underlay.hpp"
#include "daemon/workers.hpp"
#include "os/linux/addresses.hpp"
#include "os/linux/clock.hpp"
#include "os/linux/memory.hpp"
#include "os/linux/poller.hpp"
#include "os/linux/random.hpp"
#include "os/linux/signals.hpp"
#include "os/linux/sysctl.hpp"

namespace cordon::daemon {
namespace {

// A failed floor write is retried this often; sending waits for it
// (`nonce_reservation` drops), so sooner is better than the next tick.
constexpr int64_t kFloorRetryNs = kNsPerSecond;
// The control thread wakes at least this often even with nothing due.
constexpr int64_t kMaxSleepNs = 60 * kNsPerSecond;

unsigned worker_count(unsigned configured) {
  if (configured != 0) return configured;
  return std::clamp(std::thread::hardware_concurrency(), 1u, kMaxWorkers);
}

// Link keys live in the Node; the daemon's copy of the configuration only
// needs the rest, so its keys are wiped as soon as the Node has them.
void log_forwarding(const Forwarding::Applied& applied) {
  for (const std::string& change : applied.changes) spdlog::info("{}", change);
  for (const std::string& error : applied.errors) spdlog::error("{}", error);
}

// The interface's own addresses, for the ICMP errors the node writes back
// into the tunnel (core/node_config.hpp).
std::vector<IpAddress> tunnel_addresses(const std::vector<Prefix>& addresses) {
  std::vector<IpAddress> out;
  for (const Prefix& p : addresses) out.push_back(p.address);
  return out;
}

void forget_keys(NodeConfig& config) {
  for (PeerConfig& peer : config.peers) peer.link_key.wipe();
}

// What IP forwarding must be on for: the subnets this host tunnels, and
// the IPsec children's remote selectors and address pools (the kernel
// forwards between the IPsec device, the LAN and Cordon's tunnel).
std::vector<Prefix> forwarded_prefixes(const DaemonConfig& config) {
  std::vector<Prefix> out = config.tunneled_subnets;
  if (!config.ipsec) return out;
  for (const ipsec::ConnectionConfig& c : config.ipsec->gateway.connections) {
    for (const ipsec::ChildConfig& child : c.children) {
      for (const ipsec::TrafficSelector& ts : child.remote_ts) {
        for (const Prefix& p : ipsec::selector_prefixes(ts)) out.push_back(p);
      }
    }
  }
  for (const ipsec::PoolConfig& pool : config.ipsec->gateway.pools) out.push_back(pool.addresses);
  for (const ipsec::ManualSaConfig& sa : config.ipsec->gateway.manual_sas) {
    for (const ipsec::TrafficSelector& ts : sa.remote_ts) {
      for (const Prefix& p : ipsec::selector_prefixes(ts)) out.push_back(p);
    }
  }
  return out;
}

class Daemon {
 public:
  Daemon(DaemonConfig config, RunOptions options) : config_(std::move(config)), options_(std::move(options)) {}

  int run() {
    if (auto started = start(); !started) {
      log_event(spdlog::level::err, LogEvent::kStartFailed, "{}", started.error());
      service_.status("start failed: " + started.error());
      return 1;
    }
    return loop();
  }

 private:
  cordon::Status<std::string> start();
  int loop();
  void tick(const Now& now);
  void log_rekey_events(const std::vector<RekeyLogEvent>& events);
  void store_last_receive_floors();
  void send(std::vector<Outgoing>& datagrams);
  void send_stream(uint32_t stream, std::span<const std::byte> datagram);
  void check_local_endpoints(const Now& now);
  // The open-traffic firewall for `config` ([open] and central open rules;
  // docs/firewall.md): on, replaced or off. An error leaves the running
  // table as it was.
  cordon::Status<std::string> configure_firewall(const DaemonConfig& config);
  void stop_firewall();
  // Opens or closes the TCP tunnel listener for this host's role.
  void configure_tunnel(const Now& now);
  // The control wake: control messages for tick(), datagrams in the outbox.
  void on_wake(const Now& now);
  // What a reload did: the new peer count and, in managed mode, the key
  // set version now running; or the error (and nothing changed).
  struct Reloaded {
    size_t peers = 0;
    std::optional<uint64_t> version;
  };
  using ReloadOutcome = cordon::Result<Reloaded, std::string>;
  ReloadOutcome reload(const Now& now, std::string_view why);
  ReloadOutcome apply_reload(const Now& now, std::string_view why);
  std::string ready_status() const;  // STATUS= for systemd
  nlohmann::json answer(const nlohmann::json& request);
  // The document `cordon status --json` prints, and metrics are rendered from.
  nlohmann::json status_document(const Now& now);
  // Site links: move a secondary to its backup primary or back (a reload
  // with the other one active), and the "sitelink" control command.
  void switch_primary(const Now& now, bool to_backup);
  nlohmann::json answer_sitelink(const nlohmann::json& request);

  DaemonConfig config_;
  RunOptions options_;
  unsigned workers_ = 1;

  // Managed mode: the key set's user key, kept (in locked memory) so that a
  // reload can open an updated key set without asking for the password.
  std::optional<ManagedKeySet> managed_;

  // Declaration order is teardown order reversed: workers stop first, then
  // the node, the sockets, the interface (deleted), the control socket.
  std::optional<os::SignalSet> signals_;
  std::optional<os::EventFd> worker_died_;
  std::optional<os::EventFd> control_wake_;  // workers: control messages or outbox datagrams
  std::optional<os::Poller> poller_;
  std::optional<CounterKeeper> counters_;
  std::optional<ControlServer> control_;
  std::unique_ptr<MetricsServer> metrics_;  // [metrics]: GET /metrics; null when off
  std::optional<Forwarding> forwarding_;  // after the interface goes, forwarding is restored
  std::optional<OpenFirewall> firewall_;  // [open]: table inet cordon, deleted when the daemon stops
  std::optional<TunnelInterface> interface_;
  std::vector<os::UdpSocket> sockets_;
  uint16_t port_ = 0;
  std::unique_ptr<Node> node_;
  StreamOutbox outbox_;
  StreamOutbox::Batch outbox_batch_;  // the control thread's side of the outbox
  std::unique_ptr<TcpTunnel> tunnel_;
  std::unique_ptr<IpsecService> ipsec_;  // [ipsec]: the IPsec gateway's thread
  std::unique_ptr<WorkerPool> pool_;
  std::unique_ptr<CourierService> courier_;  // managed mode (docs/couriers.md)
  bool lanes_ = false;     // the sockets are picked by lane (underlay.hpp)
  std::string lanes_off_;  // why not
  ActivityLog activity_;
  ServiceManager service_;  // systemd's Type=notify (service_manager.hpp)
  LocalEndpointTracker local_endpoints_;

  int64_t next_tick_ns_ = 0;
  int64_t next_activity_ns_ = 0;
  int64_t next_local_check_ns_ = 0;
  int64_t next_courier_ns_ = 0;
  bool floor_failing_ = false;

  void start_courier(const Now& now);
  void run_courier(const Now& now, std::vector<CourierMessage>* received);
};

cordon::Status<std::string> Daemon::start() {
  if (::geteuid() != 0) return cordon::fail("cordon up must run as root (it creates a TUN device)");
  // Keeps link keys out of core dumps and away from ptrace by other users.
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  if (auto locked = os::lock_all_memory(); !locked) {
    spdlog::warn("link keys may be swapped out: {}", locked.error().message());
  }

  // What `cordon check` checks too (start_checks.hpp): the key set unlocks,
  // the counter file admits every link key. Now, after memory is locked (the
  // user key stays in it) and before the signals are blocked (Ctrl-C must
  // still work at the password prompt).
  auto ready = check_start(config_, options_.accept_new_keys);
  if (!ready) return ready.error();
  managed_ = std::move(ready->managed);
  set_log_host(config_.node.self);  // known now, in managed mode from the key set
  counters_.emplace(std::move(ready->counters));
  CounterKeeper::Start floors = std::move(ready->floors);

  // First, before any thread exists (signals.hpp).
  auto signals = os::SignalSet::create();
  if (!signals) return signals.error().message();
  signals_.emplace(std::move(signals.value()));

  workers_ = worker_count(config_.workers);

  // The control socket comes before the interface: a second daemon for the
  // same interface stops here, before it touches the device.
  auto control = ControlServer::open(config_.control_socket);
  if (!control) return "control socket: " + control.error().message();
  control_.emplace(std::move(control.value()));

  auto iface = TunnelInterface::open(config_.interface, workers_, config_.offloads, config_.mtu, config_.addresses,
                                     peer_routes(config_.node));
  if (!iface) return iface.error().message();
  interface_.emplace(std::move(iface.value()));
  // A gateway forwards between its LAN interfaces and the tunnel; a start
  // after a crash restores what the crashed run changed (forwarding.hpp).
  forwarding_.emplace(Forwarding::Switches{os::read_sysctl, os::write_sysctl}, system_files(), config_.state_dir);
  log_forwarding(forwarding_->apply(forwarded_prefixes(config_)));

  UnderlayResult underlay = open_underlay(config_.listen_address, config_.listen_port, workers_, config_.path);
  if (!underlay) return underlay.error();
  sockets_ = std::move(underlay->sockets);
  port_ = underlay->port;
  lanes_ = underlay->lanes;
  lanes_off_ = underlay->lanes_off;
  if (!lanes_off_.empty()) {
    spdlog::warn("UDP sockets picked by the kernel's hash, not by lane ({}): one peer's traffic stays on one "
                 "worker",
                 lanes_off_);
  }
  if (config_.offloads) {
    for (auto& socket : sockets_) socket.enable_offloads(receive_slot_size(config_.mtu));
  }

  auto died = os::EventFd::create();
  if (!died) return died.error().message();
  worker_died_.emplace(std::move(died.value()));
  auto wake = os::EventFd::create();
  if (!wake) return wake.error().message();
  control_wake_.emplace(std::move(wake.value()));
  auto poller = os::Poller::create();
  if (!poller) return poller.error().message();
  poller_.emplace(std::move(poller.value()));
  for (int fd : {signals_->fd(), control_->fd(), worker_died_->fd(), control_wake_->fd()}) {
    if (auto added = poller_->add_readable(fd); !added) return added.error().message();
  }

  // [metrics] (docs/metrics.md): a scrape wakes this thread for a status
  // document; an address that cannot be bound stops the start unless
  // `optional` is set.
  auto metrics = MetricsServer::open(config_);
  if (!metrics) return metrics.error();
  metrics_ = std::move(metrics.value());
  if (metrics_) {
    if (auto added = poller_->add_readable(metrics_->wake_fd()); !added) return added.error().message();
  }

  // Probe IDs and report sequence numbers start from it (core/node_config.hpp).
  std::array<std::byte, sizeof(uint64_t)> boot_random{};
  if (auto drawn = os::random_bytes(boot_random); !drawn) return "random: " + drawn.error().message();
  std::memcpy(&config_.node.boot_random, boot_random.data(), boot_random.size());
  // The rekey exchange's ephemeral keys and material (core/link/rekey.hpp).
  config_.node.random = [](std::span<std::byte> out) { return static_cast<bool>(os::random_bytes(out)); };

  Now now = os::now();
  // Worker indices 0..workers_-1 belong to the workers; index workers_ to
  // the control thread, which hands the node what TCP tunnel streams carry
  // (tcp_tunnel.hpp). Each index is used by one thread only (core/node.hpp).
  config_.node.tunnel_addresses = tunnel_addresses(config_.addresses);
  node_ = std::make_unique<Node>(config_.node, workers_ + 1, floors.floor, now, std::move(floors.receive));
  forget_keys(config_.node);
  check_local_endpoints(now);
  os::TunDeviceQueue& queue0 = interface_->device().queue(0);
  std::optional<CoalescingTun> coalescing;
  if (queue0.offloads()) coalescing = CoalescingTun{&queue0, queue0.features().tso, queue0.features().uso};
  tunnel_ = std::make_unique<TcpTunnel>(
      TcpTunnel::Wiring{*node_, workers_, *poller_, queue0, sockets_[0], config_.mtu, coalescing});
  configure_tunnel(now);
  // Before the workers start: no open packet passes unjudged once the
  // tunnel carries traffic.
  // A daemon that is not running leaves no table: neither one a crashed
  // run left, nor one for a policy refused here.
  auto firewall = configure_firewall(config_);
  if (!firewall || !config_.open_firewall()) {
    if (auto stale = OpenFirewall::remove_stale()) spdlog::warn("{}", *stale);
  }
  if (!firewall) return firewall.error();

  // The floor the node asks for must be durable before any worker seals a
  // packet (core/node.hpp, TickResult), and so must the record of the keys
  // it covers: the file is written at every start.
  TickResult first = node_->tick(now);
  counters_->raise_floor(first.persist_counter_floor.value_or(0));
  if (first.persist_receive_floors) counters_->set_receive_floors(std::move(*first.persist_receive_floors));
  if (auto stored = counters_->store(); !stored) return stored.error();
  if (first.persist_counter_floor) node_->counter_floor_persisted(*first.persist_counter_floor);
  counters_->consume_fresh();
  send(first.datagrams);
  tunnel_->reconcile(first.tcp_targets, now);
  next_tick_ns_ = first.next_deadline_mono_ns;
  next_activity_ns_ = now.mono_ns + kActivityIntervalNs;

  start_courier(now);
  if (config_.ipsec) {
    auto ipsec = IpsecService::start(*config_.ipsec);
    if (!ipsec) return ipsec.error();
    ipsec_ = std::move(*ipsec);
    spdlog::info("IPsec gateway on {} ports 500 and 4500, device {}, {} connection(s)",
                 config_.ipsec->listen_address.to_string(), config_.ipsec->interface,
                 config_.ipsec->gateway.connections.size());
  }
  pool_ = std::make_unique<WorkerPool>(*node_, interface_->device(), sockets_, config_.mtu, outbox_, *control_wake_);
  if (auto started = pool_->start(*worker_died_); !started) return "start workers: " + started.error().message();

  std::string addresses;
  for (const Prefix& a : config_.addresses) addresses += " " + a.to_string();
  log_event(spdlog::level::info, LogEvent::kStarted,
            "cordon up: host {} on {} (mtu {}, addresses{}), UDP port {}, {} workers, {} peers, control socket {}",
            config_.node.self.to_string(), config_.interface, config_.mtu, addresses.empty() ? " none" : addresses,
            port_, workers_, config_.node.peers.size(), config_.control_socket);
  activity_.started(offload_status(config_.offloads, interface_->device(), sockets_, *pool_));
  service_.ready(ready_status());
  return Ok{};
}

int Daemon::loop() {
  std::array<int, 16> ready{};
  for (;;) {
    Now now = os::now();
    if (now.mono_ns >= next_local_check_ns_) check_local_endpoints(now);
    if (now.mono_ns >= tunnel_->next_deadline_ns()) tunnel_->run_timers(now);
    // Control messages, and a stream that opened, are handled at once, not
    // at the next deadline.
    if (tunnel_->take_tick_request()) next_tick_ns_ = now.mono_ns;
    if (now.mono_ns >= next_tick_ns_ || node_->control_pending()) tick(now);
    if (courier_ && courier_->reports_status() && now.mono_ns >= courier_->status_due() &&
        courier_->report_status(node_->status(), now)) {
      next_courier_ns_ = now.mono_ns;  // the report leaves now
    }
    if (courier_ && now.mono_ns >= next_courier_ns_) run_courier(now, nullptr);
    if (now.mono_ns >= next_activity_ns_) {
      activity_.report(node_->status(), *pool_,
                       offload_status(config_.offloads, interface_->device(), sockets_, *pool_));
      tunnel_->report_activity();
      next_activity_ns_ = now.mono_ns + kActivityIntervalNs;
    }
    int64_t courier_wake = courier_ ? next_courier_ns_ : now.mono_ns + kMaxSleepNs;
    if (courier_ && courier_->reports_status()) courier_wake = std::min(courier_wake, courier_->status_due());
    const int64_t watchdog_wake = service_.watchdog(now.mono_ns);
    const int64_t wake = std::min({next_tick_ns_, next_activity_ns_, next_local_check_ns_,
                                   tunnel_->next_deadline_ns(), courier_wake, watchdog_wake,
                                   now.mono_ns + kMaxSleepNs});
    // Round up so that the deadline has passed when we wake.
    const int timeout_ms = static_cast<int>(std::max<int64_t>(0, (wake - now.mono_ns + kNsPerMs - 1) / kNsPerMs));

    auto n = poller_->wait(timeout_ms, ready);
    if (!n) {
      spdlog::error("control thread: {}", n.error().message());
      return 1;
    }
    for (size_t i = 0; i < n.value(); ++i) {
      if (ready[i] == signals_->fd()) {
        for (;;) {
          auto signal = signals_->read();
          if (!signal || signal.value() == 0) break;
          if (signal.value() == SIGHUP) {
            reload(os::now(), "SIGHUP");
          } else {
            service_.stopping();
            log_event(spdlog::level::info, LogEvent::kStopping, "signal {}: stopping; interface {} goes away",
                      signal.value() == SIGINT ? "SIGINT" : "SIGTERM", config_.interface);
            pool_->stop();
            tunnel_->close_all(os::now());
            store_last_receive_floors();
            log_forwarding(forwarding_->restore());
            stop_firewall();
            return 0;
          }
        }
      } else if (ready[i] == control_->fd()) {
        control_->serve_pending([this](const nlohmann::json& request) { return answer(request); });
      } else if (ready[i] == control_wake_->fd()) {
        on_wake(os::now());
      } else if (metrics_ && ready[i] == metrics_->wake_fd()) {
        metrics_->serve_pending([this] { return status_document(os::now()); });
      } else if (ready[i] == worker_died_->fd()) {
        pool_->stop();
        tunnel_->close_all(os::now());
        log_event(spdlog::level::err, LogEvent::kWorkerFailed, "{}; stopping",
                  pool_->failure().value_or("a worker stopped"));
        return 1;
      } else {
        tunnel_->handle(ready[i], os::now());  // a TCP tunnel listener or stream
      }
    }
  }
}

// On a clean stop, after the workers stopped: the receive floors as they
// are now, so that nothing accepted in the last second can be replayed
// after the restart (docs/protocol.md, "After a restart"). A crash loses
// at most the last second instead.
void Daemon::store_last_receive_floors() {
  counters_->set_receive_floors(node_->receive_floors());
  if (auto stored = counters_->store(); !stored) spdlog::warn("last receive floors not stored: {}", stored.error());
}

void Daemon::tick(const Now& now) {
  TickResult result = node_->tick(now);
  next_tick_ns_ = result.next_deadline_mono_ns;
  if (result.persist_receive_floors) {
    // Written with the next floor or on their own, at most once a second
    // (docs/protocol.md, "Nonce uniqueness"); a failed write is retried
    // with the next one.
    counters_->set_receive_floors(std::move(*result.persist_receive_floors));
    if (!result.persist_counter_floor) {
      if (auto stored = counters_->store(); !stored) spdlog::debug("receive floors not stored: {}", stored.error());
    }
  }
  if (result.persist_counter_floor) {
    const uint64_t floor = *result.persist_counter_floor;
    counters_->raise_floor(floor);
    if (auto stored = counters_->store(); !stored) {
      // Until it is stored, sealing stops with `nonce_reservation`: tell the
      // operator once, and try again soon.
      if (!floor_failing_) {
        log_event(spdlog::level::err, LogEvent::kFloorStoreFailed, "{}; sending stops until the floor can be stored",
                  stored.error());
      }
      floor_failing_ = true;
      next_tick_ns_ = std::min(next_tick_ns_, now.mono_ns + kFloorRetryNs);
    } else {
      if (floor_failing_) {
        log_event(spdlog::level::info, LogEvent::kFloorStored, "counter floor stored again in {}; sending resumes",
                  counters_->path());
      }
      floor_failing_ = false;
      node_->counter_floor_persisted(floor);
    }
  }
  log_rekey_events(result.rekey_events);
  send(result.datagrams);
  tunnel_->reconcile(result.tcp_targets, now);
  if (courier_ && !result.courier.empty()) run_courier(now, &result.courier);
  if (config_.site) {
    log_session_events(result.session_events, *config_.site);
    if (wants_failover(result.session_events, *config_.site)) switch_primary(now, true);
  }
}

// Managed mode: the courier (docs/couriers.md). A spool that cannot be
// opened leaves the daemon running without one, said loudly: tunnels
// matter more than updates, which can still be carried by hand.
void Daemon::start_courier(const Now& now) {
  if (!managed_) return;
  CourierService::Wiring wiring{*node_, *config_.keyset, managed_->user_key, [this](uint64_t version) {
                                  auto done = reload(os::now(), fmt::format("courier update version {}", version));
                                  return done ? std::string() : done.error();
                                }};
  auto started = CourierService::start(std::move(wiring), config_, config_.node.boot_random, now);
  if (!started) {
    log_event(spdlog::level::err, LogEvent::kCourierOff,
              "courier off: {}; updates must be applied by hand (`cordon update apply`)", started.error());
    return;
  }
  courier_ = std::move(started.value());
  next_courier_ns_ = now.mono_ns;
}

// What the node received for the courier, then its timers; whatever it
// handed the node leaves with an immediate node tick.
void Daemon::run_courier(const Now& now, std::vector<CourierMessage>* received) {
  if (received) courier_->receive(*received, now);
  next_courier_ns_ = courier_->tick(now);
  if (courier_->take_sent()) next_tick_ns_ = now.mono_ns;
}

void Daemon::switch_primary(const Now& now, bool to_backup) {
  config_.site->on_backup = to_backup;
  const char* why = to_backup ? "failover to the backup primary" : "return to the primary";
  if (auto done = reload(now, why); !done) {
    config_.site->on_backup = !to_backup;
    log_event(spdlog::level::err, LogEvent::kFailoverFailed, "site link: {} failed; {}", why, done.error());
    return;
  }
  const HostId now_using = (to_backup ? config_.site->backup : config_.site->primary).value_or(HostId{});
  log_peer_event(spdlog::level::warn, LogEvent::kFailover, now_using, "site link: {}: now using {}", why,
                 now_using.to_string());
}

// Every rekey and key-generation event, with its reason code
// (docs/protocol.md, "Rekey exchange"): rounds at debug (one per link and
// period), everything that went wrong at warning.
void Daemon::log_rekey_events(const std::vector<RekeyLogEvent>& events) {
  for (const RekeyLogEvent& e : events) {
    const bool trouble = e.event == "rekey_failed" || e.event == "rekey_attempt_failed" ||
                         e.event == "rekey_message_refused" || e.event == "rekey_reset";
    log_with(trouble ? spdlog::level::warn : spdlog::level::debug,
             LogContext{.event = e.event, .reason = e.reason, .peer = e.peer}, "peer {}: {} generation {} reason={}",
             e.peer.to_string(), e.event, e.generation, e.reason);
  }
}

void Daemon::send(std::vector<Outgoing>& datagrams) {
  if (datagrams.empty()) return;
  // Keepalives and control messages go out through worker 0's socket.
  // UdpSocket::send keeps no state in the object, so sharing the socket
  // with that worker is safe. Those for a TCP tunnel stream go to it.
  std::vector<os::Datagram> batch;
  batch.reserve(datagrams.size());
  for (Outgoing& d : datagrams) {
    if (!d.to.is_udp()) {
      send_stream(d.to.stream, d.datagram);
      continue;
    }
    batch.push_back(os::Datagram{.data = d.datagram, .length = d.datagram.size(), .peer = d.to});
  }
  size_t done = 0;
  while (done < batch.size()) {
    auto sent = sockets_[0].send(std::span(batch).subspan(done));
    if (!sent) {
      spdlog::debug("datagram to {} not sent: {}", batch[done].peer.to_string(), sent.error().message());
      ++done;
      continue;
    }
    if (sent.value() == 0) break;
    done += sent.value();
  }
}

void Daemon::send_stream(uint32_t stream, std::span<const std::byte> datagram) { tunnel_->send(stream, datagram); }

void Daemon::configure_tunnel(const Now& now) {
  tunnel_->set_idle_timeout(config_.node.mesh.poll_period_ns);
  const bool wanted = config_.node.role == keys::Role::kCoordinator && config_.node.mesh.tcp_port != 0;
  if (!wanted) {
    if (tunnel_->listen_port() != 0) spdlog::info("tcp tunnel: no longer a coordinator; listener closed");
    tunnel_->stop_listening(now);
    return;
  }
  if (tunnel_->listen_port() != 0) return;
  // A coordinator that cannot take its TCP port still serves UDP: say so
  // loudly and go on (clients behind a UDP block cannot reach it until the
  // port is freed and cordon restarted).
  if (auto listening = tunnel_->listen(config_.listen_address, config_.node.mesh.tcp_port); !listening) {
    log_event(spdlog::level::err, LogEvent::kTcpTunnelOff, "tcp tunnel off: {} (host.tcp_port in {})",
              listening.error().message(), config_.path);
    return;
  }
  spdlog::info("tcp tunnel: listening on TCP port {}", tunnel_->listen_port());
}

void Daemon::on_wake(const Now& now) {
  // Drain before taking: a push after take() notifies again.
  control_wake_->drain();
  outbox_.take(outbox_batch_);
  for (const StreamOutbox::Entry& e : outbox_batch_.entries) send_stream(e.stream, outbox_batch_.datagram(e));
  if (node_->control_pending()) tick(now);
}

cordon::Status<std::string> Daemon::configure_firewall(const DaemonConfig& config) {
  if (!config.open_firewall()) {
    if (firewall_) {
      stop_firewall();
      spdlog::info("open-traffic firewall off: neither an [open] table nor central open rules any more");
    }
    return Ok{};
  }
  OpenRuntime runtime{.tun_interface = config_.interface, .udp_ports = {port_}};
  if (tunnel_->listen_port() != 0) runtime.tcp_ports.push_back(tunnel_->listen_port());
  auto built = build_open_policy(config, runtime);
  if (!built) return cordon::fail(built.error());
  for (const std::string& note : built->notes) spdlog::info("open-traffic firewall: {}", note);
  const size_t rules = built->labels.size();
  if (firewall_) {
    if (auto replaced = firewall_->replace(built->policy, std::move(built->labels)); !replaced) {
      return replaced.error();
    }
  } else {
    auto started = OpenFirewall::start(built->policy, std::move(built->labels));
    if (!started) return started.error();
    firewall_.emplace(std::move(started.value()));
  }
  spdlog::info("open-traffic firewall: table inet cordon loaded, {} rule{}, {} protected source prefix{}", rules,
               rules == 1 ? "" : "s", built->policy.protected_sources.size(),
               built->policy.protected_sources.size() == 1 ? "" : "es");
  return Ok{};
}

void Daemon::stop_firewall() {
  if (!firewall_) return;
  if (auto stopped = firewall_->stop(); !stopped) log_event(spdlog::level::err, LogEvent::kFirewallError, "{}", stopped.error());
  firewall_.reset();
}

void Daemon::check_local_endpoints(const Now& now) {
  next_local_check_ns_ = now.mono_ns + kLocalEndpointsCheckNs;
  auto listed = os::interface_addresses();
  if (!listed) {
    log_event(spdlog::level::warn, LogEvent::kAddressesUnknown, "cannot list this host's addresses: {}",
              listed.error().message());
    return;
  }
  const LocalEndpointRules rules{config_.interface, config_.listen_address, port_};
  auto changed = local_endpoints_.update(local_endpoints(listed.value(), rules));
  if (!changed) return;
  std::string text;
  for (const Endpoint& e : *changed) text += " " + e.to_string();
  // Only a client with a registry reports them; elsewhere they are trivia.
  spdlog::log(config_.node.mesh.registry.value != 0 ? spdlog::level::info : spdlog::level::debug,
              "local endpoints:{}", text.empty() ? " none" : text);
  node_->set_local_endpoints(std::move(*changed), now);
  next_tick_ns_ = now.mono_ns;  // the registry hears of a change at once (docs/protocol.md, "Registry")
}

// Every reload tells systemd it runs (RELOADING=1) and that it ended
// (READY=1), whatever its outcome (service_manager.hpp).
Daemon::ReloadOutcome Daemon::reload(const Now& now, std::string_view why) {
  service_.reloading();
  ReloadOutcome outcome = apply_reload(now, why);
  service_.ready(ready_status());
  return outcome;
}

std::string Daemon::ready_status() const {
  return fmt::format("host {} on {}: {} peers, UDP port {}", config_.node.self.to_string(), config_.interface,
                     config_.node.peers.size(), port_);
}

Daemon::ReloadOutcome Daemon::apply_reload(const Now& now, std::string_view why) {
  spdlog::info("{}: reloading {}{}", why, config_.path, managed_ ? " and key set " + *config_.keyset : "");
  ConfigResult result = config_.site ? load_site_daemon_config(config_.path, config_.site->role, config_.site->on_backup)
                                     : load_config(config_.path);
  if (!result) {
    for (const ConfigError& e : result.error()) log_event(spdlog::level::err, LogEvent::kReloadFailed, "{}", e.to_string());
    log_event(spdlog::level::err, LogEvent::kReloadFailed, "reload failed with {} error{}; the running configuration stays", result.error().size(),
                  result.error().size() == 1 ? "" : "s");
    // The control client sees no log: give it the first error too.
    return cordon::fail(fmt::format("reload failed with {} error{} (first: {}); the running configuration stays",
                                    result.error().size(), result.error().size() == 1 ? "" : "s",
                                    result.error().front().to_string()));
  }
  DaemonConfig next = std::move(*result);
  if (managed_ && !next.managed()) {
    // Switching modes changes where every key comes from; only a restart
    // does that cleanly (and asks for the password again if needed).
    std::string error = fmt::format("reload failed: {} no longer has host.keyset; switching from managed to manual "
                                    "mode needs a restart; the running configuration stays",
                                    config_.path);
    log_event(spdlog::level::err, LogEvent::kReloadFailed, "{}", error);
    return cordon::fail(std::move(error));
  }
  if (!managed_ && next.managed()) {
    std::string error = fmt::format("reload failed: {} now has host.keyset; switching from manual to managed mode "
                                    "needs a restart (the key set must be unlocked); the running configuration "
                                    "stays",
                                    config_.path);
    log_event(spdlog::level::err, LogEvent::kReloadFailed, "{}", error);
    return cordon::fail(std::move(error));
  }
  std::optional<uint64_t> version;
  const uint64_t running_version = managed_ ? managed_->version : 0;
  if (managed_) {
    // The key set is read from the path the daemon started with (a new
    // host.keyset is a restart-only change, logged below).
    ManagedReload reloaded = reload_managed(next, *config_.keyset, *managed_);
    if (!reloaded) {
      log_event(spdlog::level::err, LogEvent::kReloadFailed, "reload failed: {}; the running configuration stays", reloaded.error());
      return cordon::fail("reload failed: " + reloaded.error() + "; the running configuration stays");
    }
    for (const std::string& warning : reloaded.value()) spdlog::warn("{}", warning);
    version = managed_->version;
  }
  if (auto admitted = counters_->admit_reload(next.node); !admitted) {
    if (managed_) managed_->version = running_version;
    log_event(spdlog::level::err, LogEvent::kReloadFailed, "reload failed: {}; the running configuration stays", admitted.error());
    return cordon::fail("reload failed: " + admitted.error() + "; the running configuration stays");
  }
  for (const std::string& change : restart_only_changes(config_, next)) spdlog::warn("{}", change);
  // The tunnel addresses stay the running ones (a restart-only change);
  // the firewall goes first, so that a policy it refuses changes nothing.
  next.addresses = config_.addresses;
  next.node.tunnel_addresses = tunnel_addresses(config_.addresses);
  if (auto firewall = configure_firewall(next); !firewall) {
    if (managed_) managed_->version = running_version;
    log_event(spdlog::level::err, LogEvent::kReloadFailed, "reload failed: {}; the running configuration and table inet cordon stay", firewall.error());
    return cordon::fail("reload failed: " + firewall.error() +
                        "; the running configuration and table inet cordon stay");
  }
  config_.open = std::move(next.open);
  config_.central_open_rules = std::move(next.central_open_rules);
  config_.site = std::move(next.site);

  // The host ID and the TCP tunnel port are part of what needs a restart;
  // keep the running ones.
  next.node.self = config_.node.self;
  next.node.mesh.tcp_port = config_.node.mesh.tcp_port;
  // Size classes end at the running interface's MTU (host.mtu needs a restart).
  next.node.size_classes = fit_size_classes(std::move(next.node.size_classes), config_.mtu);
  NodeConfig kept = next.node;
  forget_keys(kept);
  node_->reconfigure(std::move(next.node), now);
  config_.node = std::move(kept);
  config_.courier = std::move(next.courier);
  config_.courier_spool_limit = next.courier_spool_limit;
  if (courier_) courier_->reconfigure(config_, now);
  const uint16_t tcp_port = tunnel_->listen_port();
  configure_tunnel(now);

  config_.tunneled_subnets = std::move(next.tunneled_subnets);
  if (ipsec_ && next.ipsec) {
    const nlohmann::json applied = ipsec_->reconfigure(*next.ipsec);
    if (applied.contains("error")) log_event(spdlog::level::err, LogEvent::kReloadFailed, "reload: IPsec: {}", applied["error"].get<std::string>());
    config_.ipsec = std::move(next.ipsec);
  } else if (static_cast<bool>(ipsec_) != next.ipsec.has_value()) {
    spdlog::warn("reload: [ipsec] was {}; restart the daemon for that", ipsec_ ? "removed" : "added");
  }
  log_forwarding(forwarding_->apply(forwarded_prefixes(config_)));
  // A role change opened or closed the TCP tunnel: the table follows.
  if (firewall_ && tunnel_->listen_port() != tcp_port) {
    if (auto again = configure_firewall(config_); !again) log_event(spdlog::level::err, LogEvent::kReloadFailed, "reload: {}", again.error());
  }
  for (const std::string& failure : interface_->sync_routes(peer_routes(config_.node))) {
    log_event(spdlog::level::err, LogEvent::kReloadFailed, "reload: {}", failure);
  }
  if (!options_.log_level && next.log_level != config_.log_level) {
    set_log_level(next.log_level);
    spdlog::info("log level is now {}", next.log_level);
    config_.log_level = next.log_level;
  }
  if (version) {
    log_event(spdlog::level::info, LogEvent::kReloaded, "reloaded {}: key set version {}, {} peers", config_.path, *version, config_.node.peers.size());
  } else {
    log_event(spdlog::level::info, LogEvent::kReloaded, "reloaded {}: {} peers", config_.path, config_.node.peers.size());
  }
  next_tick_ns_ = now.mono_ns;  // new peers may need a keepalive or the floor right away
  return Reloaded{config_.node.peers.size(), version};
}

nlohmann::json Daemon::status_document(const Now& now) {
  StatusContext context{config_.interface, port_, now.real_ns};
  context.now_mono_ns = now.mono_ns;
  context.tcp_port = tunnel_->listen_port();
  context.tcp_streams = tunnel_->open_streams();
  context.tcp_tunnel = tunnel_->stats();
  context.offloads = offload_status(config_.offloads, interface_->device(), sockets_, *pool_);
  context.workers = workers_status(lanes_, lanes_off_, *pool_);
  if (firewall_) context.open = firewall_->status();
  nlohmann::json document = status_to_json(node_->status(), context);
  if (courier_) document["courier"] = courier_->status_json();
  if (ipsec_) document["ipsec"] = ipsec_->command({{"object", "status"}});
  return document;
}

nlohmann::json Daemon::answer(const nlohmann::json& request) {
  ControlCommands commands;
  commands.status = [this] { return status_document(os::now()); };
  commands.reload = [this]() -> nlohmann::json {
    ReloadOutcome outcome = reload(os::now(), "control command reload");
    if (!outcome) return {{"error", outcome.error()}};
    nlohmann::json reply = {{"reloaded", true}, {"peers", outcome->peers}};
    if (outcome->version) reply["version"] = *outcome->version;
    return reply;
  };
  commands.rekey = [this](const nlohmann::json& request) -> nlohmann::json {
    const auto peer = request.find("peer");
    const auto id = peer != request.end() && peer->is_string() ? HostId::parse(peer->get<std::string>()) : std::nullopt;
    if (!id) return {{"error", "rekey needs \"peer\": a host ID such as \"0x0001000b\""}};
    if (!node_->force_rekey(*id, os::now())) {
      return {{"error", fmt::format("peer {} cannot be rekeyed now: it is not a peer of this host, or its last "
                                    "rekey was less than a second ago; check `cordon status`",
                                    id->to_string())}};
    }
    next_tick_ns_ = os::now().mono_ns;  // the offer (or request) goes out at the next tick
    return {{"rekey", id->to_string()}};
  };
  if (config_.site) commands.sitelink = [this](const nlohmann::json& r) { return answer_sitelink(r); };
  if (ipsec_) {
    commands.ipsec = [this](const nlohmann::json& r) { return ipsec_->command(r); };
  }
  if (courier_) {
    commands.courier = [this](const nlohmann::json& r) {
      const Now now = os::now();
      nlohmann::json reply = courier_->answer(r, now);
      next_courier_ns_ = now.mono_ns;  // what was handed over leaves at once
      return reply;
    };
  }
  return dispatch_command(request, commands);
}

// The "sitelink" control command (control.hpp): an action on the sessions
// a request names (site_link.hpp, site_targets), one result per session.
nlohmann::json Daemon::answer_sitelink(const nlohmann::json& request) {
  const Now now = os::now();
  const auto action_it = request.find("action");
  const std::string action = action_it != request.end() && action_it->is_string() ? action_it->get<std::string>() : "";
  if (action == "return") {
    if (config_.site->role != SiteRole::kSecondary || !config_.site->backup) {
      return {{"error", "return applies to a secondary with a backup primary (N/backup yes in its file)"}};
    }
    if (!config_.site->on_backup) return {{"returned", false}, {"primary", config_.site->primary->to_string()}};
    switch_primary(now, false);
    if (config_.site->on_backup) return {{"error", "the return to the primary failed; the daemon's log says why"}};
    next_tick_ns_ = now.mono_ns;
    return {{"returned", true}, {"primary", config_.site->primary->to_string()}};
  }
  const bool arrays = action == "new-array" || action == "flush-array";
  if (action != "status" && action != "rekey" && action != "shutdown" && action != "start" && !arrays) {
    return {{"error", "unknown sitelink action; use status, rekey, shutdown, start, new-array, flush-array or return"}};
  }
  auto targets = site_targets(request, *config_.site);
  if (!targets) return {{"error", targets.error()}};
  std::optional<ArrayRequest> array_request;
  if (arrays) {
    auto parsed = array_request_of(request);
    if (!parsed) return {{"error", parsed.error()}};
    array_request = *parsed;
  }
  nlohmann::json sessions = nlohmann::json::array();
  for (const HostId id : *targets) {
    bool ok = true;
    nlohmann::json entry{{"peer", id.to_string()}};
    if (action == "rekey") ok = node_->force_rekey(id, now);
    if (action == "shutdown") ok = node_->session_command(id, Node::SessionCommand::kShutdown, now);
    if (action == "start") ok = node_->session_command(id, Node::SessionCommand::kStart, now);
    if (array_request) {
      const auto result = node_->array_command(id, array_request->command, array_request->kinds, now);
      ok = result == Node::ArrayResult::kDone;
      if (!ok) entry["error"] = array_result_text(result);
    }
    entry["ok"] = ok;
    sessions.push_back(std::move(entry));
  }
  // The state after the action.
  StatusContext context{config_.interface, port_, now.real_ns};
  context.now_mono_ns = now.mono_ns;
  const nlohmann::json document = status_to_json(node_->status(), context);
  for (nlohmann::json& entry : sessions) {
    for (const nlohmann::json& peer : document["peers"]) {
      if (peer["id"] == entry["peer"]) entry["status"] = peer;
    }
  }
  if (action != "status") {
    next_tick_ns_ = now.mono_ns;  // what the action sends goes out at once
    spdlog::info("site link: administration command {} on {} session{}", action, targets->size(),
                 targets->size() == 1 ? "" : "s");
  }
  return {{"action", action}, {"sessions", std::move(sessions)}};
}

}  // namespace

int run_daemon(DaemonConfig config, const RunOptions& options) {
  Daemon daemon(std::move(config), options);
  return daemon.run();
}

}  // namespace cordon::daemon
