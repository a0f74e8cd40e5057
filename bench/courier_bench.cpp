// bench/courier_bench: how long couriers take to carry one change to 1,000
// hosts and bring their receipts back, and what the on-disk spool costs
// (docs/couriers.md; docs/performance.md, "Couriers"). A plain program, not
// Google Benchmark: each phase runs once. Prints key=value lines:
//
//   courier_1000_hosts_s
//       wall-clock seconds from the administration host's first submit of a
//       change that touches 1,000 hosts (one update package each) to the
//       last verified receipt stored in its inbox. Topology: the
//       administration host A, a client of courier 1 (the administration
//       courier, a coordinator); courier 2, a coordinator linked with
//       courier 1; 500 hosts served by each courier. A, courier 1 and
//       courier 2 keep their spools in daemon::CourierSpool directories (a
//       temporary directory under /tmp, removed at exit), so every item they
//       take costs its fsyncs; the hosts keep theirs in memory but open each
//       package with their host key (keys::open_update), check its version
//       and seal a real receipt (courier::seal_receipt). The network is in
//       process: a message posted is delivered 200 us later. One thread
//       drives every courier like the daemon does (a batch of received
//       messages, then tick()), with time read from steady_clock, so the
//       figure is elapsed time: crypto, fsyncs and the engine's own work.
//       The three spools share one disk and one thread here, where on a
//       real network they would be three machines working at once.
//   courier_1000_hosts_messages       courier messages posted in that time
//   courier_1000_hosts_package_bytes  the mean package size
//   courier_1000_hosts_submit_s       of which the 1,000 submits (A's fsyncs)
//   courier_1000_hosts_applied_s      until the last host applied its package
//   courier_1000_hosts_spool_stores, courier_1000_hosts_spool_store_s
//       CourierSpool::store calls in the three spools in that time, and the
//       wall-clock time spent in them (the fsyncs, one after the other)
//   courier_spool_packages_per_s, courier_spool_load_packages_per_s
//       CourierSpool::store (atomic write, fsync of file and directory) of
//       2,000 items of about 1 KB, one after the other, per second; then
//       CourierSpool::load of all of them (from the page cache) per second.
//   courier_spool_item_bytes          the stored item's size
//
// Exits non-zero when a host did not apply its version exactly once, when
// the administration host does not hold 1,000 receipts that verify under
// the hosts' keys, or when the run takes longer than its time limit.
//
// Usage: courier_bench [--hosts N] [--spool-items N] [--dir DIR]
// (--hosts N names the keys courier_N_hosts_*; --dir puts the spools in a
// directory made inside DIR, e.g. a tmpfs to leave the disk out.)
#include <stdlib.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/courier/courier.hpp"
#include "core/keys/update_package.hpp"
#include "daemon/courier_spool.hpp"
#include "os/linux/random.hpp"

using namespace cordon;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr HostId kAdmin{0x00010001};
constexpr HostId kCourier1{0x00010002};
constexpr HostId kCourier2{0x00010003};
constexpr uint32_t kFirstHost = 0x00010010;
constexpr int64_t kLatencyNs = 200'000;  // 200 us
constexpr uint64_t kInstalled = 1;  // every host's key-set version before the change
constexpr uint64_t kVersion = 2;    // the change
constexpr int64_t kTimeLimitNs = 300 * kNsPerSecond;

struct Options {
  int hosts = 1000;
  int spool_items = 2000;
  std::string dir;  // empty: a fresh directory under /tmp
};

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

double seconds(int64_t ns) { return static_cast<double>(ns) / static_cast<double>(kNsPerSecond); }

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "courier_bench: %s\n", what.c_str());
  std::exit(1);
}

