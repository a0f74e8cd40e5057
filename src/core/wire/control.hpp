// Control messages: the plaintext of a datagram whose first byte is 0x01..0x0f
// (docs/protocol.md, "Control messages"). They travel in the same encrypted
// channel as data (docs/design.md, decision 8), so everything here has already
// been authenticated; the parser still trusts nothing about sizes.
//
// Layout (big-endian), after the type byte:
//
//   0x01 status report   seq 4 | count 1 | endpoint * count        client -> registry
//   0x02 status ack      seq 4 | endpoint                          registry -> client
//   0x03 host records    count 2 | record * count                  registry -> client, coord -> coord
//   0x04 probe           probe id 8                                client <-> peer
//   0x05 probe ack       probe id 8 | endpoint                     peer -> client
//   0x06 report request  (nothing)                                 registry -> client
//   0x09 courier         length 2 | body (length)                  any linked hosts
//   0x0a path report     count 2 | (host id 4 | path 1) * count     client -> registry
//
//   (0x07 is the control channel's envelope, wire/channel.hpp, and 0x08 the
//   generation probe, wire/header.hpp.) The body of
//   a courier message is courier/message.hpp's, parsed by the courier.
//
//   endpoint  family 1 (0 none | 4 | 6) | address 4|16 | port 2    (family 0: no more bytes)
//   path      0 none | 1 direct | 2 relayed | 3 tcp (PathKind, core/status.hpp)
//   record    host id 4 | state 1 | metric 1 | coordinator 4 | age 4
//             | public endpoint | count 1 | local endpoint * count
//
// How values are chosen (not part of the layout): report sequence numbers
// continue from a per-start random value, and a probe ID is a per-start
// random 32 bits followed by a 32-bit sequence (coord/rendezvous.hpp), so acks
// captured before a restart match nothing sent after it.
//
// Bytes after a message must be zero (padding that makes a control message
// look like data). A message longer than kMaxControlSize, truncated, with
// trailing non-zero bytes or with a field out of range is refused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "core/result.hpp"
#include "core/types.hpp"

namespace cordon::wire {

enum class ControlType : uint8_t {
  kStatusReport = 0x01,
  kStatusAck = 0x02,
  kHostRecords = 0x03,
  kProbe = 0x04,
  kProbeAck = 0x05,
  kReportRequest = 0x06,
  kCourier = 0x09,
  kPathReport = 0x0a,
};

constexpr size_t kMaxControlSize = 1200;    // bytes of plaintext, type byte and padding included
constexpr size_t kMaxLocalEndpoints = 8;    // per status report and per record
constexpr uint8_t kMetricUnreachable = 15;  // a record with this metric withdraws a route (RFC 1058's infinity)

// True for a plaintext first byte that starts a control message.
constexpr bool is_control_byte(std::byte b) {
  const auto v = static_cast<uint8_t>(b);
  return v >= 0x01 && v <= 0x0f;
}

struct StatusReport {
  uint32_t seq = 0;
  std::vector<Endpoint> local;  // at most kMaxLocalEndpoints
  friend bool operator==(const StatusReport&, const StatusReport&) = default;
};

struct StatusAck {
  uint32_t seq = 0;
  std::optional<Endpoint> observed;  // the report's source as the registry saw it
  friend bool operator==(const StatusAck&, const StatusAck&) = default;
};

enum class HostState : uint8_t { kReachable = 1, kUnreachable = 2 };

struct HostRecord {
  HostId host;
  HostState state = HostState::kReachable;
  uint8_t metric = 0;             // coordinator hops to the host's registry, 0..kMetricUnreachable
  HostId coordinator;             // the host's registry; never 0
  uint32_t age_s = 0;             // seconds since the registry last heard from the host
  std::optional<Endpoint> public_endpoint;
  std::vector<Endpoint> local;    // at most kMaxLocalEndpoints
  friend bool operator==(const HostRecord&, const HostRecord&) = default;
};

struct HostRecords {
  std::vector<HostRecord> records;
  friend bool operator==(const HostRecords&, const HostRecords&) = default;
};

struct Probe {
  uint64_t probe_id = 0;
  friend bool operator==(const Probe&, const Probe&) = default;
};

struct ProbeAck {
  uint64_t probe_id = 0;
  std::optional<Endpoint> observed;  // where the probe came from; nullopt if it came relayed
  friend bool operator==(const ProbeAck&, const ProbeAck&) = default;
};

struct ReportRequest {
  friend bool operator==(const ReportRequest&, const ReportRequest&) = default;
};

// A courier message (docs/couriers.md), carried for the courier service.
constexpr size_t kMaxCourierBody = 1196;  // kMaxControlSize - type 1 - length 2 - 1 spare
struct CourierData {
  std::vector<std::byte> body;  // 1..kMaxCourierBody bytes
  friend bool operator==(const CourierData&, const CourierData&) = default;
};

// A client's paths to its peers, sent to its registry with each status
// report, so that the administrator's live status can tell direct links
// from relayed ones (docs/protocol.md, "Path reports"). A client with more
// peers than fit reports the first kMaxPathEntries in host ID order.
constexpr size_t kMaxPathEntries = (kMaxControlSize - 1 - 2) / 5;  // 239
struct PathReport {
  std::vector<std::pair<HostId, uint8_t>> paths;  // peer, PathKind value 0..3
  friend bool operator==(const PathReport&, const PathReport&) = default;
};

using ControlMessage =
    std::variant<StatusReport, StatusAck, HostRecords, Probe, ProbeAck, ReportRequest, CourierData, PathReport>;

enum class ControlError : uint8_t {
  kTruncated,    // the message ends inside a field
  kOversized,    // longer than kMaxControlSize
  kBadField,     // a field out of range (family, port 0, host ID 0, state, metric, too many endpoints)
  kBadPadding,   // non-zero bytes after the message
  kUnknownType,  // first byte not a known control type
};

struct ParsedControl {
  std::optional<ControlMessage> message;
  ControlError error = ControlError::kTruncated;
};

// Parses one control message from a decrypted plaintext (first byte = type).
// Allocates (the lists); the node calls it on the control thread only.
ParsedControl parse_control(std::span<const std::byte> plaintext);

// What parse_control would say about `plaintext`, without storing anything:
// no allocation, so workers may call it. parse_control accepts exactly what
// this accepts (the same code reads both).
Status<ControlError> check_control(std::span<const std::byte> plaintext);

// Encodes `message` without padding; the result is at most kMaxControlSize
// bytes when the message fits (see records_that_fit). nullopt if it does not
// fit or a field is out of range (the same rules the parser applies, plus an
// IPv4 address with bytes 4..15 not zero, which would not decode to itself).
std::optional<std::vector<std::byte>> encode_control(const ControlMessage& message);

// The encoded size of one record, and how many records of a list fit in
// one message starting at `first` (at least 1 if any remain and the first fits).
size_t encoded_size(const HostRecord& record);
size_t records_that_fit(std::span<const HostRecord> records, size_t first);

}  // namespace cordon::wire
