// The courier engine's spool rules and admission (core/courier/courier.hpp,
// docs/couriers.md), and the spool on disk (daemon/courier_spool.hpp).
#include "core/courier/courier.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "core/courier/status_report.hpp"
#include "core/keys/update_package.hpp"
#include "daemon/courier_spool.hpp"
#include "tests/common/temp_dir.hpp"

namespace cordon::courier {
namespace {

constexpr HostId kSelf{0x00010001};   // a courier
constexpr HostId kAdmin{0x00010002};  // the administration host, its client
constexpr HostId kClient{0x00010003};
constexpr HostId kOther{0x00010004};  // another coordinator

crypto::SecretBytes key22() {
  crypto::SecretBytes key(32);
  for (std::byte& b : key.mutable_view()) b = std::byte{0x22};
  return key;
}

Item package(uint64_t version, bool new_host_key = false, size_t filler = 0) {
  keys::UpdateHeader header;
  header.host = kClient;
  header.version = version;
  keys::KeySetBody body;
  keys::AddressBookEntry self;
  self.id = kClient;
  self.name = "client";
  body.book.entries.push_back(self);
  for (size_t i = 0; i < filler; ++i) {
    keys::AddressBookEntry e;
    e.id = HostId{0x00020001u + static_cast<uint32_t>(i)};
    e.name = "filler-" + std::to_string(i);
    body.book.entries.push_back(e);
  }
  crypto::XChaChaNonce nonce{};
  nonce[0] = std::byte(static_cast<uint8_t>(version));
  crypto::SecretBytes next;
  std::vector<keys::UserKeyHolder> users;
  if (new_host_key) {
    next = key22();
    keys::UserKeyHolder holder;
    holder.wrapped.host = kClient;
    holder.wrapped.user = "alice";
    holder.wrapped.kdf = keys::kGeneratedPasswordKdf;
    holder.user_key = key22();
    users.push_back(std::move(holder));
  }
  header.new_host_key = new_host_key;
  auto file = keys::seal_update(header, key22(), next, body, nonce, users);
  EXPECT_TRUE(file.ok()) << (file.ok() ? "" : file.error().message());
  Item item;
  item.kind = ItemKind::kPackage;
  item.flags = new_host_key ? kFlagNewHostKey : 0;
  item.dest = item.subject = kClient;
  item.via = kSelf;
  item.version = version;
  if (file.ok()) item.payload = file.value();
  return item;
}

struct Env : Environment {
  std::map<uint64_t, std::vector<std::byte>> disk;
  std::vector<std::pair<HostId, std::vector<std::byte>>> sent;
  bool fail_store = false;
  bool store(uint64_t id, std::span<const std::byte> encoded) override {
    if (fail_store) return false;
    disk[id].assign(encoded.begin(), encoded.end());
    return true;
  }
  void erase(uint64_t id) override { disk.erase(id); }
  bool send(HostId peer, std::span<const std::byte> m) override {
    sent.emplace_back(peer, std::vector<std::byte>(m.begin(), m.end()));
    return true;
  }
  Applied apply(const Item&) override { return {}; }
};

CourierConfig courier_config() {
  CourierConfig c;
  c.self = kSelf;
  c.coordinator = true;
  c.admin_host = kAdmin;
  c.admin_courier = kSelf;
  c.peers = {kAdmin, kClient, kOther};
  c.coordinators = {kOther};
  c.served = {kAdmin, kClient};
  return c;
}

// Delivers `item` to `courier` from `from` in one or more segments, as a
// sender would; returns the final ack.
std::optional<Ack> deliver(Courier& courier, Env& env, HostId from, const Item& item, uint64_t transfer,
                           int64_t now = 0) {
  const auto bytes = encode_item(item);
  for (size_t at = 0; at < bytes.size(); at += kMaxSegmentData) {
    const size_t n = std::min(kMaxSegmentData, bytes.size() - at);
    courier.receive(from, encode_segment(transfer, static_cast<uint32_t>(bytes.size()), static_cast<uint32_t>(at),
                                         std::span(bytes).subspan(at, n)),
                    now);
  }
  for (auto it = env.sent.rbegin(); it != env.sent.rend(); ++it) {
    auto m = parse_message(it->second);
    if (m && std::holds_alternative<Ack>(*m) && std::get<Ack>(*m).transfer == transfer) return std::get<Ack>(*m);
  }
  return std::nullopt;
}

std::vector<uint64_t> package_versions(const Courier& c) {
  std::vector<uint64_t> out;
  for (const HeldItem& m : c.status().items)
    if (m.kind == ItemKind::kPackage) out.push_back(m.version);
  return out;
}

TEST(Courier, NewerPackageSupersedesButKeepsTheHostKeyOne) {
  Env env;
  Courier c(courier_config(), env, 1, {}, 0);
  EXPECT_EQ(deliver(c, env, kAdmin, package(2), 1)->state, AckState::kStored);
  const auto key_ack = deliver(c, env, kAdmin, package(3, true), 2);
  EXPECT_EQ(key_ack->state, AckState::kStored) << refusal_name(key_ack->reason);
  EXPECT_EQ(deliver(c, env, kAdmin, package(4), 3)->state, AckState::kStored);
  // v2 went; v3 replaces the host key, so the host needs it before v4.
  EXPECT_EQ(package_versions(c), (std::vector<uint64_t>{3, 4}));
  // A newer key package makes the older one unneeded.
  EXPECT_EQ(deliver(c, env, kAdmin, package(5, true), 4)->state, AckState::kStored);
  EXPECT_EQ(package_versions(c), (std::vector<uint64_t>{5}));
  // An older one arriving late is a duplicate: acknowledged, not kept.
  EXPECT_EQ(deliver(c, env, kAdmin, package(4), 5)->state, AckState::kStored);
  EXPECT_EQ(package_versions(c), (std::vector<uint64_t>{5}));
  EXPECT_EQ(c.status().counters.duplicates, 1u);
  // The final courier tells the administration host it holds each one.
  size_t notices = 0;
  for (const HeldItem& m : c.status().items) notices += m.kind == ItemKind::kNotice;
  EXPECT_EQ(notices, 1u);  // the newest notice about the client
}

TEST(Courier, HelloDropsWhatTheHostHas) {
  Env env;
  Courier c(courier_config(), env, 1, {}, 0);
  deliver(c, env, kAdmin, package(3, true), 1);
  deliver(c, env, kAdmin, package(4), 2);
  c.receive(kClient, encode_hello(Hello{3}), 0);
  EXPECT_EQ(package_versions(c), (std::vector<uint64_t>{4}));
  c.receive(kClient, encode_hello(Hello{9}), 0);
  EXPECT_TRUE(package_versions(c).empty());
  // And a package the host already has is not taken again.
  deliver(c, env, kAdmin, package(8), 3);
  EXPECT_TRUE(package_versions(c).empty());
}

TEST(Courier, RefusesUntrustedSendersAndHostsItDoesNotServe) {
  Env env;
  Courier c(courier_config(), env, 1, {}, 0);
  // A client may not hand in packages.
  auto ack = deliver(c, env, kClient, package(2), 1);
  EXPECT_EQ(ack->state, AckState::kRefused);
  EXPECT_EQ(ack->reason, Refusal::kUntrustedSender);
  // Nor anything larger than a receipt: refused at the first segment.
  ack = deliver(c, env, kClient, package(2, false, 200), 9);
  EXPECT_EQ(ack->reason, Refusal::kTooLarge);
  // A package this courier is named for, for a host it does not serve.
  CourierConfig narrow = courier_config();
  narrow.served = {kAdmin};
  Courier n(narrow, env, 2, {}, 0);
  ack = deliver(n, env, kAdmin, package(2), 2);
  EXPECT_EQ(ack->reason, Refusal::kNotServed);
  // An item whose package header names another version.
  Item lying = package(2);
  lying.version = 7;
  ack = deliver(c, env, kAdmin, lying, 3);
  EXPECT_EQ(ack->reason, Refusal::kMalformed);
  EXPECT_TRUE(package_versions(c).empty());
}

TEST(Courier, SpoolLimitPerHost) {
  Env env;
  CourierConfig config = courier_config();
  const Item big = package(2, false, 3000);
  config.spool_host_limit = big.encoded_size() - 1;
  Courier c(config, env, 1, {}, 0);
  auto ack = deliver(c, env, kAdmin, big, 1);
  EXPECT_EQ(ack->reason, Refusal::kTooLarge);
  // The administration host hears of it: a refused notice in the spool.
  bool refused_notice = false;
  for (const auto& [id, bytes] : env.disk) {
    auto item = parse_item(bytes);
    if (item && item->kind == ItemKind::kNotice) {
      refused_notice = parse_notice(item->payload)->state == Notice::State::kRefused;
    }
  }
  EXPECT_TRUE(refused_notice);
}

TEST(Courier, StorageFailureIsNotFinal) {
  Env env;
  env.fail_store = true;
  Courier c(courier_config(), env, 1, {}, 0);
  auto ack = deliver(c, env, kAdmin, package(2), 1);
  EXPECT_EQ(ack->reason, Refusal::kStorageFailed);
  env.fail_store = false;
  ack = deliver(c, env, kAdmin, package(2), 2);
  EXPECT_EQ(ack->state, AckState::kStored);
}

TEST(Courier, SurvivesARestartFromItsSpool) {
  Env env;
  {
    Courier c(courier_config(), env, 1, {}, 0);
    deliver(c, env, kAdmin, package(2), 1);
  }
  std::vector<std::pair<uint64_t, std::vector<std::byte>>> loaded(env.disk.begin(), env.disk.end());
  Courier again(courier_config(), env, 2, loaded, 0);
  EXPECT_EQ(package_versions(again), (std::vector<uint64_t>{2}));
  // A segment of a transfer begun before the restart is answered "unknown".
  env.sent.clear();
  const auto bytes = encode_item(package(3));
  again.receive(kAdmin, encode_segment(77, static_cast<uint32_t>(bytes.size()), 10, std::span(bytes).subspan(10, 5)), 0);
  ASSERT_EQ(env.sent.size(), 1u);
  EXPECT_EQ(std::get<Ack>(*parse_message(env.sent[0].second)).state, AckState::kUnknown);
}

TEST(Courier, SendsToAClientOnlyAfterItsHello) {
  Env env;
  Courier c(courier_config(), env, 1, {}, 0);
  deliver(c, env, kAdmin, package(2), 1);
  env.sent.clear();
  c.tick(kNsPerSecond);
  for (const auto& [peer, m] : env.sent) EXPECT_NE(peer, kClient);
  c.receive(kClient, encode_hello(Hello{1}), kNsPerSecond);
  c.tick(2 * kNsPerSecond);
  bool segment = false;
  for (const auto& [peer, m] : env.sent) segment |= peer == kClient && std::holds_alternative<Segment>(*parse_message(m));
  EXPECT_TRUE(segment);
}

// ---- the spool on disk -----------------------------------------------------

// A coordinator's status report (status_report.hpp) as an item of kind 4.
Item status_item(HostId coordinator, uint64_t version) {
  StatusReport report;
  report.coordinator = coordinator;
  report.time_s = static_cast<int64_t>(version / 1000);
  Item item;
  item.kind = ItemKind::kStatus;
  item.dest = kAdmin;
  item.via = kSelf;
  item.subject = coordinator;
  item.version = version;
  item.payload = *seal_status_report(report, key22());
  return item;
}

std::vector<uint64_t> status_versions(const Courier& c) {
  std::vector<uint64_t> out;
  for (const HeldItem& m : c.status().items)
    if (m.kind == ItemKind::kStatus) out.push_back(m.version);
  return out;
}

TEST(CourierStatus, NewestReportOfEachCoordinatorIsKept) {
  Env env;
  Courier c(courier_config(), env, 1, {}, 0);
  EXPECT_EQ(deliver(c, env, kOther, status_item(kOther, 10'000), 1)->state, AckState::kStored);
  EXPECT_EQ(deliver(c, env, kOther, status_item(kOther, 20'000), 2)->state, AckState::kStored);
  EXPECT_EQ(status_versions(c), std::vector<uint64_t>{20'000});
  // An older one arriving late changes nothing.
  EXPECT_EQ(deliver(c, env, kOther, status_item(kOther, 15'000), 3)->state, AckState::kStored);
  EXPECT_EQ(status_versions(c), std::vector<uint64_t>{20'000});
  // This courier's own report travels beside it, to the same host.
  ASSERT_TRUE(c.report_status(status_item(kSelf, 30'000).payload, 30'000, 0));
  EXPECT_EQ(status_versions(c).size(), 2u);
  for (const HeldItem& m : c.status().items) EXPECT_EQ(m.next_hop, kAdmin);
  EXPECT_EQ(env.disk.size(), 2u);
}

TEST(CourierStatus, OnlyCoordinatorsReportAndOnlyAboutThemselves) {
  Env env;
  Courier c(courier_config(), env, 1, {}, 0);
  auto ack = deliver(c, env, kClient, status_item(kClient, 10'000), 1);
  EXPECT_EQ(ack->reason, Refusal::kUntrustedSender);
  // The item names one coordinator, the report inside another.
  Item lying = status_item(kSelf, 10'000);
  lying.subject = kOther;
  ack = deliver(c, env, kOther, lying, 2);
  EXPECT_EQ(ack->reason, Refusal::kMalformed);
  EXPECT_TRUE(status_versions(c).empty());
  // A client does not make reports.
  CourierConfig client = courier_config();
  client.coordinator = false;
  Courier k(client, env, 3, {}, 0);
  EXPECT_FALSE(k.report_status(status_item(kSelf, 1).payload, 1, 0));
}

TEST(CourierSpool, StoresLoadsAndSetsAsideBadFiles) {
  testkit::TempDir dir("spool");
  const std::string path = (dir.path() / "courier").string();
  auto spool = daemon::CourierSpool::open(path);
  ASSERT_TRUE(spool.ok()) << spool.error();
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_all);
  const auto a = encode_item(package(2));
  const auto b = encode_item(package(3));
  std::string error;
  ASSERT_TRUE(spool->store(1, a, error)) << error;
  ASSERT_TRUE(spool->store(0x1f, b, error)) << error;
  // A torn temporary file of an interrupted write, and a corrupted item.
  std::ofstream(path + "/.tmp-0000000000000002.item") << "half";
  std::ofstream(path + "/0000000000000003.item") << "CRDNSPL1garbage";
  auto loaded = spool->load();
  ASSERT_EQ(loaded.items.size(), 2u);
  EXPECT_EQ(loaded.items[0].first, 1u);
  EXPECT_EQ(loaded.items[0].second, a);
  EXPECT_EQ(loaded.items[1].first, 0x1fu);
  ASSERT_EQ(loaded.problems.size(), 1u);
  EXPECT_NE(loaded.problems[0].find("0000000000000003.item set aside"), std::string::npos) << loaded.problems[0];
  EXPECT_TRUE(std::filesystem::exists(path + "/0000000000000003.item.bad"));
  spool->erase(1);
  EXPECT_EQ(spool->load().items.size(), 1u);
  EXPECT_EQ(std::filesystem::status(path + "/000000000000001f.item").permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

TEST(CourierSpool, FileFormatRefusals) {
  const auto item = encode_item(package(2));
  auto file = daemon::spool_file_bytes(item);
  ASSERT_TRUE(daemon::parse_spool_file(file).ok());
  EXPECT_FALSE(daemon::parse_spool_file(item).ok());  // no magic
  file.pop_back();
  EXPECT_FALSE(daemon::parse_spool_file(file).ok());  // truncated
}

}  // namespace
}  // namespace cordon::courier
