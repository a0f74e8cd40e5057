#include "tests/netns/netns_harness.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace cordon::netns {

namespace {

std::runtime_error failure(const std::string& what) { return std::runtime_error(what); }

std::string errno_text(int err) { return std::strerror(err); }

// argv[0] resolved against PATH in the parent, so the child only has to
// execv (no allocation between fork and exec).
std::string find_in_path(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* env = std::getenv("PATH");
  std::string path = env ? env : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  // Tools such as ip, sysctl and tcpdump live in sbin, which a non-login
  // PATH may lack.
  path += ":/usr/sbin:/sbin";
  std::stringstream ss(path);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (dir.empty()) continue;
    std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return name;
}

struct CArgv {
  std::string exe;
  std::vector<std::string> storage;
  std::vector<char*> ptrs;

  explicit CArgv(const std::vector<std::string>& argv) : storage(argv) {
    if (argv.empty()) throw failure("run: empty argv");
    exe = find_in_path(argv[0]);
    for (auto& s : storage) ptrs.push_back(s.data());
    ptrs.push_back(nullptr);
  }
};

// In the child after fork: die with the test binary, enter the namespace,
// exec. Only async-signal-safe calls.
[[noreturn]] void exec_child(int ns_fd, const CArgv& argv) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (ns_fd >= 0 && ::setns(ns_fd, CLONE_NEWNET) != 0) {
    static const char msg[] = "netns harness: setns failed\n";
    (void)!::write(2, msg, sizeof msg - 1);
    ::_exit(126);
  }
  ::execv(argv.exe.c_str(), argv.ptrs.data());
  static const char msg[] = "netns harness: exec failed\n";
  (void)!::write(2, msg, sizeof msg - 1);
  ::_exit(127);
}

std::string random_suffix() {
  std::random_device rd;
  std::uniform_int_distribution<uint32_t> dist(0, 0xffffff);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%06x", dist(rd));
  return buf;
}

std::string toml_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string toml_array(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + toml_string(items[i]);
  return out + "]";
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

}  // namespace

bool poll_until(Deadline deadline, const std::function<bool()>& done,
                std::chrono::milliseconds step) {
  for (;;) {
    if (done()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(step);
  }
}

fs::path cordon_bin() {
  const char* bin = std::getenv("CORDON_BIN");
  if (!bin || !*bin) throw failure("CORDON_BIN is not set (CTest sets it to the cordon binary)");
  return bin;
}

bool netns_available() { return skip_reason().empty(); }

std::string skip_reason() {
  if (::geteuid() != 0) return "netns tests need root (ip netns, TUN, tcpdump)";
  const char* bin = std::getenv("CORDON_BIN");
  if (!bin || !*bin) return "CORDON_BIN is not set; run through ctest";
  if (::access(bin, X_OK) != 0) return std::string("CORDON_BIN is not executable: ") + bin;
  return "";
}

// ---------------------------------------------------------------------------

Namespace::Namespace(std::string_view tag)
    : name_("cordon-" + std::string(tag) + "-" + std::to_string(::getpid()) + "-" +
            random_suffix()) {
  run_checked(nullptr, {"ip", "netns", "add", name_});
  std::string path = "/run/netns/" + name_;
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    int err = errno;
    run(nullptr, {"ip", "netns", "del", name_});
    throw failure("open " + path + ": " + errno_text(err));
  }
  run_checked(this, {"ip", "link", "set", "lo", "up"});
}

Namespace::~Namespace() {
  if (fd_ >= 0) ::close(fd_);
  RunResult r = run(nullptr, {"ip", "netns", "del", name_});
  if (!r.ok()) std::cerr << "netns harness: could not delete " << name_ << ": " << r.describe();
}

std::string RunResult::describe() const {
  std::string s;
  if (timed_out)
    s = "timed out";
  else if (exit_code >= 0)
    s = "exit code " + std::to_string(exit_code);
  else
    s = "killed by signal " + std::to_string(term_signal);
  s += "\n--- stdout ---\n" + out + "\n--- stderr ---\n" + err + "\n";
  return s;
}

std::string join(const std::vector<std::string>& argv) {
  std::string s;
  for (size_t i = 0; i < argv.size(); ++i) s += (i ? " " : "") + argv[i];
  return s;
}

