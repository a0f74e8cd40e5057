// Control message codec (docs/protocol.md, "Control messages"; layout in
// control.hpp). The parser and the encoder apply the same field rules, so
// that every message the encoder writes parses back to itself and every
// message the parser accepts encodes back to the bytes it came from (minus
// the zero padding).
#include "core/wire/control.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include "core/wire/byte_io.hpp"

namespace cordon::wire {
namespace {

// Endpoint family byte (docs/protocol.md, "Control messages": 0 none, 4, 6).
constexpr uint8_t kFamilyNone = 0;
constexpr uint8_t kFamilyV4 = 4;
constexpr uint8_t kFamilyV6 = 6;
constexpr size_t kEndpointNoneSize = 1;
constexpr size_t kEndpointV4Size = 1 + 4 + 2;
constexpr size_t kEndpointV6Size = 1 + 16 + 2;
// host id 4 | state 1 | metric 1 | coordinator 4 | age 4; then the public
// endpoint, the local count 1 and the local endpoints.
constexpr size_t kRecordFixedSize = 4 + 1 + 1 + 4 + 4;
constexpr size_t kRecordsHeaderSize = 1 + 2;  // type | count
constexpr size_t kMaxRecordCount = 0xffff;   // the count field is 16 bits

// ---------------------------------------------------------------- parsing

// A reader plus the first error met. Every read_* returns false after
// recording why, so that the caller just propagates false.
// With keep false (check_control) the lists stay empty: every field is read
// and checked, nothing is stored, so nothing is allocated.
struct Cursor {
  ByteReader in;
  bool keep = true;
  ControlError error = ControlError::kTruncated;

