// cordon::Result, the one way the core, the OS layer and the daemon return a
// value or an error (docs/design.md, "Errors").
#include "core/result.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace cordon {
namespace {

Result<int, std::string> half(int n) {
  if (n % 2 != 0) return fail("odd: " + std::to_string(n));
  return n / 2;
}

Status<std::string> check_even(int n) {
  if (n % 2 != 0) return fail("odd");  // a string literal becomes the std::string error
  return Ok{};
}

TEST(Result, CarriesTheValueOrTheError) {
  const auto ok = half(8);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok.value(), 4);
  EXPECT_EQ(*ok, 4);
  const auto bad = half(7);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), "odd: 7");
  EXPECT_EQ(bad.value_or(-1), -1);
  EXPECT_TRUE(check_even(2).ok());
  EXPECT_EQ(check_even(3).error(), "odd");
}

TEST(Result, AnErrorPassesUpUnchanged) {
  auto twice = [](int n) -> Result<int, std::string> {
    auto h = half(n);
    if (!h) return h.error();
    return half(h.value());
  };
  EXPECT_EQ(twice(8).value(), 2);
  EXPECT_EQ(twice(6).error(), "odd: 3");
}

TEST(Result, MovesItsValueOut) {
  Result<std::vector<int>, std::string> r = std::vector<int>{1, 2, 3};
  std::vector<int> taken = std::move(r).value();
  EXPECT_EQ(taken.size(), 3u);
}

// Reading the wrong side is a bug: it stops the process instead of throwing
// (nothing on the data path may throw) or returning a made-up value.
TEST(ResultDeathTest, ReadingTheWrongSideAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH((void)half(7).value(), "");
  EXPECT_DEATH((void)half(8).error(), "");
}

}  // namespace
}  // namespace cordon
