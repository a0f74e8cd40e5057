// The installed key set (daemon/keyset_store.hpp): install, passwd and
// update apply, and every refusal leaving the installed file as it was
// (docs/design.md, "What every capability meets": bad input gets a
// clear error, and nothing changes).
#include "tests/common/temp_dir.hpp"
#include "daemon/keyset_store.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/common/keyset_builder.hpp"

namespace cordon::daemon {
namespace {

namespace fs = std::filesystem;
using testkit::KeySetMaker;

using testkit::TempDir;

std::vector<std::byte> file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(chars.size());
  for (size_t i = 0; i < chars.size(); ++i) out[i] = static_cast<std::byte>(chars[i]);
  return out;
}

unsigned file_mode(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

class KeysetStoreTest : public ::testing::Test {
 protected:
  KeysetStoreTest() : store_(keyset_path((dir_.path() / "state").string())), maker_(KeySetMaker::three_hosts()) {}

  // Installs version `version` of maker_'s key set; fails the test if refused.
  void install(uint64_t version) {
    auto r = store_.install(maker_.seal(version), maker_.password, "v.keyset");
    ASSERT_TRUE(r) << r.error().message;
  }

  // The installed bytes, to check a refusal changed nothing.
  std::vector<std::byte> snapshot() const { return file_bytes(store_.path()); }

  TempDir dir_;
  KeysetStore store_;
  KeySetMaker maker_;
};

TEST_F(KeysetStoreTest, InstallStoresTheFileAsIsPrivately) {
  const auto file = maker_.seal(1);
  auto r = store_.install(file, maker_.password, "a.keyset");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r.value().header.host, HostId{0x0001000a});
  EXPECT_EQ(r.value().header.version, 1u);
  EXPECT_FALSE(r.value().replaced_version);
  EXPECT_EQ(file_bytes(store_.path()), file);  // encrypted at rest: the export, byte for byte
  EXPECT_EQ(file_mode(store_.path()), 0600u);
  EXPECT_EQ(file_mode((dir_.path() / "state").string()), 0700u);

  auto header = store_.header();
  ASSERT_TRUE(header) << header.error().message;
  EXPECT_EQ(header.value().user, "alice");
}

TEST_F(KeysetStoreTest, UnlockAndOpenWithUserKey) {
  install(1);
  auto opened = store_.unlock(maker_.password);
  ASSERT_TRUE(opened) << opened.error().message;
  EXPECT_EQ(opened.value().user_key, maker_.user_key);
  EXPECT_EQ(opened.value().body.book.entries.size(), 3u);

  auto again = store_.open_with_user_key(maker_.user_key);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again.value().header.version, 1u);

  auto wrong = store_.open_with_user_key(testkit::filled_key(0x99));
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, keys::KeySetError::kWrongUserKey);
  EXPECT_NE(wrong.error().message.find(store_.path()), std::string::npos) << wrong.error().message;
}

TEST_F(KeysetStoreTest, NothingInstalledSaysHowToInstall) {
  auto header = store_.header();
  ASSERT_FALSE(header);
  EXPECT_NE(header.error().message.find("cordon keyset install"), std::string::npos) << header.error().message;
  EXPECT_FALSE(store_.unlock(maker_.password));
  EXPECT_FALSE(store_.apply_update(maker_.update(2, maker_.body), maker_.password, "u"));
}

TEST_F(KeysetStoreTest, ReadableByOthersIsRefused) {
  install(1);
  ASSERT_EQ(::chmod(store_.path().c_str(), 0644), 0);
  auto header = store_.header();
  ASSERT_FALSE(header);
  EXPECT_NE(header.error().message.find("chmod 600"), std::string::npos) << header.error().message;
}

TEST_F(KeysetStoreTest, WrongPasswordIsRefusedAndNothingChanges) {
  auto r = store_.install(maker_.seal(1), "not-the-password", "a.keyset");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, keys::KeySetError::kWrongPassword);
  EXPECT_NE(r.error().message.find("a.keyset"), std::string::npos) << r.error().message;
  EXPECT_FALSE(store_.installed());

  install(1);
  const auto before = snapshot();
  auto newer = store_.install(maker_.seal(2), "not-the-password", "b.keyset");
  ASSERT_FALSE(newer);
  EXPECT_EQ(newer.error().code, keys::KeySetError::kWrongPassword);
  EXPECT_EQ(snapshot(), before);
}