  bool fail(ControlError e) {
    error = e;
    return false;
  }
};

bool valid_host_id(HostId id) { return id.network() != 0 && id.host() != 0; }

template <size_t N>
bool read_address(Cursor& c, std::array<uint8_t, N>& out) {
  const auto b = c.in.bytes(N);
  if (!b) return c.fail(ControlError::kTruncated);
  std::transform(b->begin(), b->end(), out.begin(), [](std::byte x) { return std::to_integer<uint8_t>(x); });
  return true;
}

// endpoint = family 1 | address 4|16 | port 2; family 0 ("none") stops
// after the family byte and leaves `out` empty.
bool read_endpoint(Cursor& c, std::optional<Endpoint>& out) {
  const auto family = c.in.u8();
  if (!family) return c.fail(ControlError::kTruncated);
  out.reset();
  if (*family == kFamilyNone) return true;
  Endpoint e;
  if (*family == kFamilyV4) {
    std::array<uint8_t, 4> a{};
    if (!read_address(c, a)) return false;
    e.address = IpAddress::v4(a);  // bytes 4..15 zero, so it compares equal to the sender's
  } else if (*family == kFamilyV6) {
    std::array<uint8_t, 16> a{};
    if (!read_address(c, a)) return false;
    e.address = IpAddress::v6(a);
  } else {
    return c.fail(ControlError::kBadField);
  }
  const auto port = c.in.u16();
  if (!port) return c.fail(ControlError::kTruncated);
  if (*port == 0) return c.fail(ControlError::kBadField);
  e.port = *port;
  out = e;
  return true;
}

// count 1 | endpoint * count, each a real endpoint (a "none" in a list of
// addresses means nothing, and the decoded list could not hold it).
bool read_local(Cursor& c, std::vector<Endpoint>& out) {
  const auto count = c.in.u8();
  if (!count) return c.fail(ControlError::kTruncated);
  if (*count > kMaxLocalEndpoints) return c.fail(ControlError::kBadField);
  out.clear();
  for (size_t i = 0; i < *count; ++i) {
    std::optional<Endpoint> e;
    if (!read_endpoint(c, e)) return false;
    if (!e) return c.fail(ControlError::kBadField);
    if (c.keep) out.push_back(*e);
  }
  return true;
}

bool read_host_id(Cursor& c, HostId& out) {
  const auto v = c.in.u32();
  if (!v) return c.fail(ControlError::kTruncated);
  out = HostId{*v};
  return valid_host_id(out) || c.fail(ControlError::kBadField);
}

bool read_record(Cursor& c, HostRecord& r) {
  if (!read_host_id(c, r.host)) return false;
  const auto state = c.in.u8();
  if (!state) return c.fail(ControlError::kTruncated);
  if (*state != static_cast<uint8_t>(HostState::kReachable) && *state != static_cast<uint8_t>(HostState::kUnreachable))
    return c.fail(ControlError::kBadField);
  r.state = static_cast<HostState>(*state);
  const auto metric = c.in.u8();
  if (!metric) return c.fail(ControlError::kTruncated);
  if (*metric > kMetricUnreachable) return c.fail(ControlError::kBadField);
  r.metric = *metric;
  if (!read_host_id(c, r.coordinator)) return false;
  const auto age = c.in.u32();
  if (!age) return c.fail(ControlError::kTruncated);
  r.age_s = *age;
  return read_endpoint(c, r.public_endpoint) && read_local(c, r.local);
}

// One read_body per message: the fields after the type byte.
bool read_body(Cursor& c, StatusReport& m) {
  const auto seq = c.in.u32();
  if (!seq) return c.fail(ControlError::kTruncated);
  m.seq = *seq;
  return read_local(c, m.local);
}

bool read_body(Cursor& c, StatusAck& m) {
  const auto seq = c.in.u32();
  if (!seq) return c.fail(ControlError::kTruncated);
  m.seq = *seq;
  return read_endpoint(c, m.observed);
}

bool read_body(Cursor& c, HostRecords& m) {
  const auto count = c.in.u16();
  if (!count) return c.fail(ControlError::kTruncated);
  // No reserve(count): the count is the sender's word, the bytes are not.
  for (size_t i = 0; i < *count; ++i) {
    HostRecord r;
    if (!read_record(c, r)) return false;
    if (c.keep) m.records.push_back(std::move(r));
  }
  return true;
}

bool read_body(Cursor& c, Probe& m) {
  const auto id = c.in.u64();
  if (!id) return c.fail(ControlError::kTruncated);
  m.probe_id = *id;
  return true;
}

bool read_body(Cursor& c, ProbeAck& m) {
  const auto id = c.in.u64();
  if (!id) return c.fail(ControlError::kTruncated);
  m.probe_id = *id;
  return read_endpoint(c, m.observed);
}

bool read_body(Cursor&, ReportRequest&) { return true; }

bool read_body(Cursor& c, CourierData& m) {
  const auto length = c.in.u16();
  if (!length) return c.fail(ControlError::kTruncated);
  if (*length == 0 || *length > kMaxCourierBody) return c.fail(ControlError::kBadField);
  const auto body = c.in.bytes(*length);
  if (!body) return c.fail(ControlError::kTruncated);
  if (c.keep) m.body.assign(body->begin(), body->end());
  return true;
}

bool read_body(Cursor& c, PathReport& m) {
  const auto count = c.in.u16();
  if (!count) return c.fail(ControlError::kTruncated);
  if (*count > kMaxPathEntries) return c.fail(ControlError::kBadField);
  for (size_t i = 0; i < *count; ++i) {
    HostId host;
    if (!read_host_id(c, host)) return false;
    const auto path = c.in.u8();
    if (!path) return c.fail(ControlError::kTruncated);
    if (*path > 3) return c.fail(ControlError::kBadField);
    if (c.keep) m.paths.emplace_back(host, *path);
  }
  return true;
}

template <typename M>
std::optional<ControlMessage> read_as(Cursor& c) {
  M m;
  if (!read_body(c, m)) return std::nullopt;
  return ControlMessage{std::move(m)};
}

std::optional<ControlMessage> read_message(Cursor& c, uint8_t type) {
  switch (static_cast<ControlType>(type)) {
    case ControlType::kStatusReport:
      return read_as<StatusReport>(c);
    case ControlType::kStatusAck:
      return read_as<StatusAck>(c);
    case ControlType::kHostRecords:
      return read_as<HostRecords>(c);
    case ControlType::kProbe:
      return read_as<Probe>(c);
    case ControlType::kProbeAck:
      return read_as<ProbeAck>(c);
    case ControlType::kReportRequest:
      return read_as<ReportRequest>(c);
    case ControlType::kCourier:
      return read_as<CourierData>(c);
    case ControlType::kPathReport:
      return read_as<PathReport>(c);
  }
  // 0x00 (the keepalive, which the node handles before calling us), 0x07
  // and 0x08 (the channel envelope and the generation probe, likewise) and
  // 0x0b..0xff land here.
  c.fail(ControlError::kUnknownType);
  return std::nullopt;
}

// ---------------------------------------------------------------- encoding

// The encoder refuses what the parser refuses, plus an IPv4 address with
// bytes past the fourth set: only four bytes go on the wire, so it would
// decode to a different value (types.hpp, IpAddress).
bool valid_endpoint(const Endpoint& e) {
  if (e.port == 0) return false;
  if (e.address.family == IpAddress::Family::kV6) return true;
  if (e.address.family != IpAddress::Family::kV4) return false;
  return std::all_of(e.address.bytes.begin() + 4, e.address.bytes.end(), [](uint8_t b) { return b == 0; });
}

bool valid_endpoint(const std::optional<Endpoint>& e) { return !e || valid_endpoint(*e); }

bool valid_local(const std::vector<Endpoint>& local) {
  return local.size() <= kMaxLocalEndpoints &&
         std::all_of(local.begin(), local.end(), [](const Endpoint& e) { return valid_endpoint(e); });
}

bool valid_record(const HostRecord& r) {
  return valid_host_id(r.host) && valid_host_id(r.coordinator) &&
         (r.state == HostState::kReachable || r.state == HostState::kUnreachable) &&
         r.metric <= kMetricUnreachable && valid_endpoint(r.public_endpoint) && valid_local(r.local);
}

bool valid(const StatusReport& m) { return valid_local(m.local); }
bool valid(const StatusAck& m) { return valid_endpoint(m.observed); }
bool valid(const HostRecords& m) {
  return m.records.size() <= kMaxRecordCount && std::all_of(m.records.begin(), m.records.end(), valid_record);
}
bool valid(const Probe&) { return true; }
bool valid(const ProbeAck& m) { return valid_endpoint(m.observed); }
bool valid(const ReportRequest&) { return true; }
bool valid(const CourierData& m) { return !m.body.empty() && m.body.size() <= kMaxCourierBody; }
bool valid(const PathReport& m) {
  return m.paths.size() <= kMaxPathEntries &&
         std::all_of(m.paths.begin(), m.paths.end(), [](const auto& p) { return valid_host_id(p.first) && p.second <= 3; });
}

size_t endpoint_size(const std::optional<Endpoint>& e) {
  if (!e) return kEndpointNoneSize;
  return e->address.is_v4() ? kEndpointV4Size : kEndpointV6Size;
}

// Writers assume a valid message (checked before).
void write_endpoint(ByteWriter& w, const std::optional<Endpoint>& e) {
  if (!e) {
    w.u8(kFamilyNone);
    return;
  }
  w.u8(e->address.is_v4() ? kFamilyV4 : kFamilyV6);
  w.bytes(std::as_bytes(std::span(e->address.bytes).first(e->address.size())));
  w.u16(e->port);
}

void write_local(ByteWriter& w, const std::vector<Endpoint>& local) {
  w.u8(static_cast<uint8_t>(local.size()));
  for (const Endpoint& e : local) write_endpoint(w, e);
}

void write_record(ByteWriter& w, const HostRecord& r) {
  w.u32(r.host.value);
  w.u8(static_cast<uint8_t>(r.state));
  w.u8(r.metric);
  w.u32(r.coordinator.value);
  w.u32(r.age_s);
  write_endpoint(w, r.public_endpoint);
  write_local(w, r.local);
}

void write_body(ByteWriter& w, const StatusReport& m) {
  w.u32(m.seq);
  write_local(w, m.local);
}

void write_body(ByteWriter& w, const StatusAck& m) {
  w.u32(m.seq);
  write_endpoint(w, m.observed);
}

void write_body(ByteWriter& w, const HostRecords& m) {
  w.u16(static_cast<uint16_t>(m.records.size()));
  for (const HostRecord& r : m.records) write_record(w, r);
}

void write_body(ByteWriter& w, const Probe& m) { w.u64(m.probe_id); }

void write_body(ByteWriter& w, const ProbeAck& m) {
  w.u64(m.probe_id);
  write_endpoint(w, m.observed);
}

void write_body(ByteWriter&, const ReportRequest&) {}

void write_body(ByteWriter& w, const CourierData& m) {
  w.u16(static_cast<uint16_t>(m.body.size()));
  w.bytes(m.body);
}

void write_body(ByteWriter& w, const PathReport& m) {
  w.u16(static_cast<uint16_t>(m.paths.size()));
  for (const auto& [host, path] : m.paths) {
    w.u32(host.value);
    w.u8(path);
  }
}

ControlType type_of(const StatusReport&) { return ControlType::kStatusReport; }
ControlType type_of(const StatusAck&) { return ControlType::kStatusAck; }
ControlType type_of(const HostRecords&) { return ControlType::kHostRecords; }
ControlType type_of(const Probe&) { return ControlType::kProbe; }
ControlType type_of(const ProbeAck&) { return ControlType::kProbeAck; }
ControlType type_of(const ReportRequest&) { return ControlType::kReportRequest; }
ControlType type_of(const CourierData&) { return ControlType::kCourier; }
ControlType type_of(const PathReport&) { return ControlType::kPathReport; }

void write_message(ByteWriter& w, const ControlMessage& message) {
  std::visit(
      [&w](const auto& m) {
        w.u8(static_cast<uint8_t>(type_of(m)));
        write_body(w, m);
      },
      message);
}

}  // namespace

namespace {

ParsedControl read_control(std::span<const std::byte> plaintext, bool keep) {
  if (plaintext.size() > kMaxControlSize) return ParsedControl{std::nullopt, ControlError::kOversized};
  Cursor c{ByteReader(plaintext), keep};
  const auto type = c.in.u8();
  if (!type) return ParsedControl{std::nullopt, ControlError::kTruncated};
  auto message = read_message(c, *type);
  if (!message) return ParsedControl{std::nullopt, c.error};
  // What follows the message is padding and must be zero (protocol.md).
  const auto rest = plaintext.subspan(c.in.offset());
  if (std::any_of(rest.begin(), rest.end(), [](std::byte b) { return b != std::byte{0}; }))
    return ParsedControl{std::nullopt, ControlError::kBadPadding};
  return ParsedControl{std::move(message), ControlError::kTruncated};
}

}  // namespace

ParsedControl parse_control(std::span<const std::byte> plaintext) { return read_control(plaintext, true); }

Status<ControlError> check_control(std::span<const std::byte> plaintext) {
  const ParsedControl checked = read_control(plaintext, false);
  if (!checked.message) return checked.error;
  return Ok{};
}

std::optional<std::vector<std::byte>> encode_control(const ControlMessage& message) {
  if (!std::visit([](const auto& m) { return valid(m); }, message)) return std::nullopt;
  ByteWriter sizing;
  write_message(sizing, message);
  if (sizing.size() > kMaxControlSize) return std::nullopt;
  std::vector<std::byte> out(sizing.size());
  ByteWriter w(out);
  write_message(w, message);
  // Both passes write the same fields, so the buffer is exactly full.
  if (w.overflow() || w.size() != out.size()) return std::nullopt;
  return out;
}

size_t encoded_size(const HostRecord& record) {
  size_t size = kRecordFixedSize + endpoint_size(record.public_endpoint) + 1;
  for (const Endpoint& e : record.local) size += endpoint_size(e);
  return size;
}

size_t records_that_fit(std::span<const HostRecord> records, size_t first) {
  size_t used = kRecordsHeaderSize;
  size_t n = 0;
  for (size_t i = first; i < records.size() && n < kMaxRecordCount; ++i, ++n) {
    const size_t size = encoded_size(records[i]);
    if (size > kMaxControlSize - used) break;
    used += size;
  }
  return n;
}

}  // namespace cordon::wire
