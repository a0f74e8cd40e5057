// The counter file: <state_dir>/<host id>.counter (config.hpp,
// counter_file_path), e.g. /var/lib/cordon/0x0001000a.counter.
//
// It holds what must survive a restart for nonces never to repeat and for
// captured datagrams not to be accepted again (docs/protocol.md, "Nonce
// uniqueness" and "Replay protection"):
//  - the node-wide counter floor: the core never uses a packet counter below
//    the floor it was started with, and asks for a higher floor to be stored
//    durably before it uses counters above the stored one
//    (core/node.hpp, TickResult::persist_counter_floor);
//  - the link keys that floor covers, by fingerprint
//    (keys::link_key_fingerprint): a key the file does not list has no floor
//    here, so its counters may already have been used elsewhere;
//  - the machine that wrote it (/etc/machine-id): a file copied to another
//    machine covers no key there;
//  - per peer, the highest counter accepted under its link key (receive
//    floors, TickResult::persist_receive_floors).
//
// Version 2, text, one record per line, in this order:
//
//   cordon-counter-floor v2\n
//   machine <32 hex digits, or "-" when the writer had no machine ID>\n
//   floor <decimal u64>\n
//   key <32 hex digits>\n                              zero or more: covered link keys
//   recv <host id> <32 hex digits> <decimal u64>\n     zero or more: receive floors
//
// e.g.
//   cordon-counter-floor v2
//   machine 4c4c4544003510398052b4c04f4e3732
//   floor 30123459811403007
//   key 9f0c1e2d3b4a59687766554433221100
//   recv 0x0001000b 9f0c1e2d3b4a59687766554433221100 30123459811210042
//
// Version 1 was one line, "cordon-counter-floor v1 <decimal>\n", named after
// the interface. It is still read: it has no key or machine records, so it
// is taken to cover the link keys configured at the first start after the
// upgrade on this machine, and the next write replaces it with version 2.
//
// Writes are atomic with fsync (os::write_file_atomic), mode 0600. A missing
// file is a first start (daemon/key_admission.hpp decides what that allows);
// a corrupt file stops the daemon, because guessing a floor could repeat a
// nonce.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/keys/traffic_keys.hpp"
#include "core/node.hpp"
#include "core/result.hpp"
#include "daemon/file_store.hpp"

namespace cordon::daemon {

constexpr unsigned kCounterFileVersion = 2;

struct CounterFile {
  unsigned version = kCounterFileVersion;  // 1 when read from a version 1 file
  std::optional<std::string> machine;      // the writer's machine ID; nullopt: it had none (or version 1)
  uint64_t floor = 0;
  std::vector<keys::KeyFingerprint> keys;  // the link keys the floor covers
  std::vector<ReceiveFloor> receive;
  friend bool operator==(const CounterFile&, const CounterFile&) = default;
};

struct CounterLoad {
  std::optional<CounterFile> file;  // set unless `error`; a default CounterFile when `missing`
  std::string error;                // names the file (and line) and says what to do
  bool missing = false;             // no file: a first start on this host ID and state_dir
  std::string read_from;            // the path it came from (the new name, or the old one migrated)
};

class CounterStore {
 public:
  // `legacy_path`: the version 1 name (<state_dir>/<interface>.counter),
  // read when `path` does not exist yet and removed once `path` is written.
  // `files`: where the files are (the simulations pass an in-memory disk).
  explicit CounterStore(std::string path, std::string legacy_path = {}, FileStore& files = system_files())
      : path_(std::move(path)), legacy_path_(std::move(legacy_path)), files_(&files) {
    if (legacy_path_ == path_) legacy_path_.clear();  // an interface named like the host ID
  }

  const std::string& path() const { return path_; }

  CounterLoad load() const;

  // Creates the state directory (0700) if needed and replaces the file.
  // Ok once the file is durable; the error says what failed.
  Status<std::string> store(const CounterFile& file) const;

 private:
  CounterLoad load_from(const std::string& path) const;

  std::string path_;
  std::string legacy_path_;
  FileStore* files_;
  mutable bool legacy_removed_ = false;
};

// The file format, exposed for tests and the fuzzer. parse_counter_file
// returns the file or "line N: what is wrong".
std::string format_counter_file(const CounterFile& file);
struct CounterParse {
  std::optional<CounterFile> file;
  std::string error;
};
CounterParse parse_counter_file(std::string_view text);

// Fingerprints as the state files write them: 32 lower-case hex digits.
std::string fingerprint_text(const keys::KeyFingerprint& fingerprint);
std::optional<keys::KeyFingerprint> parse_fingerprint(std::string_view text);
// A "machine ID-or-dash" field, shared with the fresh-keys file.
std::string machine_text(const std::optional<std::string>& machine);
std::optional<std::optional<std::string>> parse_machine(std::string_view text);

}  // namespace cordon::daemon