TEST_F(KeysetStoreTest, BadPasswordLengthIsRefused) {
  for (const char* password : {"short", "a-password-that-is-far-too-long-for-cordon"}) {
    auto r = store_.install(maker_.seal(1), password, "a.keyset");
    ASSERT_FALSE(r) << password;
    EXPECT_EQ(r.error().code, keys::KeySetError::kBadPasswordLength) << r.error().message;
  }
  EXPECT_FALSE(store_.installed());
}

TEST_F(KeysetStoreTest, TruncatedOrTamperedKeySetIsRefused) {
  install(1);
  const auto before = snapshot();
  const auto good = maker_.seal(2);

  // Every truncation, including an empty file.
  for (size_t length : {size_t{0}, size_t{7}, size_t{30}, good.size() / 2, good.size() - 1}) {
    auto r = store_.install(std::span(good).first(length), maker_.password, "cut.keyset");
    ASSERT_FALSE(r) << length;
    EXPECT_FALSE(r.error().message.empty());
  }
  // A flipped byte anywhere: the header, each wrap, the body.
  for (size_t offset : {size_t{0}, size_t{9}, size_t{13}, size_t{20}, good.size() / 2, good.size() - 1}) {
    auto bad = good;
    bad[offset] ^= std::byte{0x01};
    auto r = store_.install(bad, maker_.password, "bad.keyset");
    ASSERT_FALSE(r) << "offset " << offset;
    EXPECT_NE(r.error().message.find("bad.keyset"), std::string::npos) << r.error().message;
  }
  auto body_flip = good;
  body_flip[good.size() - 20] ^= std::byte{0x80};
  auto r = store_.install(body_flip, maker_.password, "bad.keyset");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, keys::KeySetError::kTampered) << r.error().message;
  EXPECT_EQ(snapshot(), before);
}

TEST_F(KeysetStoreTest, AnotherHostOrNetworkIsRefusedWithBothIds) {
  install(1);
  const auto before = snapshot();

  KeySetMaker other = KeySetMaker::other_host();
  auto r = store_.install(other.seal(5), other.password, "d.keyset");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, keys::KeySetError::kOtherHost);
  EXPECT_NE(r.error().message.find("0x0001000d"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("0x0001000a"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("re-purpose"), std::string::npos) << r.error().message;

  KeySetMaker net2 = KeySetMaker::other_network();
  auto n = store_.install(net2.seal(5), net2.password, "net2.keyset");
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().code, keys::KeySetError::kOtherNetwork);
  EXPECT_NE(n.error().message.find("0x0002000a"), std::string::npos) << n.error().message;
  EXPECT_EQ(snapshot(), before);
}

TEST_F(KeysetStoreTest, OnlyANewerVersionReplacesTheInstalledOne) {
  install(3);
  const auto before = snapshot();
  for (uint64_t version : {uint64_t{3}, uint64_t{2}, uint64_t{1}}) {
    auto r = store_.install(maker_.seal(version), maker_.password, "old.keyset");
    ASSERT_FALSE(r) << version;
    EXPECT_EQ(r.error().code, keys::KeySetError::kStaleVersion);
    EXPECT_NE(r.error().message.find("installed version 3"), std::string::npos) << r.error().message;
  }
  EXPECT_EQ(snapshot(), before);

  auto r = store_.install(maker_.seal(4), maker_.password, "new.keyset");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r.value().replaced_version, std::optional<uint64_t>(3));
  EXPECT_EQ(store_.header().value().version, 4u);
}

TEST_F(KeysetStoreTest, CheckInstallNeedsNoPassword) {
  install(2);
  EXPECT_TRUE(store_.check_install(maker_.seal(3), "n.keyset"));
  auto stale = store_.check_install(maker_.seal(2), "n.keyset");
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, keys::KeySetError::kStaleVersion);
}

TEST_F(KeysetStoreTest, PasswdReSealsUnderTheNewPassword) {
  install(1);
  const std::string fresh = "my new passphrase";
  auto r = store_.passwd(maker_.password, fresh);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(file_mode(store_.path()), 0600u);

  auto old = store_.unlock(maker_.password);
  ASSERT_FALSE(old);
  EXPECT_EQ(old.error().code, keys::KeySetError::kWrongPassword);

  auto opened = store_.unlock(fresh);
  ASSERT_TRUE(opened) << opened.error().message;
  EXPECT_EQ(opened.value().header.version, 1u);
  EXPECT_EQ(opened.value().user_key, maker_.user_key);  // same user key: a running daemon can still reload
  EXPECT_EQ(opened.value().host_key, maker_.host_key);
  EXPECT_EQ(opened.value().header.kdf, keys::kChosenPasswordKdf);
  ASSERT_EQ(opened.value().body.links.size(), 2u);
  EXPECT_EQ(opened.value().body.links[0].key, testkit::filled_key(0xab));
}

