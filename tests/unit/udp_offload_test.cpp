// How UdpSocket groups a batch into sendmmsg messages with UDP_SEGMENT, and
// reads the segment size of a coalesced message (os/linux/udp_offload.hpp).
// The kernel side is exercised by tests/netns/offload_test.cpp.
#include "os/linux/udp_offload.hpp"

#include <gtest/gtest.h>
#include <netinet/udp.h>

#include <cstring>
#include <vector>

namespace cordon::os {
namespace {

Endpoint ep(const char* text) { return Endpoint::parse(text).value(); }

struct Batch {
  std::vector<std::vector<std::byte>> storage;
  std::vector<Datagram> datagrams;

  void add(const char* peer, size_t length) {
    storage.emplace_back(length);
    datagrams.push_back(Datagram{.data = {}, .length = length, .peer = ep(peer)});
  }
  std::span<const Datagram> span() {
    for (size_t i = 0; i < datagrams.size(); ++i) datagrams[i].data = storage[i];
    return datagrams;
  }
};

std::vector<size_t> messages_of(const SendPlan& plan) {
  std::vector<size_t> out;
  for (size_t m = 0; m < plan.count; ++m) out.push_back(plan.datagrams[m]);
  return out;
}

// The UDP_SEGMENT size of message m, or 0 when it has none.
size_t segment_size(const SendPlan& plan, size_t m) {
  const msghdr& hdr = plan.messages[m].msg_hdr;
  if (hdr.msg_control == nullptr) return 0;
  const cmsghdr* c = CMSG_FIRSTHDR(&hdr);
  if (c == nullptr || c->cmsg_level != SOL_UDP || c->cmsg_type != UDP_SEGMENT) return 0;
  uint16_t size = 0;
  std::memcpy(&size, CMSG_DATA(c), sizeof(size));
  return size;
}

TEST(UdpOffload, ARunToOnePeerOfOneLengthIsOneMessage) {
  Batch b;
  for (int i = 0; i < 5; ++i) b.add("192.0.2.1:51820", 100);
  SendPlan plan;
  plan_send(b.span(), true, true, plan);
  EXPECT_EQ(messages_of(plan), (std::vector<size_t>{5}));
  EXPECT_EQ(segment_size(plan, 0), 100u);
  EXPECT_EQ(plan.messages[0].msg_hdr.msg_iovlen, 5u);
  EXPECT_EQ(plan.datagrams_in(1), 5u);
  uint64_t messages = 0, datagrams = 0;
  plan.count_gso(plan.count, &messages, &datagrams);
  EXPECT_EQ(messages, 1u);
  EXPECT_EQ(datagrams, 5u);
}

TEST(UdpOffload, AShorterDatagramEndsTheRunAndALongerOneStartsAnother) {
  Batch b;
  b.add("192.0.2.1:51820", 100);
  b.add("192.0.2.1:51820", 100);
  b.add("192.0.2.1:51820", 60);
  b.add("192.0.2.1:51820", 100);
  b.add("192.0.2.1:51820", 120);
  SendPlan plan;
  plan_send(b.span(), true, true, plan);
  EXPECT_EQ(messages_of(plan), (std::vector<size_t>{3, 1, 1}));
  EXPECT_EQ(segment_size(plan, 0), 100u);
  EXPECT_EQ(segment_size(plan, 1), 0u);  // alone: no segment size
  EXPECT_EQ(segment_size(plan, 2), 0u);
}

TEST(UdpOffload, AnotherPeerEndsTheRun) {
  Batch b;
  b.add("192.0.2.1:51820", 100);
  b.add("192.0.2.1:51820", 100);
  b.add("192.0.2.2:51820", 100);
  b.add("192.0.2.1:51820", 100);
  b.add("[2001:db8::1]:51820", 100);
  b.add("[2001:db8::1]:51820", 100);
  SendPlan plan;
  plan_send(b.span(), true, true, plan);
  EXPECT_EQ(messages_of(plan), (std::vector<size_t>{2, 1, 1, 2}));
}

TEST(UdpOffload, WithoutGsoEveryDatagramIsAMessage) {
  Batch b;
  for (int i = 0; i < 4; ++i) b.add("192.0.2.1:51820", 100);
  SendPlan plan;
  plan_send(b.span(), true, false, plan);
  EXPECT_EQ(messages_of(plan), (std::vector<size_t>{1, 1, 1, 1}));
  for (size_t m = 0; m < plan.count; ++m) EXPECT_EQ(segment_size(plan, m), 0u);
  uint64_t messages = 0, datagrams = 0;
  plan.count_gso(plan.count, &messages, &datagrams);
  EXPECT_EQ(messages, 0u);
}

TEST(UdpOffload, RunsStopAtSixtyFourSegmentsAndAtTheByteLimit) {
  Batch small;
  for (int i = 0; i < 64; ++i) small.add("192.0.2.1:51820", 100);
  SendPlan plan;
  plan_send(small.span(), true, true, plan);
  EXPECT_EQ(messages_of(plan), (std::vector<size_t>{64}));

  // 46 x 1,444 = 66,424 > 65,000: a message holds 45.
  Batch large;
  for (int i = 0; i < 64; ++i) large.add("192.0.2.1:51820", 1444);
  plan_send(large.span(), true, true, plan);
  EXPECT_EQ(messages_of(plan), (std::vector<size_t>{45, 19}));
  EXPECT_LE(45u * 1444u, kMaxGsoBytes);
}

TEST(UdpOffload, APeerTheSocketCannotReachStopsThePlanBeforeIt) {
  Batch b;
  b.add("192.0.2.1:51820", 100);
  b.add("192.0.2.1:51820", 100);
  b.add("[2001:db8::1]:51820", 100);
  SendPlan plan;
  plan_send(b.span(), /*v6_socket=*/false, true, plan);
  EXPECT_EQ(messages_of(plan), (std::vector<size_t>{2}));
  EXPECT_EQ(plan.datagrams_in(plan.count), 2u);
}

TEST(UdpOffload, ALengthBeyondTheBufferIsClampedNotRead) {
  Batch b;
  b.add("192.0.2.1:51820", 100);
  b.span();
  b.datagrams[0].length = 5000;  // a caller bug: more than data holds
  SendPlan plan;
  plan_send(b.datagrams, true, true, plan);
  ASSERT_EQ(plan.count, 1u);
  EXPECT_EQ(plan.iov[0].iov_len, 100u);
}

TEST(UdpOffload, GroSegmentSizeComesFromTheControlMessage) {
  alignas(cmsghdr) std::byte control[CMSG_SPACE(sizeof(int))] = {};
  msghdr hdr{};
  EXPECT_EQ(gro_segment_size(hdr), 0u);  // no control message: one datagram

  hdr.msg_control = control;
  hdr.msg_controllen = sizeof(control);
  cmsghdr* c = CMSG_FIRSTHDR(&hdr);
  c->cmsg_level = SOL_UDP;
  c->cmsg_type = UDP_GRO;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  const int size = 1444;
  std::memcpy(CMSG_DATA(c), &size, sizeof(size));
  EXPECT_EQ(gro_segment_size(hdr), 1444u);

  const int negative = -1;
  std::memcpy(CMSG_DATA(c), &negative, sizeof(negative));
  EXPECT_EQ(gro_segment_size(hdr), 0u);

  c->cmsg_type = UDP_SEGMENT;  // another option: not a GRO message
  std::memcpy(CMSG_DATA(c), &size, sizeof(size));
  EXPECT_EQ(gro_segment_size(hdr), 0u);
}

}  // namespace
}  // namespace cordon::os
