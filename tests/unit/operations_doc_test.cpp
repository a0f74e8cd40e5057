// docs/operations.md lists every code the daemon reports, with what to do:
// each event of the daemon (daemon/log_events.hpp) and of the rekey
// exchange and site-link sessions, each drop reason (core/drop_reason.hpp),
// rekey reason and session reason. A code added without its row fails here.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "core/drop_reason.hpp"
#include "core/link/rekey.hpp"
#include "core/link/session.hpp"
#include "daemon/log_events.hpp"

namespace cordon {
namespace {

std::string operations_doc() {
  std::ifstream in(std::string(CORDON_SOURCE_DIR) + "/docs/operations.md");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A table row that starts with the code: "| `code` |", or one of several
// codes in a row "| `a`, `b` |".
bool has_row(const std::string& doc, std::string_view code) {
  const std::string quoted = "`" + std::string(code) + "`";
  for (size_t at = doc.find(quoted); at != std::string::npos; at = doc.find(quoted, at + 1)) {
    const size_t line = doc.rfind('\n', at);
    const std::string_view before(doc.data() + line + 1, at - line - 1);
    if (before.starts_with("| ") && before.find(" | ") == std::string_view::npos) return true;
  }
  return false;
}

TEST(OperationsDoc, ListsEveryDaemonEvent) {
  const std::string doc = operations_doc();
  ASSERT_FALSE(doc.empty());
  for (size_t i = 0; i < daemon::kLogEventCount; ++i) {
    const auto name = daemon::log_event_name(static_cast<daemon::LogEvent>(i));
    EXPECT_TRUE(has_row(doc, name)) << name;
  }
}

TEST(OperationsDoc, ListsEveryRekeyAndSessionEvent) {
  const std::string doc = operations_doc();
  using K = link::RekeyEvent::Kind;
  for (K k : {K::kStarted, K::kDone, K::kAttemptFailed, K::kFailed, K::kRefused, K::kReset}) {
    EXPECT_TRUE(has_row(doc, link::rekey_event_name(k))) << link::rekey_event_name(k);
  }
  for (const char* e : {"session_up", "session_started", "session_lost", "session_retry", "session_shutdown"}) {
    EXPECT_TRUE(has_row(doc, e)) << e;
  }
}

TEST(OperationsDoc, ListsEveryDropReason) {
  const std::string doc = operations_doc();
  for (size_t i = 0; i < kDropReasonCount; ++i) {
    const auto name = drop_reason_name(static_cast<DropReason>(i));
    EXPECT_TRUE(has_row(doc, name)) << name;
  }
}

TEST(OperationsDoc, ListsEveryRekeyAndSessionReason) {
  const std::string doc = operations_doc();
  for (uint8_t r = 1; r <= static_cast<uint8_t>(link::RekeyReason::kPeerRestarted); ++r) {
    const auto name = link::rekey_reason_name(static_cast<link::RekeyReason>(r));
    EXPECT_TRUE(has_row(doc, name)) << name;
  }
  for (uint8_t r = 1; r <= static_cast<uint8_t>(link::SessionReason::kAdminShutdown); ++r) {
    const auto name = link::session_reason_name(static_cast<link::SessionReason>(r));
    EXPECT_TRUE(has_row(doc, name)) << name;
  }
}

}  // namespace
}  // namespace cordon
