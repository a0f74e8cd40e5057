// The real-kernel test tier's harness: network namespaces, veth underlays,
// processes run inside them, packet captures, and a pair of `cordon up`
// daemons joined by a tunnel (CordonPair).
//
// Rules it enforces for every netns test, so that the tier is safe to run
// as root on a developer's machine:
//  - Every namespace is created here, named `cordon-<tag>-<pid>-<random>`,
//    and deleted in the destructor, also when the test fails.
//  - Addresses are private test ranges assigned inside our namespaces only
//    (underlay 10.200.0.0/24 and fd00:200::/64, tunnel 10.77.0.0/24 and
//    fd77::/64); nothing is sent outside them or loopback.
//  - A Process stops only the PID it started: SIGTERM, then SIGKILL.
//  - Nothing waits with a fixed sleep: poll_until polls a predicate with
//    short waits until a deadline.
//
// Set-up failures throw std::runtime_error; GoogleTest reports the message
// and the RAII members still clean up.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <gtest/gtest.h>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cordon::netns {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;
using namespace std::chrono_literals;

inline Deadline deadline_in(Clock::duration d) { return Clock::now() + d; }

// Calls `done` until it returns true or the deadline passes; between calls it
// waits `step`. Returns the last result of `done`.
bool poll_until(Deadline deadline, const std::function<bool()>& done,
                std::chrono::milliseconds step = 20ms);

// The environment of the netns tier. Both are set by CTest.
fs::path cordon_bin();   // $CORDON_BIN
bool netns_available();  // root and $CORDON_BIN set; otherwise tests skip
std::string skip_reason();

// The base of every netns test: skips (with the reason) when not root or
// when $CORDON_BIN is unset.
class NetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!netns_available()) GTEST_SKIP() << skip_reason();
  }
};

// ---------------------------------------------------------------------------
// Namespaces

class Namespace {
 public:
  // `tag` says which test made it (shows up in `ip netns list` if a test
  // binary is killed before it can clean up).
  explicit Namespace(std::string_view tag);
  ~Namespace();
  Namespace(const Namespace&) = delete;
  Namespace& operator=(const Namespace&) = delete;

  const std::string& name() const { return name_; }
  int fd() const { return fd_; }  // for setns(2)

 private:
  std::string name_;
  int fd_ = -1;
};

struct RunResult {
  int exit_code = -1;  // -1 when killed by a signal or the timeout
  int term_signal = 0;
  bool timed_out = false;
  std::string out, err;

  bool ok() const { return exit_code == 0; }
  std::string describe() const;  // command outcome and output, for messages
};

// Runs argv (argv[0] looked up in PATH) inside `ns` (nullptr: the test's own
// namespace) with stdin from /dev/null, capturing stdout and stderr. Kills
// the child if it runs past `timeout`.
RunResult run(const Namespace* ns, const std::vector<std::string>& argv,
              Clock::duration timeout = 60s);
// Like run(), but throws with the output when the command fails.
RunResult run_checked(const Namespace* ns, const std::vector<std::string>& argv,
                      Clock::duration timeout = 60s);
std::string join(const std::vector<std::string>& argv);

// The underlay: a veth pair `ul0` between two namespaces.
enum class Family { kV4, kV6 };
struct Underlay {
  std::string iface = "ul0";
  std::string a_v4 = "10.200.0.1", b_v4 = "10.200.0.2";
  std::string a_v6 = "fd00:200::1", b_v6 = "fd00:200::2";
  bool v4 = true, v6 = true;  // which families get addresses

  std::string a_address(Family f) const { return f == Family::kV4 ? a_v4 : a_v6; }
  std::string b_address(Family f) const { return f == Family::kV4 ? b_v4 : b_v6; }
};
// Creates the pair directly inside the namespaces (the names never appear in
// the test's own namespace), assigns addresses and brings both ends up.
void connect_veth(const Namespace& a, const Namespace& b, const Underlay& u);

// An underlay for more than two namespaces: a bridge `br0` in a namespace
// of its own (the "switch"), and one veth pair per member, `ul0` inside the
// member and `pN` on the bridge. Member i (0-based) gets 10.200.0.(i+1)/24
// and fd00:200::(i+1)/64 on its `ul0`. The switch namespace is deleted with
// the Lan; the members' ends go with their own namespaces.
class Lan {
 public:
  Lan(std::string_view tag, const std::vector<const Namespace*>& members);
  Lan(const Lan&) = delete;
  Lan& operator=(const Lan&) = delete;

  static constexpr const char* kIface = "ul0";
  static std::string v4(size_t member);  // "10.200.0.1" for member 0
  static std::string v6(size_t member);  // "fd00:200::1" for member 0
  const Namespace& bridge() const { return *switch_; }

 private:
  std::unique_ptr<Namespace> switch_;
};

// "host:port" in endpoint syntax: "10.0.0.1:5" or "[fd00::1]:5".
std::string endpoint_text(const std::string& address, uint16_t port);

// ---------------------------------------------------------------------------
// Processes