RunResult run(const Namespace* ns, const std::vector<std::string>& argv, Clock::duration timeout) {
  CArgv cargv(argv);
  int outp[2], errp[2];
  if (::pipe2(outp, O_CLOEXEC) != 0) throw failure("pipe: " + errno_text(errno));
  if (::pipe2(errp, O_CLOEXEC) != 0) {
    ::close(outp[0]);
    ::close(outp[1]);
    throw failure("pipe: " + errno_text(errno));
  }
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t pid = ::fork();
  if (pid < 0) throw failure("fork: " + errno_text(errno));
  if (pid == 0) {
    ::dup2(devnull, 0);
    ::dup2(outp[1], 1);
    ::dup2(errp[1], 2);
    exec_child(ns ? ns->fd() : -1, cargv);
  }
  ::close(devnull);
  ::close(outp[1]);
  ::close(errp[1]);

  RunResult result;
  Deadline deadline = Clock::now() + timeout;
  pollfd fds[2] = {{outp[0], POLLIN, 0}, {errp[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  int status = 0;
  bool exited = false;
  char buf[65536];
  while (open_fds > 0) {
    if (Clock::now() >= deadline) {
      result.timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    int n = ::poll(fds, 2, 50);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        sinks[i]->append(buf, static_cast<size_t>(got));
      } else if (got == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
    // A grandchild (a daemon the command left behind) may hold the pipes
    // open; stop reading once the child itself has exited and the pipes
    // have nothing more.
    if (!exited && ::waitpid(pid, &status, WNOHANG) == pid) exited = true;
    if (exited && n == 0) break;
  }
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);
  // The child may have closed its output and still run: wait for it, but
  // not past the deadline.
  while (!exited && !result.timed_out) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
    } else if (Clock::now() >= deadline) {
      result.timed_out = true;
      ::kill(pid, SIGKILL);
    } else {
      std::this_thread::sleep_for(10ms);
    }
  }
  if (!exited) ::waitpid(pid, &status, 0);
  if (result.timed_out) return result;
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.term_signal = WTERMSIG(status);
  }
  return result;
}

RunResult run_checked(const Namespace* ns, const std::vector<std::string>& argv,
                      Clock::duration timeout) {
  RunResult r = run(ns, argv, timeout);
  if (!r.ok()) {
    throw failure("command failed" + (ns ? " in " + ns->name() : std::string()) + ": " +
                  join(argv) + "\n" + r.describe());
  }
  return r;
}

void connect_veth(const Namespace& a, const Namespace& b, const Underlay& u) {
  run_checked(&a, {"ip", "link", "add", u.iface, "type", "veth", "peer", "name", u.iface, "netns",
                   b.name()});
  auto configure = [&](const Namespace& ns, const std::string& v4, const std::string& v6) {
    if (u.v4) run_checked(&ns, {"ip", "addr", "add", v4 + "/24", "dev", u.iface});
    // nodad: the address is usable at once instead of after duplicate
    // address detection (RFC 4862 section 5.4), which would race the test.
    if (u.v6) run_checked(&ns, {"ip", "-6", "addr", "add", v6 + "/64", "dev", u.iface, "nodad"});
    run_checked(&ns, {"ip", "link", "set", u.iface, "up"});
  };
  configure(a, u.a_v4, u.a_v6);
  configure(b, u.b_v4, u.b_v6);
}

Lan::Lan(std::string_view tag, const std::vector<const Namespace*>& members) {
  if (members.empty() || members.size() > 250) throw failure("Lan: 1 to 250 members");
  switch_ = std::make_unique<Namespace>(std::string(tag) + "-sw");
  // No STP: a port forwards as soon as it is up. No multicast snooping: IPv6
  // neighbour discovery must reach every member without a querier.
  run_checked(switch_.get(), {"ip", "link", "add", "br0", "type", "bridge", "stp_state", "0",
                              "mcast_snooping", "0"});
  run_checked(switch_.get(), {"ip", "link", "set", "br0", "up"});
  for (size_t i = 0; i < members.size(); ++i) {
    const Namespace& ns = *members[i];
    const std::string port = "p" + std::to_string(i);
    run_checked(&ns, {"ip", "link", "add", kIface, "type", "veth", "peer", "name", port, "netns",
                      switch_->name()});
    run_checked(switch_.get(), {"ip", "link", "set", port, "master", "br0"});
    run_checked(switch_.get(), {"ip", "link", "set", port, "up"});
    run_checked(&ns, {"ip", "addr", "add", v4(i) + "/24", "dev", kIface});
    // nodad, as in connect_veth: usable at once (RFC 4862 section 5.4).
    run_checked(&ns, {"ip", "-6", "addr", "add", v6(i) + "/64", "dev", kIface, "nodad"});
    run_checked(&ns, {"ip", "link", "set", kIface, "up"});
  }
}

