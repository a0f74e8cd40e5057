// bench/admin_scale: the administrator at 100,000 hosts (README.md,
// "Benchmark"). A plain program, not Google Benchmark: each phase runs once.
//
// A host ID is a 16-bit network number and a 16-bit host number, so one
// network holds at most 65,535 hosts (docs/design.md, "Administration at
// scale"). 100,000 hosts are therefore two networks of 50,000 by default,
// each in its own database, administered one after the other by this one
// process; their times are added up and the peak memory is the process's.
// In each network:
//
//   1. builds the network: its coordinators, and clients each served by one
//      coordinator (client i -> coordinator (i - 1) % coordinators + 1) and
//      linked to 20 other hosts of the network chosen deterministically (a
//      fixed-seed generator), with one user per host (generated password);
//      every host, link and user key comes from the OS CSPRNG   -> keygen_s
//   2. exports every key set into a temporary directory  -> keysets_export_s
//   3. adds one host with 20 links and times `updates build`
//                                                   -> incremental_rebuild_s
// and prints key=value lines: what was measured (hosts=, networks=,
// hosts_per_network=, coordinators=, clients=, links=, keysets=,
// keysets_mib=), the times (keygen_s= and keysets_export_s=, summed over the
// networks; keysets_total_s=, their sum; incremental_rebuild_s=, the
// slowest network's), peak_rss_mib=, cpu_s= (user + system time of the
// whole run: on a loaded machine the wall-clock times grow, this does not)
// and targets_met=.
// Targets: all key sets, key generation included, in <= 120 s with
// <= 2048 MiB peak RSS; incremental rebuild <= 2 s.
//
// Usage: admin_scale [--hosts N] [--coordinators N] [--networks N]
//                    [--links-per-client N] [--dir DIR]
#include <stdlib.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "admin/admin.hpp"

namespace {

namespace fs = std::filesystem;
using cordon::admin::Admin;

// Host numbers are 16 bits; one more is kept free for the host that step 3
// adds.
constexpr int kMaxHostsPerNetwork = 65'534;
constexpr int kMaxNetworks = 32;  // 10.64.0.0/15, 10.66.0.0/15, ... up to 10.126.0.0/15

struct Options {
  int hosts = 100'000;
  int coordinators = 1'000;
  int networks = 2;
  int links_per_client = 20;
  std::string dir;  // empty: a fresh directory under $TMPDIR
};

// splitmix64: a fixed-seed generator, so every run builds the same network.
struct SplitMix {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double peak_rss_mib() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

double cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

// The share of `total` that network `k` (0-based) of `n` gets.
int share(int total, int n, int k) { return total / n + (k < total % n ? 1 : 0); }

// What one network measured.
struct NetworkRun {
  int64_t hosts = 0, coordinators = 0, links = 0;
  size_t keysets = 0;
  uintmax_t keyset_bytes = 0;
  double keygen_s = 0, export_s = 0, rebuild_s = 0;
  size_t packages = 0, awaiting_keyset = 0;
};

class NetworkBench {
 public:
  NetworkBench(const std::string& dir, int k, int hosts, int coordinators, int links_per_client)
      : dir_(dir), k_(k), hosts_(hosts), coordinators_(coordinators), links_per_client_(links_per_client) {}

  NetworkRun run() {
    fs::create_directories(dir_);
    Admin admin = Admin::init(dir_ + "/admin.db", spec());
    NetworkRun r;
    const auto t_keys = std::chrono::steady_clock::now();
    build(admin);
    r.keygen_s = seconds_since(t_keys);
    const cordon::admin::NetworkInfo info = admin.network_info();
    r.hosts = info.hosts;
    r.coordinators = info.coordinators;
    r.links = info.links;

    const auto t_export = std::chrono::steady_clock::now();
    const auto keysets = admin.export_all_keysets(dir_ + "/keysets");
    r.export_s = seconds_since(t_export);
    r.keysets = keysets.size();
    for (const auto& k : keysets) r.keyset_bytes += fs::file_size(k.path);

    // One more host with 20 links, then the incremental rebuild.
    const int extra = hosts_ + 1;
    admin.add_host(host_spec(extra, 1));
    SplitMix rng{7};
    for (int peer : peers_of(rng, extra, 1)) admin.add_link(id(admin, extra), id(admin, peer));
    const auto t_build = std::chrono::steady_clock::now();
    const cordon::admin::BuildResult built = admin.build_updates(dir_ + "/updates");
    r.rebuild_s = seconds_since(t_build);
    r.packages = built.packages.size();
    r.awaiting_keyset = built.awaiting_keyset.size();
    return r;
  }

