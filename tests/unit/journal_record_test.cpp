// The journal record of a log record (daemon/logging.hpp): the fields, their
// order (MESSAGE first), the priorities, and which fields a context adds.
#include <gtest/gtest.h>

#include "daemon/logging.hpp"

namespace cordon::daemon {
namespace {

using Fields = std::vector<std::string>;

TEST(JournalRecord, PlainRecordHasMessagePriorityAndIdentifier) {
  EXPECT_EQ(journal_record(spdlog::level::info, "hello", HostId{}, nullptr),
            (Fields{"MESSAGE=hello", "PRIORITY=6", "SYSLOG_IDENTIFIER=cordon"}));
}

TEST(JournalRecord, HostAndContextAddTheirFields) {
  const LogContext context{.event = "rekey_failed", .reason = "no_answer", .peer = HostId{0x0001000b}};
  EXPECT_EQ(journal_record(spdlog::level::warn, "peer 0x0001000b: rekey_failed", HostId{0x0001000a}, &context),
            (Fields{"MESSAGE=peer 0x0001000b: rekey_failed", "PRIORITY=4", "SYSLOG_IDENTIFIER=cordon",
                    "CORDON_HOST=0x0001000a", "CORDON_EVENT=rekey_failed", "CORDON_REASON=no_answer",
                    "CORDON_PEER=0x0001000b"}));
}

TEST(JournalRecord, ReasonNoneAndEmptyFieldsAreLeftOut) {
  const LogContext context{.event = "rekey_done", .reason = "none"};
  EXPECT_EQ(journal_record(spdlog::level::debug, "m", HostId{}, &context),
            (Fields{"MESSAGE=m", "PRIORITY=7", "SYSLOG_IDENTIFIER=cordon", "CORDON_EVENT=rekey_done"}));
}

TEST(JournalRecord, MessagesKeepTheirNewlines) {
  // sd_journal_sendv sends such a value in the binary form; nothing is cut.
  EXPECT_EQ(journal_record(spdlog::level::err, "a\nb", HostId{}, nullptr).front(), "MESSAGE=a\nb");
}

TEST(JournalRecord, PrioritiesFollowSyslog) {
  EXPECT_EQ(journal_priority(spdlog::level::trace), 7);
  EXPECT_EQ(journal_priority(spdlog::level::debug), 7);
  EXPECT_EQ(journal_priority(spdlog::level::info), 6);
  EXPECT_EQ(journal_priority(spdlog::level::warn), 4);
  EXPECT_EQ(journal_priority(spdlog::level::err), 3);
  EXPECT_EQ(journal_priority(spdlog::level::critical), 2);
}

TEST(JournalRecord, ScopedContextNestsAndRestores) {
  EXPECT_EQ(current_log_context(), nullptr);
  const LogContext outer{.event = "started"};
  {
    ScopedLogContext a(outer);
    EXPECT_EQ(current_log_context(), &outer);
    const LogContext inner{.event = "peer_up"};
    {
      ScopedLogContext b(inner);
      EXPECT_EQ(current_log_context(), &inner);
    }
    EXPECT_EQ(current_log_context(), &outer);
  }
  EXPECT_EQ(current_log_context(), nullptr);
}

}  // namespace
}  // namespace cordon::daemon