std::string Lan::v4(size_t member) { return "10.200.0." + std::to_string(member + 1); }

std::string Lan::v6(size_t member) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "fd00:200::%zx", member + 1);
  return buf;
}

std::string endpoint_text(const std::string& address, uint16_t port) {
  if (address.find(':') != std::string::npos) return "[" + address + "]:" + std::to_string(port);
  return address + ":" + std::to_string(port);
}

// ---------------------------------------------------------------------------

Process::Process(const Namespace* ns, const std::vector<std::string>& argv, fs::path log,
                 std::string label)
    : log_(std::move(log)), label_(std::move(label)) {
  CArgv cargv(argv);
  int logfd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (logfd < 0) throw failure("open " + log_.string() + ": " + errno_text(errno));
  std::string banner = "=== " + label_ + ": " + join(argv) + "\n";
  (void)!::write(logfd, banner.data(), banner.size());
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_ = ::fork();
  if (pid_ < 0) {
    ::close(logfd);
    ::close(devnull);
    throw failure("fork: " + errno_text(errno));
  }
  if (pid_ == 0) {
    ::dup2(devnull, 0);
    ::dup2(logfd, 1);
    ::dup2(logfd, 2);
    exec_child(ns ? ns->fd() : -1, cargv);
  }
  ::close(logfd);
  ::close(devnull);
}

Process::~Process() {
  stop();
  if (::testing::Test::HasFailure()) print_log(label_, log_);
}

std::string Process::log_text() const {
  try {
    return read_file(log_);
  } catch (const std::exception&) {
    return "";
  }
}

bool Process::running() {
  if (reaped_) return false;
  int st = 0;
  pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    status_ = st;
    return false;
  }
  return true;
}

std::optional<int> Process::wait_exit(Deadline deadline) {
  if (poll_until(deadline, [&] { return !running(); }, 10ms)) return status_;
  return std::nullopt;
}

void Process::signal(int sig) {
  // Only while unreaped: the PID is still ours (a zombie at worst), so the
  // signal cannot reach a recycled PID.
  if (!reaped_) ::kill(pid_, sig);
}

int Process::stop(Clock::duration grace) {
  if (!running()) return status_;
  ::kill(pid_, SIGTERM);
  if (wait_exit(Clock::now() + grace)) return status_;
  ::kill(pid_, SIGKILL);
  int st = 0;
  if (::waitpid(pid_, &st, 0) == pid_) {
    reaped_ = true;
    status_ = st;
  }
  return status_;
}

std::optional<int> Process::exit_code() const {
  if (!reaped_) return std::nullopt;
  if (WIFEXITED(status_)) return WEXITSTATUS(status_);
  if (WIFSIGNALED(status_)) return -WTERMSIG(status_);
  return std::nullopt;
}

void print_log(const std::string& label, const fs::path& log) {
  std::string text;
  try {
    text = read_file(log);
  } catch (const std::exception& e) {
    text = e.what();
  }
  std::cerr << "\n----- log of " << label << " (" << log.string() << ") -----\n"
            << text << "\n----- end of " << label << " -----\n";
}

// ---------------------------------------------------------------------------

