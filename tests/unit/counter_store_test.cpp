// The counter file (daemon/counter_store.hpp), fresh keys
// (daemon/fresh_keys.hpp) and which link keys may start
// (daemon/key_admission.hpp): a counter floor belongs to its keys and to
// its machine (docs/protocol.md, "Nonce uniqueness").
#include "daemon/counter_store.hpp"

#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "daemon/config.hpp"
#include "daemon/counter_keeper.hpp"
#include "daemon/fresh_keys.hpp"
#include "daemon/key_admission.hpp"
#include "daemon/keyset_store.hpp"
#include "os/linux/machine_id.hpp"
#include "tests/common/keyset_builder.hpp"
#include "tests/common/temp_dir.hpp"

namespace cordon::daemon {
namespace {

namespace fs = std::filesystem;
using testkit::TempDir;

const std::string kMachineA = "0123456789abcdef0123456789abcdef";
const std::string kMachineB = "fedcba9876543210fedcba9876543210";

keys::KeyFingerprint fingerprint_of(uint8_t fill) {
  auto fp = keys::link_key_fingerprint(testkit::filled_key(fill));
  if (!fp) std::abort();
  return *fp;
}

PeerKey peer_key(uint32_t id, std::string name, uint8_t fill) {
  return PeerKey{HostId{id}, std::move(name), fingerprint_of(fill)};
}

CounterFile sample_file() {
  CounterFile file;
  file.machine = kMachineA;
  file.floor = 30123459811403007;
  file.keys = {fingerprint_of(0xab), fingerprint_of(0xac)};
  file.receive = {ReceiveFloor{HostId{0x0001000b}, fingerprint_of(0xab), 30123459811210042},
                  ReceiveFloor{HostId{0x0001000c}, fingerprint_of(0xac), UINT64_MAX}};
  return file;
}

unsigned file_mode(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_mode & 07777 : 0;
}

// --- the file ---

TEST(CounterFile, RoundTripsThroughTheStorePrivately) {
  TempDir dir;
  const std::string path = (dir.path() / "state" / "0x0001000a.counter").string();
  CounterStore store(path);
  for (CounterFile file : {CounterFile{}, sample_file()}) {
    ASSERT_TRUE(store.store(file));
    const CounterLoad loaded = store.load();
    ASSERT_TRUE(loaded.file) << loaded.error;
    EXPECT_FALSE(loaded.missing);
    EXPECT_EQ(*loaded.file, file);
  }
  EXPECT_EQ(file_mode(path), 0600u);
  EXPECT_EQ(file_mode((dir.path() / "state").string()), 0700u);
}

TEST(CounterFile, LayoutIsTheDocumentedOne) {
  CounterFile file = sample_file();
  file.receive.pop_back();
  EXPECT_EQ(format_counter_file(file), "cordon-counter-floor v2\n"
                                       "machine 0123456789abcdef0123456789abcdef\n"
                                       "floor 30123459811403007\n"
                                       "key " + fingerprint_text(fingerprint_of(0xab)) + "\n"
                                       "key " + fingerprint_text(fingerprint_of(0xac)) + "\n"
                                       "recv 0x0001000b " + fingerprint_text(fingerprint_of(0xab)) +
                                           " 30123459811210042\n");
  file.machine.reset();
  EXPECT_NE(format_counter_file(file).find("\nmachine -\n"), std::string::npos);
  EXPECT_EQ(parse_counter_file(format_counter_file(file)).file, file);
}

TEST(CounterFile, MissingFileIsAFirstStart) {
  TempDir dir;
  const CounterLoad loaded = CounterStore((dir.path() / "0x0001000a.counter").string()).load();
  ASSERT_TRUE(loaded.file) << loaded.error;
  EXPECT_TRUE(loaded.missing);
  EXPECT_EQ(loaded.file->floor, 0u);
}

TEST(CounterFile, Version1IsReadFromTheOldNameAndMigrated) {
  TempDir dir;
  const std::string legacy = dir.write("cordon0.counter", "cordon-counter-floor v1 42\n");
  const std::string path = (dir.path() / "0x0001000a.counter").string();
  CounterStore store(path, legacy);
  const CounterLoad loaded = store.load();
  ASSERT_TRUE(loaded.file) << loaded.error;
  EXPECT_EQ(loaded.file->version, 1u);
  EXPECT_EQ(loaded.file->floor, 42u);
  EXPECT_EQ(loaded.read_from, legacy);

  // A version 1 file covers the keys configured at this first start.
  const std::vector<PeerKey> configured = {peer_key(0x0001000b, "site-b", 0xab)};
  const FloorStart start = floor_start(loaded, kMachineA, configured);
  EXPECT_EQ(start.floor, 42u);
  EXPECT_EQ(start.covered, fingerprints(configured));
  ASSERT_EQ(start.notes.size(), 1u);
  EXPECT_NE(start.notes[0].find("version 1"), std::string::npos) << start.notes[0];

  // Rewritten as version 2 under the new name; the old name goes.
  ASSERT_TRUE(store.store(CounterFile{2, kMachineA, 50, start.covered, {}}));
  EXPECT_FALSE(fs::exists(legacy));
  EXPECT_EQ(store.load().file->version, 2u);
}

TEST(CounterFile, AnOldNameEqualToTheNewOneIsKept) {
  TempDir dir;
  const std::string path = (dir.path() / "0x0001000a.counter").string();
  CounterStore store(path, path);
  ASSERT_TRUE(store.store(sample_file()));
  ASSERT_TRUE(store.store(sample_file()));
  EXPECT_EQ(store.load().file, sample_file());
}

TEST(CounterFile, CorruptFileIsRefusedNamingTheFileAndLine) {
  TempDir dir;
  const std::string good = format_counter_file(sample_file());
  for (const std::string& content :
       {std::string(), std::string("garbage\n"), std::string("cordon-counter-floor v1 12"),
        std::string("cordon-counter-floor v1 -5\n"), std::string("cordon-counter-floor v2\nmachine -\n"),
        std::string("cordon-counter-floor v2\nmachine xyz\nfloor 1\n"),
        std::string("cordon-counter-floor v2\nmachine -\nfloor 99999999999999999999999\n"),
        std::string("cordon-counter-floor v3\nmachine -\nfloor 1\n"), good + "key 00\n", good + "recv 0x0001000b\n",
        good + "junk\n", good.substr(0, good.size() - 1)}) {
    const std::string path = dir.write("0x0001000a.counter", content);
    const CounterLoad loaded = CounterStore(path).load();
    EXPECT_FALSE(loaded.file) << "accepted: " << content;
    EXPECT_NE(loaded.error.find(path + " is corrupt (line "), std::string::npos) << loaded.error;
    EXPECT_NE(loaded.error.find("new keys"), std::string::npos) << loaded.error;
  }
}

TEST(CounterFile, NamedAfterTheHostIdSoARenamedInterfaceKeepsIt) {
  DaemonConfig config;
  config.state_dir = "/var/lib/cordon";
  config.interface = "wan7";
  config.node.self = HostId{0x0001000a};
  EXPECT_EQ(counter_file_path(config), "/var/lib/cordon/0x0001000a.counter");
  EXPECT_EQ(legacy_counter_file_path(config), "/var/lib/cordon/wan7.counter");
}

// --- the machine ---

TEST(CounterFile, AFloorFromAnotherMachineCoversNoKey) {
  const CounterLoad loaded{sample_file(), {}, false, "/s/0x0001000a.counter"};
  const std::vector<PeerKey> configured = {peer_key(0x0001000b, "site-b", 0xab)};

  const FloorStart here = floor_start(loaded, kMachineA, configured);
  EXPECT_EQ(here.covered, sample_file().keys);
  EXPECT_EQ(here.receive, sample_file().receive);
  EXPECT_TRUE(here.notes.empty());

  using MachineId = std::optional<std::string>;
  for (const MachineId& other : {MachineId(kMachineB), MachineId()}) {
    const FloorStart there = floor_start(loaded, other, configured);
    EXPECT_TRUE(there.covered.empty());
    EXPECT_TRUE(there.receive.empty());
    EXPECT_EQ(there.floor, sample_file().floor);  // it only ever raises counters
    ASSERT_EQ(there.notes.size(), 1u);
    EXPECT_NE(there.notes[0].find("/s/0x0001000a.counter was written on another machine"), std::string::npos)
        << there.notes[0];
  }
}

TEST(MachineId, ReadsTheIdAndToleratesItsAbsence) {
  TempDir dir;
  EXPECT_EQ(os::read_machine_id(dir.write("id", kMachineA + "\n")), kMachineA);
  EXPECT_FALSE(os::read_machine_id(dir.write("bad", "uninitialized\n")));
  EXPECT_FALSE(os::read_machine_id((dir.path() / "missing").string()));
}

// --- admission ---

TEST(KeyAdmission, ManagedModeRefusesAKeyWithoutAFloorRecordNamingPeerAndFile) {
  const std::vector<PeerKey> configured = {peer_key(0x0001000b, "site-b", 0xab), peer_key(0x0001000c, "", 0xac)};
  const Admission a = admit_keys(configured, {fingerprint_of(0xab)}, {}, {true, false, "/s/0x0001000a.counter"});
  ASSERT_TRUE(a.error);
  EXPECT_NE(a.error->find("peer 0x0001000c has no counter floor record in /s/0x0001000a.counter"),
            std::string::npos)
      << *a.error;
  EXPECT_EQ(a.error->find("0x0001000b"), std::string::npos) << *a.error;  // covered
  EXPECT_NE(a.error->find("cordon admin keyset export"), std::string::npos) << *a.error;
  EXPECT_NE(a.error->find("--accept-new-keys"), std::string::npos) << *a.error;
}

TEST(KeyAdmission, ExplicitChoiceAndManualModeWarnInstead) {
  const std::vector<PeerKey> configured = {peer_key(0x0001000b, "site-b", 0xab)};
  for (const AdmissionPolicy& policy :
       {AdmissionPolicy{true, true, "/s/c"}, AdmissionPolicy{false, false, "/s/c"}}) {
    const Admission a = admit_keys(configured, {}, {}, policy);
    EXPECT_FALSE(a.error) << *a.error;
    ASSERT_EQ(a.warnings.size(), 1u);
    EXPECT_NE(a.warnings[0].find("peer 0x0001000b (site-b): its link key has no counter floor record in /s/c"),
              std::string::npos)
        << a.warnings[0];
  }
}

TEST(KeyAdmission, FreshKeysAreRecordedAtInstallAndConsumedAtFirstStart) {
  TempDir dir;
  const KeysetStore store(keyset_path((dir.path() / "state").string()));
  testkit::KeySetMaker maker = testkit::KeySetMaker::three_hosts();
  ASSERT_TRUE(store.install(maker.seal(1), maker.password, "a.keyset"));

  const auto machine = os::read_machine_id();
  const std::vector<PeerKey> configured = {peer_key(0x0001000b, "site-b", 0xab), peer_key(0x0001000c, "", 0xac)};
  const auto fresh = load_fresh_keys(store.path(), machine);
  EXPECT_EQ(file_mode(fresh_keys_path(store.path())), 0600u);
  const Admission first = admit_keys(configured, {}, fresh, {true, false, "c"});
  EXPECT_FALSE(first.error) << *first.error;
  EXPECT_TRUE(first.warnings.empty());
  EXPECT_EQ(first.fresh_used.size(), 2u);

  // Consumed once started: the same keys are no longer fresh.
  ASSERT_FALSE(consume_fresh_keys(store.path(), first.fresh_used));
  EXPECT_FALSE(fs::exists(fresh_keys_path(store.path())));
  EXPECT_TRUE(admit_keys(configured, {}, load_fresh_keys(store.path(), machine), {true, false, "c"}).error);
}

TEST(KeyAdmission, FreshRecordsOfAnotherMachineMarkNothing) {
  TempDir dir;
  const std::string keyset = (dir.path() / "keyset").string();
  const std::vector<keys::LinkKeyEntry> links = {keys::LinkKeyEntry{HostId{0x0001000b}, testkit::filled_key(0xab)}};
  ASSERT_TRUE(record_fresh_keys(keyset, links, kMachineA).ok());
  EXPECT_EQ(load_fresh_keys(keyset, kMachineA), std::vector{fingerprint_of(0xab)});
  EXPECT_TRUE(load_fresh_keys(keyset, kMachineB).empty());
  EXPECT_EQ(parse_fresh_keys(format_fresh_keys(FreshKeys{std::nullopt, {fingerprint_of(1)}})),
            (FreshKeys{std::nullopt, {fingerprint_of(1)}}));
  EXPECT_FALSE(parse_fresh_keys("cordon-fresh-keys v1\nmachine -\nkey zz\n"));
}

// A managed host's state directory (counter file) copied to another machine
// whose clock is behind: the copy must not start the keys from its clock.
// It refuses; only the operator's explicit --accept-new-keys starts them.
TEST(KeyAdmission, ACopiedStateDirectoryWithTheClockSetBackCannotReuseNonces) {
  TempDir original, copy;
  const std::vector<PeerKey> configured = {peer_key(0x0001000b, "site-b", 0xab)};
  const std::string name = "0x0001000a.counter";
  CounterFile written{2, kMachineA, 30123459811403007, fingerprints(configured), {}};
  ASSERT_TRUE(CounterStore((original.path() / name).string()).store(written));
  fs::copy_file(original.path() / name, copy.path() / name);

  const std::string copied = (copy.path() / name).string();
  const CounterLoad loaded = CounterStore(copied).load();
  ASSERT_TRUE(loaded.file) << loaded.error;
  const FloorStart start = floor_start(loaded, kMachineB, configured);
  const Admission refused = admit_keys(configured, start.covered, {}, {true, false, copied});
  ASSERT_TRUE(refused.error);
  EXPECT_NE(refused.error->find("0x0001000b (site-b)"), std::string::npos) << *refused.error;
  EXPECT_NE(refused.error->find(copied), std::string::npos) << *refused.error;

  // The operator's explicit choice, logged as such.
  const Admission accepted = admit_keys(configured, start.covered, {}, {true, true, copied});
  EXPECT_FALSE(accepted.error);
  EXPECT_EQ(accepted.warnings.size(), 1u);

  // On the machine that wrote it, the same file covers the key.
  const FloorStart home = floor_start(loaded, kMachineA, configured);
  EXPECT_FALSE(admit_keys(configured, home.covered, {}, {true, false, copied}).error);
}

// --- the daemon's start and reload (CounterKeeper), on real files ---

NodeConfig node_with(std::initializer_list<std::pair<uint32_t, uint8_t>> peers) {
  NodeConfig config;
  config.self = HostId{0x0001000a};
  for (auto [id, fill] : peers) {
    PeerConfig peer;
    peer.id = HostId{id};
    peer.link_key = testkit::filled_key(fill);
    config.peers.push_back(std::move(peer));
  }
  return config;
}

TEST(CounterKeeper, ACopiedManagedStateDirectoryIsRefusedOnAnotherMachine) {
  TempDir original, copy;
  const std::string keyset = (original.path() / "keyset").string();
  const NodeConfig config = node_with({{0x0001000b, 0xab}});
  const std::vector<keys::LinkKeyEntry> links = {keys::LinkKeyEntry{HostId{0x0001000b}, testkit::filled_key(0xab)}};
  ASSERT_TRUE(record_fresh_keys(keyset, links, kMachineA).ok());

  // First start on machine A: the key is fresh, then recorded and no longer fresh.
  const std::string path = (original.path() / "0x0001000a.counter").string();
  {
    CounterKeeper keeper({path, "", keyset, kMachineA});
    ASSERT_TRUE(keeper.open(config, false));
    keeper.raise_floor(30123459811403007);
    ASSERT_TRUE(keeper.store());
    keeper.consume_fresh();
  }
  EXPECT_FALSE(fs::exists(fresh_keys_path(keyset)));

  // The state directory copied to machine B, whatever its clock says.
  fs::copy(original.path(), copy.path(), fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  const std::string copied = (copy.path() / "0x0001000a.counter").string();
  CounterKeeper there({copied, "", (copy.path() / "keyset").string(), kMachineB});
  const auto refused = there.open(config, false);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().find("cannot start: the link key of peer 0x0001000b has no counter floor record in " + copied),
            std::string::npos)
      << refused.error();
  // The operator's explicit choice; the floor still only raises counters.
  const auto accepted = there.open(config, true);
  ASSERT_TRUE(accepted);
  EXPECT_EQ(accepted.value().floor, 30123459811403007u);

  // Machine A again: its own file starts the same key.
  CounterKeeper home({path, "", keyset, kMachineA});
  EXPECT_TRUE(home.open(config, false));
}

TEST(CounterKeeper, AReloadRecordsNewKeysBeforeTheyAreUsedOrRefusesThem) {
  TempDir dir;
  const std::string keyset = (dir.path() / "keyset").string();
  const std::string path = (dir.path() / "0x0001000a.counter").string();
  ASSERT_TRUE(record_fresh_keys(keyset, std::vector{keys::LinkKeyEntry{HostId{0x0001000b}, testkit::filled_key(0xab)}},
                                 kMachineA).ok());
  CounterKeeper keeper({path, "", keyset, kMachineA});
  ASSERT_TRUE(keeper.open(node_with({{0x0001000b, 0xab}}), false));
  ASSERT_TRUE(keeper.store());

  const auto refused = keeper.admit_reload(node_with({{0x0001000b, 0xab}, {0x0001000c, 0xac}}));
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().find("peer 0x0001000c has no counter floor record"), std::string::npos) << refused.error();
  EXPECT_EQ(CounterStore(path).load().file->keys, std::vector{fingerprint_of(0xab)});

  // Fresh from an update: adopted, and on disk before the node gets it.
  ASSERT_TRUE(record_fresh_keys(keyset, std::vector{keys::LinkKeyEntry{HostId{0x0001000c}, testkit::filled_key(0xac)}},
                                 kMachineA).ok());
  ASSERT_TRUE(keeper.admit_reload(node_with({{0x0001000b, 0xab}, {0x0001000c, 0xac}})));
  EXPECT_EQ(CounterStore(path).load().file->keys, fingerprints({peer_key(0x0001000b, "", 0xab),
                                                                 peer_key(0x0001000c, "", 0xac)}));
  EXPECT_FALSE(fs::exists(fresh_keys_path(keyset)));
}

}  // namespace
}  // namespace cordon::daemon