TEST_F(KeysetStoreTest, PasswdRefusesAWrongOldOrBadNewPassword) {
  install(1);
  const auto before = snapshot();
  auto wrong = store_.passwd("not-the-password", "my new passphrase");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, keys::KeySetError::kWrongPassword);
  auto short_new = store_.passwd(maker_.password, "short");
  ASSERT_FALSE(short_new);
  EXPECT_EQ(short_new.error().code, keys::KeySetError::kBadPasswordLength);
  EXPECT_NE(short_new.error().message.find("new password"), std::string::npos) << short_new.error().message;
  EXPECT_EQ(snapshot(), before);
}

// The body of version 2: the link to C removed, B's endpoint moved.
keys::KeySetBody without_c(const keys::KeySetBody& body) {
  keys::KeySetBody next = body;
  next.book.entries.pop_back();
  next.links.pop_back();
  next.book.entries[1].endpoints = {*Endpoint::parse("192.0.2.20:51820")};
  return next;
}

TEST_F(KeysetStoreTest, ApplyUpdateStoresTheNewVersion) {
  install(1);
  const keys::KeySetBody next = without_c(maker_.body);
  auto r = store_.apply_update(maker_.update(2, next), maker_.password, "2.update");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r.value().replaced_version, 1u);
  EXPECT_EQ(r.value().update.version, 2u);
  EXPECT_EQ(r.value().peers, 1u);
  EXPECT_EQ(file_mode(store_.path()), 0600u);

  // Still opens with the same password and user key (the daemon's reload).
  auto opened = store_.open_with_user_key(maker_.user_key);
  ASSERT_TRUE(opened) << opened.error().message;
  EXPECT_EQ(opened.value().header.version, 2u);
  EXPECT_EQ(opened.value().body.book, next.book);
  ASSERT_TRUE(store_.unlock(maker_.password));
}

TEST_F(KeysetStoreTest, ReplayedOrOlderUpdatesAreRefused) {
  install(1);
  const keys::KeySetBody next = without_c(maker_.body);
  const auto update2 = maker_.update(2, next);
  ASSERT_TRUE(store_.apply_update(update2, maker_.password, "2.update"));
  const auto before = snapshot();

  for (const auto& package : {update2, maker_.update(1, next)}) {
    auto r = store_.apply_update(package, maker_.password, "old.update");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, keys::KeySetError::kStaleVersion);
    EXPECT_NE(r.error().message.find("older than or the same as the installed version 2"), std::string::npos)
        << r.error().message;
    EXPECT_NE(r.error().message.find("already applied or replayed"), std::string::npos) << r.error().message;
  }
  // The check needs no password: a replay is refused before one is asked.
  EXPECT_FALSE(store_.check_update(update2, "2.update"));
  EXPECT_EQ(snapshot(), before);

  // Skipping a version is fine: a package carries the whole state.
  ASSERT_TRUE(store_.apply_update(maker_.update(5, maker_.body), maker_.password, "5.update"));
  EXPECT_EQ(store_.header().value().version, 5u);
}

TEST_F(KeysetStoreTest, UpdateForAnotherHostOrNetworkIsRefused) {
  install(1);
  const auto before = snapshot();
  KeySetMaker other = KeySetMaker::other_host();
  auto r = store_.apply_update(other.update(2, other.body), maker_.password, "d.update");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, keys::KeySetError::kOtherHost);
  EXPECT_NE(r.error().message.find("0x0001000d"), std::string::npos) << r.error().message;

  KeySetMaker net2 = KeySetMaker::other_network();
  auto n = store_.apply_update(net2.update(2, net2.body), maker_.password, "net2.update");
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().code, keys::KeySetError::kOtherNetwork);
  EXPECT_EQ(snapshot(), before);
}

