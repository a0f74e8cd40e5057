// daemon/local_endpoints.hpp: which of the host's addresses are reported to
// the registry as local endpoints.
#include "daemon/local_endpoints.hpp"

#include <gtest/gtest.h>

#include "core/wire/control.hpp"

namespace cordon::daemon {
namespace {

os::InterfaceAddress addr(const char* interface, const char* ip, bool up = true, bool loopback = false) {
  return os::InterfaceAddress{interface, *IpAddress::parse(ip), up, loopback};
}

Endpoint ep(const char* text) { return *Endpoint::parse(text); }

LocalEndpointRules any(const char* listen = "::") {
  return LocalEndpointRules{"cordon0", *IpAddress::parse(listen), 51820};
}

TEST(LocalEndpoints, KeepsGlobalAndPrivateAddressesOfOtherInterfaces) {
  const std::vector<os::InterfaceAddress> list = {
      addr("lo", "127.0.0.1", true, true),     addr("lo", "::1", true, true),
      addr("eth0", "192.168.1.20"),            addr("eth0", "fe80::1"),
      addr("eth0", "2001:db8::20"),            addr("cordon0", "10.77.0.1"),
      addr("wlan0", "10.0.0.5", /*up=*/false), addr("eth1", "0.0.0.0"),
      addr("eth1", "224.0.0.1"),               addr("eth1", "ff02::1"),
      addr("eth1", "fd00::7"),                 addr("eth1", "127.0.0.2"),
  };
  const std::vector<Endpoint> want = {ep("192.168.1.20:51820"), ep("[2001:db8::20]:51820"),
                                      ep("[fd00::7]:51820")};
  EXPECT_EQ(local_endpoints(list, any()), want);
}

TEST(LocalEndpoints, FeBfIsLinkLocalButFec0IsNot) {
  const std::vector<os::InterfaceAddress> list = {addr("eth0", "febf::1"), addr("eth0", "fec0::1")};
  EXPECT_EQ(local_endpoints(list, any()), (std::vector<Endpoint>{ep("[fec0::1]:51820")}));
}

TEST(LocalEndpoints, AnIpv4SocketReportsNoIpv6) {
  const std::vector<os::InterfaceAddress> list = {addr("eth0", "2001:db8::20"), addr("eth0", "198.51.100.4")};
  EXPECT_EQ(local_endpoints(list, any("0.0.0.0")), (std::vector<Endpoint>{ep("198.51.100.4:51820")}));
}

TEST(LocalEndpoints, ASpecificListenAddressIsTheOnlyOne) {
  const std::vector<os::InterfaceAddress> list = {addr("eth0", "192.168.1.20"), addr("eth1", "198.51.100.4")};
  EXPECT_EQ(local_endpoints(list, any("198.51.100.4")), (std::vector<Endpoint>{ep("198.51.100.4:51820")}));
  EXPECT_EQ(local_endpoints({}, any("2001:db8::1")), (std::vector<Endpoint>{ep("[2001:db8::1]:51820")}));
}

TEST(LocalEndpoints, SortedWithoutDuplicatesAndCapped) {
  std::vector<os::InterfaceAddress> list;
  for (int i = 12; i >= 1; --i) list.push_back(addr("eth0", ("10.0.0." + std::to_string(i)).c_str()));
  list.push_back(addr("eth1", "10.0.0.1"));  // the same address on a second interface
  list.insert(list.begin(), addr("eth0", "2001:db8::1"));
  const std::vector<Endpoint> got = local_endpoints(list, any());
  ASSERT_EQ(got.size(), wire::kMaxLocalEndpoints);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i], ep(("10.0.0." + std::to_string(i + 1) + ":51820").c_str())) << i;
  }
}

TEST(LocalEndpoints, TrackerReportsOnlyChanges) {
  LocalEndpointTracker tracker;
  EXPECT_EQ(tracker.update({}), std::optional<std::vector<Endpoint>>(std::vector<Endpoint>{}));  // first: always
  EXPECT_FALSE(tracker.update({}));
  EXPECT_EQ(tracker.update({ep("10.0.0.1:51820")}), std::optional(std::vector<Endpoint>{ep("10.0.0.1:51820")}));
  EXPECT_FALSE(tracker.update({ep("10.0.0.1:51820")}));
  EXPECT_TRUE(tracker.update({}));
}

}  // namespace
}  // namespace cordon::daemon
