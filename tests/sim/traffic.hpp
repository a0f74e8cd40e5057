// Test traffic for the simulation tier: streams of numbered test packets
// (testing/fake_tun.hpp) sent through a SimHost's tunnel, and a ledger that
// checks what comes out of the other tunnel: every packet intact, from the
// right peer, to the right host, and no sequence number twice.
#pragma once

#include <cstdint>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "testing/fake_tun.hpp"
#include "testing/sim_host.hpp"
#include "testing/sim_link.hpp"

namespace cordon::testing {

// One direction of test traffic: `from`'s tunnel addresses to `to`'s.
class Stream {
 public:
  Stream(SimHost& host, const SimLinkHost& from, const SimLinkHost& to, uint32_t id)
      : host_(host), from_(from), to_(to), id_(id) {}

  // Injects the next packet into the sending host's tunnel; IPv6 when `v6`.
  // Returns its sequence number.
  uint64_t send(size_t size = 0, bool v6 = false) {
    const uint64_t seq = next_++;
    host_.tun().inject(make_test_packet(TestPacketSpec{
        .src = v6 ? from_.tunnel_v6 : from_.tunnel_v4,
        .dst = v6 ? to_.tunnel_v6 : to_.tunnel_v4,
        .stream = id_,
        .seq = seq,
        .size = size,
    }));
    return seq;
  }
  uint64_t sent() const { return next_; }
  uint32_t id() const { return id_; }
  const SimLinkHost& from() const { return from_; }
  const SimLinkHost& to() const { return to_; }

 private:
  SimHost& host_;
  SimLinkHost from_;
  SimLinkHost to_;
  uint32_t id_;
  uint64_t next_ = 0;
};

// What one host's tunnel delivered for one stream.
class Ledger {
 public:
  explicit Ledger(const Stream& stream) : stream_(stream) {}

  // Takes everything `host` delivered and files it.
  void collect(SimHost& host) {
    for (const auto& p : host.tun().take_delivered()) file(p);
  }

  bool has(uint64_t seq) const { return seen_.count(seq) != 0; }
  size_t delivered() const { return seen_.size(); }
  // Delivered among [first, last).
  size_t delivered_in(uint64_t first, uint64_t last) const {
    return static_cast<size_t>(std::distance(seen_.lower_bound(first), seen_.lower_bound(last)));
  }
  uint64_t duplicates() const { return duplicates_; }
  uint64_t corrupt() const { return corrupt_; }      // failed parse_test_packet
  uint64_t misfiled() const { return misfiled_; }    // another stream, wrong addresses, unsent seq
  std::string summary() const {
    return "delivered=" + std::to_string(delivered()) + "/" + std::to_string(stream_.sent()) +
           " duplicates=" + std::to_string(duplicates_) + " corrupt=" + std::to_string(corrupt_) +
           " misfiled=" + std::to_string(misfiled_);
  }

 private:
  void file(const std::vector<std::byte>& p) {
    const auto info = parse_test_packet(p);
    if (!info) {
      ++corrupt_;
      return;
    }
    const bool v6 = !info->src.is_v4();
    const SimLinkHost& f = stream_.from();
    const SimLinkHost& t = stream_.to();
    if (info->stream != stream_.id() || info->seq >= stream_.sent() ||
        info->src != (v6 ? f.tunnel_v6 : f.tunnel_v4) || info->dst != (v6 ? t.tunnel_v6 : t.tunnel_v4)) {
      ++misfiled_;
      return;
    }
    if (!seen_.insert(info->seq).second) ++duplicates_;
  }

  const Stream& stream_;
  std::set<uint64_t> seen_;
  uint64_t duplicates_ = 0;
  uint64_t corrupt_ = 0;
  uint64_t misfiled_ = 0;
};

inline uint64_t drops(const PeerStatus& p, DropReason r) { return p.drops[static_cast<size_t>(r)]; }

}  // namespace cordon::testing
