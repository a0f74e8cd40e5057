// os::SysError holds its text inline: a send that fails once per datagram
// must not allocate to say so (docs/design.md, "Errors"). The allocation
// count comes from replacing the global operator new in this binary; it
// counts only on the thread and while a Counting scope is open. ASan
// and TSan replace operator new themselves, so their builds leave the counting out.
#include <cerrno>
#include <cstdlib>
#include <new>
#include <string>

#include <gtest/gtest.h>

#include "os/linux/result.hpp"
#include "os/linux/sockaddr.hpp"

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define CORDON_TEST_NO_NEW_COUNT 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define CORDON_TEST_NO_NEW_COUNT 1
#endif

namespace {
thread_local bool g_counting = false;
thread_local int g_allocations = 0;
}  // namespace

#ifndef CORDON_TEST_NO_NEW_COUNT
void* operator new(std::size_t size) {
  if (g_counting) ++g_allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
#endif

namespace cordon::os {
namespace {

// Counts the allocations made on this thread while it lives.
class Counting {
 public:
  Counting() {
    g_allocations = 0;
    g_counting = true;
  }
  ~Counting() { g_counting = false; }
  int allocations() const { return g_allocations; }
};

#ifndef CORDON_TEST_NO_NEW_COUNT
TEST(SysError, BuildingOneDoesNotAllocate) {
  int allocations = 0;
  {
    Counting counting;
    Result<size_t> r = sys_error("send UDP to [2001:db8::1]:51820", EAGAIN);
    SysError copy = r.error();
    allocations = counting.allocations() + (copy.err == EAGAIN ? 0 : 1);
  }
  EXPECT_EQ(allocations, 0);
}

TEST(SysError, BuildingOneFromPartsDoesNotAllocate) {
  const Endpoint peer{.address = IpAddress::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}),
                      .port = 51820};
  int allocations = 0;
  SysError e;
  {
    Counting counting;
    e = sys_error_of(EAGAIN, "send UDP to ", endpoint_chars(peer).view(), " (batch of ", 64, ")");
    allocations = counting.allocations();
  }
  EXPECT_EQ(allocations, 0);
  EXPECT_EQ(e.message(), "send UDP to [2001:db8::1]:51820 (batch of 64): Resource temporarily unavailable");
}
#endif

TEST(SysError, MessageIsTheTextAloneWithoutAnErrno) {
  EXPECT_EQ(sys_error("refusing /k (mode 0644)", 0).message(), "refusing /k (mode 0644)");
  EXPECT_EQ(sys_error("open /dev/net/tun", ENOENT).message(), "open /dev/net/tun: No such file or directory");
  EXPECT_EQ(sys_error("x", 99999).message(), "x: errno 99999");
}

TEST(SysError, TooLongATextIsCutAndMarked) {
  const std::string path(ErrorText::kCapacity, 'p');
  const SysError e = sys_error_of(EACCES, "open ", path, " and more");
  EXPECT_EQ(e.what.view().size(), ErrorText::kCapacity);
  EXPECT_TRUE(e.what.view().starts_with("open ppp"));
  EXPECT_TRUE(e.what.view().ends_with("p..."));
  EXPECT_EQ(e.what.c_str()[ErrorText::kCapacity], '\0');
  const SysError exact = sys_error(std::string(ErrorText::kCapacity, 'q'), 0);
  EXPECT_EQ(exact.message(), std::string(ErrorText::kCapacity, 'q'));
}

TEST(SysError, EndpointTextMatchesBothForms) {
  const Endpoint v4{.address = IpAddress::v4(0xc0000201), .port = 443};
  EXPECT_EQ(endpoint_text(v4), "192.0.2.1:443");
  EXPECT_EQ(endpoint_chars(v4).view(), "192.0.2.1:443");
  const Endpoint v6{.address = IpAddress::v6({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                              0xff, 0xff, 0xff, 0xff}),
                    .port = 65535};
  EXPECT_EQ(endpoint_text(v6), "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
}

}  // namespace
}  // namespace cordon::os
