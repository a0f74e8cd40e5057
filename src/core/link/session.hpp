// A site link's session (docs/site-links.md, "Sessions"): whether the other
// gateway answers, heartbeats in the control channel, and the secondary's
// recovery back-off. Pure: the node feeds it the time and what it heard,
// and sends what it asks for (node_session.cpp).
//
// From the P³ functional specification (Velocite Systems, 2011):
//   heartbeat   `heartbeat_time` (default 15 s) of quiet from the other
//               gateway: a heartbeat goes out in the control channel, again
//               every heartbeat_time while unanswered (Appendix A).
//   loss        `heartbeat_fail` (default 120 s) after the first unanswered
//               heartbeat the session is lost (Appendix A).
//   recovery    a secondary then waits 5 s and tries again, adding 5 s to
//               the wait after each failed try up to 1 minute, then tries
//               once a minute (section 2.1.7, "Session retry"). A try is a
//               heartbeat; any authentic datagram in answer brings the
//               session up. A primary never connects (section 2.1.2): it
//               waits for its secondary.
//   start       a secondary tries at once, then backs off as above; a
//               primary waits.
// Cordon additions: a session shut down by an administration command stays
// down (no heartbeat, traffic refused) until started again, and tells the
// other gateway; a standby session (a secondary's backup primary while the
// primary serves) does nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/types.hpp"

namespace cordon::link {

constexpr int64_t kSessionRetryStepNs = 5 * kNsPerSecond;
constexpr int64_t kSessionRetryMaxNs = 60 * kNsPerSecond;
// A heartbeat is answered at most this often (a peer that floods them is
// authentic, but gets no more than one answer a second).
constexpr int64_t kHeartbeatAnswerIntervalNs = kNsPerSecond;

struct SessionTimers {
  int64_t heartbeat_ns = 15 * kNsPerSecond;
  int64_t fail_ns = 120 * kNsPerSecond;
  bool initiator = false;  // the secondary: connects and retries
  bool standby = false;    // a backup primary not in use
};

enum class SessionState : uint8_t {
  kConnecting,  // never up since the start: a secondary trying, a primary waiting
  kUp,
  kLost,      // heartbeats went unanswered, or the other gateway shut it down
  kShutdown,  // shut down here by an administration command
  kStandby,   // a backup primary while the primary serves
};
std::string_view session_state_name(SessionState s);  // "connecting", "up", ...

// Why a session went down or came up, for the log (stable names).
enum class SessionReason : uint8_t {
  kNone,
  kHeartbeatTimeout,  // heartbeat_fail passed with no answer
  kPeerShutdown,      // the other gateway's administrator shut it down
  kAdminShutdown,     // this gateway's administrator shut it down
};
std::string_view session_reason_name(SessionReason r);  // "none", "heartbeat_timeout", ...

class SiteSession {
 public:
  SiteSession(const SessionTimers& timers, int64_t now_ns);

  // New timers from a reload; standby moves the session in or out of
  // kStandby (out of it, a secondary connects at once).
  void configure(const SessionTimers& timers, int64_t now_ns);

  // An authentic datagram from the other gateway at `now_ns`. True when it
  // brought the session up. Ignored while shut down or standby.
  bool heard(int64_t now_ns);

  struct Step {
    bool up = false;  // the session came up at this step (heard since the last one)
    bool send_heartbeat = false;
    std::optional<SessionReason> lost;  // the session was lost at this step
    bool retry = false;                 // send_heartbeat is a recovery try (retry_wait_ns says after how long)
    int64_t retry_wait_ns = 0;
    int64_t next_ns = INT64_MAX;        // call step again then at the latest
  };
  // Runs the timers; `last_heard_ns` is the latest authentic datagram's
  // monotonic time (0: none).
  Step step(int64_t now_ns, int64_t last_heard_ns);

  void shutdown(int64_t now_ns);       // administration command: down, stays down
  void start(int64_t now_ns);          // undoes shutdown; a secondary connects at once
  void peer_shutdown(int64_t now_ns);  // the other gateway shut it down: lost

  SessionState state() const { return state_; }
  // Traffic to the other gateway passes only while up (otherwise it is
  // answered with a reset or an ICMP error: wire/unreachable.hpp).
  bool open() const { return state_ == SessionState::kUp; }
  SessionReason last_reason() const { return reason_; }
  int64_t since_ns() const { return since_ns_; }    // when the state last changed
  int64_t next_try_ns() const { return next_try_ns_; }  // a secondary's next recovery try; 0: none
  int64_t retry_wait_ns() const { return wait_ns_; }  // the wait before that try
  uint64_t losses() const { return losses_; }
  uint64_t tries() const { return tries_; }
  uint64_t heartbeats_sent() const { return heartbeats_; }

  // Heartbeats answered at most once per kHeartbeatAnswerIntervalNs.
  bool may_answer(int64_t now_ns);

 private:
  void enter(SessionState s, int64_t now_ns);
  void lose(SessionReason why, int64_t now_ns);
  void schedule_try(int64_t now_ns, int64_t wait_ns);

  SessionTimers timers_;
  SessionState state_ = SessionState::kConnecting;
  SessionReason reason_ = SessionReason::kNone;
  int64_t since_ns_ = 0;
  int64_t heard_ns_ = 0;             // the latest datagram that counted
  int64_t first_unanswered_ns_ = 0;  // the first heartbeat after heard_ns_; 0: none
  int64_t last_heartbeat_ns_ = 0;
  int64_t next_try_ns_ = 0;
  int64_t wait_ns_ = 0;
  bool answered_ = false;
  int64_t answered_ns_ = 0;
  uint64_t losses_ = 0, tries_ = 0, heartbeats_ = 0;
};

}  // namespace cordon::link
