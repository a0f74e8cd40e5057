// The TCP tunnel (docs/protocol.md, "TCP tunnel"), run by the control
// thread: the streams, their framing (core/wire/stream_frame.hpp) and the
// datagrams they carry.
//
//   coordinator  listens on host.tcp_port at host.listen_address (dual
//                stack, like UDP), accepts streams and numbers them. What a
//                stream carries goes to Node::process_wire as if it came
//                over UDP, from the stream's peer address and port with
//                Endpoint::stream = its number; the node answers on it.
//   client       connects to each TcpTarget that Node::tick lists, calls
//                Node::stream_opened once connected, and closes a stream
//                its target no longer lists. A connect that fails, or a
//                stream that ends, is retried after 1 s, doubling to 30 s
//                (TcpBackoff); a datagram that authenticates resets it.
//   both         every end of a stream, by either side or an error, is
//                reported with Node::stream_closed.
//
// Stream numbers start at 1, are never 0 (the UDP path), and come back only
// after their stream closed and a quarantine passed (StreamNumbers,
// stream_slots.hpp), so a late datagram for a closed stream can never reach
// a new one, and the numbers never run out.
//
// Floods (docs/protocol.md, "Streams under flood"): accepted streams take
// slots by the rules of StreamSlots (stream_slots.hpp): a pending pool with a
// cap per source whose oldest stream a newcomer evicts, and an authenticated
// pool strangers cannot reach. Every eviction and timeout is counted
// (stats()) and logged by report_activity().
//
// Worker index: the node has one index more than the data-path workers
// (daemon.cpp); the last is this class's, so process_wire here never shares
// AEAD contexts with a worker (core/node.hpp: each index, one thread).
// Delivered packets go to TUN queue 0 (a write(2) of a whole packet is safe
// next to worker 0's), relayed datagrams for UDP go out through worker 0's
// socket as the control thread's keepalives do, and relayed datagrams for a
// stream go straight to it: the verdicts are dispatched by the workers'
// dispatcher (verdict_dispatch.hpp), with this class as its StreamSink.
//
// Timers, checked every kTcpTimerNs:
//   connect      kTcpConnectTimeoutNs without the handshake completing: give up
//   unlisted     kTcpUnlistedGraceNs: a target missing from tcp_targets this
//                long is closed (a tick can run before the node's counter
//                floor is persisted, and then lists nothing: not a reason
//                to drop the stream at once). A target listed again within
//                the grace gets its open stream back with stream_opened: a
//                node that stopped listing it has let go of the stream.
//   close        kTcpCloseLingerNs to write the close marker and what is queued
//   idle         an accepted stream with no authentic datagram for the poll
//                period (host.poll_period: the registry deems its client
//                unreachable then anyway) is closed
//   first        kTcpFirstDatagramNs for an accepted stream's first authentic
//                datagram: a client sends it right after connecting
//                (stream_opened asks for an immediate tick), so a few
//                seconds cover a slow round trip and a retransmission
//   frame        kTcpFrameNs for a frame, once begun, to arrive whole: a
//                full-size tunnel datagram is a few packets
//   stalled      kTcpWriteStallNs with bytes queued and none taken by the
//                kernel: the peer reads nothing
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/node.hpp"
#include "core/wire/stream_frame.hpp"
#include "daemon/stream_slots.hpp"
#include "daemon/verdict_dispatch.hpp"
#include "os/datagram_socket.hpp"
#include "os/linux/poller.hpp"
#include "os/linux/tcp.hpp"
#include "os/tun_queue.hpp"