// The temporary directory: removed when main returns (the destructor) or
// by fail(), which exits without running it.
struct TempDir {
  std::string path;
  bool owned = false;
  ~TempDir() {
    if (owned && !path.empty()) {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  }
};
TempDir g_temp;

[[noreturn]] void fail(const std::string& what) {
  if (g_temp.owned) {
    std::error_code ec;
    fs::remove_all(g_temp.path, ec);
    g_temp.owned = false;
  }
  die(what);
}

HostId host_n(int i) { return HostId{kFirstHost + static_cast<uint32_t>(i)}; }
HostId courier_of(int i) { return i % 2 == 0 ? kCourier1 : kCourier2; }

Prefix tunnel_of(HostId id) {
  return *Prefix::parse("10.77." + std::to_string(id.host() >> 8) + "." + std::to_string(id.host() & 0xff) + "/16");
}

keys::AddressBookEntry entry(HostId id, keys::Role role, HostId courier) {
  keys::AddressBookEntry e;
  e.id = id;
  e.role = role;
  e.name = (role == keys::Role::kCoordinator ? "courier-" : "host-") + std::to_string(id.host());
  e.tunnel_v4 = tunnel_of(id);
  if (role == keys::Role::kCoordinator) {
    e.endpoints.push_back(*Endpoint::parse("203.0.113." + std::to_string(id.host() & 0xff) + ":51820"));
  } else {
    e.registry = courier;
    e.rendezvous = courier;
    e.courier = courier;
  }
  return e;
}

crypto::SecretBytes random_key() {
  auto key = os::random_secret(32);
  if (!key) fail("random key: " + key.error().message());
  return std::move(key.value());
}

// What `cordon admin updates build` makes for host i (docs/administration.md):
// the whole new state of the host, a typical client's: itself, its courier
// and two other hosts in its address book, links with all three, the
// network's settings. `extra` more book entries make a larger package.
std::vector<std::byte> make_package(int n_hosts, int i, uint64_t version, const crypto::SecretBytes& host_key,
                                    int extra = 0) {
  const HostId self = host_n(i);
  const HostId courier = courier_of(i);
  keys::UpdateHeader header;
  header.host = self;
  header.version = version;
  header.kind = keys::UpdateKind::kKeys;
  keys::KeySetBody body;
  body.book.entries.push_back(entry(self, keys::Role::kClient, courier));
  body.book.entries.push_back(entry(courier, keys::Role::kCoordinator, HostId{}));
  body.links.push_back({courier, random_key()});
  for (int k : {1, 2}) {
    const int j = (i + k * 2) % n_hosts;  // same courier: the same parity
    if (j == i) continue;
    body.book.entries.push_back(entry(host_n(j), keys::Role::kClient, courier_of(j)));
    body.links.push_back({host_n(j), random_key()});
  }
  for (int k = 0; k < extra; ++k) {
    body.book.entries.push_back(entry(HostId{0x00020001u + static_cast<uint32_t>(k)}, keys::Role::kClient, courier));
  }
  body.rekey_period = keys::kDefaultRekeyPeriod;
  body.admin_host = kAdmin;
  body.admin_courier = kCourier1;
  crypto::XChaChaNonce nonce{};
  if (auto r = os::random_bytes(nonce); !r) fail("random nonce: " + r.error().message());
  auto sealed = keys::seal_update(header, host_key, {}, body, nonce);
  if (!sealed) fail("seal_update for " + self.to_string() + ": " + sealed.error().message());
  return std::move(sealed.value());
}

courier::Item package_item(int i, std::vector<std::byte> payload) {
  courier::Item item;
  item.kind = courier::ItemKind::kPackage;
  item.dest = item.subject = host_n(i);
  item.via = courier_of(i);
  item.version = kVersion;
  item.payload = std::move(payload);
  return item;
}

struct Net;

// One host of the simulated network and its Courier's Environment.
struct Node : courier::Environment {
  Net* net = nullptr;
  HostId id;
  courier::CourierConfig config;
  std::optional<daemon::CourierSpool> spool;                // the administration host and the couriers
  std::map<uint64_t, std::vector<std::byte>> memory;        // the hosts' spools
  std::unique_ptr<courier::Courier> courier;
  const crypto::SecretBytes* host_key = nullptr;            // the hosts
  uint64_t installed = kInstalled;
  int applied = 0;  // times this host applied kVersion
  int64_t next_tick = 0;
  bool dirty = false;

