// Couriers in simulation (docs/couriers.md): an administration host, two
// couriers and twenty hosts exchange courier messages over a lossy,
// duplicating, reordering network; couriers and hosts restart (their
// spools survive, as fsync'd files do) and hosts go offline. Every host
// must end at the newest version, apply each version at most once, and
// the administration host must hold a verified receipt for it.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <cstdio>
#include <random>

#include "core/courier/courier.hpp"
#include "core/keys/update_package.hpp"

namespace cordon::courier {
namespace {

constexpr HostId kAdmin{0x00010001};
constexpr HostId kCourier1{0x00010002};
constexpr HostId kCourier2{0x00010003};
constexpr uint32_t kFirstHost = 0x00010010;
constexpr int kHosts = 20;

crypto::SecretBytes host_key_of(HostId id) {
  crypto::SecretBytes key(32);
  for (size_t i = 0; i < 32; ++i) key.mutable_view()[i] = std::byte(static_cast<uint8_t>(id.value * 7 + i));
  return key;
}

// A real package (keys/update_package.hpp) for `host`, padded with a
// `filler` entry name so that some packages take many segments.
std::vector<std::byte> make_package(HostId host, uint64_t version, size_t filler) {
  keys::UpdateHeader header;
  header.host = host;
  header.version = version;
  keys::KeySetBody body;
  keys::AddressBookEntry self;
  self.id = host;
  self.name = "h" + std::to_string(host.host());
  body.book.entries.push_back(self);
  for (size_t i = 0; i < filler; ++i) {
    keys::AddressBookEntry e;
    e.id = HostId{0x00020000u + static_cast<uint32_t>(i) + 1};
    e.name = "filler-" + std::to_string(i);
    body.book.entries.push_back(e);
  }
  crypto::XChaChaNonce nonce{};
  nonce[0] = std::byte(static_cast<uint8_t>(version));
  nonce[1] = std::byte(static_cast<uint8_t>(host.value));
  auto file = keys::seal_update(header, host_key_of(host), {}, body, nonce);
  EXPECT_TRUE(file.ok());
  return file.ok() ? file.value() : std::vector<std::byte>{};
}

struct Net;

struct SimHost : Environment {
  Net* net = nullptr;
  HostId id;
  CourierConfig config;
  std::map<uint64_t, std::vector<std::byte>> disk;  // the spool, durable
  std::unique_ptr<Courier> courier;
  uint64_t installed = 0;
  std::map<uint64_t, int> applied;  // version -> times applied
  bool online = true;
  int64_t next_tick = 0;
  uint64_t boots = 0;

  bool store(uint64_t item, std::span<const std::byte> encoded) override {
    disk[item].assign(encoded.begin(), encoded.end());
    return true;
  }
  void erase(uint64_t item) override { disk.erase(item); }
  bool send(HostId peer, std::span<const std::byte> message) override;
  Applied apply(const Item& package) override {
    Receipt r{id, package.version, installed, Receipt::Outcome::kApplied, 0, ""};
    auto opened = keys::open_update(package.payload, host_key_of(id));
    if (!opened) {
      r.outcome = Receipt::Outcome::kRefused;
      r.reason = "tampered";
    } else if (package.version <= installed) {
      r.outcome = Receipt::Outcome::kAlreadyApplied;
    } else {
      installed = package.version;
      ++applied[package.version];
      r.installed = installed;
    }
    return Applied{seal_receipt(r, host_key_of(id)), installed, false};
  }
  void start(int64_t now) {
    config.installed = installed;
    std::vector<std::pair<uint64_t, std::vector<std::byte>>> loaded(disk.begin(), disk.end());
    courier = std::make_unique<Courier>(config, *this, 0x1000 + id.value * 16 + boots++, std::move(loaded), now);
    next_tick = now;
  }
};

struct Packet {
  int64_t at;
  HostId from, to;
  std::vector<std::byte> body;
};

struct Net {
  std::mt19937_64 rng{20261207};
  double loss = 0.05, duplicate = 0.02;
  int64_t now = 0;
  std::multimap<int64_t, Packet> queue;
  std::map<uint32_t, std::unique_ptr<SimHost>> hosts;
  uint64_t sent = 0;