TempDir::TempDir(std::string_view tag) {
  std::string tmpl = "/tmp/cordon-" + std::string(tag) + "-XXXXXX";
  if (!::mkdtemp(tmpl.data())) throw failure("mkdtemp: " + errno_text(errno));
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void write_file(const fs::path& path, std::string_view content, unsigned mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) throw failure("open " + path.string() + ": " + errno_text(errno));
  bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
  ok = ::fchmod(fd, mode) == 0 && ok;  // the umask may have narrowed it
  ::close(fd);
  if (!ok) throw failure("write " + path.string() + ": " + errno_text(errno));
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw failure("cannot read " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool file_contains(const fs::path& path, std::string_view needle) {
  return read_file(path).find(needle) != std::string::npos;
}

fs::path genkey(const fs::path& path) {
  run_checked(nullptr, {cordon_bin().string(), "genkey", "--out", path.string()}, 20s);
  if (!fs::exists(path)) throw failure("cordon genkey --out " + path.string() + " made no file");
  return path;
}

// ---------------------------------------------------------------------------

std::optional<bool> forced_offloads() {
  const char* value = std::getenv("CORDON_TEST_OFFLOADS");
  if (value == nullptr || *value == '\0') return std::nullopt;
  const std::string_view v(value);
  if (v == "on") return true;
  if (v == "off") return false;
  throw failure("CORDON_TEST_OFFLOADS must be on or off, not " + std::string(v));
}

std::string render_config(const NodeSpec& s) {
  std::ostringstream o;
  o << "# written by the netns test harness\n"
    << "[host]\n"
    << "id = " << toml_string(s.id) << "\n"
    << "interface = " << toml_string(s.interface) << "\n"
    << "addresses = " << toml_array(s.addresses) << "\n"
    << "mtu = " << s.mtu << "\n"
    << "listen_port = " << s.listen_port << "\n";
  if (!s.listen_address.empty()) o << "listen_address = " << toml_string(s.listen_address) << "\n";
  o << "state_dir = " << toml_string(s.state_dir.string()) << "\n"
    << "control_socket = " << toml_string(s.control_socket.string()) << "\n"
    << "log_level = " << toml_string(s.log_level) << "\n";
  if (const std::optional<bool> offloads = s.offloads ? s.offloads : forced_offloads()) {
    o << "offloads = " << (*offloads ? "true" : "false") << "\n";
  }
  if (s.workers != 0) o << "workers = " << s.workers << "\n";
  if (s.rekey_period >= 0) o << "rekey_period = " << s.rekey_period << "\n";
  if (!s.size_classes.empty()) o << "size_classes = \"" << s.size_classes << "\"\n";
  for (const auto& p : s.peers) {
    o << "\n[[peer]]\n"
      << "id = " << toml_string(p.id) << "\n";
    if (!p.name.empty()) o << "name = " << toml_string(p.name) << "\n";
    if (p.endpoint) o << "endpoint = " << toml_string(*p.endpoint) << "\n";
    o << "key_file = " << toml_string(p.key_file.string()) << "\n"
      << "allowed_prefixes = " << toml_array(p.allowed_prefixes) << "\n";
    if (!p.suite.empty()) o << "suite = " << toml_string(p.suite) << "\n";
    if (p.keepalive >= 0) o << "keepalive = " << p.keepalive << "\n";
  }
  if (!s.extra.empty()) o << "\n" << s.extra;
  return o.str();
}

// ---------------------------------------------------------------------------

RunResult status_command(const Namespace& ns, const fs::path& control_socket) {
  return run(&ns, {cordon_bin().string(), "status", "--json", "-s", control_socket.string()}, 10s);
}

nlohmann::json status_json(const Namespace& ns, const fs::path& control_socket) {
  RunResult r = status_command(ns, control_socket);
  if (!r.ok()) throw failure("cordon status --json failed in " + ns.name() + ": " + r.describe());
  auto j = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw failure("cordon status --json printed no JSON: " + r.out);
  return j;
}

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string id_text(const nlohmann::json& id) {
  if (id.is_string()) return lower(id.get<std::string>());
  if (id.is_number_unsigned() || id.is_number_integer()) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08llx", static_cast<unsigned long long>(id.get<uint64_t>()));
    return buf;
  }
  return "";
}

// Drop counters as an object {"replay": 3} or a list [{"reason": "replay",
// "count": 3}].
uint64_t count_in(const nlohmann::json& drops, std::string_view reason) {
  if (drops.is_object()) {
    auto it = drops.find(std::string(reason));
    if (it != drops.end() && it->is_number()) return it->get<uint64_t>();
    return 0;
  }
  if (drops.is_array()) {
    uint64_t n = 0;
    for (const auto& d : drops) {
      if (!d.is_object()) continue;
      std::string name = d.value("reason", d.value("name", std::string()));
      if (name == reason) n += d.value("count", uint64_t{0});
    }
    return n;
  }
  return 0;
}

}  // namespace