  bool store(uint64_t item, std::span<const std::byte> encoded) override;
  void erase(uint64_t item) override {
    if (spool) {
      spool->erase(item);
    } else {
      memory.erase(item);
    }
  }
  bool send(HostId peer, std::span<const std::byte> message) override;
  courier::Applied apply(const courier::Item& package) override;
};

struct Packet {
  int64_t at;
  Node* to;
  HostId from;
  std::vector<std::byte> body;
};

struct Net {
  std::map<uint32_t, std::unique_ptr<Node>> nodes;
  std::map<uint32_t, crypto::SecretBytes> host_keys;
  std::deque<Packet> queue;  // one fixed latency: in order of delivery
  using Timer = std::pair<int64_t, Node*>;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<>> timers;
  uint64_t posted = 0;
  std::set<uint32_t> receipts;  // hosts whose verified receipt the administration host stored
  int applied = 0;              // hosts that applied the change
  int64_t last_applied = 0;     // when the last of them did
  uint64_t spool_stores = 0;    // CourierSpool::store calls, all three spools
  int64_t spool_store_ns = 0;   // the time they took

  Node& at(HostId id) { return *nodes.at(id.value); }

  void post(HostId from, HostId to, std::span<const std::byte> body) {
    ++posted;
    queue.push_back(Packet{now_ns() + kLatencyNs, nodes.at(to.value).get(), from,
                           std::vector<std::byte>(body.begin(), body.end())});
  }

  // Delivers what is due, then ticks every courier that received something
  // or whose timer fell due (the daemon's order: messages, then tick).
  // Returns false when there was nothing to do.
  bool step() {
    std::vector<Node*> run;
    const int64_t now = now_ns();
    while (!queue.empty() && queue.front().at <= now) {
      Packet p = std::move(queue.front());
      queue.pop_front();
      p.to->courier->receive(p.from, p.body, now_ns());
      if (!p.to->dirty) run.push_back(p.to);
      p.to->dirty = true;
    }
    while (!timers.empty() && timers.top().first <= now) {
      auto [when, node] = timers.top();
      timers.pop();
      if (when != node->next_tick || node->dirty) continue;  // stale, or already due
      node->dirty = true;
      run.push_back(node);
    }
    for (Node* node : run) {
      node->dirty = false;
      node->next_tick = node->courier->tick(now_ns());
      timers.emplace(node->next_tick, node);
    }
    return !run.empty();
  }