  void post(HostId from, HostId to, std::span<const std::byte> body) {
    ++sent;
    std::uniform_real_distribution<double> u(0, 1);
    const int copies = u(rng) < loss ? 0 : (u(rng) < duplicate ? 2 : 1);
    for (int i = 0; i < copies; ++i) {
      // 1 to 20 ms: messages overtake each other.
      const int64_t at = now + (1 + static_cast<int64_t>(rng() % 20)) * kNsPerMs;
      queue.emplace(at, Packet{at, from, to, std::vector<std::byte>(body.begin(), body.end())});
    }
  }

  void run_until(int64_t end) {
    while (now < end) {
      now += kNsPerMs;
      while (!queue.empty() && queue.begin()->first <= now) {
        Packet p = std::move(queue.begin()->second);
        queue.erase(queue.begin());
        SimHost& to = *hosts.at(p.to.value);
        if (!to.online || !hosts.at(p.from.value)->online) continue;
        to.courier->receive(p.from, p.body, now);
        to.next_tick = now;
      }
      for (auto& [id, h] : hosts) {
        if (h->online && now >= h->next_tick) h->next_tick = h->courier->tick(now);
      }
    }
  }
};

bool SimHost::send(HostId peer, std::span<const std::byte> message) {
  net->post(id, peer, message);
  return true;
}

HostId host_n(int i) { return HostId{kFirstHost + static_cast<uint32_t>(i)}; }
HostId courier_of(int i) { return i % 2 == 0 ? kCourier1 : kCourier2; }

Net build() {
  Net net;
  auto add = [&](HostId id, bool coordinator, std::optional<HostId> own) -> SimHost& {
    auto h = std::make_unique<SimHost>();
    h->net = &net;
    h->id = id;
    h->config.self = id;
    h->config.coordinator = coordinator;
    h->config.own_courier = own;
    h->config.admin_host = kAdmin;
    h->config.admin_courier = kCourier1;
    SimHost& ref = *h;
    net.hosts.emplace(id.value, std::move(h));
    return ref;
  };
  SimHost& admin = add(kAdmin, false, kCourier1);
  SimHost& c1 = add(kCourier1, true, std::nullopt);
  SimHost& c2 = add(kCourier2, true, std::nullopt);
  admin.config.peers = {kCourier1};
  admin.config.coordinators = {kCourier1};
  c1.config.peers = {kAdmin, kCourier2};
  c1.config.coordinators = {kCourier2};
  c1.config.served = {kAdmin};
  c2.config.peers = {kCourier1};
  c2.config.coordinators = {kCourier1};
  for (int i = 0; i < kHosts; ++i) {
    SimHost& h = add(host_n(i), false, courier_of(i));
    h.config.peers = {courier_of(i)};
    h.config.coordinators = {courier_of(i)};
    SimHost& c = courier_of(i) == kCourier1 ? c1 : c2;
    c.config.peers.push_back(host_n(i));
    c.config.served.push_back(host_n(i));
  }
  for (auto& [id, h] : net.hosts) h->start(0);
  return net;
}

void submit_round(Net& net, uint64_t version, size_t filler) {
  SimHost& admin = *net.hosts.at(kAdmin.value);
  for (int i = 0; i < kHosts; ++i) {
    Item item;
    item.kind = ItemKind::kPackage;
    item.dest = item.subject = host_n(i);
    item.via = courier_of(i);
    item.version = version;
    item.payload = make_package(host_n(i), version, i == 3 ? filler : 1);
    auto done = admin.courier->submit(std::move(item), net.now);
    ASSERT_TRUE(done.ok()) << done.error();
  }
  admin.next_tick = net.now;
}

void restart(Net& net, HostId id) {
  SimHost& h = *net.hosts.at(id.value);
  h.start(net.now);  // kill -9: only the spool on disk survives
}

TEST(CourierSim, TwentyHostsTwoCouriersLossRestartsAndOfflineHosts) {
  Net net = build();
  // Hosts 5 and 6 are offline from the start and come back late.
  net.hosts.at(host_n(5).value)->online = false;
  net.hosts.at(host_n(6).value)->online = false;
  submit_round(net, 1, 0);
  net.run_until(2 * kNsPerSecond);
  // Version 2 has a package of many segments for host 3; courier 2 is
  // killed while it moves and restarted.
  submit_round(net, 2, 300);
  net.run_until(net.now + 30 * kNsPerMs);
  restart(net, kCourier2);
  net.run_until(net.now + 300 * kNsPerMs);
  restart(net, kCourier1);
  restart(net, host_n(3));
  net.run_until(net.now + 5 * kNsPerSecond);
  // Two more rounds while host 7 is offline; version 3 is superseded by 4
  // before host 7 is back.
  net.hosts.at(host_n(7).value)->online = false;
  submit_round(net, 3, 50);
  net.run_until(net.now + 200 * kNsPerMs);
  restart(net, kAdmin);
  submit_round(net, 4, 50);
  net.run_until(net.now + 10 * kNsPerSecond);
  for (int i : {5, 6, 7}) {
    SimHost& h = *net.hosts.at(host_n(i).value);
    h.online = true;
    h.start(net.now);  // it boots: its hello goes out at once
  }
  net.run_until(net.now + 120 * kNsPerSecond);

  SimHost& admin = *net.hosts.at(kAdmin.value);
  std::map<uint32_t, Receipt> receipts;
  for (const auto& [meta, encoded] : admin.courier->inbox()) {
    auto item = parse_item(encoded);
    ASSERT_TRUE(item.ok());
    if (item.value().kind != ItemKind::kReceipt) continue;
    auto r = verify_receipt(item.value().payload, host_key_of(item.value().subject));
    ASSERT_TRUE(r.has_value()) << "receipt from " << item.value().subject.to_string() << " does not verify";
    receipts[r->host.value] = *r;
  }
  for (int i = 0; i < kHosts; ++i) {
    SimHost& h = *net.hosts.at(host_n(i).value);
    SCOPED_TRACE(host_n(i).to_string());
    EXPECT_EQ(h.installed, 4u);
    for (const auto& [version, times] : h.applied) EXPECT_EQ(times, 1) << "version " << version;
    ASSERT_TRUE(receipts.contains(host_n(i).value));
    EXPECT_EQ(receipts[host_n(i).value].installed, 4u);
  }
  // Offline hosts caught up in one step: version 4 only.
  EXPECT_EQ(net.hosts.at(host_n(5).value)->applied.size(), 1u);
  EXPECT_EQ(net.hosts.at(host_n(7).value)->applied.count(3), 0u);
  // Nothing is left in flight: the couriers' spools are empty, the
  // administration host keeps only its receipts and notices.
  EXPECT_TRUE(net.hosts.at(kCourier1.value)->disk.empty());
  EXPECT_TRUE(net.hosts.at(kCourier2.value)->disk.empty());
  for (const HeldItem& m : admin.courier->status().items) EXPECT_TRUE(m.inbox) << m.id;
  // At most one receipt and one notice per host.
  EXPECT_LE(admin.courier->inbox().size(), 2u * kHosts);
  const CourierCounters c1 = net.hosts.at(kCourier1.value)->courier->status().counters;
  const CourierCounters c2 = net.hosts.at(kCourier2.value)->courier->status().counters;
  std::printf("messages %llu; courier 1: stored %llu forwarded %llu superseded %llu duplicates %llu resent %llu; "
              "courier 2: stored %llu forwarded %llu resent %llu\n",
              static_cast<unsigned long long>(net.sent), static_cast<unsigned long long>(c1.items_stored),
              static_cast<unsigned long long>(c1.items_forwarded), static_cast<unsigned long long>(c1.superseded),
              static_cast<unsigned long long>(c1.duplicates), static_cast<unsigned long long>(c1.segments_resent),
              static_cast<unsigned long long>(c2.items_stored), static_cast<unsigned long long>(c2.items_forwarded),
              static_cast<unsigned long long>(c2.segments_resent));
}

// The largest package a 10,000-host network produces: a coordinator's, whose
// address book lists every host (here 10,000 entries, about 0.4 MB), from
// the administration host through both couriers, under 5% loss.
TEST(CourierSim, LargestPackageOfATenThousandHostNetwork) {
  Net net = build();
  SimHost& admin = *net.hosts.at(kAdmin.value);
  Item item;
  item.kind = ItemKind::kPackage;
  item.dest = item.subject = host_n(1);
  item.via = courier_of(1);
  item.version = 1;
  item.payload = make_package(host_n(1), 1, 10'000);
  ASSERT_GT(item.payload.size(), 300'000u);
  ASSERT_TRUE(admin.courier->submit(std::move(item), net.now).ok());
  admin.next_tick = net.now;
  net.run_until(120 * kNsPerSecond);
  for (HostId id : {kAdmin, kCourier1, kCourier2}) {
    const CourierStatus st = net.hosts.at(id.value)->courier->status();
    std::printf("%s: items %zu incoming %zu stored %llu forwarded %llu sent %llu resent %llu stalled %llu bad %llu\n",
                id.to_string().c_str(), st.items.size(), st.incoming,
                static_cast<unsigned long long>(st.counters.items_stored),
                static_cast<unsigned long long>(st.counters.items_forwarded),
                static_cast<unsigned long long>(st.counters.segments_sent),
                static_cast<unsigned long long>(st.counters.segments_resent),
                static_cast<unsigned long long>(st.counters.stalled),
                static_cast<unsigned long long>(st.counters.bad_messages));
    for (const auto& [k, v] : st.counters.refusals) std::printf("  refusal %s %llu\n", k.c_str(), static_cast<unsigned long long>(v));
  }
  EXPECT_EQ(net.hosts.at(host_n(1).value)->installed, 1u);
  EXPECT_EQ(net.hosts.at(host_n(1).value)->applied[1], 1);
  bool receipt = false;
  for (const auto& [meta, encoded] : admin.courier->inbox()) receipt |= meta.kind == ItemKind::kReceipt;
  EXPECT_TRUE(receipt);
}

// A client may not put packages into its courier's spool: only the
// administration host and coordinators may (docs/couriers.md).
TEST(CourierSim, ClientCannotInjectPackages) {
  Net net = build();
  net.loss = 0;
  net.duplicate = 0;
  SimHost& rogue = *net.hosts.at(host_n(0).value);
  Item item;
  item.kind = ItemKind::kPackage;
  item.dest = item.subject = host_n(2);
  item.via = kCourier1;
  item.version = 99;
  item.payload = make_package(host_n(2), 99, 0);
  // Hand-made: the rogue's courier holds it as if the admin had sent it.
  rogue.config.coordinator = true;  // so that it will try to forward
  rogue.config.admin_host = rogue.id;
  rogue.start(net.now);
  ASSERT_TRUE(rogue.courier->submit(std::move(item), net.now).ok());
  net.run_until(3 * kNsPerSecond);
  EXPECT_EQ(net.hosts.at(host_n(2).value)->installed, 0u);
  const auto counters = net.hosts.at(kCourier1.value)->courier->status().counters;
  EXPECT_GE(counters.refusals.at("untrusted_sender"), 1u);
}

}  // namespace
}  // namespace cordon::courier
