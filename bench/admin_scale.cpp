// bench/admin_scale: the administrator at 10,000 hosts (README.md,
// "Benchmark"). A plain program, not Google Benchmark: each phase runs once.
//
//   1. builds the network: 100 coordinators; 9,900 clients, each served by
//      one coordinator (client i -> coordinator i % 100) and linked to 20
//      other hosts chosen deterministically (a fixed-seed generator), with
//      one user per host (generated password); every host, link and user
//      key comes from the OS CSPRNG                         -> keygen_s
//   2. exports every key set into a temporary directory    -> keysets_export_s
//   3. adds one host with 20 links and times `updates build`
//                                                          -> incremental_rebuild_s
// and prints key=value lines (hosts=, links=, keysets=, keygen_s=,
// keysets_export_s=, peak_rss_mib=, incremental_rebuild_s=, packages=).
// Targets: all key sets in <= 120 s with <= 1024 MiB peak RSS; incremental
// rebuild <= 2 s.
//
// Usage: admin_scale [--hosts N] [--coordinators N] [--links-per-client N] [--dir DIR]
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

#include <fmt/format.h>

#include "admin/admin.hpp"

namespace {

namespace fs = std::filesystem;
using cordon::HostId;
using cordon::admin::Admin;

struct Options {
  int hosts = 10'000;
  int coordinators = 100;
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

cordon::admin::HostSpec spec(const std::string& name, bool coordinator, int index, std::optional<std::string> coord) {
  cordon::admin::HostSpec s;
  s.name = name;
  s.role = coordinator ? cordon::admin::Role::kCoordinator : cordon::admin::Role::kClient;
  if (coordinator) {
    s.endpoints.push_back(*cordon::Endpoint::parse(fmt::format("198.18.{}.{}:51820", index / 250, index % 250 + 1)));
  }
  if (coord) s.coordinators.coordinator = *coord;
  return s;
}

// `count` distinct hosts for `self` (host numbers 1..hosts), not itself and
// not its coordinator (already linked).
std::vector<int> peers_of(SplitMix& rng, int self, int coordinator, int hosts, int count) {
  std::set<int> chosen;
  while (static_cast<int>(chosen.size()) < count) {
    const int n = static_cast<int>(rng.next() % static_cast<uint64_t>(hosts)) + 1;
    if (n != self && n != coordinator) chosen.insert(n);
  }
  return {chosen.begin(), chosen.end()};
}

int run(const Options& o) {
  std::string dir = o.dir;
  if (dir.empty()) {
    std::string templ = (fs::temp_directory_path() / "cordon-admin-scale-XXXXXX").string();
    if (::mkdtemp(templ.data()) == nullptr) {
      std::perror("mkdtemp");
      return 1;
    }
    dir = templ;
  }
  struct Cleanup {
    std::string dir;
    bool owned;
    ~Cleanup() {
      std::error_code ec;
      if (owned) fs::remove_all(dir, ec);
    }
  } cleanup{dir, o.dir.empty()};

  cordon::admin::NetworkSpec net;
  net.number = 1;
  net.name = "scale";
  net.ipv4 = *cordon::Prefix::parse("10.64.0.0/16");
  net.ipv6 = *cordon::Prefix::parse("fd64::/64");
  Admin admin = Admin::init(dir + "/admin.db", net);
  auto id = [&](int number) { return admin.host_id(static_cast<uint16_t>(number)).to_string(); };

  // 1. The network and all its keys, in one transaction.
  const auto t_keys = std::chrono::steady_clock::now();
  size_t links = 0;
  {
    Admin::Batch batch(admin);
    for (int c = 1; c <= o.coordinators; ++c) {
      admin.add_host(spec(fmt::format("coord-{}", c), true, c, std::nullopt));
    }
    for (int n = o.coordinators + 1; n <= o.hosts; ++n) {
      const int coordinator = (n - 1) % o.coordinators + 1;
      admin.add_host(spec(fmt::format("client-{}", n), false, n, id(coordinator)));
    }
    for (int n = 1; n <= o.hosts; ++n) admin.add_user_generated(admin.host_id(static_cast<uint16_t>(n)), "user");
    SplitMix rng{42};
    std::set<std::pair<int, int>> done;
    for (int n = o.coordinators + 1; n <= o.hosts; ++n) {
      const int coordinator = (n - 1) % o.coordinators + 1;
      for (int peer : peers_of(rng, n, coordinator, o.hosts, o.links_per_client)) {
        // The other host may already have chosen this one.
        const std::pair<int, int> pair{std::min(n, peer), std::max(n, peer)};
        if (!done.insert(pair).second) continue;
        admin.add_link(id(n), id(peer));
      }
    }
    batch.commit();
  }
  const double keygen_s = seconds_since(t_keys);
  const cordon::admin::NetworkInfo info = admin.network_info();
  links = static_cast<size_t>(info.links);

  // 2. Every key set.
  const auto t_export = std::chrono::steady_clock::now();
  const auto keysets = admin.export_all_keysets(dir + "/keysets");
  const double export_s = seconds_since(t_export);
  const double rss = peak_rss_mib();

  // 3. One more host with 20 links, then the incremental rebuild.
  const int extra = o.hosts + 1;
  admin.add_host(spec(fmt::format("client-{}", extra), false, extra, id(1)));
  SplitMix rng{7};
  for (int peer : peers_of(rng, extra, 1, o.hosts, o.links_per_client)) admin.add_link(id(extra), id(peer));
  const auto t_build = std::chrono::steady_clock::now();
  const cordon::admin::BuildResult built = admin.build_updates(dir + "/updates");
  const double build_s = seconds_since(t_build);

  fmt::print("hosts={}\n", info.hosts);
  fmt::print("coordinators={}\n", info.coordinators);
  fmt::print("links={}\n", links);
  fmt::print("keysets={}\n", keysets.size());
  fmt::print("keygen_s={:.3f}\n", keygen_s);
  fmt::print("keysets_export_s={:.3f}\n", export_s);
  fmt::print("peak_rss_mib={:.1f}\n", rss);
  fmt::print("incremental_rebuild_s={:.3f}\n", build_s);
  fmt::print("packages={}\n", built.packages.size());
  fmt::print("awaiting_keyset={}\n", built.awaiting_keyset.size());
  const bool ok = export_s <= 120.0 && rss <= 1024.0 && build_s <= 2.0;
  fmt::print("targets_met={}\n", ok ? "yes" : "no");
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        fmt::print(stderr, "admin_scale: {} needs a value\n", arg);
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--hosts") {
      o.hosts = std::stoi(value());
    } else if (arg == "--coordinators") {
      o.coordinators = std::stoi(value());
    } else if (arg == "--links-per-client") {
      o.links_per_client = std::stoi(value());
    } else if (arg == "--dir") {
      o.dir = value();
    } else {
      fmt::print(stderr, "usage: admin_scale [--hosts N] [--coordinators N] [--links-per-client N] [--dir DIR]\n");
      return 2;
    }
  }
  if (o.coordinators < 1 || o.hosts <= o.coordinators || o.hosts > 65000 || o.links_per_client >= o.hosts - 1) {
    fmt::print(stderr, "admin_scale: need 1 <= coordinators < hosts <= 65000 and links-per-client < hosts - 1\n");
    return 2;
  }
  try {
    return run(o);
  } catch (const cordon::admin::AdminError& e) {
    fmt::print(stderr, "admin_scale: {}\n", e.what());
    return 1;
  }
}
