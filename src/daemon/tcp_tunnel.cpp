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
constexpr int kAcceptsPerWakeup = 16;

}  // namespace

void TcpBackoff::failed(int64_t now_ns) {
  next_ns_ = now_ns + delay_ns_;
  delay_ns_ = std::min(delay_ns_ * 2, kTcpRetryMaxNs);
}

std::optional<uint32_t> StreamNumbers::next() {
  if (last_ == UINT32_MAX) return std::nullopt;
  return ++last_;
}

TcpTunnel::TcpTunnel(const Wiring& wiring)
    : w_(wiring), rx_slot_size_(receive_slot_size(wiring.mtu)), rx_storage_(kBatch * rx_slot_size_) {}

TcpTunnel::~TcpTunnel() {
  for (auto& [id, s] : streams_) {
    if (!s.dead) (void)w_.poller.remove(s.socket.fd());
  }
  if (listener_ && !listener_paused_) (void)w_.poller.remove(listener_->fd());
}

// ---- coordinator

os::Status TcpTunnel::listen(const IpAddress& address, uint16_t port) {
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
      return;
    }
    if (!accepted.value()) return;
    os::TcpAccepted& a = *accepted.value();
    const auto id = streams_.size() < kMaxTcpStreams ? numbers_.next() : std::nullopt;
    if (!id) {
      ++counters_.refused;  // closed as `a` goes out of scope
      continue;
    }
    if (auto added = w_.poller.add_readable(a.stream.fd()); !added) {
      spdlog::warn("tcp tunnel: {}", added.error().message());
      continue;
    }
    Endpoint from = a.peer;
    from.stream = *id;
    by_fd_[a.stream.fd()] = *id;
    streams_.emplace(*id, Stream{.socket = std::move(a.stream),
                                 .decoder = wire::StreamDecoder(),
                                 .side = Side::kAccepted,
                                 .from = from,
                                 .open = true,
                                 .since_ns = now.mono_ns});
    spdlog::debug("tcp tunnel: stream {} accepted from {}", *id, a.peer.to_string());
  }
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
  const auto id = streams_.size() < kMaxTcpStreams ? numbers_.next() : std::nullopt;
  if (!id) {
    c.backoff.failed(now.mono_ns);  // try again later, not in a loop
    return;
  }
  const std::string who = fmt::format("coordinator {} at {}", c.target.coordinator.to_string(),
                                      c.target.endpoint.to_string());
  auto socket = os::TcpStream::connect(c.target.endpoint);
  if (!socket) {
    c.backoff.failed(now.mono_ns);
    spdlog::info("tcp tunnel to {}: {}; retrying in {} s", who, socket.error().message(),
                 (c.backoff.next_attempt_ns() - now.mono_ns) / kNsPerSecond);
    return;
  }
  if (auto added = w_.poller.add_readable(socket.value().fd()); !added) {
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
    auto flushed = s.socket.flush();
    if (!flushed) return drop(id, s, now, flushed.error().message());
  }
  if (s.closing && !s.socket.wants_write()) return closed(id, s, now);
  watch_write(s);
  if (auto ended = read(s)) {
    flush_rx();  // what came before the end still counts
    drop(id, s, now, *ended);
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
  w_.node.process_wire(w_.worker, now, std::span(rx_slots_).first(count));
  size_t forwards = 0;
  for (size_t i = 0; i < count; ++i) {
    const RxSlot& slot = rx_slots_[i];
    if (slot.verdict != Verdict::kDrop) {
      if (auto it = streams_.find(rx_streams_[i]); it != streams_.end()) {
        Stream& s = it->second;
        s.authentic = true;
        s.last_authentic_ns = now.mono_ns;
        if (s.side == Side::kConnected) {
          if (auto c = clients_.find(s.coordinator.value); c != clients_.end()) c->second.backoff.succeeded();
        }
      }
    }
    switch (slot.verdict) {
      case Verdict::kDeliver:
        if (!w_.tun.write(0, slot.inner)) ++counters_.tun_errors;
        break;
      case Verdict::kForward:
        if (slot.to.is_udp()) {
          const size_t offset = static_cast<size_t>(slot.wire.data() - slot.data.data());
          forward_[forwards++] =
              os::Datagram{.data = slot.data.subspan(offset, slot.wire.size()), .length = slot.wire.size(), .peer = slot.to};
        } else {
          send(slot.to.stream, slot.wire);
        }
        break;
      case Verdict::kControl:
        tick_requested_ = true;
        break;
      case Verdict::kDrop:
      case Verdict::kConsumed:
        break;
    }
  }
  for (size_t sent = 0; sent < forwards;) {
    auto r = w_.udp.send(std::span(forward_).subspan(sent, forwards - sent));
    if (!r) {
      ++counters_.udp_errors;
      ++sent;
      continue;
    }
    if (r.value() == 0) {
      counters_.udp_errors += forwards - sent;
      break;
    }
    sent += r.value();
  }
}

void TcpTunnel::send(uint32_t stream, std::span<const std::byte> datagram) {
  auto it = streams_.find(stream);
  if (it == streams_.end() || it->second.dead || it->second.closing || !it->second.open) {
    ++counters_.send_drops;
    return;
  }
  Stream& s = it->second;
  auto r = s.socket.send(datagram);
  if (!r) {
    // Not reaped here: a caller may be iterating over this stream.
    drop(stream, s, os::now(), r.error().message());
    return;
  }
  if (r.value() == os::TcpStream::SendResult::kDropped) ++counters_.send_drops;
  watch_write(s);
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
  w_.node.stream_closed(id, now);
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
  if (!s.closing) w_.node.stream_closed(id, now);  // close() told the node already
  if (s.side == Side::kConnected) {
    if (auto c = clients_.find(s.coordinator.value); c != clients_.end() && c->second.stream == id) {
      c->second.stream = 0;
      c->second.backoff.failed(now.mono_ns);
    }
  }
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
    } else if (s.side == Side::kAccepted) {
      const bool idle = s.authentic ? now.mono_ns - s.last_authentic_ns >= idle_ns_ : age >= kTcpFirstDatagramNs;
      if (idle) close(id, s, now, s.authentic ? "idle for the poll period" : "no authentic datagram");
    }
  }
  // A target the node stopped listing (it may not tick again soon).
  expire_unlisted(now);
  reap();
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
  if (c.refused > r.refused) {
    spdlog::warn("tcp tunnel: {} connections refused: {} streams are open already", c.refused - r.refused,
                 kMaxTcpStreams);
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
