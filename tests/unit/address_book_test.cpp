// Address book encoding (src/core/keys/address_book.hpp) and the span
// reader/writer under it (src/core/wire/byte_io.hpp).
#include "core/keys/address_book.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/wire/byte_io.hpp"

namespace cordon::keys {
namespace {

using Bytes = std::vector<std::byte>;

AddressBookEntry full_entry() {
  AddressBookEntry e;
  e.id = HostId{0x0001000b};
  e.name = "coord-b";
  e.role = Role::kCoordinator;
  e.tunnel_v4 = Prefix::parse("10.77.0.11/16");
  e.tunnel_v6 = Prefix::parse("fd77::b/64");
  e.endpoints = {*Endpoint::parse("192.0.2.11:51820"), *Endpoint::parse("[2001:db8::b]:443")};
  e.registry = HostId{0x00010001};
  e.rendezvous = HostId{0x00010002};
  e.courier = HostId{0x00010003};
  e.subnets = {*Prefix::parse("192.168.50.0/24"), *Prefix::parse("2001:db8:50::/48"), *Prefix::parse("0.0.0.0/0")};
  return e;
}

AddressBook sample_book() {
  AddressBookEntry self;
  self.id = HostId{0x0001000a};
  self.name = "alpha";
  AddressBook book;
  book.entries = {self, full_entry()};
  return book;
}

Bytes encode(const AddressBook& book) {
  wire::ByteWriter sizing;
  write_address_book(sizing, book);
  Bytes out(sizing.size());
  wire::ByteWriter w(out);
  write_address_book(w, book);
  EXPECT_FALSE(w.overflow());
  return out;
}

wire::ParseStatus decode(std::span<const std::byte> bytes, AddressBook& out) {
  wire::ByteReader in(bytes);
  return read_address_book(in, out);
}

// ---- byte_io ---------------------------------------------------------------

TEST(ByteIo, BigEndianRoundTrip) {
  Bytes buf(15);
  wire::ByteWriter w(buf);
  w.u8(0x01);
  w.u16(0x0203);
  w.u32(0x04050607);
  w.u64(0x08090a0b0c0d0e0f);
  EXPECT_EQ(w.size(), 15u);
  EXPECT_FALSE(w.overflow());
  for (size_t i = 0; i < buf.size(); ++i) EXPECT_EQ(buf[i], static_cast<std::byte>(i + 1));
  wire::ByteReader r(buf);
  EXPECT_EQ(r.u8(), 0x01);
  EXPECT_EQ(r.u16(), 0x0203);
  EXPECT_EQ(r.u32(), 0x04050607u);
  EXPECT_EQ(r.u64(), 0x08090a0b0c0d0e0full);
  EXPECT_TRUE(r.at_end());
  EXPECT_FALSE(r.failed());
}

TEST(ByteIo, ShortReadFailsAndSticks) {
  const Bytes buf(5);
  wire::ByteReader r(buf);
  EXPECT_TRUE(r.u16());
  EXPECT_FALSE(r.u32());  // needs bytes 2..5
  EXPECT_EQ(r.offset(), 2u);
  EXPECT_EQ(r.needed(), 6u);
  EXPECT_TRUE(r.failed());
  EXPECT_FALSE(r.u8());  // sticky, though one byte would fit
  EXPECT_EQ(r.needed(), 6u);
  const auto e = r.truncated("x");
  EXPECT_EQ(e.kind, wire::ParseError::Kind::kTruncated);
  EXPECT_EQ(e.needed, 6u);
  EXPECT_EQ(e.field, "x");

  wire::ByteReader huge(buf);
  EXPECT_FALSE(huge.bytes(SIZE_MAX));
  EXPECT_EQ(huge.needed(), SIZE_MAX);
}

TEST(ByteIo, WriterOverflowAndSizing) {
  Bytes buf(3);
  wire::ByteWriter w(buf);
  w.u16(1);
  w.u16(2);
  EXPECT_TRUE(w.overflow());
  EXPECT_EQ(w.size(), 2u);
  wire::ByteWriter sizing;
  sizing.u64(1);
  sizing.text("abc");
  EXPECT_EQ(sizing.size(), 11u);
  EXPECT_FALSE(sizing.overflow());
  EXPECT_TRUE(sizing.rest().empty());
}

// ---- address book ----------------------------------------------------------

TEST(AddressBook, RoundTrip) {
  const AddressBook book = sample_book();
  ASSERT_TRUE(check_address_book(book).ok());
  const Bytes bytes = encode(book);
  AddressBook back;
  const auto read = decode(bytes, back);
  ASSERT_TRUE(read.ok()) << read.error().field;
  EXPECT_EQ(back, book);
  EXPECT_EQ(back.self()->name, "alpha");
  EXPECT_EQ(back.find(HostId{0x0001000b})->endpoints.size(), 2u);
  EXPECT_EQ(back.find(HostId{0x0001000c}), nullptr);
}

TEST(AddressBook, EncodingMatchesDiagram) {
  AddressBook book;
  AddressBookEntry e;
  e.id = HostId{0x00010002};
  e.name = "ab";
  e.tunnel_v4 = Prefix::parse("10.0.0.2/8");
  book.entries = {e};
  const Bytes bytes = encode(book);
  const Bytes expected = {
      std::byte{0}, std::byte{1},                                          // count
      std::byte{0}, std::byte{1}, std::byte{0}, std::byte{2},              // host id
      std::byte{2}, std::byte{'a'}, std::byte{'b'}, std::byte{1},          // name, role client
      std::byte{1}, std::byte{10}, std::byte{0}, std::byte{0}, std::byte{2}, std::byte{8},  // v4
  };
  ASSERT_GE(bytes.size(), expected.size());
  EXPECT_TRUE(std::equal(expected.begin(), expected.end(), bytes.begin()));
  // v6 absent (1 + 16 + 1 zero bytes), 0 endpoints, 3 coordinators, 0 subnets.
  EXPECT_EQ(bytes.size(), expected.size() + 18 + 1 + 12 + 1);
}

TEST(AddressBook, EveryTruncationIsRefused) {
  const Bytes bytes = encode(sample_book());
  for (size_t n = 0; n < bytes.size(); ++n) {
    AddressBook out;
    const auto read = decode(std::span(bytes).first(n), out);
    ASSERT_FALSE(read.ok()) << n;
    EXPECT_EQ(read.error().kind, wire::ParseError::Kind::kTruncated) << n << " " << read.error().field;
    EXPECT_GT(read.error().needed, n);
  }
}

TEST(AddressBook, CheckRefusesBadEntries) {
  auto with = [](auto change) {
    AddressBook b = sample_book();
    change(b.entries[1]);
    return check_address_book(b);
  };
  EXPECT_FALSE(check_address_book(AddressBook{}).ok());
  EXPECT_FALSE(with([](auto& e) { e.id = HostId{0x00010000}; }).ok());
  EXPECT_FALSE(with([](auto& e) { e.id = HostId{0x0000000b}; }).ok());
  EXPECT_FALSE(with([](auto& e) { e.id = HostId{0x0001000a}; }).ok());  // duplicate
  EXPECT_FALSE(with([](auto& e) { e.name = ""; }).ok());
  const auto long_name = with([](auto& e) { e.name = std::string(65, 'n'); });
  ASSERT_FALSE(long_name.ok());
  EXPECT_EQ(long_name.error(), "address book entry 1 (0x0001000b): name is 65 bytes; it must be 1 to 64");
  EXPECT_TRUE(with([](auto& e) { e.name = std::string(64, 'n'); }).ok());
  EXPECT_FALSE(with([](auto& e) { e.role = static_cast<Role>(3); }).ok());
  EXPECT_FALSE(with([](auto& e) { e.tunnel_v4 = Prefix::parse("fd77::1/64"); }).ok());
  EXPECT_FALSE(with([](auto& e) { e.tunnel_v6 = Prefix::parse("10.0.0.1/8"); }).ok());
  EXPECT_FALSE(with([](auto& e) { e.endpoints[0].port = 0; }).ok());
  EXPECT_FALSE(with([](auto& e) { e.endpoints.resize(256, e.endpoints[0]); }).ok());
  EXPECT_TRUE(with([](auto& e) { e.endpoints.resize(255, e.endpoints[0]); }).ok());
  EXPECT_FALSE(with([](auto& e) { e.registry = HostId{0x00010000}; }).ok());
  EXPECT_FALSE(with([](auto& e) { e.subnets[0] = *Prefix::parse("192.168.50.1/24"); }).ok());
  EXPECT_FALSE(with([](auto& e) { e.subnets.resize(256, e.subnets[0]); }).ok());
}

// Edits one byte of a valid encoding and expects a bad field.
void expect_bad_field(size_t offset, uint8_t value) {
  Bytes bytes = encode(sample_book());
  bytes[offset] = std::byte{value};
  AddressBook out;
  const auto read = decode(bytes, out);
  ASSERT_FALSE(read.ok()) << offset;
  EXPECT_EQ(read.error().kind, wire::ParseError::Kind::kBadField) << offset << " " << read.error().field;
}

TEST(AddressBook, DecodeRefusesBadFields) {
  // Entry 0 "alpha": count 2 | id 4 | len 1 | "alpha" 5 | role 1 | v4 6 | v6 18 | ...
  constexpr size_t kId = 2, kLen = 6, kRole = 12, kV4 = 13, kV6 = 19, kEndpoints = 37;
  expect_bad_field(1, 0);        // count 0x0002 -> 0
  expect_bad_field(kId + 1, 0);  // 0x0001000a -> network 0
  expect_bad_field(kId + 3, 0);  // 0x0001000a -> host number 0
  expect_bad_field(kLen, 0);
  expect_bad_field(kLen, 65);
  expect_bad_field(kRole, 0);
  expect_bad_field(kRole, 3);
  expect_bad_field(kV4, 2);       // present flag
  expect_bad_field(kV4 + 1, 10);  // absent but address bytes set
  expect_bad_field(kV6 + 17, 1);  // absent but length set
  Bytes bytes = encode(sample_book());
  // Entry 1 starts after entry 0 (37 + 1 + 12 + 1 = 51): endpoint 0's family.
  constexpr size_t kE1 = kEndpoints + 1 + 12 + 1;
  constexpr size_t kE1Name = kE1 + 4, kE1V4 = kE1Name + 1 + 7 + 1, kE1Endpoints = kE1V4 + 6 + 18;
  expect_bad_field(kE1V4 + 5, 33);             // IPv4 prefix length 33
  expect_bad_field(kE1Endpoints + 1, 5);       // family 5
  {
    Bytes zero_port = encode(sample_book());
    zero_port[kE1Endpoints + 6] = zero_port[kE1Endpoints + 7] = std::byte{0};  // family 1 | address 4 | port 2
    AddressBook out;
    const auto read = decode(zero_port, out);
    ASSERT_FALSE(read.ok());
    EXPECT_NE(read.error().field.find("port 0"), std::string::npos) << read.error().field;
  }
  // Duplicate host ID: entry 1 claims entry 0's ID.
  bytes[kE1 + 3] = std::byte{0x0a};
  AddressBook out;
  const auto read = decode(bytes, out);
  ASSERT_FALSE(read.ok());
  EXPECT_NE(read.error().field.find("appears twice"), std::string::npos) << read.error().field;
}

TEST(AddressBook, Roles) {
  EXPECT_EQ(role_name(Role::kClient), "client");
  EXPECT_EQ(role_name(Role::kCoordinator), "coordinator");
  EXPECT_EQ(parse_role("coordinator"), Role::kCoordinator);
  EXPECT_EQ(parse_role("client"), Role::kClient);
  EXPECT_FALSE(parse_role("gateway"));
}

}  // namespace
}  // namespace cordon::keys