namespace cordon::daemon {

constexpr int64_t kTcpRetryFirstNs = kNsPerSecond;
constexpr int64_t kTcpRetryMaxNs = 30 * kNsPerSecond;
constexpr int64_t kTcpConnectTimeoutNs = 10 * kNsPerSecond;
constexpr int64_t kTcpUnlistedGraceNs = 3 * kNsPerSecond;
constexpr int64_t kTcpCloseLingerNs = 5 * kNsPerSecond;
constexpr int64_t kTcpFirstDatagramNs = 5 * kNsPerSecond;
constexpr int64_t kTcpFrameNs = 5 * kNsPerSecond;
constexpr int64_t kTcpWriteStallNs = 10 * kNsPerSecond;
constexpr int64_t kTcpTimerNs = kNsPerSecond;
constexpr int64_t kTcpAcceptPauseNs = kNsPerSecond;  // after accept fails (EMFILE): the connection stays queued
// What one accepted stream may queue for its peer: about 170 full-size
// datagrams on top of the kernel's socket buffer. A client that reads more
// slowly loses datagrams, as over UDP, and a coordinator's memory stays
// bounded at StreamSlots::Limits (authenticated + pending) times this.
constexpr size_t kTcpAcceptedQueueBytes = 256 * 1024;

// The reconnect delay of one target: 1 s, doubling to 30 s.
class TcpBackoff {
 public:
  bool due(int64_t now_ns) const { return now_ns >= next_ns_; }
  int64_t next_attempt_ns() const { return next_ns_; }
  int64_t delay_ns() const { return delay_ns_; }
  // A connect failed or a stream ended: wait, and wait longer next time.
  void failed(int64_t now_ns);
  // The stream carried an authentic datagram: the next failure waits 1 s.
  void succeeded() { delay_ns_ = kTcpRetryFirstNs; }

 private:
  int64_t next_ns_ = 0;
  int64_t delay_ns_ = kTcpRetryFirstNs;
};

// The deadlines above that end a stream without a word (all but connect,
// unlisted and close), as a pure function of its times.
enum class StreamDeadline : uint8_t { kNone, kFirstDatagram, kFrame, kWriteStall, kIdle };
struct StreamTimes {
  bool accepted = false;   // a coordinator's stream: the first and idle deadlines apply
  bool authentic = false;  // carried an authentic datagram
  int64_t since_ns = 0;    // accepted or connected at
  int64_t last_authentic_ns = 0;
  int64_t frame_since_ns = -1;     // a frame begun: when its first bytes came; -1: none
  int64_t write_progress_ns = 0;   // bytes queued: when the kernel last took some
  bool bytes_queued = false;
};
// The first deadline `t` has passed at now_ns, idle_ns being the poll period.
StreamDeadline passed_deadline(const StreamTimes& t, int64_t now_ns, int64_t idle_ns);

class TcpTunnel final : private StreamSink {
 public:
  struct Wiring {
    Node& node;
    unsigned worker;  // the node's index for stream traffic (see above)
    os::Poller& poller;
    os::TunQueue& tun;         // TUN queue 0
    os::DatagramSocket& udp;   // worker 0's socket
    unsigned mtu;
    // The queue's offload side: delivered packets are coalesced as a
    // worker's are (verdict_dispatch.hpp).
    std::optional<CoalescingTun> coalescing = std::nullopt;
  };
  explicit TcpTunnel(const Wiring& wiring);
  ~TcpTunnel();
  TcpTunnel(const TcpTunnel&) = delete;
  TcpTunnel& operator=(const TcpTunnel&) = delete;

  // Coordinator: starts listening.
  os::Status listen(const IpAddress& address, uint16_t port);
  // No longer a coordinator (a reload): closes the listener and its streams.
  void stop_listening(const Now& now);
  uint16_t listen_port() const { return listener_ ? listener_->local_port() : 0; }
  // How long an accepted stream may go without an authentic datagram: the
  // poll period.
  void set_idle_timeout(int64_t ns) { idle_ns_ = ns; }

  // Client, after every Node::tick: the streams the node wants now.
  void reconcile(std::span<const TcpTarget> targets, const Now& now);

  // An fd the control thread's poller reported. False: not one of ours.
  bool handle(int fd, const Now& now);

  // A datagram for stream `stream` (from Node::tick, the outbox, or a
  // relayed datagram). Dropped, and counted, when the stream is gone or
  // cannot keep up; false then.
  bool send(uint32_t stream, std::span<const std::byte> datagram);

  int64_t next_deadline_ns() const;
  void run_timers(const Now& now);

  // True once after something the node must act on at once: a stream
  // opened, or a control message arrived on one.
  bool take_tick_request() { return std::exchange(tick_requested_, false); }

  // Writes every stream's close marker (best effort, no waiting): the
  // daemon is stopping.
  void close_all(const Now& now);

  size_t open_streams() const;
  TcpTunnelStats stats() const;
  // Logs what changed since the last call (drops), like activity_log.hpp.
  void report_activity();

