// A gateway's IP forwarding (daemon/forwarding.hpp): turned on for the
// families it tunnels, recorded before it is changed, restored on stop, on
// a reload that drops the subnets, and after a crash from the record.
#include "daemon/forwarding.hpp"

#include <gtest/gtest.h>

#include <map>

#include "testing/fake_file_store.hpp"

namespace cordon::daemon {
namespace {

constexpr const char* kDir = "/state";
const std::string kRecord = std::string(kDir) + "/" + Forwarding::kRecordName;

struct Kernel {
  std::map<std::string, std::string, std::less<>> values = {{Forwarding::kIpv4, "0"}, {Forwarding::kIpv6, "0"}};
  bool refuse_writes = false;
  Forwarding::Switches switches() {
    return {[this](std::string_view name) -> os::Result<std::string> {
              auto it = values.find(name);
              if (it == values.end()) return os::sys_error("read", 2);
              return it->second;
            },
            [this](std::string_view name, std::string_view value) -> os::Status {
              if (refuse_writes) return os::sys_error("write", 13);
              values[std::string(name)] = std::string(value);
              return os::Ok{};
            }};
  }
};

std::vector<Prefix> prefixes(std::initializer_list<const char*> texts) {
  std::vector<Prefix> out;
  for (const char* t : texts) out.push_back(*Prefix::parse(t));
  return out;
}

TEST(Forwarding, OnForTheTunneledFamiliesAndRestoredOnStop) {
  Kernel kernel;
  kernel.values[Forwarding::kIpv6] = "2";
  testing::FakeFileStore files;
  {
    Forwarding f(kernel.switches(), files, kDir);
    EXPECT_TRUE(f.apply({}).changes.empty());
    EXPECT_EQ(kernel.values[Forwarding::kIpv4], "0");
    EXPECT_FALSE(files.contents(kRecord));

    const auto on = f.apply(prefixes({"192.168.1.0/24"}));
    EXPECT_TRUE(on.errors.empty());
    EXPECT_EQ(kernel.values[Forwarding::kIpv4], "1");
    EXPECT_EQ(kernel.values[Forwarding::kIpv6], "2");  // no IPv6 subnet
    EXPECT_EQ(files.contents(kRecord), std::string(Forwarding::kIpv4) + "=0\n");
    EXPECT_EQ(files.mode(kRecord), 0600u);

    f.apply(prefixes({"192.168.1.0/24", "fd10::/64"}));
    EXPECT_EQ(kernel.values[Forwarding::kIpv6], "1");
    // A reload that keeps only IPv6 restores IPv4.
    f.apply(prefixes({"fd10::/64"}));
    EXPECT_EQ(kernel.values[Forwarding::kIpv4], "0");
    EXPECT_EQ(files.contents(kRecord), std::string(Forwarding::kIpv6) + "=2\n");
    const auto off = f.restore();
    EXPECT_EQ(kernel.values[Forwarding::kIpv6], "2");
    EXPECT_FALSE(files.contents(kRecord));
    EXPECT_FALSE(off.changes.empty());
    f.apply(prefixes({"10.1.0.0/16"}));
  }
  // The destructor restores what was still on.
  EXPECT_EQ(kernel.values[Forwarding::kIpv4], "0");
  EXPECT_FALSE(files.contents(kRecord));
}

TEST(Forwarding, AfterACrashTheRecordedValueIsTheOneRestored) {
  Kernel kernel;
  testing::FakeFileStore files;
  // What a run killed with SIGKILL leaves: the switch on, and the record
  // it wrote before turning it on (the first test shows that order).
  kernel.values[Forwarding::kIpv4] = "1";
  ASSERT_TRUE(files.write_atomic(kRecord, std::string(Forwarding::kIpv4) + "=0\n", 0600));

  Forwarding next(kernel.switches(), files, kDir);
  const auto started = next.apply({});  // the gateway lost its subnets meanwhile
  EXPECT_EQ(kernel.values[Forwarding::kIpv4], "0") << "restored from the record, not left at the crash's 1";
  EXPECT_FALSE(files.contents(kRecord));
  ASSERT_FALSE(started.changes.empty());
  EXPECT_NE(started.changes.front().find("previous run"), std::string::npos) << started.changes.front();

  // Started again with subnets: the record of "0" is kept while it runs.
  kernel.values[Forwarding::kIpv4] = "1";
  files.write_atomic(kRecord, std::string(Forwarding::kIpv4) + "=0\n", 0600);
  Forwarding again(kernel.switches(), files, kDir);
  again.apply(prefixes({"192.168.1.0/24"}));
  EXPECT_EQ(files.contents(kRecord), std::string(Forwarding::kIpv4) + "=0\n");
  again.restore();
  EXPECT_EQ(kernel.values[Forwarding::kIpv4], "0");
}

TEST(Forwarding, ASwitchThatCannotBeSetIsNamed) {
  Kernel kernel;
  kernel.refuse_writes = true;
  testing::FakeFileStore files;
  Forwarding f(kernel.switches(), files, kDir);
  const auto applied = f.apply(prefixes({"192.168.1.0/24"}));
  ASSERT_EQ(applied.errors.size(), 1u);
  EXPECT_NE(applied.errors[0].find(Forwarding::kIpv4), std::string::npos) << applied.errors[0];
  EXPECT_EQ(kernel.values[Forwarding::kIpv4], "0");
  kernel.refuse_writes = false;
}

}  // namespace
}  // namespace cordon::daemon