 private:
  cordon::admin::NetworkSpec spec() const {
    cordon::admin::NetworkSpec net;
    net.number = static_cast<uint16_t>(k_ + 1);
    net.name = fmt::format("scale-{}", k_ + 1);
    // A /15: room for the host numbers and the extra host of step 3.
    net.ipv4 = *cordon::Prefix::parse(fmt::format("10.{}.0.0/15", 64 + 2 * k_));
    net.ipv6 = *cordon::Prefix::parse(fmt::format("fd64:0:0:{:x}::/64", k_ + 1));
    return net;
  }

  static std::string id(Admin& admin, int number) { return admin.host_id(static_cast<uint16_t>(number)).to_string(); }

  int coordinator_of(int n) const { return (n - 1) % coordinators_ + 1; }

  // Host `n` (1-based within the network); `coordinator` 0 makes a coordinator.
  cordon::admin::HostSpec host_spec(int n, int coordinator) const {
    cordon::admin::HostSpec s;
    if (coordinator == 0) {
      s.name = fmt::format("coord-{}", n);
      s.role = cordon::admin::Role::kCoordinator;
      const int g = k_ * kMaxHostsPerNetwork + n;  // distinct across networks
      s.endpoints.push_back(*cordon::Endpoint::parse(fmt::format("198.18.{}.{}:51820", g / 250 % 256, g % 250 + 1)));
    } else {
      s.name = fmt::format("client-{}", n);
      s.role = cordon::admin::Role::kClient;
      s.coordinators.coordinator = cordon::HostId{static_cast<uint32_t>((k_ + 1) << 16 | coordinator)}
                                       .to_string();
    }
    return s;
  }

  // `links_per_client_` distinct hosts for `self`, sorted, not itself and
  // not its coordinator (already linked).
  std::vector<int> peers_of(SplitMix& rng, int self, int coordinator) const {
    std::set<int> chosen;
    while (static_cast<int>(chosen.size()) < links_per_client_) {
      const int n = static_cast<int>(rng.next() % static_cast<uint64_t>(hosts_)) + 1;
      if (n != self && n != coordinator) chosen.insert(n);
    }
    return {chosen.begin(), chosen.end()};
  }

  // The network and all its keys, in one transaction.
  void build(Admin& admin) {
    Admin::Batch batch(admin);
    for (int c = 1; c <= coordinators_; ++c) admin.add_host(host_spec(c, 0));
    for (int n = coordinators_ + 1; n <= hosts_; ++n) admin.add_host(host_spec(n, coordinator_of(n)));
    for (int n = 1; n <= hosts_; ++n) admin.add_user_generated(admin.host_id(static_cast<uint16_t>(n)), "user");
    SplitMix rng{42};
    // chosen[n]: the peers client n chose, sorted; a pair the other end
    // chose first is linked already.
    std::vector<std::vector<int>> chosen(static_cast<size_t>(hosts_) + 1);
    for (int n = coordinators_ + 1; n <= hosts_; ++n) {
      chosen[static_cast<size_t>(n)] = peers_of(rng, n, coordinator_of(n));
      for (int peer : chosen[static_cast<size_t>(n)]) {
        const auto& other = chosen[static_cast<size_t>(peer)];
        if (peer < n && std::binary_search(other.begin(), other.end(), n)) continue;
        admin.add_link(id(admin, n), id(admin, peer));
      }
    }
    batch.commit();
  }