  // Sleeps until the next delivery or timer, at most `limit`.
  void wait(int64_t limit) {
    int64_t next = limit;
    if (!queue.empty()) next = std::min(next, queue.front().at);
    if (!timers.empty()) next = std::min(next, timers.top().first);
    const int64_t now = now_ns();
    if (next > now) std::this_thread::sleep_for(std::chrono::nanoseconds(next - now));
  }
};

bool Node::store(uint64_t item, std::span<const std::byte> encoded) {
  if (!spool) {
    memory[item].assign(encoded.begin(), encoded.end());
    return true;
  }
  std::string error;
  const int64_t began = now_ns();
  const bool stored = spool->store(item, encoded, error);
  net->spool_store_ns += now_ns() - began;
  ++net->spool_stores;
  if (!stored) {
    std::fprintf(stderr, "courier_bench: spool of %s: %s\n", id.to_string().c_str(), error.c_str());
    return false;
  }
  // The administration host: a receipt arrives in its inbox. It counts once
  // its tag verifies under the host's key and it says the version applied.
  if (id == kAdmin) {
    auto parsed = courier::parse_item(encoded);
    if (parsed && parsed->kind == courier::ItemKind::kReceipt && parsed->dest == id) {
      const auto key = net->host_keys.find(parsed->subject.value);
      if (key != net->host_keys.end()) {
        auto r = courier::verify_receipt(parsed->payload, key->second);
        if (r && r->host == parsed->subject && r->version == kVersion &&
            r->outcome == courier::Receipt::Outcome::kApplied) {
          net->receipts.insert(r->host.value);
        }
      }
    }
  }
  return true;
}

courier::Applied Node::apply(const courier::Item& package) {
  courier::Receipt r{id, package.version, installed, courier::Receipt::Outcome::kApplied,
                     static_cast<int64_t>(std::time(nullptr)), ""};
  auto opened = keys::open_update(package.payload, *host_key);
  if (!opened) {
    r.outcome = courier::Receipt::Outcome::kRefused;
    r.reason = opened.error().message();
  } else if (opened->header.host != id) {
    r.outcome = courier::Receipt::Outcome::kRefused;
    r.reason = "made for another host";
  } else if (opened->header.version <= installed) {
    r.outcome = courier::Receipt::Outcome::kAlreadyApplied;
  } else {
    installed = opened->header.version;
    if (installed == kVersion && ++applied == 1) {
      ++net->applied;
      net->last_applied = now_ns();
    }
    r.installed = installed;
  }
  return courier::Applied{courier::seal_receipt(r, *host_key), installed, false};
}

bool Node::send(HostId peer, std::span<const std::byte> message) {
  net->post(id, peer, message);
  return true;
}

std::unique_ptr<Net> build(int n_hosts, const std::string& dir) {
  auto net = std::make_unique<Net>();
  auto add = [&](HostId id, bool coordinator, std::optional<HostId> own) -> Node& {
    auto n = std::make_unique<Node>();
    n->net = net.get();
    n->id = id;
    n->config.self = id;
    n->config.coordinator = coordinator;
    n->config.own_courier = own;
    n->config.admin_host = kAdmin;
    n->config.admin_courier = kCourier1;
    n->config.installed = kInstalled;
    Node& ref = *n;
    net->nodes.emplace(id.value, std::move(n));
    return ref;
  };
  Node& admin = add(kAdmin, false, kCourier1);
  Node& c1 = add(kCourier1, true, std::nullopt);
  Node& c2 = add(kCourier2, true, std::nullopt);
  admin.config.peers = {kCourier1};
  admin.config.coordinators = {kCourier1};
  c1.config.peers = {kAdmin, kCourier2};
  c1.config.coordinators = {kCourier2};
  c1.config.served = {kAdmin};
  c2.config.peers = {kCourier1};
  c2.config.coordinators = {kCourier1};
  for (Node* n : {&admin, &c1, &c2}) {
    auto spool = daemon::CourierSpool::open(dir + "/" + n->id.to_string());
    if (!spool) fail(spool.error());
    n->spool.emplace(std::move(spool.value()));
  }
  for (int i = 0; i < n_hosts; ++i) {
    Node& h = add(host_n(i), false, courier_of(i));
    h.config.peers = {courier_of(i)};
    h.config.coordinators = {courier_of(i)};
    Node& c = courier_of(i) == kCourier1 ? c1 : c2;
    c.config.peers.push_back(host_n(i));
    c.config.served.push_back(host_n(i));
    h.host_key = &net->host_keys.emplace(host_n(i).value, random_key()).first->second;
  }
  uint64_t boot = 0;
  const int64_t now = now_ns();
  for (auto& [id, n] : net->nodes) {
    n->courier = std::make_unique<courier::Courier>(
        n->config, *n, 0x5000 + boot++, std::vector<std::pair<uint64_t, std::vector<std::byte>>>{}, now);
    n->next_tick = now;
  }
  return net;
}

struct HostsResult {
  double seconds = 0;
  double submit_seconds = 0;   // the administration host's submits (its fsyncs)
  double applied_seconds = 0;  // until the last host applied the change
  uint64_t messages = 0;
  uint64_t spool_stores = 0;
  double spool_store_seconds = 0;
  double package_bytes = 0;
};

HostsResult run_hosts(int n_hosts, const std::string& dir) {
  std::unique_ptr<Net> net = build(n_hosts, dir);
  // The change, built before the clock starts (`cordon admin updates build`).
  std::vector<courier::Item> items;
  double bytes = 0;
  for (int i = 0; i < n_hosts; ++i) {
    items.push_back(package_item(i, make_package(n_hosts, i, kVersion, net->host_keys.at(host_n(i).value))));
    bytes += static_cast<double>(items.back().payload.size());
  }
  // Every daemon starts: each courier's first tick, the hosts' hellos
  // delivered, until the network is quiet.
  for (auto& [id, n] : net->nodes) {
    n->next_tick = n->courier->tick(now_ns());
    net->timers.emplace(n->next_tick, n.get());
  }
  while (!net->queue.empty()) {
    if (!net->step()) net->wait(now_ns() + kNsPerSecond);
  }
  Node& admin = net->at(kAdmin);
  const uint64_t posted_before = net->posted;
  net->spool_stores = 0;
  net->spool_store_ns = 0;
  const int64_t start = now_ns();
  for (courier::Item& item : items) {
    auto done = admin.courier->submit(std::move(item), now_ns());
    if (!done) fail("submit: " + done.error());
  }
  const int64_t submitted = now_ns();
  admin.next_tick = now_ns();
  net->timers.emplace(admin.next_tick, &admin);
  int64_t end = 0;
  while (true) {
    const bool worked = net->step();
    if (net->receipts.size() == static_cast<size_t>(n_hosts)) {
      end = now_ns();
      break;
    }
    if (now_ns() - start > kTimeLimitNs) {
      fail("only " + std::to_string(net->receipts.size()) + " of " + std::to_string(n_hosts) +
           " verified receipts after " + std::to_string(kTimeLimitNs / kNsPerSecond) + " s");
    }
    if (!worked) net->wait(start + kTimeLimitNs + 1);
  }
  HostsResult out;
  out.seconds = seconds(end - start);
  out.submit_seconds = seconds(submitted - start);
  out.applied_seconds = net->applied == n_hosts ? seconds(net->last_applied - start) : 0;
  out.messages = net->posted - posted_before;
  out.spool_stores = net->spool_stores;
  out.spool_store_seconds = seconds(net->spool_store_ns);
  out.package_bytes = bytes / n_hosts;

  // Checks, after the clock: every host applied the version once; the
  // administration host's inbox holds one receipt per host that verifies.
  int wrong = 0;
  for (int i = 0; i < n_hosts; ++i) {
    const Node& h = net->at(host_n(i));
    if (h.applied != 1 || h.installed != kVersion) {
      if (++wrong <= 5) {
        std::fprintf(stderr, "courier_bench: host %s applied version %llu %d times (installed %llu)\n",
                     h.id.to_string().c_str(), static_cast<unsigned long long>(kVersion), h.applied,
                     static_cast<unsigned long long>(h.installed));
      }
    }
  }
  if (wrong > 0) fail(std::to_string(wrong) + " hosts did not apply the change exactly once");
  std::set<uint32_t> verified;
  for (const auto& [meta, encoded] : admin.courier->inbox()) {
    auto item = courier::parse_item(encoded);
    if (!item || item->kind != courier::ItemKind::kReceipt) continue;
    const auto key = net->host_keys.find(item->subject.value);
    if (key == net->host_keys.end()) fail("a receipt from an unknown host " + item->subject.to_string());
    auto r = courier::verify_receipt(item->payload, key->second);
    if (!r) fail("the receipt from " + item->subject.to_string() + " does not verify under its host key");
    if (r->host != item->subject || r->version != kVersion || r->installed != kVersion ||
        r->outcome != courier::Receipt::Outcome::kApplied) {
      fail("the receipt from " + item->subject.to_string() + " does not say version 2 applied");
    }
    verified.insert(r->host.value);
  }
  if (verified.size() != static_cast<size_t>(n_hosts)) {
    fail("the administration host holds " + std::to_string(verified.size()) + " verified receipts, not " +
         std::to_string(n_hosts));
  }
  return out;
}

struct SpoolResult {
  double store_per_s = 0;
  double load_per_s = 0;
  size_t item_bytes = 0;
};

SpoolResult run_spool(int n_items, const std::string& dir) {
  auto spool = daemon::CourierSpool::open(dir + "/spool");
  if (!spool) fail(spool.error());
  // A typical item: a real package of about 1 KB (a host with a dozen or
  // so peers in its address book).
  const crypto::SecretBytes key = random_key();
  std::vector<std::byte> payload = make_package(1000, 0, kVersion, key, 12);
  const std::vector<std::byte> encoded = courier::encode_item(package_item(0, std::move(payload)));
  SpoolResult out;
  out.item_bytes = encoded.size();
  const int64_t start = now_ns();
  for (int i = 0; i < n_items; ++i) {
    std::string error;
    if (!spool->store(static_cast<uint64_t>(i) + 1, encoded, error)) fail("spool store: " + error);
  }
  const int64_t stored = now_ns();
  const daemon::CourierSpool::Loaded loaded = spool->load();
  const int64_t load_end = now_ns();
  if (loaded.items.size() != static_cast<size_t>(n_items) || !loaded.problems.empty()) {
    fail("spool load gave " + std::to_string(loaded.items.size()) + " items and " +
         std::to_string(loaded.problems.size()) + " problems, not " + std::to_string(n_items) + " items");
  }
  for (const auto& [id, bytes] : loaded.items) {
    if (bytes != encoded) fail("spool load: item " + std::to_string(id) + " differs from what was stored");
  }
  out.store_per_s = n_items / seconds(stored - start);
  out.load_per_s = n_items / seconds(load_end - stored);
  return out;
}

int positive(const char* flag, const char* text) {
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || v < 1 || v > 60000) die(std::string(flag) + ": expected 1..60000");
  return static_cast<int>(v);
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--hosts" && i + 1 < argc) {
      opt.hosts = positive("--hosts", argv[++i]);
    } else if (arg == "--spool-items" && i + 1 < argc) {
      opt.spool_items = positive("--spool-items", argv[++i]);
    } else if (arg == "--dir" && i + 1 < argc) {
      opt.dir = argv[++i];
    } else {
      die("usage: courier_bench [--hosts N] [--spool-items N] [--dir DIR]");
    }
  }
  if (auto r = os::init_crypto(); !r) die("crypto: " + r.error().message());
  if (opt.dir.empty()) {
    std::string templ = "/tmp/cordon-courier-bench.XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) die("mkdtemp " + templ + ": " + std::strerror(errno));
    g_temp.path = templ;
    g_temp.owned = true;
    opt.dir = templ;
  } else {
    // A directory of the caller's: ours inside it, removed at exit.
    g_temp.path = opt.dir + "/cordon-courier-bench";
    if (fs::exists(g_temp.path)) die(g_temp.path + " exists; remove it or pick another --dir");
    g_temp.owned = true;
    opt.dir = g_temp.path;
  }

  const HostsResult hosts = run_hosts(opt.hosts, opt.dir + "/hosts");
  std::printf("courier_hosts=%d\n", opt.hosts);
  std::printf("courier_%d_hosts_s=%.3f\n", opt.hosts, hosts.seconds);
  std::printf("courier_%d_hosts_messages=%llu\n", opt.hosts, static_cast<unsigned long long>(hosts.messages));
  std::printf("courier_%d_hosts_package_bytes=%.0f\n", opt.hosts, hosts.package_bytes);
  std::printf("courier_%d_hosts_submit_s=%.3f\n", opt.hosts, hosts.submit_seconds);
  std::printf("courier_%d_hosts_applied_s=%.3f\n", opt.hosts, hosts.applied_seconds);
  std::printf("courier_%d_hosts_spool_stores=%llu\n", opt.hosts, static_cast<unsigned long long>(hosts.spool_stores));
  std::printf("courier_%d_hosts_spool_store_s=%.3f\n", opt.hosts, hosts.spool_store_seconds);
  std::fflush(stdout);

  const SpoolResult spool = run_spool(opt.spool_items, opt.dir);
  std::printf("courier_spool_items=%d\n", opt.spool_items);
  std::printf("courier_spool_item_bytes=%zu\n", spool.item_bytes);
  std::printf("courier_spool_packages_per_s=%.0f\n", spool.store_per_s);
  std::printf("courier_spool_load_packages_per_s=%.0f\n", spool.load_per_s);
  return 0;
}