// A long-running command inside a namespace. stdout and stderr go to `log`.
// The destructor stops it (SIGTERM, then SIGKILL after a grace period) and,
// if the current test failed, prints the log.
class Process {
 public:
  Process(const Namespace* ns, const std::vector<std::string>& argv, fs::path log,
          std::string label);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& label() const { return label_; }
  const fs::path& log_path() const { return log_; }
  std::string log_text() const;

  // False once the process has exited (it is reaped then).
  bool running();
  // Waits until it exits or the deadline passes; returns the wait status.
  std::optional<int> wait_exit(Deadline deadline);
  void signal(int sig);
  // SIGTERM, wait up to `grace`, then SIGKILL. Returns the wait status.
  int stop(Clock::duration grace = 5s);
  // Exit code (or -signal) after the process has exited; nullopt before.
  std::optional<int> exit_code() const;

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
  fs::path log_;
  std::string label_;
};

// Prints a log file with a heading (used when a test fails).
void print_log(const std::string& label, const fs::path& log);

// ---------------------------------------------------------------------------
// Files

// A private temporary directory, removed with everything in it.
class TempDir {
 public:
  explicit TempDir(std::string_view tag);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(std::string_view name) const { return path_ / name; }

 private:
  fs::path path_;
};

void write_file(const fs::path& path, std::string_view content, unsigned mode = 0644);
std::string read_file(const fs::path& path);
bool file_contains(const fs::path& path, std::string_view needle);

// A link key made by `$CORDON_BIN genkey --out PATH`.
fs::path genkey(const fs::path& path);

// ---------------------------------------------------------------------------
// Cordon configuration (the TOML format of `cordon up -c FILE`).

struct PeerSpec {
  std::string id;
  std::string name;
  std::optional<std::string> endpoint;
  fs::path key_file;
  std::vector<std::string> allowed_prefixes;
  std::string suite;   // empty: the default
  int keepalive = -1;  // -1: the default
};

struct NodeSpec {
  std::string id;
  std::string interface = "cordon0";
  std::vector<std::string> addresses;
  int mtu = 1420;
  int listen_port = 51820;
  std::string listen_address;  // empty: the default
  fs::path state_dir;
  fs::path control_socket;
  std::string log_level = "info";
  std::optional<bool> offloads;  // unset: the default (on)
  unsigned workers = 0;          // 0: the default (one per core)
  int rekey_period = -1;         // host.rekey_period in seconds; -1: the default
  std::string size_classes;      // host.size_classes; empty: the default (off)
  std::vector<PeerSpec> peers;
  std::string extra;             // appended to the file as is, e.g. a [metrics] table
};

// Writes `offloads` when the spec sets it or the environment forces it:
// CORDON_TEST_OFFLOADS=on|off (the ctest entry netns_tests_offloads_off
// runs the tunnel tests again with offloads off).
std::string render_config(const NodeSpec& spec);
std::optional<bool> forced_offloads();

// ---------------------------------------------------------------------------
// `cordon status --json`

// Runs `cordon status --json -s SOCKET` inside `ns`.
RunResult status_command(const Namespace& ns, const fs::path& control_socket);
// Parsed status; throws when the command fails or prints no JSON.
nlohmann::json status_json(const Namespace& ns, const fs::path& control_socket);
// The peer object with host ID `id` ("0x0001000b"), or nullptr.
const nlohmann::json* find_peer(const nlohmann::json& status, std::string_view id);
// A drop counter summed over the node and all its peers.
uint64_t drop_count(const nlohmann::json& status, std::string_view reason);
// The endpoint a peer is known at, as the daemon prints it.
std::optional<std::string> peer_endpoint(const nlohmann::json& status, std::string_view id);
// A numeric field of a peer (0 when absent).
uint64_t peer_counter(const nlohmann::json& status, std::string_view id, std::string_view field);

// ---------------------------------------------------------------------------
// Traffic and captures

// One `ping -c 1 -W 1` from inside `ns`.
bool ping_once(const Namespace& ns, const std::string& address);
// Polls ping_once until it answers or the deadline passes.
bool wait_for_ping(const Namespace& ns, const std::string& address, Deadline deadline);

struct PingStats {
  int transmitted = -1, received = -1;
  int time_ms = -1;  // from the first echo to the last one sent; -1 when not printed
};
// Parses "N packets transmitted, M received[, ...], time Tms" from ping's summary.
std::optional<PingStats> parse_ping_stats(std::string_view output);

// tcpdump writing a pcap inside a namespace; the constructor returns once
// tcpdump reports it is listening.
class Capture {
 public:
  Capture(const Namespace& ns, const std::string& iface, fs::path pcap, const fs::path& log,
          const std::string& filter = "");
  // Stops tcpdump (SIGTERM flushes the file) and waits for it.
  void stop();
  const fs::path& pcap() const { return pcap_; }

 private:
  fs::path pcap_;
  std::unique_ptr<Process> tcpdump_;
};

struct UdpPacket {
  std::string src, dst;  // addresses as text
  uint16_t sport = 0, dport = 0;
  std::vector<uint8_t> payload;
};
// Reads the UDP datagrams of a pcap file (Ethernet, or Linux cooked, or raw
// IP link types; IPv4 and IPv6). Bounds-checked; malformed records stop the
// read.
std::vector<UdpPacket> read_pcap_udp(const fs::path& pcap);
// Number of packet records in a pcap file.
size_t pcap_packet_count(const fs::path& pcap);

