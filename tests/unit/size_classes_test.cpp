// Size classes: the setting's text (daemon/size_classes.hpp) and the
// padded length (core/wire/size_classes.hpp).
#include "daemon/size_classes.hpp"

#include <gtest/gtest.h>

#include "core/wire/size_classes.hpp"

namespace cordon::daemon {
namespace {

using Classes = std::vector<uint16_t>;

TEST(SizeClasses, OffConstantAndAListEndingAtTheMtusDatagram) {
  EXPECT_EQ(parse_size_classes("off", 1420).value(), Classes{});
  EXPECT_EQ(parse_size_classes("constant", 1420).value(), Classes{1444});
  EXPECT_EQ(parse_size_classes(" 128, 256,512 ,1024 ", 1420).value(), (Classes{128, 256, 512, 1024, 1444}));
  EXPECT_EQ(parse_size_classes("128, 1444", 1420).value(), (Classes{128, 1444}));
  EXPECT_EQ(parse_size_classes("25", 1280).value(), (Classes{25, 1304}));
}

TEST(SizeClasses, BadListsSayWhatIsWrongAndWhatToWrite) {
  const auto error = [](std::string_view text) { return parse_size_classes(text, 1420).error(); };
  EXPECT_NE(error("").find("is empty"), std::string::npos);
  EXPECT_NE(error("small").find("\"small\" is not a size"), std::string::npos);
  EXPECT_NE(error("24").find("24 is outside 25 .. 1444"), std::string::npos);
  EXPECT_NE(error("1445").find("outside"), std::string::npos);
  EXPECT_NE(error("256, 128").find("128 does not follow 256"), std::string::npos);
  EXPECT_NE(error("128, 128").find("does not follow"), std::string::npos);
  EXPECT_NE(error("128,").find("missing after the last comma"), std::string::npos);
  EXPECT_NE(error("128,,256").find("\"\" is not a size"), std::string::npos);
  EXPECT_NE(error("Constant").find("write off, constant"), std::string::npos);
  std::string many;
  for (int i = 0; i < 16; ++i) many += std::to_string(100 + i) + ",";
  many.pop_back();
  EXPECT_NE(error(many).find("17 sizes"), std::string::npos);
}

TEST(SizeClasses, AReloadThatChangesTheMtuKeepsTheRunningMtuAsTheTopClass) {
  EXPECT_EQ(fit_size_classes({128, 1524}, 1420), (Classes{128, 1444}));        // mtu raised to 1500 in the file
  EXPECT_EQ(fit_size_classes({128, 1304}, 1420), (Classes{128, 1304, 1444}));  // lowered to 1280
  EXPECT_EQ(fit_size_classes({}, 1420), Classes{});
  EXPECT_EQ(fit_size_classes({1444}, 1420), Classes{1444});
}

TEST(SizeClasses, APlaintextIsPaddedToTheSmallestClassThatHoldsItsDatagram) {
  const Classes c{128, 256, 1444};
  EXPECT_EQ(wire::padded_length(c, 1), 128u - wire::kOverhead);
  EXPECT_EQ(wire::padded_length(c, 104), 104u);  // exactly 128 on the wire
  EXPECT_EQ(wire::padded_length(c, 105), 256u - wire::kOverhead);
  EXPECT_EQ(wire::padded_length(c, 1420), 1420u);
  EXPECT_EQ(wire::padded_length(c, 1421), 1421u);  // above every class: as it is
  EXPECT_EQ(wire::padded_length({}, 77), 77u);      // off
}

}  // namespace
}  // namespace cordon::daemon