const nlohmann::json* find_peer(const nlohmann::json& status, std::string_view id) {
  auto peers = status.find("peers");
  if (peers == status.end() || !peers->is_array()) return nullptr;
  std::string want = lower(std::string(id));
  for (const auto& p : *peers) {
    if (p.is_object() && p.contains("id") && id_text(p["id"]) == want) return &p;
  }
  return nullptr;
}

uint64_t drop_count(const nlohmann::json& status, std::string_view reason) {
  uint64_t n = 0;
  if (status.contains("drops")) n += count_in(status["drops"], reason);
  if (status.contains("peers") && status["peers"].is_array()) {
    for (const auto& p : status["peers"])
      if (p.is_object() && p.contains("drops")) n += count_in(p["drops"], reason);
  }
  return n;
}

std::optional<std::string> peer_endpoint(const nlohmann::json& status, std::string_view id) {
  const nlohmann::json* p = find_peer(status, id);
  if (!p) return std::nullopt;
  auto it = p->find("endpoint");
  if (it == p->end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

uint64_t peer_counter(const nlohmann::json& status, std::string_view id, std::string_view field) {
  const nlohmann::json* p = find_peer(status, id);
  if (!p) return 0;
  auto it = p->find(std::string(field));
  if (it == p->end() || !it->is_number()) return 0;
  return it->get<uint64_t>();
}

// ---------------------------------------------------------------------------

bool ping_once(const Namespace& ns, const std::string& address) {
  return run(&ns, {"ping", "-n", "-c", "1", "-W", "1", address}, 10s).ok();
}

bool wait_for_ping(const Namespace& ns, const std::string& address, Deadline deadline) {
  return poll_until(deadline, [&] { return ping_once(ns, address); }, 50ms);
}

std::optional<PingStats> parse_ping_stats(std::string_view output) {
  static const std::regex re(R"((\d+) packets transmitted, (\d+) (packets )?received([^\n]*, time (\d+)ms)?)");
  std::match_results<std::string_view::const_iterator> m;
  if (!std::regex_search(output.begin(), output.end(), m, re)) return std::nullopt;
  return PingStats{std::stoi(m[1].str()), std::stoi(m[2].str()), m[5].matched ? std::stoi(m[5].str()) : -1};
}

Capture::Capture(const Namespace& ns, const std::string& iface, fs::path pcap,
                 const fs::path& log, const std::string& filter)
    : pcap_(std::move(pcap)) {
  // --immediate-mode: libpcap hands over each packet at once instead of
  // holding it in a TPACKET_V3 block that is lost when tcpdump is stopped;
  // -U: write each packet as it arrives; -Z root: keep writing into our
  // private temp dir instead of dropping to the tcpdump user.
  std::vector<std::string> argv = {"tcpdump", "-n",   "--immediate-mode", "-U", "-Z",
                                   "root",    "-i",   iface,              "-w", pcap_.string()};
  std::istringstream words(filter);
  for (std::string w; words >> w;) argv.push_back(w);
  tcpdump_ = std::make_unique<Process>(&ns, argv, log, "tcpdump on " + iface);
  // tcpdump prints "listening on IFACE" once the capture is active.
  bool listening = poll_until(deadline_in(15s), [&] {
    return !tcpdump_->running() || tcpdump_->log_text().find("listening on") != std::string::npos;
  });
  if (!listening || !tcpdump_->running())
    throw failure("tcpdump did not start on " + iface + ":\n" + tcpdump_->log_text());
}

void Capture::stop() {
  if (tcpdump_) tcpdump_->stop(10s);
}

// ---------------------------------------------------------------------------
// pcap reading (https://www.tcpdump.org/manpages/pcap-savefile.5.html)

namespace {

struct Reader {
  const std::string& data;
  bool swap = false;

  bool has(size_t off, size_t n) const { return off <= data.size() && n <= data.size() - off; }
  uint32_t u32(size_t off) const {
    uint32_t v;
    std::memcpy(&v, data.data() + off, 4);
    return swap ? __builtin_bswap32(v) : v;
  }
};

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

std::string ip_text(int af, const uint8_t* p) {
  char buf[INET6_ADDRSTRLEN];
  ::inet_ntop(af, p, buf, sizeof buf);
  return buf;
}

// Fills `out` from an IP packet [p, p + n); returns false if it is not a
// complete, unfragmented UDP datagram.
bool parse_ip_udp(const uint8_t* p, size_t n, UdpPacket& out) {
  if (n < 1) return false;
  const uint8_t* udp = nullptr;
  size_t left = 0;
  int version = p[0] >> 4;
  if (version == 4) {
    if (n < 20) return false;
    size_t ihl = (p[0] & 0x0f) * 4u;
    if (ihl < 20 || n < ihl || p[9] != 17) return false;
    if ((be16(p + 6) & 0x3fff) != 0) return false;  // a fragment
    size_t total = be16(p + 2);
    if (total < ihl || total > n) return false;
    out.src = ip_text(AF_INET, p + 12);
    out.dst = ip_text(AF_INET, p + 16);
    udp = p + ihl;
    left = total - ihl;
  } else if (version == 6) {
    if (n < 40 || p[6] != 17) return false;  // UDP right after the fixed header
    size_t plen = be16(p + 4);
    if (plen > n - 40) return false;
    out.src = ip_text(AF_INET6, p + 8);
    out.dst = ip_text(AF_INET6, p + 24);
    udp = p + 40;
    left = plen;
  } else {
    return false;
  }
  if (left < 8) return false;
  size_t ulen = be16(udp + 4);
  if (ulen < 8 || ulen > left) return false;
  out.sport = be16(udp);
  out.dport = be16(udp + 2);
  out.payload.assign(udp + 8, udp + ulen);
  return true;
}

// Walks the records of a pcap file, handing each record's bytes and the
// link type to `visit`.
void walk_pcap(const fs::path& pcap, const std::function<void(uint32_t, const uint8_t*, size_t)>& visit) {
  std::string data = read_file(pcap);
  Reader r{data};
  if (!r.has(0, 24)) throw failure("pcap too short: " + pcap.string());
  uint32_t magic;
  std::memcpy(&magic, data.data(), 4);
  if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d) {
    r.swap = false;
  } else if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1) {
    r.swap = true;
  } else {
    throw failure("not a pcap file: " + pcap.string());
  }
  uint32_t linktype = r.u32(20) & 0x0fffffff;
  size_t off = 24;
  while (r.has(off, 16)) {
    uint32_t caplen = r.u32(off + 8);
    off += 16;
    if (!r.has(off, caplen)) break;  // a record cut short when tcpdump stopped
    visit(linktype, reinterpret_cast<const uint8_t*>(data.data() + off), caplen);
    off += caplen;
  }
}

}  // namespace

