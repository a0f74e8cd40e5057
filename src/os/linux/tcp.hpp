// TCP tunnel sockets (docs/protocol.md, "TCP tunnel"): a coordinator's
// listener and the streams that carry datagrams framed by
// core/wire/stream_frame.hpp, for clients whose UDP is blocked.
//
// Everything is non-blocking and made for the caller's epoll loop: fd() is
// what to watch, readable for read_into(), writable while wants_write() for
// finish_connect() and flush(). A caller that cannot keep up loses whole
// datagrams (counted in dropped()), never its thread: a full send queue drops
// a datagram as a full UDP socket would, which the tunnel above tolerates.
// Errors are os::Result / os::Status with errno; nothing throws. A stream
// or listener belongs to one thread (the worker or control loop polling it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/types.hpp"
#include "core/wire/stream_frame.hpp"
#include "os/linux/fd.hpp"
#include "os/linux/result.hpp"

namespace cordon::os {

class TcpStream {
 public:
  // Datagrams waiting for room in the kernel's send buffer, framed, at most
  // this many bytes: about 2,800 full-size tunnel datagrams, the same 4 MiB
  // a UDP socket's send buffer gets (udp.cpp, kSocketBuffer).
  static constexpr size_t kDefaultSendQueueLimit = 4 * 1024 * 1024;

  // Starts a non-blocking connect to `remote` (an AF_INET socket for an IPv4
  // endpoint, AF_INET6 for IPv6) with TCP_NODELAY. The result is usually
  // still connecting: watch fd() for writability and call finish_connect().
  // An error here is immediate (ENETUNREACH, EMFILE, ...).
  static Result<TcpStream> connect(const Endpoint& remote);

  // Connect progress, once fd() polls writable or with an error. true:
  // connected (call flush() for datagrams queued meanwhile); false: still
  // in progress; an error: the connect failed (ECONNREFUSED, ETIMEDOUT,
  // EHOSTUNREACH, ...), reported again by later calls, and the stream is of
  // no further use.
  Result<bool> finish_connect();
  bool connected() const { return connected_; }

  enum class ReadResult : uint8_t {
    kRead,         // bytes went into the decoder: pull them with decoder.next()
    kWouldBlock,   // nothing to read now
    kEndOfStream,  // the peer closed its side (FIN); decoder.mid_frame() says a datagram was cut
    kNoRoom,       // the decoder is closed, or full of complete frames: call next() first
  };
  // One recv(2) straight into decoder.writable() (no copy). The datagrams
  // and the peer's close marker then come out of decoder.next(). The loop on
  // a readable fd: read_into; next() until kNeedMore (kDatagram: deliver,
  // kClose: done); again until kWouldBlock or kEndOfStream. Connection
  // errors (ECONNRESET, ...) come back as errors.
  Result<ReadResult> read_into(wire::StreamDecoder& decoder);

  enum class SendResult : uint8_t {
    kSent,     // the whole frame is in the kernel's send buffer
    kQueued,   // all or part of it waits in the send queue: flush() when writable
    kDropped,  // the send queue was full; counted in dropped()
  };
  // Frames and sends one datagram (1..65535 bytes, else EMSGSIZE). Never
  // blocks: what the kernel does not take now is queued, up to the queue
  // limit, and a datagram that does not fit is dropped whole, so the stream
  // stays in frame. While still connecting everything is queued. After
  // send_close() it fails with EPIPE; a dead connection reports its error
  // (EPIPE, ECONNRESET; never SIGPIPE).
  Result<SendResult> send(std::span<const std::byte> datagram);

  // Queues the close marker (a zero length; it is never dropped) behind
  // what is queued, and shuts down the sending side (FIN) once all of it is
  // written. Keep the stream until wants_write() is false, or the queued
  // datagrams are lost.
  Status send_close();

  // Writes queued bytes until the queue is empty (true) or the kernel's
  // buffer is full (false: wait for writability). false while connecting.
  Result<bool> flush();

  // Watch fd() for writability: still connecting, or bytes are queued.
  bool wants_write() const { return !connected_ || queued_bytes() > 0; }

  size_t queued_bytes() const { return queue_.size() - queue_head_; }
  // Datagrams dropped because the send queue was full.
  uint64_t dropped() const { return dropped_; }
  size_t send_queue_limit() const { return queue_limit_; }
  // A bound in bytes of framed datagrams; below one maximum frame it still
  // admits one datagram when the queue is empty.
  void set_send_queue_limit(size_t bytes) { queue_limit_ = bytes; }

  int fd() const { return fd_.get(); }
  const Endpoint& peer() const { return peer_; }

 private:
  friend class TcpListener;
  TcpStream(Fd fd, const Endpoint& peer, bool connected);

  // Writes frame pieces now; returns how many bytes the kernel took.
  Result<size_t> write_now(std::span<const std::byte> a, std::span<const std::byte> b);
  void enqueue(std::span<const std::byte> bytes);
  void release_queue();
  Status shutdown_if_closed();
  SysError error(std::string_view what, int err = errno) const;  // "<what> TCP <peer>"

  Fd fd_;
  Endpoint peer_;
  bool connected_ = false;
  int connect_error_ = 0;  // the errno a failed connect ended with
  bool closing_ = false;   // the close marker is queued or written
  bool shut_down_ = false;  // shutdown(SHUT_WR) done
  // The send queue: bytes queue_[queue_head_, size) are waiting. Consumed
  // bytes are dropped from the front lazily, when they are half of it.
  std::vector<std::byte> queue_;
  size_t queue_head_ = 0;
  size_t queue_limit_ = kDefaultSendQueueLimit;
  uint64_t dropped_ = 0;
};

// A connection accept() took: the stream and where it came from (an IPv4
// peer of a dual-stack listener as a plain IPv4 endpoint).
struct TcpAccepted {
  TcpStream stream;
  Endpoint peer;
};

class TcpListener {
 public:
  // Listens on address:port, non-blocking, with SO_REUSEADDR so that a
  // restarted coordinator gets its port back while old connections sit in
  // TIME_WAIT. An IPv6 address (the unspecified :: above all) gets a dual-
  // stack socket that serves IPv4 clients too; an IPv4 address an AF_INET
  // one. Port 0 picks a free port (local_port()). EADDRINUSE is reported as
  // such.
  static Result<TcpListener> open(const IpAddress& address, uint16_t port);

  // The next waiting connection (connected, TCP_NODELAY on), or nullopt
  // when none is waiting. Errors are the listener's (EMFILE, ENFILE,
  // ENOBUFS): the connection stays queued, so back off before polling again.
  Result<std::optional<TcpAccepted>> accept();

  int fd() const { return fd_.get(); }
  uint16_t local_port() const { return port_; }

 private:
  Fd fd_;
  uint16_t port_ = 0;
};

// Raises this process's soft limit on open files (RLIMIT_NOFILE) to at
// least `wanted`, up to the hard limit, so that a coordinator's streams
// cannot starve its accept loop of descriptors (getrlimit(2)). Returns the
// soft limit now in force, which is below `wanted` when the hard limit is.
Result<uint64_t> raise_open_file_limit(uint64_t wanted);

}  // namespace cordon::os