  std::string dir_;
  int k_, hosts_, coordinators_, links_per_client_;
};

std::string make_dir(const Options& o) {
  if (!o.dir.empty()) return o.dir;
  std::string templ = (fs::temp_directory_path() / "cordon-admin-scale-XXXXXX").string();
  if (::mkdtemp(templ.data()) == nullptr) {
    std::perror("mkdtemp");
    std::exit(1);
  }
  return templ;
}

int run(const Options& o) {
  const std::string dir = make_dir(o);
  struct Cleanup {
    std::string dir;
    bool owned;
    ~Cleanup() {
      std::error_code ec;
      if (owned) fs::remove_all(dir, ec);
    }
  } cleanup{dir, o.dir.empty()};

  NetworkRun total;
  for (int k = 0; k < o.networks; ++k) {
    NetworkBench bench(fmt::format("{}/network-{}", dir, k + 1), k, share(o.hosts, o.networks, k),
                       share(o.coordinators, o.networks, k), o.links_per_client);
    const NetworkRun r = bench.run();
    total.hosts += r.hosts;  // before step 3 added its host
    total.coordinators += r.coordinators;
    total.links += r.links;
    total.keysets += r.keysets;
    total.keyset_bytes += r.keyset_bytes;
    total.keygen_s += r.keygen_s;
    total.export_s += r.export_s;
    total.rebuild_s = std::max(total.rebuild_s, r.rebuild_s);
    total.packages += r.packages;
    total.awaiting_keyset += r.awaiting_keyset;
  }
  const double rss = peak_rss_mib();
  const double keysets_total_s = total.keygen_s + total.export_s;

  fmt::print("hosts={}\n", total.hosts);
  fmt::print("networks={}\n", o.networks);
  fmt::print("hosts_per_network={}\n", share(o.hosts, o.networks, 0));
  fmt::print("coordinators={}\n", total.coordinators);
  fmt::print("clients={}\n", total.hosts - total.coordinators);
  fmt::print("links={}\n", total.links);
  fmt::print("keysets={}\n", total.keysets);
  fmt::print("keysets_mib={:.1f}\n", static_cast<double>(total.keyset_bytes) / (1024.0 * 1024.0));
  fmt::print("keygen_s={:.3f}\n", total.keygen_s);
  fmt::print("keysets_export_s={:.3f}\n", total.export_s);
  fmt::print("keysets_total_s={:.3f}\n", keysets_total_s);
  fmt::print("peak_rss_mib={:.1f}\n", rss);
  fmt::print("incremental_rebuild_s={:.3f}\n", total.rebuild_s);
  fmt::print("packages={}\n", total.packages);
  fmt::print("awaiting_keyset={}\n", total.awaiting_keyset);
  fmt::print("cpu_s={:.1f}\n", cpu_seconds());
  const bool ok = keysets_total_s <= 120.0 && rss <= 2048.0 && total.rebuild_s <= 2.0;
  fmt::print("targets_met={}\n", ok ? "yes" : "no");
  return ok ? 0 : 1;
}

bool valid(const Options& o) {
  if (o.networks < 1 || o.networks > kMaxNetworks || o.links_per_client < 0) return false;
  for (int k = 0; k < o.networks; ++k) {
    const int hosts = share(o.hosts, o.networks, k);
    const int coordinators = share(o.coordinators, o.networks, k);
    if (coordinators < 1 || hosts <= coordinators || hosts > kMaxHostsPerNetwork) return false;
    if (o.links_per_client >= hosts - 1) return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> int {
      if (i + 1 >= argc) {
        fmt::print(stderr, "admin_scale: {} needs a value\n", arg);
        std::exit(2);
      }
      return std::stoi(argv[++i]);
    };
    if (arg == "--hosts") {
      o.hosts = value();
    } else if (arg == "--coordinators") {
      o.coordinators = value();
    } else if (arg == "--networks") {
      o.networks = value();
    } else if (arg == "--links-per-client") {
      o.links_per_client = value();
    } else if (arg == "--dir" && i + 1 < argc) {
      o.dir = argv[++i];
    } else {
      fmt::print(stderr,
                 "usage: admin_scale [--hosts N] [--coordinators N] [--networks N] [--links-per-client N] "
                 "[--dir DIR]\n");
      return 2;
    }
  }
  if (!valid(o)) {
    fmt::print(stderr,
               "admin_scale: each of the {} network(s) needs 1 <= coordinators < hosts <= {} (a host number is "
               "16 bits; give more --networks) and links-per-client < hosts - 1; at most {} networks\n",
               o.networks, kMaxHostsPerNetwork, kMaxNetworks);
    return 2;
  }
  try {
    return run(o);
  } catch (const cordon::admin::AdminError& e) {
    fmt::print(stderr, "admin_scale: {}\n", e.what());
    return 1;
  }
}