TEST_F(KeysetStoreTest, TruncatedTamperedOrMisKeyedUpdatesAreRefused) {
  install(1);
  const auto before = snapshot();
  const auto good = maker_.update(2, without_c(maker_.body));

  for (size_t length : {size_t{0}, size_t{5}, size_t{25}, good.size() - 1}) {
    auto r = store_.apply_update(std::span(good).first(length), maker_.password, "cut.update");
    ASSERT_FALSE(r) << length;
  }
  auto tampered = good;
  tampered[good.size() - 5] ^= std::byte{0x01};
  auto t = store_.apply_update(tampered, maker_.password, "bad.update");
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, keys::KeySetError::kTampered);

  auto kind_flip = good;
  kind_flip[24] ^= std::byte{0x03};  // kind 1 -> 2: header byte covered by the AAD
  EXPECT_FALSE(store_.apply_update(kind_flip, maker_.password, "bad.update"));

  KeySetMaker wrong_key = maker_;
  wrong_key.host_key = testkit::filled_key(0x77);
  auto w = store_.apply_update(wrong_key.update(2, maker_.body), maker_.password, "w.update");
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, keys::KeySetError::kTampered);

  auto pw = store_.apply_update(good, "not-the-password", "2.update");
  ASSERT_FALSE(pw);
  EXPECT_EQ(pw.error().code, keys::KeySetError::kWrongPassword);
  EXPECT_EQ(snapshot(), before);
}

TEST_F(KeysetStoreTest, RotatedHostKeyProtectsLaterUpdates) {
  install(1);
  const crypto::SecretBytes rotated = testkit::filled_key(0x33);
  ASSERT_TRUE(store_.apply_update(maker_.update(2, maker_.body, keys::UpdateKind::kKeys, rotated), maker_.password,
                                  "2.update"));
  EXPECT_EQ(store_.unlock(maker_.password).value().host_key, rotated);

  // A package under the old host key no longer opens; one under the new does.
  auto old = store_.apply_update(maker_.update(3, maker_.body), maker_.password, "3.update");
  ASSERT_FALSE(old);
  EXPECT_EQ(old.error().code, keys::KeySetError::kTampered);
  KeySetMaker next = maker_;
  next.host_key = rotated;
  auto r = store_.apply_update_with_user_key(next.update(3, maker_.body), maker_.user_key, "3.update");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(store_.header().value().version, 3u);
}

TEST_F(KeysetStoreTest, PackageOfARemovedUserIsRefused) {
  install(1);
  const auto before = snapshot();
  // alice was removed: the new host key is wrapped for bob only.
  KeySetMaker bob = maker_;
  bob.user = "bob";
  bob.user_key = testkit::filled_key(0x55);
  const auto package = bob.update(2, maker_.body, keys::UpdateKind::kKeys, testkit::filled_key(0x33));
  auto r = store_.apply_update(package, maker_.password, "2.update");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, keys::KeySetError::kUserRemoved);
  EXPECT_NE(r.error().message.find("the user was removed from this host"), std::string::npos) << r.error().message;
  EXPECT_FALSE(store_.apply_update_with_user_key(package, maker_.user_key, "2.update"));
  EXPECT_EQ(snapshot(), before);
}

TEST_F(KeysetStoreTest, RotatedUserKeyIsAdoptedWithTheNewPasswordOnly) {
  install(1);
  const auto before = snapshot();
  KeySetMaker reset = maker_;  // `cordon admin user passwd --rotate-user-key`
  reset.user_key = testkit::filled_key(0x44);
  reset.password = "new-password-02";
  const auto package = reset.update(2, maker_.body, keys::UpdateKind::kKeys, testkit::filled_key(0x33));

  // The old password opens the installed key set, but its user key opens
  // nothing of the package.
  auto old = store_.apply_update(package, maker_.password, "2.update");
  ASSERT_FALSE(old);
  EXPECT_EQ(old.error().code, keys::KeySetError::kWrongUserKey);
  EXPECT_NE(old.error().message.find("new password"), std::string::npos) << old.error().message;
  EXPECT_FALSE(store_.apply_update_with_user_key(package, maker_.user_key, "2.update"));
  EXPECT_EQ(snapshot(), before);

  auto r = store_.apply_update(package, reset.password, "2.update");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r.value().new_user_key);
  auto opened = store_.unlock(reset.password);
  ASSERT_TRUE(opened) << opened.error().message;
  EXPECT_EQ(opened.value().user_key, reset.user_key);
  EXPECT_EQ(opened.value().host_key, testkit::filled_key(0x33));
  EXPECT_EQ(opened.value().header.version, 2u);
  EXPECT_FALSE(store_.unlock(maker_.password));
  EXPECT_FALSE(store_.open_with_user_key(maker_.user_key));
}

}  // namespace
}  // namespace cordon::daemon