// Sends each payload as one UDP datagram to address:port from a fresh socket
// inside `ns` (a forked child that setns()es into it), bound to `source` if
// given (an address the test assigned in `ns`). Returns how many were sent.
size_t send_udp_from(const Namespace& ns, const std::string& address, uint16_t port,
                     const std::vector<std::vector<uint8_t>>& payloads, const std::string& source = "");

// Waits until something in `ns` listens on TCP `port` (for iperf3 -s).
bool wait_for_tcp_listener(const Namespace& ns, uint16_t port, Deadline deadline);

// ---------------------------------------------------------------------------
// CordonPair: two namespaces A and B on a veth underlay, each running
// `cordon up`. A knows B's endpoint, B learns A's from A's first packet.

struct PairOptions {
  std::string tag = "pair";
  Family underlay = Family::kV4;
  bool mismatched_keys = false;  // A and B hold different link keys
  std::string suite;             // empty: the default suite
  int keepalive = -1;            // -1: the default
  std::optional<bool> offloads;  // both daemons' `offloads`; unset: the default (on)
  unsigned workers = 0;          // both daemons' `workers`; 0: the default
  int rekey_period = -1;         // both daemons' `rekey_period`; -1: the default
  std::string size_classes;      // both daemons' `size_classes`; empty: the default (off)
  std::string extra_a, extra_b;  // NodeSpec::extra of A and of B
};

class CordonPair {
 public:
  static constexpr const char* kIdA = "0x0001000a";
  static constexpr const char* kIdB = "0x0001000b";
  static constexpr const char* kTunA4 = "10.77.0.1";
  static constexpr const char* kTunB4 = "10.77.0.2";
  static constexpr const char* kTunA6 = "fd77::1";
  static constexpr const char* kTunB6 = "fd77::2";
  static constexpr uint16_t kPort = 51820;

  explicit CordonPair(PairOptions options = {});
  ~CordonPair();

  Namespace& a() { return *ns_a_; }
  Namespace& b() { return *ns_b_; }
  TempDir& dir() { return *dir_; }
  const Underlay& underlay() const { return underlay_; }
  Family family() const { return options_.underlay; }
  std::string a_underlay() const { return underlay_.a_address(options_.underlay); }
  std::string b_underlay() const { return underlay_.b_address(options_.underlay); }

  const fs::path& config_a() const { return config_a_; }
  const fs::path& config_b() const { return config_b_; }
  NodeSpec& spec_a() { return spec_a_; }
  NodeSpec& spec_b() { return spec_b_; }
  // Rewrites a config file from its spec (for reload tests).
  void rewrite_config_a();

  Process& daemon_a() { return *daemon_a_; }
  Process& daemon_b() { return *daemon_b_; }
  // Starts (or restarts) a daemon and waits until its status answers and its
  // tunnel device is up. Throws with the log on failure.
  void start_a();
  void start_b();
  // Drops the Process without signalling (after a kill -9 by the test).
  void forget_a();

  nlohmann::json status_a() { return status_json(*ns_a_, spec_a_.control_socket); }
  nlohmann::json status_b() { return status_json(*ns_b_, spec_b_.control_socket); }

  // Polls until A reaches B through the tunnel (and so B has learnt A).
  bool wait_for_tunnel(Deadline deadline);

  // A path inside the pair's temp dir for a log or pcap.
  fs::path file(std::string_view name) const { return dir_->path() / name; }

 private:
  void start(std::unique_ptr<Process>& slot, Namespace& ns, const fs::path& config,
             const fs::path& control_socket, const std::string& label, int start_no);

  PairOptions options_;
  Underlay underlay_;
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<Namespace> ns_a_, ns_b_;
  NodeSpec spec_a_, spec_b_;
  fs::path config_a_, config_b_;
  std::unique_ptr<Process> daemon_a_, daemon_b_;
  int starts_a_ = 0, starts_b_ = 0;
};

// Waits for a daemon in `ns`: its status answers on `control_socket` and
// `iface` exists. Returns false (with the reason in *why) if `daemon` exits.
bool wait_for_daemon(const Namespace& ns, const fs::path& control_socket, const std::string& iface,
                     Process& daemon, Deadline deadline, std::string* why);

// A host of a managed test network (the courier and console tests): its
// exported key set is installed in `state` with its password file, and
// its config written (interface cordon0, `port`, `socket`, plus `extra`
// [host] keys). Throws with the install's output if it fails.
struct ManagedHostFiles {
  fs::path keyset, password, state, config, socket;
};
void install_managed_host(const Namespace& ns, const ManagedHostFiles& files, uint16_t port,
                          const std::string& extra = "");
// Starts `cordon up -c config` in `ns` and waits until it serves; throws
// with its log if it does not.
std::unique_ptr<Process> start_managed_daemon(const Namespace& ns, const ManagedHostFiles& files,
                                              const fs::path& log, const std::string& name);

}  // namespace cordon::netns