 private:
  enum class Side : uint8_t { kAccepted, kConnected };
  struct Stream {
    os::TcpStream socket;
    wire::StreamDecoder decoder;
    Side side = Side::kAccepted;
    HostId coordinator;  // kConnected: the target's
    Endpoint from;       // the peer's address and port, with .stream = the number
    bool open = false;        // connected (and, for a client, reported with stream_opened)
    bool closing = false;     // close marker queued: flushing, then gone
    bool dead = false;        // closed and reported; erased by reap()
    bool authentic = false;   // carried an authentic datagram
    bool watching_write = false;
    int64_t since_ns = 0;     // connect start, accept, or close start
    int64_t last_authentic_ns = 0;
    int64_t frame_since_ns = -1;    // as in StreamTimes
    int64_t write_progress_ns = 0;  // as in StreamTimes
  };
  struct Client {
    TcpTarget target;
    uint32_t stream = 0;  // 0: none
    TcpBackoff backoff;
    int64_t listed_ns = 0;
    bool listed = false;    // scratch for reconcile()
    bool unlisted = false;  // missing from the latest tcp_targets (since listed_ns)
  };

  void accept_pending(const Now& now);
  // Makes room for a connection from `peer` (StreamSlots); false: refused.
  bool make_room(const Endpoint& peer, const Now& now);
  // Closes streams past their first-datagram, frame or write deadline.
  void expire_stalled(uint32_t id, Stream& s, const Now& now);
  void connect(Client& client, const Now& now);
  void connect_due(const Now& now);
  // Closes the streams of targets unlisted for kTcpUnlistedGraceNs.
  void expire_unlisted(const Now& now);
  void service(uint32_t id, Stream& s, const Now& now);
  // Reads what the socket has; why the stream ended, if it did.
  std::optional<std::string> read(Stream& s);
  void queue_rx(const Stream& s, std::span<const std::byte> datagram);
  // Hands the batch to the node and the verdicts to the dispatcher.
  void flush_rx();
  // Marks the streams that carried an authentic datagram in the batch.
  void note_authentic(size_t count, const Now& now);
  // StreamSink: relayed datagrams for a stream go straight to it.
  bool push(uint32_t stream, std::span<const std::byte> datagram) override { return send(stream, datagram); }
  void watch_write(Stream& s);
  // Ends a stream now (an error, the peer's end, a timeout): reports it,
  // and reap() frees it.
  void drop(uint32_t id, Stream& s, const Now& now, const std::string& why);
  // Ends a stream politely: the close marker after what is queued.
  void close(uint32_t id, Stream& s, const Now& now, const std::string& why);
  void closed(uint32_t id, Stream& s, const Now& now);
  void tell_node_closed(uint32_t id, const Stream& s, const Now& now);
  void reap();
  std::string describe(uint32_t id, const Stream& s) const;

  Wiring w_;
  std::optional<os::TcpListener> listener_;
  bool listener_paused_ = false;
  int64_t listener_resume_ns_ = 0;
  int64_t idle_ns_ = kDefaultPollPeriodNs;
  StreamNumbers numbers_;
  StreamSlots slots_;  // accepted streams only
  std::map<uint32_t, Stream> streams_;  // std::map: references stay valid while others come and go
  std::unordered_map<int, uint32_t> by_fd_;
  std::map<uint32_t, Client> clients_;  // by coordinator host ID
  bool tick_requested_ = false;
  int64_t next_timers_ns_ = 0;

  // Received datagrams, batched for process_wire like a worker's.
  static constexpr size_t kBatch = 32;
  size_t rx_slot_size_;
  std::vector<std::byte> rx_storage_;
  std::array<RxSlot, kBatch> rx_slots_{};
  std::array<uint32_t, kBatch> rx_streams_{};
  size_t rx_count_ = 0;
  VerdictDispatch dispatch_;

  struct Counters {
    uint64_t send_drops = 0;     // for a stream that is gone, or whose queue is full
    uint64_t too_big = 0;        // received datagrams larger than this host's buffers
    uint64_t evicted_same_source = 0, evicted_oldest = 0, refused = 0;  // TcpTunnelStats
    uint64_t no_first_datagram = 0, frame_timeouts = 0, write_stalls = 0, idle = 0;
    uint64_t tun_errors = 0;
    uint64_t udp_errors = 0;
  };
  Counters counters_, reported_;
};

}  // namespace cordon::daemon
