#include "core/link/session.hpp"

#include <algorithm>

namespace cordon::link {

std::string_view session_state_name(SessionState s) {
  switch (s) {
    case SessionState::kConnecting: return "connecting";
    case SessionState::kUp: return "up";
    case SessionState::kLost: return "lost";
    case SessionState::kShutdown: return "shutdown";
    case SessionState::kStandby: return "standby";
  }
  return "unknown";
}

std::string_view session_reason_name(SessionReason r) {
  switch (r) {
    case SessionReason::kNone: return "none";
    case SessionReason::kHeartbeatTimeout: return "heartbeat_timeout";
    case SessionReason::kPeerShutdown: return "peer_shutdown";
    case SessionReason::kAdminShutdown: return "admin_shutdown";
  }
  return "unknown";
}

SiteSession::SiteSession(const SessionTimers& timers, int64_t now_ns) : timers_(timers), since_ns_(now_ns) {
  if (timers_.standby) {
    state_ = SessionState::kStandby;
  } else if (timers_.initiator) {
    schedule_try(now_ns, 0);  // section 2.1.2: the secondary makes the connection request
  }
}

void SiteSession::configure(const SessionTimers& timers, int64_t now_ns) {
  timers_ = timers;
  if (timers_.standby && state_ != SessionState::kStandby) {
    enter(SessionState::kStandby, now_ns);
    next_try_ns_ = 0;
  } else if (!timers_.standby && state_ == SessionState::kStandby) {
    enter(SessionState::kConnecting, now_ns);
    if (timers_.initiator) schedule_try(now_ns, 0);
  }
}

void SiteSession::enter(SessionState s, int64_t now_ns) {
  state_ = s;
  since_ns_ = now_ns;
  first_unanswered_ns_ = 0;
}

void SiteSession::schedule_try(int64_t now_ns, int64_t wait_ns) {
  wait_ns_ = wait_ns;
  next_try_ns_ = now_ns + wait_ns;
}

bool SiteSession::heard(int64_t now_ns) {
  if (state_ == SessionState::kShutdown || state_ == SessionState::kStandby) return false;
  heard_ns_ = std::max(heard_ns_, now_ns);
  first_unanswered_ns_ = 0;
  if (state_ == SessionState::kUp) return false;
  enter(SessionState::kUp, now_ns);
  reason_ = SessionReason::kNone;
  next_try_ns_ = 0;
  wait_ns_ = 0;
  return true;
}

void SiteSession::lose(SessionReason why, int64_t now_ns) {
  enter(SessionState::kLost, now_ns);
  reason_ = why;
  ++losses_;
  // Section 2.1.7: "The first time the P³ System sets the wait period to 5
  // seconds, and after that period, attempts to connect to the primary."
  if (timers_.initiator) schedule_try(now_ns, kSessionRetryStepNs);
}

SiteSession::Step SiteSession::step(int64_t now_ns, int64_t last_heard_ns) {
  Step out;
  // A datagram stamped after the state last changed counts; one from
  // before a loss does not bring the session back.
  if (last_heard_ns > since_ns_ && last_heard_ns > heard_ns_) out.up = heard(last_heard_ns);
  switch (state_) {
    case SessionState::kUp: {
      if (first_unanswered_ns_ == 0) {
        if (now_ns - heard_ns_ < timers_.heartbeat_ns) {
          out.next_ns = heard_ns_ + timers_.heartbeat_ns;
          return out;
        }
        first_unanswered_ns_ = now_ns;
      } else if (now_ns - first_unanswered_ns_ >= timers_.fail_ns) {
        lose(SessionReason::kHeartbeatTimeout, now_ns);
        out.lost = reason_;
        out.next_ns = next_try_ns_ != 0 ? next_try_ns_ : INT64_MAX;
        return out;
      } else if (now_ns - last_heartbeat_ns_ < timers_.heartbeat_ns) {
        out.next_ns = std::min(last_heartbeat_ns_ + timers_.heartbeat_ns, first_unanswered_ns_ + timers_.fail_ns);
        return out;
      }
      out.send_heartbeat = true;
      last_heartbeat_ns_ = now_ns;
      ++heartbeats_;
      out.next_ns = std::min(now_ns + timers_.heartbeat_ns, first_unanswered_ns_ + timers_.fail_ns);
      return out;
    }
    case SessionState::kConnecting:
    case SessionState::kLost: {
      if (next_try_ns_ == 0) return out;  // a primary waits for its secondary
      if (now_ns < next_try_ns_) {
        out.next_ns = next_try_ns_;
        return out;
      }
      out.send_heartbeat = out.retry = true;
      out.retry_wait_ns = wait_ns_;
      ++tries_;
      ++heartbeats_;
      last_heartbeat_ns_ = now_ns;
      // Section 2.1.7: 5 s more after each failed try, up to one minute.
      schedule_try(now_ns, std::min(wait_ns_ + kSessionRetryStepNs, kSessionRetryMaxNs));
      out.next_ns = next_try_ns_;
      return out;
    }
    case SessionState::kShutdown:
    case SessionState::kStandby:
      return out;
  }
  return out;
}

void SiteSession::shutdown(int64_t now_ns) {
  if (state_ == SessionState::kShutdown) return;
  enter(SessionState::kShutdown, now_ns);
  reason_ = SessionReason::kAdminShutdown;
  next_try_ns_ = 0;
}

void SiteSession::start(int64_t now_ns) {
  if (state_ != SessionState::kShutdown) return;
  enter(SessionState::kConnecting, now_ns);
  reason_ = SessionReason::kNone;
  if (timers_.initiator) schedule_try(now_ns, 0);
}

void SiteSession::peer_shutdown(int64_t now_ns) {
  if (state_ == SessionState::kShutdown || state_ == SessionState::kStandby) return;
  if (state_ == SessionState::kLost) {
    reason_ = SessionReason::kPeerShutdown;  // already lost and counted: only the reason is new
    return;
  }
  lose(SessionReason::kPeerShutdown, now_ns);
}

bool SiteSession::may_answer(int64_t now_ns) {
  if (state_ == SessionState::kShutdown || state_ == SessionState::kStandby) return false;
  if (answered_ && now_ns - answered_ns_ < kHeartbeatAnswerIntervalNs) return false;
  answered_ = true;
  answered_ns_ = now_ns;
  return true;
}

}  // namespace cordon::link
