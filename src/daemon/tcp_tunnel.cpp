#include "daemon/tcp_tunnel.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/wire/header.hpp"
#include "daemon/workers.hpp"
#include "os/linux/clock.hpp"

namespace cordon::daemon {
namespace {

// Reads per stream per wakeup: level-triggered epoll reports the rest, so
// one busy stream cannot starve the others or the control socket.
constexpr int kReadsPerWakeup = 8;
// Under a flood the kernel's accept queue is full of strangers; draining it
// quickly gets a genuine client's connection to its first read sooner.
constexpr int kAcceptsPerWakeup = 64;
// Descriptors the daemon holds besides the tunnel's streams.
constexpr uint64_t kSpareDescriptors = 256;

}  // namespace

StreamDeadline passed_deadline(const StreamTimes& t, int64_t now_ns, int64_t idle_ns) {
  if (t.accepted && !t.authentic && now_ns - t.since_ns >= kTcpFirstDatagramNs) return StreamDeadline::kFirstDatagram;
  if (t.frame_since_ns >= 0 && now_ns - t.frame_since_ns >= kTcpFrameNs) return StreamDeadline::kFrame;
  if (t.bytes_queued && now_ns - t.write_progress_ns >= kTcpWriteStallNs) return StreamDeadline::kWriteStall;
  if (t.accepted && t.authentic && now_ns - t.last_authentic_ns >= idle_ns) return StreamDeadline::kIdle;
  return StreamDeadline::kNone;
}

void TcpBackoff::failed(int64_t now_ns) {
  next_ns_ = now_ns + delay_ns_;
  delay_ns_ = std::min(delay_ns_ * 2, kTcpRetryMaxNs);
}

TcpTunnel::TcpTunnel(const Wiring& wiring)
    : w_(wiring),
      rx_slot_size_(receive_slot_size(wiring.mtu)),
      rx_storage_(kBatch * rx_slot_size_),
      dispatch_(wiring.tun, wiring.udp, *this, wiring.coalescing) {}

TcpTunnel::~TcpTunnel() {
  for (auto& [id, s] : streams_) {
    if (!s.dead) (void)w_.poller.remove(s.socket.fd());
  }
  if (listener_ && !listener_paused_) (void)w_.poller.remove(listener_->fd());
}

// ---- coordinator

os::Status TcpTunnel::listen(const IpAddress& address, uint16_t port) {
  // Every slot is a descriptor, beside the daemon's own (sockets, TUN
  // queues, control connections): room for all of them, or EMFILE would
  // pause the accept loop while strangers hold the pending pool.
  const uint64_t wanted = slots_.limits().authenticated + slots_.limits().pending + kSpareDescriptors;
  if (auto limit = os::raise_open_file_limit(wanted); !limit) {
    spdlog::warn("tcp tunnel: {}", limit.error().message());
  } else if (limit.value() < wanted) {
    spdlog::warn("tcp tunnel: the open file limit is {} (hard limit); the TCP tunnel wants {}: raise it (ulimit -n, "
                 "or LimitNOFILE= in the systemd unit)",
                 limit.value(), wanted);
  }
  auto listener = os::TcpListener::open(address, port);
  if (!listener) return listener.error();
  if (auto added = w_.poller.add_readable(listener.value().fd()); !added) return added.error();
  listener_.emplace(std::move(listener.value()));
  listener_paused_ = false;
  return os::Ok{};
}

void TcpTunnel::stop_listening(const Now& now) {
  if (!listener_) return;
  if (!listener_paused_) (void)w_.poller.remove(listener_->fd());
  listener_.reset();
  for (auto& [id, s] : streams_) {
    if (s.side == Side::kAccepted && !s.dead) close(id, s, now, "this host is no longer a coordinator");
  }
  reap();
}

void TcpTunnel::accept_pending(const Now& now) {
  for (int i = 0; i < kAcceptsPerWakeup; ++i) {
    auto accepted = listener_->accept();
    if (!accepted) {
      // EMFILE and the like leave the connection queued, so the listener
      // stays readable: stop watching it for a moment instead of spinning.
      spdlog::warn("tcp tunnel: {}; accepting again in {} s", accepted.error().message(),
                   kTcpAcceptPauseNs / kNsPerSecond);
      (void)w_.poller.remove(listener_->fd());
      listener_paused_ = true;
      listener_resume_ns_ = now.mono_ns + kTcpAcceptPauseNs;
      break;
    }
    if (!accepted.value()) break;
    os::TcpAccepted& a = *accepted.value();
    if (!make_room(a.peer, now)) continue;  // closed as `a` goes out of scope
    const auto id = numbers_.next(now.mono_ns);
    if (!id) {
      ++counters_.refused;
      continue;
    }
    if (auto added = w_.poller.add_readable(a.stream.fd()); !added) {
      numbers_.release(*id, now.mono_ns);
      spdlog::warn("tcp tunnel: {}", added.error().message());
      continue;
    }
    Endpoint from = a.peer;
    from.stream = *id;
    by_fd_[a.stream.fd()] = *id;
    slots_.add(*id, a.peer.address);
    a.stream.set_send_queue_limit(kTcpAcceptedQueueBytes);
    streams_.emplace(*id, Stream{.socket = std::move(a.stream),
                                 .decoder = wire::StreamDecoder(),
                                 .side = Side::kAccepted,
                                 .from = from,
                                 .open = true,
                                 .since_ns = now.mono_ns});
    spdlog::debug("tcp tunnel: stream {} accepted from {}", *id, a.peer.to_string());
  }
  reap();  // the evicted streams' sockets go now, not after the next wakeup
}

bool TcpTunnel::make_room(const Endpoint& peer, const Now& now) {
  const StreamSlots::Decision d = slots_.admit(peer.address);
  const char* why = nullptr;
  switch (d.admit) {
    case StreamSlots::Admit::kFree:
      return true;
    case StreamSlots::Admit::kRefuse:
      ++counters_.refused;
      return false;
    case StreamSlots::Admit::kEvictSameSource:
      ++counters_.evicted_same_source;
      why = "evicted: a newer connection from the same source, which is at its cap of pending streams";
      break;
    case StreamSlots::Admit::kEvictOldest:
      ++counters_.evicted_oldest;
      why = "evicted: the oldest pending stream, to make room for a new connection";
      break;
  }
  if (auto it = streams_.find(d.victim); it != streams_.end() && !it->second.dead) {
    drop(d.victim, it->second, now, why);
  } else {
    slots_.remove(d.victim);  // cannot happen: slots hold only live streams
  }
  return true;
}

// ---- client

void TcpTunnel::reconcile(std::span<const TcpTarget> targets, const Now& now) {
  for (auto& [coordinator, c] : clients_) c.listed = false;
  for (const TcpTarget& t : targets) {
    Client& c = clients_[t.coordinator.value];
    if (c.stream != 0 && !(c.target == t)) {
      if (auto it = streams_.find(c.stream); it != streams_.end() && !it->second.dead) {
        close(c.stream, it->second, now, "the coordinator's TCP endpoint changed");
      }
      c.stream = 0;
    }
    c.target = t;
    if (c.unlisted && c.stream != 0) {
      // The node let go of the stream when it stopped listing the target
      // (UDP answered, then fell silent again within the grace): hand the
      // stream that is still open back to it rather than reconnect.
      if (auto it = streams_.find(c.stream); it != streams_.end() && it->second.open && !it->second.closing) {
        w_.node.stream_opened(t.coordinator, c.stream, now);
        tick_requested_ = true;
      }
    }
    c.listed = true;
    c.unlisted = false;
    c.listed_ns = now.mono_ns;
  }
  for (auto& [coordinator, c] : clients_) {
    if (!c.listed) c.unlisted = true;
  }
  expire_unlisted(now);
  connect_due(now);
  reap();
}

void TcpTunnel::expire_unlisted(const Now& now) {
  for (auto it = clients_.begin(); it != clients_.end();) {
    Client& c = it->second;
    if (!c.unlisted || now.mono_ns - c.listed_ns < kTcpUnlistedGraceNs) {
      ++it;
      continue;
    }
    if (auto s = streams_.find(c.stream); c.stream != 0 && s != streams_.end() && !s->second.dead) {
      close(c.stream, s->second, now, "UDP reaches the coordinator again");
    }
    it = clients_.erase(it);
  }
}

void TcpTunnel::connect_due(const Now& now) {
  for (auto& [coordinator, c] : clients_) {
    if (c.stream == 0 && !c.unlisted && c.backoff.due(now.mono_ns)) connect(c, now);
  }
}

void TcpTunnel::connect(Client& c, const Now& now) {
  const std::string who = fmt::format("coordinator {} at {}", c.target.coordinator.to_string(),
                                      c.target.endpoint.to_string());
  auto socket = os::TcpStream::connect(c.target.endpoint);
  if (!socket) {
    c.backoff.failed(now.mono_ns);
    spdlog::info("tcp tunnel to {}: {}; retrying in {} s", who, socket.error().message(),
                 (c.backoff.next_attempt_ns() - now.mono_ns) / kNsPerSecond);
    return;
  }
  const auto id = numbers_.next(now.mono_ns);
  if (!id) {
    c.backoff.failed(now.mono_ns);  // try again later, not in a loop
    return;
  }
  if (auto added = w_.poller.add_readable(socket.value().fd()); !added) {
    numbers_.release(*id, now.mono_ns);
    c.backoff.failed(now.mono_ns);
    spdlog::warn("tcp tunnel to {}: {}", who, added.error().message());
    return;
  }
  Endpoint from = c.target.endpoint;
  from.stream = *id;
  by_fd_[socket.value().fd()] = *id;
  auto [it, inserted] = streams_.emplace(*id, Stream{.socket = std::move(socket.value()),
                                                     .decoder = wire::StreamDecoder(),
                                                     .side = Side::kConnected,
                                                     .coordinator = c.target.coordinator,
                                                     .from = from,
                                                     .since_ns = now.mono_ns});
  c.stream = *id;
  spdlog::info("tcp tunnel: connecting to {} (stream {})", who, *id);
  // connect(2) may succeed at once; then no writability will tell us.
  if (it->second.socket.connected()) {
    service(*id, it->second, now);
  } else {
    watch_write(it->second);
  }
}

// ---- both

bool TcpTunnel::handle(int fd, const Now& now) {
  if (listener_ && !listener_paused_ && fd == listener_->fd()) {
    accept_pending(now);
    return true;
  }
  const auto found = by_fd_.find(fd);
  if (found == by_fd_.end()) return false;
  const uint32_t id = found->second;
  auto it = streams_.find(id);
  if (it != streams_.end() && !it->second.dead) service(id, it->second, now);
  flush_rx();
  reap();
  return true;
}

void TcpTunnel::service(uint32_t id, Stream& s, const Now& now) {
  if (!s.socket.connected()) {
    auto done = s.socket.finish_connect();
    if (!done) return drop(id, s, now, done.error().message());
    if (!done.value()) return;  // still handshaking
  }
  if (!s.open) {
    s.open = true;
    spdlog::info("tcp tunnel to coordinator {} open (stream {})", s.coordinator.to_string(), id);
    w_.node.stream_opened(s.coordinator, id, now);
    tick_requested_ = true;  // the registry must hear from us on the new path at once
  }
  if (s.socket.wants_write()) {
    const size_t queued = s.socket.queued_bytes();
    auto flushed = s.socket.flush();
    if (!flushed) return drop(id, s, now, flushed.error().message());
    if (s.socket.queued_bytes() < queued) s.write_progress_ns = now.mono_ns;
  }
  if (s.closing && !s.socket.wants_write()) return closed(id, s, now);
  watch_write(s);
  const uint64_t consumed = s.decoder.consumed();
  if (auto ended = read(s)) {
    flush_rx();  // what came before the end still counts
    return drop(id, s, now, *ended);
  }
  // The frame deadline runs from a frame's first bytes: restart it when a
  // frame completed and the next has begun.
  if (!s.decoder.mid_frame()) {
    s.frame_since_ns = -1;
  } else if (s.frame_since_ns < 0 || s.decoder.consumed() != consumed) {
    s.frame_since_ns = now.mono_ns;
  }
  // (A datagram relayed onto this very stream may have ended it meanwhile:
  // drop() and closed() do nothing twice.)
}

std::optional<std::string> TcpTunnel::read(Stream& s) {
  for (int i = 0; i < kReadsPerWakeup && !s.dead; ++i) {
    auto r = s.socket.read_into(s.decoder);
    if (!r) return r.error().message();
    for (;;) {
      const wire::StreamFrame f = s.decoder.next();
      if (f.kind == wire::StreamFrame::Kind::kNeedMore) break;
      if (f.kind == wire::StreamFrame::Kind::kClose) return "closed by the peer";
      // A closing stream's input is read only to see its end.
      if (!s.closing) queue_rx(s, f.datagram);
    }
    switch (r.value()) {
      case os::TcpStream::ReadResult::kRead:
        continue;
      case os::TcpStream::ReadResult::kWouldBlock:
        return std::nullopt;
      case os::TcpStream::ReadResult::kEndOfStream:
        return s.decoder.mid_frame() ? "the peer ended the stream inside a datagram" : "ended by the peer";
      case os::TcpStream::ReadResult::kNoRoom:
        if (s.decoder.closed()) return "closed by the peer";
        continue;  // the frames were pulled above; there is room now
    }
  }
  return std::nullopt;
}

void TcpTunnel::queue_rx(const Stream& s, std::span<const std::byte> datagram) {
  if (datagram.size() > rx_slot_size_) {
    ++counters_.too_big;
    return;
  }
  if (rx_count_ == kBatch) flush_rx();
  auto slot = std::span(rx_storage_).subspan(rx_count_ * rx_slot_size_, datagram.size());
  std::copy(datagram.begin(), datagram.end(), slot.begin());
  rx_slots_[rx_count_] = RxSlot{.from = s.from, .data = slot};
  rx_streams_[rx_count_] = s.from.stream;
  ++rx_count_;
}

void TcpTunnel::flush_rx() {
  if (rx_count_ == 0) return;
  // The clock is read per batch, as the workers do.
  const Now now = os::now();
  const size_t count = std::exchange(rx_count_, 0);
  const auto batch = std::span(rx_slots_).first(count);
  w_.node.process_wire(w_.worker, now, batch);
  note_authentic(count, now);
  const DispatchTally tally = dispatch_.received(batch);
  counters_.tun_errors += tally.tun_write_errors;
  counters_.udp_errors += tally.udp_send_failures;
  if (tally.control > 0) tick_requested_ = true;
}

void TcpTunnel::note_authentic(size_t count, const Now& now) {
  for (size_t i = 0; i < count; ++i) {
    if (rx_slots_[i].verdict == Verdict::kDrop) continue;
    auto it = streams_.find(rx_streams_[i]);
    if (it == streams_.end()) continue;
    Stream& s = it->second;
    s.authentic = true;
    s.last_authentic_ns = now.mono_ns;
    if (s.side == Side::kAccepted) (void)slots_.authenticated(rx_streams_[i]);  // full: stays pending
    if (s.side == Side::kConnected) {
      if (auto c = clients_.find(s.coordinator.value); c != clients_.end()) c->second.backoff.succeeded();
    }
  }
}

bool TcpTunnel::send(uint32_t stream, std::span<const std::byte> datagram) {
  auto it = streams_.find(stream);
  if (it == streams_.end() || it->second.dead || it->second.closing || !it->second.open) {
    ++counters_.send_drops;
    return false;
  }
  Stream& s = it->second;
  const bool was_empty = s.socket.queued_bytes() == 0;
  auto r = s.socket.send(datagram);
  if (!r) {
    // Not reaped here: a caller may be iterating over this stream.
    drop(stream, s, os::now(), r.error().message());
    return false;
  }
  const bool queued = r.value() != os::TcpStream::SendResult::kDropped;
  if (!queued) ++counters_.send_drops;
  // The write-stall deadline runs from when bytes began to wait.
  if (was_empty && s.socket.queued_bytes() > 0) s.write_progress_ns = os::now().mono_ns;
  watch_write(s);
  return queued;
}

void TcpTunnel::watch_write(Stream& s) {
  const bool want = s.socket.wants_write();
  if (want == s.watching_write) return;
  if (w_.poller.set_writable(s.socket.fd(), want)) s.watching_write = want;
}

void TcpTunnel::drop(uint32_t id, Stream& s, const Now& now, const std::string& why) {
  if (s.dead) return;
  if (s.side == Side::kConnected) {
    spdlog::info("tcp tunnel: {} ended: {}", describe(id, s), why);
  } else {
    spdlog::debug("tcp tunnel: {} ended: {}", describe(id, s), why);
  }
  closed(id, s, now);
}

void TcpTunnel::close(uint32_t id, Stream& s, const Now& now, const std::string& why) {
  if (s.closing) return;
  spdlog::log(s.side == Side::kConnected ? spdlog::level::info : spdlog::level::debug, "tcp tunnel: closing {}: {}",
              describe(id, s), why);
  // The node stops sending on it now; what is queued still goes out.
  tell_node_closed(id, s, now);
  s.closing = true;
  s.since_ns = now.mono_ns;
  if (!s.socket.connected() || !s.socket.send_close() || !s.socket.wants_write()) return closed(id, s, now);
  watch_write(s);
}

void TcpTunnel::closed(uint32_t id, Stream& s, const Now& now) {
  if (s.dead) return;
  s.dead = true;
  (void)w_.poller.remove(s.socket.fd());
  by_fd_.erase(s.socket.fd());
  if (s.side == Side::kAccepted) slots_.remove(id);
  numbers_.release(id, now.mono_ns);
  if (!s.closing) tell_node_closed(id, s, now);  // close() told the node already
  if (s.side == Side::kConnected) {
    if (auto c = clients_.find(s.coordinator.value); c != clients_.end() && c->second.stream == id) {
      c->second.stream = 0;
      c->second.backoff.failed(now.mono_ns);
    }
  }
}

void TcpTunnel::tell_node_closed(uint32_t id, const Stream& s, const Now& now) {
  // An accepted stream that never carried an authentic datagram is no
  // peer's endpoint; telling the node would cost a look at every peer for
  // each stranger a flood brings.
  if (s.side == Side::kConnected || s.authentic) w_.node.stream_closed(id, now);
}

void TcpTunnel::reap() {
  std::erase_if(streams_, [](const auto& entry) { return entry.second.dead; });
}

std::string TcpTunnel::describe(uint32_t id, const Stream& s) const {
  if (s.side == Side::kConnected) return fmt::format("stream {} to coordinator {}", id, s.coordinator.to_string());
  return fmt::format("stream {} from {}", id, Endpoint{s.from.address, s.from.port}.to_string());
}

// ---- timers

int64_t TcpTunnel::next_deadline_ns() const {
  int64_t next = INT64_MAX;
  if (listener_paused_) next = listener_resume_ns_;
  if (!streams_.empty() || !clients_.empty()) next = std::min(next, next_timers_ns_);
  for (const auto& [coordinator, c] : clients_) {
    if (c.stream == 0 && !c.unlisted) next = std::min(next, c.backoff.next_attempt_ns());
  }
  return next;
}

void TcpTunnel::run_timers(const Now& now) {
  if (listener_ && listener_paused_ && now.mono_ns >= listener_resume_ns_) {
    if (w_.poller.add_readable(listener_->fd())) {
      listener_paused_ = false;
    } else {
      listener_resume_ns_ = now.mono_ns + kTcpAcceptPauseNs;
    }
  }
  connect_due(now);
  if (now.mono_ns < next_timers_ns_) return;
  next_timers_ns_ = now.mono_ns + kTcpTimerNs;
  for (auto& [id, s] : streams_) {
    if (s.dead) continue;
    const int64_t age = now.mono_ns - s.since_ns;
    if (s.closing) {
      if (age >= kTcpCloseLingerNs) closed(id, s, now);
    } else if (!s.open) {
      if (age >= kTcpConnectTimeoutNs) drop(id, s, now, "connect timed out");
    } else {
      expire_stalled(id, s, now);
    }
  }
  // A target the node stopped listing (it may not tick again soon).
  expire_unlisted(now);
  reap();
}

void TcpTunnel::expire_stalled(uint32_t id, Stream& s, const Now& now) {
  const StreamTimes times{.accepted = s.side == Side::kAccepted,
                          .authentic = s.authentic,
                          .since_ns = s.since_ns,
                          .last_authentic_ns = s.last_authentic_ns,
                          .frame_since_ns = s.frame_since_ns,
                          .write_progress_ns = s.write_progress_ns,
                          .bytes_queued = s.socket.queued_bytes() > 0};
  switch (passed_deadline(times, now.mono_ns, idle_ns_)) {
    case StreamDeadline::kNone:
      return;
    case StreamDeadline::kFirstDatagram:
      ++counters_.no_first_datagram;
      return drop(id, s, now, "no authentic datagram");  // a stranger: no close marker, no linger
    case StreamDeadline::kFrame:
      ++counters_.frame_timeouts;
      return drop(id, s, now, "a datagram began and did not finish arriving");
    case StreamDeadline::kWriteStall:
      ++counters_.write_stalls;
      return drop(id, s, now, "the peer reads nothing");
    case StreamDeadline::kIdle:
      ++counters_.idle;
      return close(id, s, now, "idle for the poll period");
  }
}

void TcpTunnel::close_all(const Now& now) {
  for (auto& [id, s] : streams_) {
    if (!s.dead) close(id, s, now, "cordon is stopping");
  }
}

size_t TcpTunnel::open_streams() const {
  return static_cast<size_t>(
      std::count_if(streams_.begin(), streams_.end(), [](const auto& e) { return e.second.open && !e.second.closing && !e.second.dead; }));
}

TcpTunnelStats TcpTunnel::stats() const {
  const Counters& c = counters_;
  return TcpTunnelStats{.pending = slots_.pending(),
                        .authenticated = slots_.authenticated_count(),
                        .evicted_same_source = c.evicted_same_source,
                        .evicted_oldest = c.evicted_oldest,
                        .refused = c.refused,
                        .no_first_datagram = c.no_first_datagram,
                        .frame_timeouts = c.frame_timeouts,
                        .write_stalls = c.write_stalls,
                        .idle = c.idle};
}

void TcpTunnel::report_activity() {
  const Counters& c = counters_;
  Counters& r = reported_;
  if (c.send_drops > r.send_drops) {
    spdlog::warn("tcp tunnel: {} datagrams dropped: their stream was gone or not keeping up", c.send_drops - r.send_drops);
  }
  if (c.too_big > r.too_big) {
    spdlog::warn("tcp tunnel: {} datagrams were larger than this host's mtu allows and were dropped; set the same mtu "
                 "on both ends",
                 c.too_big - r.too_big);
  }
  // Floods are logged as counts per report, never per connection (debug
  // level names each stream).
  const uint64_t evicted = c.evicted_same_source + c.evicted_oldest - r.evicted_same_source - r.evicted_oldest;
  if (evicted > 0) {
    spdlog::warn("tcp tunnel: {} pending streams evicted ({} by a newer one from their source, {} as the oldest); "
                 "someone may be flooding TCP port {}",
                 evicted, c.evicted_same_source - r.evicted_same_source, c.evicted_oldest - r.evicted_oldest,
                 listen_port());
  }
  const uint64_t stalled = c.no_first_datagram + c.frame_timeouts + c.write_stalls - r.no_first_datagram -
                           r.frame_timeouts - r.write_stalls;
  if (stalled > 0) {
    spdlog::warn("tcp tunnel: {} streams closed as stalled ({} without a first datagram in {} s, {} mid-datagram "
                 "for {} s, {} reading nothing for {} s)",
                 stalled, c.no_first_datagram - r.no_first_datagram, kTcpFirstDatagramNs / kNsPerSecond,
                 c.frame_timeouts - r.frame_timeouts, kTcpFrameNs / kNsPerSecond, c.write_stalls - r.write_stalls,
                 kTcpWriteStallNs / kNsPerSecond);
  }
  if (c.refused > r.refused) {
    spdlog::warn("tcp tunnel: {} connections refused: no stream number or slot was free", c.refused - r.refused);
  }
  if (c.tun_errors > r.tun_errors) {
    spdlog::warn("tcp tunnel: the tunnel refused {} packets", c.tun_errors - r.tun_errors);
  }
  if (c.udp_errors > r.udp_errors) {
    spdlog::warn("tcp tunnel: {} relayed datagrams could not be sent over UDP", c.udp_errors - r.udp_errors);
  }
  r = c;
}

}  // namespace cordon::daemon