std::vector<UdpPacket> read_pcap_udp(const fs::path& pcap) {
  std::vector<UdpPacket> out;
  walk_pcap(pcap, [&](uint32_t linktype, const uint8_t* p, size_t n) {
    size_t l2 = 0;
    uint16_t proto = 0;
    switch (linktype) {
      case 1:  // Ethernet
        if (n < 14) return;
        proto = be16(p + 12);
        l2 = 14;
        if (proto == 0x8100 && n >= 18) {
          proto = be16(p + 16);
          l2 = 18;
        }
        if (proto != 0x0800 && proto != 0x86dd) return;
        break;
      case 113:  // Linux cooked v1
        if (n < 16) return;
        l2 = 16;
        break;
      case 276:  // Linux cooked v2
        if (n < 20) return;
        l2 = 20;
        break;
      case 101:  // raw IP
      case 12:
      case 228:
      case 229:
        l2 = 0;
        break;
      default:
        return;
    }
    UdpPacket u;
    if (parse_ip_udp(p + l2, n - l2, u)) out.push_back(std::move(u));
  });
  return out;
}

size_t pcap_packet_count(const fs::path& pcap) {
  size_t n = 0;
  walk_pcap(pcap, [&](uint32_t, const uint8_t*, size_t) { ++n; });
  return n;
}

