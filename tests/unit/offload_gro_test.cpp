// The GRO coalescer (core/offload/gro.hpp) against a naive twin: a
// straightforward merge written here from the rules, run on random traffic
// (several flows interleaved, IPv4 and IPv6, TCP and UDP, wrap-around
// sequence numbers, reordering, duplicates, PSH/FIN mid-stream, changed ACK,
// window and options, bad checksums, truncated and odd packets); plus the
// properties that hold whatever the twin says: every input packet is in
// exactly one output, the kernel's segmentation of a super-packet gives back
// the input packets, and each flow leaves in arrival order.
#include "core/offload/gro.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <random>
#include <vector>

#include "core/offload/virtio_net.hpp"
#include "testing/segment_forge.hpp"

namespace cordon::offload {
namespace {

using Bytes = std::vector<std::byte>;
using cordon::testing::forge_segment;
using cordon::testing::SegmentSpec;
using cordon::testing::split_super_packet;

uint8_t at(const Bytes& p, size_t i) { return std::to_integer<uint8_t>(p[i]); }
uint16_t get16(const Bytes& p, size_t i) { return static_cast<uint16_t>(at(p, i) << 8 | at(p, i + 1)); }
uint32_t get32(const Bytes& p, size_t i) { return uint32_t{get16(p, i)} << 16 | get16(p, i + 2); }
void set16(Bytes& p, size_t i, uint16_t v) {
  p[i] = std::byte(v >> 8);
  p[i + 1] = std::byte(v & 0xff);
}
bool same_bytes(const Bytes& a, const Bytes& b, size_t from, size_t to) {
  return std::equal(a.begin() + static_cast<ptrdiff_t>(from), a.begin() + static_cast<ptrdiff_t>(to),
                    b.begin() + static_cast<ptrdiff_t>(from));
}

// 16-bit ones'-complement sum, word by word (RFC 1071), folded.
uint32_t ones_sum(const Bytes& p, size_t from, size_t to, uint32_t sum = 0) {
  for (size_t i = from; i < to; i += 2) sum += uint32_t{at(p, i)} << 8 | (i + 1 < to ? at(p, i + 1) : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  return sum;
}
uint32_t pseudo_sum(const Bytes& p, bool v6, uint8_t proto, size_t length) {
  uint32_t s = v6 ? ones_sum(p, 8, 40) : ones_sum(p, 12, 20);
  s += proto + static_cast<uint32_t>(length);
  while (s > 0xffff) s = (s & 0xffff) + (s >> 16);
  return s;
}

// ---- The naive twin ----------------------------------------------------

struct Info {
  bool keyed = false;  // belongs to a flow
  Bytes key;           // version, protocol, addresses, ports
  bool eligible = false, bad = false, tcp = false, v6 = false;
  size_t iph = 0, th = 0, payload = 0;
  uint8_t flags = 0;
  uint32_t seq = 0;
};

Info inspect(const Bytes& p, const GroOptions& o) {
  Info r;
  if (p.empty()) return r;
  const int version = at(p, 0) >> 4;
  uint8_t proto = 0;
  bool simple = false;
  if (version == 4) {
    if (p.size() < 20) return r;
    r.iph = (at(p, 0) & 15) * 4u;
    proto = at(p, 9);
    if (r.iph < 20 || p.size() < r.iph + 4 || (get16(p, 6) & 0x1fff) != 0) return r;
    r.key.assign(p.begin() + 12, p.begin() + 20);
    simple = r.iph == 20 && (get16(p, 6) & 0x2000) == 0 && get16(p, 2) == p.size();
  } else if (version == 6) {
    if (p.size() < 44) return r;
    r.iph = 40;
    r.v6 = true;
    proto = at(p, 6);
    r.key.assign(p.begin() + 8, p.begin() + 40);
    simple = get16(p, 4) + 40u == p.size();
  } else {
    return r;
  }
  r.tcp = proto == 6;
  if (!((proto == 6 && o.tcp) || (proto == 17 && o.udp))) return r;
  r.keyed = true;
  r.key.insert(r.key.begin(), {std::byte(version), std::byte(proto)});
  r.key.insert(r.key.end(), p.begin() + static_cast<ptrdiff_t>(r.iph), p.begin() + static_cast<ptrdiff_t>(r.iph + 4));
  if (!simple) return r;
  if (version == 4 && ones_sum(p, 0, 20) != 0xffff) {
    r.bad = true;
    return r;
  }
  if (p.size() > 65535) return r;
  if (r.tcp) {
    if (p.size() < r.iph + 20) return r;
    r.th = (at(p, r.iph + 12) >> 4) * 4u;
    r.flags = at(p, r.iph + 13);
    if (r.th < 20 || p.size() < r.iph + r.th || (r.flags & 0xa6) != 0) return r;  // SYN RST URG CWR
    r.seq = get32(p, r.iph + 4);
  } else {
    r.th = 8;
    if (p.size() < r.iph + 8 || get16(p, r.iph + 4) != p.size() - r.iph || get16(p, r.iph + 6) == 0) return r;
  }
  if (p.size() == r.iph + r.th) return r;
  if (ones_sum(p, r.iph, p.size(), pseudo_sum(p, r.v6, proto, p.size() - r.iph)) != 0xffff) {
    r.bad = true;
    return r;
  }
  r.payload = p.size() - r.iph - r.th;
  r.eligible = true;
  return r;
}

struct Group {
  std::vector<size_t> members;
  Bytes key;
  bool open = false;
  size_t payload_sum = 0;
};

bool can_join(const Group& g, const std::vector<Bytes>& in, const std::vector<Info>& infos, size_t i) {
  const Bytes& head = in[g.members[0]];
  const Info& h = infos[g.members[0]];
  const Bytes& p = in[i];
  const Info& r = infos[i];
  if (!g.open || g.members.size() >= 64 || r.payload > h.payload || r.th != h.th) return false;
  if (h.iph + h.th + g.payload_sum + r.payload > 65535) return false;
  if (!r.v6) {
    if (at(p, 1) != at(head, 1) || (at(p, 6) & 0xe0) != (at(head, 6) & 0xe0) || at(p, 8) != at(head, 8)) return false;
    if ((at(head, 6) & 0x40) == 0 && get16(p, 4) != static_cast<uint16_t>(get16(head, 4) + g.members.size()))
      return false;
  } else if (!same_bytes(p, head, 0, 4) || at(p, 7) != at(head, 7)) {
    return false;
  }
  if (!r.tcp) return true;
  const size_t o = r.iph;
  return r.seq == static_cast<uint32_t>(h.seq + g.payload_sum) && same_bytes(p, head, o + 8, o + 13) &&
         (r.flags & ~0x09) == h.flags && same_bytes(p, head, o + 14, o + 16) && same_bytes(p, head, o + 18, o + r.th);
}

// The flow's latest group, if a packet may join it.
Group* joinable(std::vector<Group>& groups, const std::vector<Bytes>& in, const std::vector<Info>& infos, size_t i) {
  if (!infos[i].keyed || !infos[i].eligible) return nullptr;
  for (size_t j = groups.size(); j-- > 0;) {
    if (groups[j].key == infos[i].key) return can_join(groups[j], in, infos, i) ? &groups[j] : nullptr;
  }
  return nullptr;
}

std::vector<Group> twin_merge(const std::vector<Bytes>& in, const std::vector<Info>& infos) {
  std::vector<Group> groups;
  for (size_t i = 0; i < in.size(); ++i) {
    const Info& r = infos[i];
    if (Group* g = joinable(groups, in, infos, i)) {
      g->members.push_back(i);
      g->payload_sum += r.payload;
      if (r.payload < infos[g->members[0]].payload || (r.tcp && (r.flags & 0x09))) g->open = false;
      continue;
    }
    Group g{{i}, r.key, r.eligible && !(r.tcp && (r.flags & 0x09)), r.payload};
    if (!r.keyed) g.key = {std::byte{0xff}, std::byte(i & 0xff), std::byte(i >> 8 & 0xff), std::byte(i >> 16 & 0xff)};
    groups.push_back(std::move(g));
  }
  return groups;
}

Bytes twin_bytes(const Group& g, const std::vector<Bytes>& in, const std::vector<Info>& infos) {
  Bytes out(10);
  const Bytes& head = in[g.members[0]];
  if (g.members.size() == 1) {
    out.insert(out.end(), head.begin(), head.end());
    return out;
  }
  const Info& h = infos[g.members[0]];
  const size_t hl = h.iph + h.th;
  const uint8_t type = h.tcp ? (h.v6 ? 4 : 1) : 5;
  const uint16_t fields[] = {static_cast<uint16_t>(hl), static_cast<uint16_t>(h.payload), static_cast<uint16_t>(h.iph),
                             static_cast<uint16_t>(h.tcp ? 16 : 6)};
  out[0] = std::byte{1};
  out[1] = std::byte{type};
  for (int f = 0; f < 4; ++f) out[2 + 2 * f] = std::byte(fields[f] & 0xff), out[3 + 2 * f] = std::byte(fields[f] >> 8);
  Bytes headers(head.begin(), head.begin() + static_cast<ptrdiff_t>(hl));
  const size_t total = hl + g.payload_sum;
  if (h.v6) {
    set16(headers, 4, static_cast<uint16_t>(total - 40));
  } else {
    set16(headers, 2, static_cast<uint16_t>(total));
    set16(headers, 10, 0);
    set16(headers, 10, static_cast<uint16_t>(~ones_sum(headers, 0, 20)));
  }
  if (h.tcp) {
    headers[h.iph + 13] |= std::byte(infos[g.members.back()].flags & 0x09);
  } else {
    set16(headers, h.iph + 4, static_cast<uint16_t>(total - h.iph));
  }
  set16(headers, h.iph + (h.tcp ? 16 : 6),
        static_cast<uint16_t>(pseudo_sum(headers, h.v6, h.tcp ? 6 : 17, total - h.iph)));
  out.insert(out.end(), headers.begin(), headers.end());
  for (size_t m : g.members) out.insert(out.end(), in[m].begin() + static_cast<ptrdiff_t>(hl), in[m].end());
  return out;
}

// ---- Random traffic ----------------------------------------------------

struct FlowGen {
  SegmentSpec spec;
  size_t mss = 0;
  Bytes last;
};

Bytes random_bytes(std::mt19937& rng, size_t n) {
  Bytes b(n);
  for (auto& x : b) x = std::byte(rng() & 0xff);
  return b;
}

FlowGen random_flow(std::mt19937& rng, size_t index) {
  FlowGen f;
  SegmentSpec& s = f.spec;
  s.v6 = rng() % 2;
  s.udp = rng() % 4 == 0;
  s.source = {10, 0, 0, static_cast<uint8_t>(1 + rng() % 3)};
  s.destination = {10, 0, 1, static_cast<uint8_t>(index)};
  if (s.v6) s.source[15] = s.source[3], s.destination[15] = s.destination[3];
  s.source_port = static_cast<uint16_t>(1000 + rng() % 4);
  s.destination_port = static_cast<uint16_t>(443 + index);
  s.seq = rng() % 2 ? static_cast<uint32_t>(rng()) : 0xffffffffu - static_cast<uint32_t>(rng() % 3000);
  s.ack = static_cast<uint32_t>(rng());
  s.window = static_cast<uint16_t>(rng());
  s.options = random_bytes(rng, 4 * (rng() % 4));
  s.tos = static_cast<uint8_t>(rng() % 3);
  s.id = static_cast<uint16_t>(rng());
  s.dont_fragment = rng() % 4 != 0;
  s.flow_label = static_cast<uint32_t>(rng() % 3);
  const size_t sizes[] = {1, 7, 100, 536, 1380};
  f.mss = sizes[rng() % 5];
  return f;
}

// One packet of flow `f`, with a random event now and then.
Bytes next_packet(std::mt19937& rng, FlowGen& f) {
  SegmentSpec s = f.spec;
  size_t payload = f.mss;
  const int event = static_cast<int>(rng() % 100);
  if (event < 60) {
  } else if (event < 65) {
    payload = 1 + rng() % f.mss;
  } else if (event < 68) {
    s.flags |= 0x08;  // PSH
  } else if (event < 70) {
    s.flags |= 0x01;  // FIN
  } else if (event < 72) {
    f.spec.ack = s.ack = s.ack + static_cast<uint32_t>(rng() % 5000);
  } else if (event < 74) {
    f.spec.window = s.window = static_cast<uint16_t>(rng());
  } else if (event < 76) {
    f.spec.options = s.options = random_bytes(rng, 4 * (rng() % 3));
  } else if (event < 78) {
    s.seq += static_cast<uint32_t>(rng() % 2 ? f.mss : -f.mss);  // a gap, or a step back
  } else if (event < 80) {
    if (!f.last.empty()) return f.last;  // a duplicate
  } else if (event < 82) {
    const uint8_t bad[] = {0x02, 0x04, 0x20, 0x80};  // SYN RST URG CWR
    s.flags |= bad[rng() % 4];
  } else if (event < 84) {
    payload = 0;
  } else if (event < 86) {
    s.ttl = static_cast<uint8_t>(s.ttl + 1);
  } else if (event < 88) {
    s.id = static_cast<uint16_t>(s.id + 7);
  } else if (event < 90) {
    s.tos = static_cast<uint8_t>(s.tos ^ 1);
  }
  Bytes p = forge_segment(s, random_bytes(rng, payload));
  f.spec.seq += static_cast<uint32_t>(payload);
  f.spec.id = static_cast<uint16_t>(f.spec.id + 1);
  const size_t iph = s.v6 ? 40 : 20;
  if (event >= 90) {  // damage after the checksums
    switch (event) {
      case 90: p[10] ^= std::byte{1}; break;  // IPv4 header checksum (IPv6: payload length)
      case 91: p[iph + (s.udp ? 6 : 16)] ^= std::byte{0x40}; break;
      case 92: p.resize(rng() % p.size()); break;
      case 93: p[6] |= std::byte{0x20}; break;  // IPv4 MF (IPv6: next header)
      case 94: p[7] |= std::byte{0x10}; break;  // IPv4 fragment offset (IPv6: hop limit)
      case 95: if (s.udp) p[iph + 6] = p[iph + 7] = std::byte{0}; break;  // no UDP checksum
      case 96: p.push_back(std::byte{0}); break;  // longer than its IP length
      case 97: p = random_bytes(rng, rng() % 80); break;
      case 98:
        if (!s.v6) {  // IPv4 options: four NOPs
          p.insert(p.begin() + 20, 4, std::byte{1});
          p[0] = std::byte{0x46};
          set16(p, 2, static_cast<uint16_t>(p.size()));
        }
        break;
      default: p[s.v6 ? 6 : 9] = std::byte{1}; break;  // ICMP
    }
  }
  f.last = p;
  return p;
}

std::vector<Bytes> random_traffic(std::mt19937& rng, size_t count) {
  std::vector<FlowGen> flows;
  const size_t n = 1 + rng() % 6;
  for (size_t i = 0; i < n; ++i) flows.push_back(random_flow(rng, i));
  std::vector<Bytes> out;
  size_t current = 0;
  for (size_t i = 0; i < count; ++i) {
    if (rng() % 3 == 0) current = rng() % n;
    out.push_back(next_packet(rng, flows[current]));
  }
  return out;
}

// ---- The checks --------------------------------------------------------

Bytes concat(const GroPacket& packet) {
  Bytes out;
  for (auto part : packet.parts) out.insert(out.end(), part.begin(), part.end());
  return out;
}

// What the kernel does with kNeedsChecksum: the sum from checksum_start on,
// complemented, at checksum_start + checksum_offset. Returns the packet.
Bytes complete_checksum(const Bytes& written) {
  const auto h = decode_virtio_net(written);
  Bytes p(written.begin() + kVirtioNetHeaderSize, written.end());
  if (h && (h->flags & kNeedsChecksum) != 0)
    set16(p, h->checksum_start + h->checksum_offset, static_cast<uint16_t>(~ones_sum(p, h->checksum_start, p.size())));
  return p;
}

// IPv4 without DF: the ID is the first's plus the position, as the
// segmentation rewrites it; with DF, the segmentation's ID may differ.
bool same_segment(const Bytes& split, const Bytes& input) {
  if (split == input) return true;
  if (split.size() != input.size() || at(input, 0) >> 4 != 4 || (at(input, 6) & 0x40) == 0) return false;
  Bytes a = split, b = input;
  for (size_t i : {4, 5, 10, 11}) a[i] = b[i] = std::byte{0};
  return a == b;
}

void check_properties(const std::vector<Bytes>& in, std::span<const GroPacket> out, const GroOptions& o) {
  std::vector<int> seen(in.size(), 0);
  std::map<Bytes, size_t> last_of_flow;  // flow key -> latest input index written
  for (const GroPacket& packet : out) {
    ASSERT_GE(packet.parts.size(), 2u);
    ASSERT_GE(packet.parts[0].size(), kVirtioNetHeaderSize);
    const auto header = decode_virtio_net(packet.parts[0]);
    ASSERT_TRUE(header);
    std::vector<size_t> members;
    for (size_t k = 1; k < packet.parts.size(); ++k) {
      const auto part = packet.parts[k];
      size_t found = in.size();
      for (size_t i = 0; i < in.size() && found == in.size(); ++i) {
        const bool here = in[i].empty() ? part.empty() && seen[i] == 0  // an empty input: any unseen one
                                        : part.data() + part.size() == in[i].data() + in[i].size();
        if (here) found = i;
      }
      ASSERT_LT(found, in.size());
      ++seen[found];
      members.push_back(found);
    }
    const Bytes written = concat(packet);
    if (header->gso_type == GsoType::kNone) {
      EXPECT_EQ(*header, VirtioNetHeader{});
      ASSERT_EQ(members.size(), 1u);
      EXPECT_EQ(Bytes(written.begin() + kVirtioNetHeaderSize, written.end()), in[members[0]]);
    } else {
      const Info h = inspect(in[members[0]], o);
      EXPECT_EQ(header->flags, kNeedsChecksum);
      EXPECT_EQ(header->gso_type, h.tcp ? (h.v6 ? GsoType::kTcpV6 : GsoType::kTcpV4) : GsoType::kUdpL4);
      EXPECT_EQ(header->header_length, h.iph + h.th);
      EXPECT_EQ(header->gso_size, h.payload);
      EXPECT_EQ(header->checksum_start, h.iph);
      EXPECT_EQ(header->checksum_offset, h.tcp ? 16 : 6);
      EXPECT_LE(written.size() - kVirtioNetHeaderSize, 65535u);
      EXPECT_LE(members.size(), 64u);
      // A valid packet once the kernel completes the checksum.
      EXPECT_TRUE(inspect(complete_checksum(written), GroOptions{.tcp = true, .udp = true}).eligible);
      // The kernel's segmentation gives back the inputs.
      const auto split = split_super_packet(written);
      ASSERT_EQ(split.size(), members.size());
      for (size_t k = 0; k < split.size(); ++k) EXPECT_TRUE(same_segment(split[k], in[members[k]])) << "segment " << k;
    }
    for (size_t m : members) {  // arrival order within each flow
      const Info r = inspect(in[m], o);
      if (!r.keyed) continue;
      auto [it, fresh] = last_of_flow.emplace(r.key, m);
      if (!fresh) EXPECT_LT(it->second, m) << "flow reordered";
      it->second = m;
    }
  }
  for (size_t i = 0; i < in.size(); ++i) EXPECT_EQ(seen[i], 1) << "input " << i;
}

void check_batch(const std::vector<Bytes>& in, std::span<const GroPacket> out, const GroTally& tally,
                 const GroOptions& o) {
  std::vector<Info> infos;
  size_t bad = 0;
  for (const Bytes& p : in) {
    infos.push_back(inspect(p, o));
    bad += infos.back().bad;
  }
  const auto groups = twin_merge(in, infos);
  ASSERT_EQ(out.size(), groups.size());
  for (size_t g = 0; g < groups.size(); ++g) EXPECT_EQ(concat(out[g]), twin_bytes(groups[g], in, infos)) << "output " << g;
  EXPECT_EQ(tally.packets_in, in.size());
  EXPECT_EQ(tally.packets_out, groups.size());
  EXPECT_EQ(tally.coalesced, in.size() - groups.size());
  EXPECT_EQ(tally.bad_checksum, bad);
  check_properties(in, out, o);
}

// Feeds `traffic` through `c`, finishing whenever a batch is full, and checks each batch.
void run_and_check(Coalescer& c, const std::vector<Bytes>& traffic, const GroOptions& o) {
  std::vector<Bytes> batch;
  const auto finish = [&] {
    const auto out = c.finish();
    check_batch(batch, out, c.tally(), o);
    batch.clear();
  };
  // The batch holds the bytes add() took (a moved vector keeps its buffer).
  for (const Bytes& p : traffic) {
    batch.push_back(p);
    if (!c.add(batch.back())) {
      batch.pop_back();
      finish();
      batch.push_back(p);
      ASSERT_TRUE(c.add(batch.back()));
    }
  }
  finish();

}

SegmentSpec tcp_flow(bool v6) {
  SegmentSpec s;
  s.v6 = v6;
  s.source = {10, 0, 0, 1};
  s.destination = {10, 0, 0, 2};
  s.source_port = 40000;
  s.destination_port = 443;
  s.seq = 1000;
  s.ack = 77;
  s.id = 100;
  return s;
}

std::vector<Bytes> stream(SegmentSpec s, size_t count, size_t mss, std::mt19937& rng) {
  std::vector<Bytes> out;
  for (size_t i = 0; i < count; ++i) {
    out.push_back(forge_segment(s, random_bytes(rng, mss)));
    s.seq += static_cast<uint32_t>(mss);
    ++s.id;
  }
  return out;
}

std::span<const GroPacket> add_all(Coalescer& c, const std::vector<Bytes>& packets) {
  for (const Bytes& p : packets) EXPECT_TRUE(c.add(p));
  return c.finish();
}

// ---- Tests -------------------------------------------------------------

TEST(OffloadGro, OneFlowInOrderBecomesOneSuperPacket) {
  std::mt19937 rng(1);
  for (bool v6 : {false, true}) {
    const auto in = stream(tcp_flow(v6), 10, 1380, rng);
    Coalescer c({});
    const auto out = add_all(c, in);
    ASSERT_EQ(out.size(), 1u);
    ASSERT_EQ(out[0].parts.size(), 11u);
    const auto h = decode_virtio_net(out[0].parts[0]);
    ASSERT_TRUE(h);
    EXPECT_EQ(*h, (VirtioNetHeader{.flags = kNeedsChecksum,
                                   .gso_type = v6 ? GsoType::kTcpV6 : GsoType::kTcpV4,
                                   .header_length = static_cast<uint16_t>(v6 ? 60 : 40),
                                   .gso_size = 1380,
                                   .checksum_start = static_cast<uint16_t>(v6 ? 40 : 20),
                                   .checksum_offset = 16}));
    EXPECT_EQ(c.tally().coalesced, 9u);
    check_batch(in, out, c.tally(), {});
  }
}

TEST(OffloadGro, SplittingASuperPacketGivesBackTheInputPackets) {
  std::mt19937 rng(2);
  for (bool v6 : {false, true}) {
    for (bool udp : {false, true}) {
      SegmentSpec s = tcp_flow(v6);
      s.udp = udp;
      s.options = udp ? Bytes{} : Bytes{std::byte{1}, std::byte{1}, std::byte{8}, std::byte{10}, std::byte{1},
                                        std::byte{2}, std::byte{3}, std::byte{4}, std::byte{5}, std::byte{6},
                                        std::byte{7}, std::byte{8}};
      s.dont_fragment = false;  // so that the IDs must come back exactly
      auto in = stream(s, 5, 600, rng);
      s.seq += 5 * 600;
      s.id = static_cast<uint16_t>(s.id + 5);
      s.flags |= 0x08;  // the last: shorter, with PSH
      in.push_back(forge_segment(s, random_bytes(rng, 100)));
      Coalescer c({.udp = true});
      const auto out = add_all(c, in);
      ASSERT_EQ(out.size(), 1u);
      EXPECT_EQ(split_super_packet(concat(out[0])), in);
    }
  }
}

TEST(OffloadGro, SequenceNumbersWrapAround) {
  std::mt19937 rng(3);
  SegmentSpec s = tcp_flow(false);
  s.seq = 0xffffffffu - 1000;
  const auto in = stream(s, 4, 700, rng);
  Coalescer c({});
  const auto out = add_all(c, in);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(split_super_packet(concat(out[0])), in);
}

TEST(OffloadGro, PshClosesTheSuperPacketAndTheNextOpensAnother) {
  std::mt19937 rng(4);
  auto in = stream(tcp_flow(false), 6, 500, rng);
  in[2][20 + 13] |= std::byte{0x08};
  cordon::testing::fill_checksums(in[2]);
  Coalescer c({});
  const auto out = add_all(c, in);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].parts.size(), 4u);  // header + 3 payloads, PSH on the last
  EXPECT_EQ(out[1].parts.size(), 4u);
  check_batch(in, out, c.tally(), {});
}

TEST(OffloadGro, BadChecksumsAreWrittenAloneAndCounted) {
  std::mt19937 rng(5);
  auto in = stream(tcp_flow(false), 6, 500, rng);
  in[2][10] ^= std::byte{1};       // IPv4 header checksum
  in[4][20 + 16] ^= std::byte{1};  // TCP checksum
  Coalescer c({});
  const auto out = add_all(c, in);
  EXPECT_EQ(c.tally().bad_checksum, 2u);
  // 0-1 merged; 2 alone; 3 opens a super-packet that 4 (bad) cannot join; 5 opens another.
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(concat(out[1]).size(), kVirtioNetHeaderSize + in[2].size());
  check_batch(in, out, c.tally(), {});
}

TEST(OffloadGro, ChangedAckWindowOrOptionsStartAnotherSuperPacket) {
  std::mt19937 rng(6);
  for (int change = 0; change < 3; ++change) {
    SegmentSpec s = tcp_flow(true);
    s.options = Bytes(8, std::byte{1});
    auto in = stream(s, 3, 300, rng);
    s.seq += 900;
    if (change == 0) s.ack += 1;
    if (change == 1) s.window -= 1;
    if (change == 2) s.options[3] = std::byte{2};
    const auto more = stream(s, 3, 300, rng);
    in.insert(in.end(), more.begin(), more.end());
    Coalescer c({});
    const auto out = add_all(c, in);
    EXPECT_EQ(out.size(), 2u) << change;
    check_batch(in, out, c.tally(), {});
  }
}

TEST(OffloadGro, InterleavedFlowsEachCoalesce) {
  std::mt19937 rng(7);
  std::vector<std::vector<Bytes>> flows;
  for (uint16_t f = 0; f < 4; ++f) {
    SegmentSpec s = tcp_flow(f % 2 == 1);
    s.destination_port = static_cast<uint16_t>(443 + f);
    flows.push_back(stream(s, 8, 1000, rng));
  }
  std::vector<Bytes> in;
  for (size_t i = 0; i < 8; ++i)
    for (auto& f : flows) in.push_back(f[i]);
  Coalescer c({});
  const auto out = add_all(c, in);
  EXPECT_EQ(out.size(), 4u);
  check_batch(in, out, c.tally(), {});
}

TEST(OffloadGro, UdpCoalescesOnlyWhenAsked) {
  std::mt19937 rng(8);
  SegmentSpec s = tcp_flow(false);
  s.udp = true;
  const auto in = stream(s, 5, 1200, rng);
  for (bool udp : {false, true}) {
    const GroOptions o{.udp = udp};
    Coalescer c(o);
    const auto out = add_all(c, in);
    EXPECT_EQ(out.size(), udp ? 1u : 5u);
    check_batch(in, out, c.tally(), o);
  }
}

TEST(OffloadGro, TruncatedAndOddPacketsAreWrittenAloneUnchanged) {
  std::mt19937 rng(9);
  const Bytes whole = forge_segment(tcp_flow(false), random_bytes(rng, 100));
  std::vector<Bytes> in;
  for (size_t n = 0; n <= whole.size(); ++n) in.emplace_back(whole.begin(), whole.begin() + static_cast<ptrdiff_t>(n));
  Coalescer c({.max_packets = 4096});
  const auto out = add_all(c, in);
  EXPECT_EQ(out.size(), in.size());
  check_batch(in, out, c.tally(), {});
}

TEST(OffloadGro, AFullBatchRefusesTheNextPacket) {
  std::mt19937 rng(10);
  const auto in = stream(tcp_flow(false), 5, 100, rng);
  Coalescer c({.max_packets = 3});
  for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(c.add(in[i]));
  EXPECT_FALSE(c.add(in[3]));
  EXPECT_EQ(c.finish().size(), 1u);
  EXPECT_TRUE(c.add(in[3]));  // a new batch
  EXPECT_TRUE(c.add(in[4]));
  EXPECT_EQ(c.finish().size(), 1u);
  EXPECT_EQ(c.tally().packets_in, 2u);
}

// A batch in which nothing was added (a receive batch of control messages,
// keepalives, drops or forwards only) writes nothing. It once gave back the
// previous batch again, pointing into buffers that held other datagrams by
// then: the TUN refused the ones that no longer began with an IP version
// (EINVAL) and took the rest a second time.
TEST(OffloadGro, AFinishWithNothingAddedReturnsNothing) {
  std::mt19937 rng(12);
  const auto in = stream(tcp_flow(false), 4, 100, rng);
  Coalescer c({});
  EXPECT_EQ(add_all(c, in).size(), 1u);
  EXPECT_EQ(c.tally().packets_in, 4u);
  EXPECT_TRUE(c.finish().empty());
  EXPECT_EQ(c.tally().packets_in, 0u);
  EXPECT_EQ(c.tally().packets_out, 0u);
  EXPECT_TRUE(c.finish().empty());
  // And the batch after it is whole.
  const auto next = stream(tcp_flow(true), 3, 100, rng);
  const auto out = add_all(c, next);
  EXPECT_EQ(out.size(), 1u);
  check_batch(next, out, c.tally(), {});
}

TEST(OffloadGro, StaysWithinSixtyFourSegmentsAndTheIpLength) {
  std::mt19937 rng(11);
  for (size_t mss : {100, 1380}) {
    const auto in = stream(tcp_flow(false), 130, mss, rng);
    Coalescer c({});
    const auto out = add_all(c, in);
    EXPECT_EQ(out.size(), 3u);  // 64 + 64 + 2 segments, or 47 + 47 + 36 (IPv4: 40 + 47 x 1380 bytes)
    check_batch(in, out, c.tally(), {});
  }
}

TEST(OffloadGro, ManyFlowsAreFoundAgain) {
  std::mt19937 rng(12);
  std::vector<Bytes> in;
  std::vector<SegmentSpec> specs;
  for (uint16_t f = 0; f < 500; ++f) {
    SegmentSpec s = tcp_flow(f % 2 == 0);
    s.source_port = static_cast<uint16_t>(1024 + f);
    specs.push_back(s);
  }
  for (int round = 0; round < 2; ++round)
    for (auto& s : specs) {
      in.push_back(forge_segment(s, random_bytes(rng, 64)));
      s.seq += 64;
      ++s.id;
    }
  Coalescer c({});
  const auto out = add_all(c, in);
  EXPECT_EQ(out.size(), 500u);
  check_batch(in, out, c.tally(), {});
}

TEST(OffloadGro, MatchesTheNaiveTwinOnRandomTraffic) {
  std::mt19937 rng(20261205);
  const size_t capacities[] = {1, 2, 3, 7, 64, 1024};
  for (int trial = 0; trial < 400; ++trial) {
    const GroOptions o{.tcp = rng() % 8 != 0, .udp = rng() % 2 == 0, .max_packets = capacities[rng() % 6]};
    const auto traffic = random_traffic(rng, 1 + rng() % 300);
    Coalescer c(o);
    run_and_check(c, traffic, o);
    if (::testing::Test::HasFailure()) {
      ADD_FAILURE() << "trial " << trial;
      return;
    }
  }
}

}  // namespace
}  // namespace cordon::offload