namespace {

// `address`:`port` as a socket address; false if it is not an address.
bool socket_address(const std::string& address, uint16_t port, sockaddr_storage& ss, socklen_t& sslen) {
  if (auto* s4 = reinterpret_cast<sockaddr_in*>(&ss); ::inet_pton(AF_INET, address.c_str(), &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    sslen = sizeof *s4;
    return true;
  }
  if (auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss); ::inet_pton(AF_INET6, address.c_str(), &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    sslen = sizeof *s6;
    return true;
  }
  return false;
}

}  // namespace

size_t send_udp_from(const Namespace& ns, const std::string& address, uint16_t port,
                     const std::vector<std::vector<uint8_t>>& payloads, const std::string& source) {
  sockaddr_storage ss{}, src{};
  socklen_t sslen = 0, srclen = 0;
  if (!socket_address(address, port, ss, sslen)) throw failure("send_udp_from: not an address: " + address);
  if (!source.empty() && !socket_address(source, 0, src, srclen)) {
    throw failure("send_udp_from: not a source address: " + source);
  }
  const int family = ss.ss_family;
  int result[2];
  if (::pipe2(result, O_CLOEXEC) != 0) throw failure("pipe: " + errno_text(errno));
  pid_t pid = ::fork();
  if (pid < 0) throw failure("fork: " + errno_text(errno));
  if (pid == 0) {
    // The child enters the namespace; the test process never leaves its own.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    uint64_t sent = 0;
    if (::setns(ns.fd(), CLONE_NEWNET) == 0) {
      int fd = ::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      if (fd >= 0 && srclen != 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&src), srclen) != 0) {
        ::close(fd);
        fd = -1;
      }
      if (fd >= 0) {
        for (const auto& p : payloads) {
          if (::sendto(fd, p.data(), p.size(), 0, reinterpret_cast<sockaddr*>(&ss), sslen) ==
              static_cast<ssize_t>(p.size()))
            ++sent;
        }
      }
    }
    (void)!::write(result[1], &sent, sizeof sent);
    ::_exit(0);
  }
  ::close(result[1]);
  uint64_t sent = 0;
  ssize_t got = ::read(result[0], &sent, sizeof sent);
  ::close(result[0]);
  int st = 0;
  ::waitpid(pid, &st, 0);
  return got == sizeof sent ? sent : 0;
}

bool wait_for_tcp_listener(const Namespace& ns, uint16_t port, Deadline deadline) {
  std::string filter = "sport = :" + std::to_string(port);
  return poll_until(deadline, [&] {
    RunResult r = run(&ns, {"ss", "-H", "-l", "-t", "-n", filter}, 10s);
    return r.ok() && r.out.find(':' + std::to_string(port)) != std::string::npos;
  });
}

// ---------------------------------------------------------------------------

bool wait_for_daemon(const Namespace& ns, const fs::path& control_socket, const std::string& iface,
                     Process& daemon, Deadline deadline, std::string* why) {
  bool exited = false;
  bool ready = poll_until(deadline, [&] {
    if (!daemon.running()) {
      exited = true;
      return true;
    }
    return status_command(ns, control_socket).ok() &&
           run(&ns, {"ip", "link", "show", "dev", iface}).ok();
  }, 50ms);
  if (exited) {
    if (why) *why = daemon.label() + " exited early (" + describe_status(daemon.stop()) + ")";
    return false;
  }
  if (!ready && why) {
    *why = daemon.label() + " did not become ready (status answering, " + iface +
           " present) in time; last status: " + status_command(ns, control_socket).describe();
  }
  return ready;
}

CordonPair::CordonPair(PairOptions options) : options_(std::move(options)) {
  if (options_.underlay == Family::kV6) underlay_.v4 = false;  // prove the v6 path alone
  dir_ = std::make_unique<TempDir>("netns-" + options_.tag);
  ns_a_ = std::make_unique<Namespace>(options_.tag + "-a");
  ns_b_ = std::make_unique<Namespace>(options_.tag + "-b");
  connect_veth(*ns_a_, *ns_b_, underlay_);

  fs::path key = genkey(file("link.key"));
  fs::path key_a = options_.mismatched_keys ? genkey(file("other.key")) : key;

  auto node = [&](const char* id, const char* v4, const char* v6, const std::string& name) {
    NodeSpec s;
    s.id = id;
    s.addresses = {std::string(v4) + "/24", std::string(v6) + "/64"};
    s.state_dir = file("state-" + name);
    s.control_socket = file(name + ".sock");
    s.offloads = options_.offloads;
    s.workers = options_.workers;
    s.rekey_period = options_.rekey_period;
    s.size_classes = options_.size_classes;
    fs::create_directories(s.state_dir);
    fs::permissions(s.state_dir, fs::perms::owner_all);
    return s;
  };
  auto peer = [&](const char* id, const char* v4, const char* v6, const std::string& name,
                  const fs::path& k) {
    PeerSpec p;
    p.id = id;
    p.name = name;
    p.key_file = k;
    p.allowed_prefixes = {std::string(v4) + "/32", std::string(v6) + "/128"};
    p.suite = options_.suite;
    p.keepalive = options_.keepalive;
    return p;
  };
  spec_a_ = node(kIdA, kTunA4, kTunA6, "a");
  spec_a_.peers.push_back(peer(kIdB, kTunB4, kTunB6, "site-b", key_a));
  spec_a_.peers.back().endpoint = endpoint_text(b_underlay(), kPort);
  spec_b_ = node(kIdB, kTunB4, kTunB6, "b");
  spec_b_.peers.push_back(peer(kIdA, kTunA4, kTunA6, "site-a", key));  // no endpoint: learnt
  spec_a_.extra = options_.extra_a;
  spec_b_.extra = options_.extra_b;

  config_a_ = file("a.toml");
  config_b_ = file("b.toml");
  write_file(config_a_, render_config(spec_a_));
  write_file(config_b_, render_config(spec_b_));

  start_b();
  start_a();
}

CordonPair::~CordonPair() = default;

void CordonPair::rewrite_config_a() { write_file(config_a_, render_config(spec_a_)); }

void CordonPair::start_a() {
  start(daemon_a_, *ns_a_, config_a_, spec_a_.control_socket, "daemon A", ++starts_a_);
}
void CordonPair::start_b() {
  start(daemon_b_, *ns_b_, config_b_, spec_b_.control_socket, "daemon B", ++starts_b_);
}

void CordonPair::start(std::unique_ptr<Process>& slot, Namespace& ns, const fs::path& config,
                       const fs::path& control_socket, const std::string& label, int start_no) {
  slot.reset();
  std::string log_name = (label == "daemon A" ? "daemon-a.log" : "daemon-b.log");
  slot = std::make_unique<Process>(&ns, std::vector<std::string>{cordon_bin().string(), "up", "-c",
                                                                 config.string()},
                                   file(log_name), label + " (start " + std::to_string(start_no) + ")");
  std::string why;
  if (!wait_for_daemon(ns, control_socket, "cordon0", *slot, deadline_in(20s), &why))
    throw failure(why + "\n" + slot->log_text());
  // A forced setting that did not reach the daemon would let a run "with
  // offloads off" test the default instead.
  const std::optional<bool> offloads = options_.offloads ? options_.offloads : forced_offloads();
  if (offloads) {
    const nlohmann::json status = status_json(ns, control_socket);
    const nlohmann::json enabled = status.value("offloads", nlohmann::json::object()).value("enabled", nlohmann::json());
    if (enabled != nlohmann::json(*offloads)) {
      throw failure(label + " runs with offloads " + enabled.dump() + ", not " + (*offloads ? "true" : "false"));
    }
  }
}

bool CordonPair::wait_for_tunnel(Deadline deadline) { return wait_for_ping(*ns_a_, kTunB4, deadline); }

void install_managed_host(const Namespace& ns, const ManagedHostFiles& f, uint16_t port, const std::string& extra) {
  fs::create_directories(f.state);
  fs::permissions(f.state, fs::perms::owner_all);
  RunResult installed = run(&ns, {cordon_bin().string(), "keyset", "install", f.keyset.string(), "--password-file",
                                  f.password.string(), "--state-dir", f.state.string()},
                            60s);
  if (!installed.ok()) throw std::runtime_error(installed.describe());
  write_file(f.config, "[host]\nkeyset = \"" + (f.state / "keyset").string() + "\"\npassword_file = \"" +
                           f.password.string() + "\"\ninterface = \"cordon0\"\nlisten_port = " +
                           std::to_string(port) + "\nstate_dir = \"" + f.state.string() + "\"\ncontrol_socket = \"" +
                           f.socket.string() + "\"\nlog_level = \"info\"\n" + extra);
}

std::unique_ptr<Process> start_managed_daemon(const Namespace& ns, const ManagedHostFiles& f, const fs::path& log,
                                              const std::string& name) {
  auto daemon = std::make_unique<Process>(&ns, std::vector<std::string>{cordon_bin().string(), "up", "-c",
                                                                        f.config.string()},
                                          log, "daemon " + name);
  std::string why;
  if (!wait_for_daemon(ns, f.socket, "cordon0", *daemon, deadline_in(60s), &why)) {
    throw std::runtime_error(why + "\n" + daemon->log_text());
  }
  return daemon;
}

}  // namespace cordon::netns
