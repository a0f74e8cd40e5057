// INFORMATIONAL exchanges (RFC 7296 section 1.4): deleting CHILD_SAs and
// the IKE SA (section 1.4.1), and the empty request that checks the peer is
// alive (section 2.4).
//
//   HDR, SK {[N], [D], ...}  -->  <--  HDR, SK {[N], [D], ...}
#include <fmt/format.h>

#include "core/ipsec/ike_sa_state.hpp"

namespace cordon::ipsec {
namespace {

void close_ike(IkeSa::State& s, std::string_view event, std::string detail, IkeEvents& events) {
  events.note(s.name(), event, fmt::format("{} {}", s.remote.to_string(), detail));
  for (const auto& [spi, child] : s.children) events.child_down.push_back(spi);
  s.children.clear();
  s.outstanding.reset();
  s.queue.clear();
  s.state = IkeState::kClosed;
}

void remove_child(IkeSa::State& s, uint32_t inbound_spi, IkeEvents& events) {
  auto it = s.children.find(inbound_spi);
  if (it == s.children.end()) return;
  events.note(s.name(), "child_down",
              fmt::format("{} SPIs {:08x}_i {:08x}_o", it->second.config ? it->second.config->name : std::string("?"),
                          inbound_spi, it->second.outbound_spi));
  events.child_down.push_back(inbound_spi);
  s.children.erase(it);
}

}  // namespace

namespace ike_info {

void start(IkeSa::State& s, const QueuedRequest& request, const Now& now, IkeEvents& events) {
  std::vector<Payload> out;
  DeleteExchange del;
  switch (request.kind) {
    case QueuedRequest::Kind::kLiveness:
      ike::send_request(s, ExchangeType::kInformational, {}, LivenessExchange{}, now, events);
      return;
    case QueuedRequest::Kind::kDeleteIke:
      out.push_back(Payload{DeletePayload{ProtocolId::kIke, {}}, false});
      s.state = IkeState::kDeleting;
      ike::send_request(s, ExchangeType::kInformational, std::move(out), DeleteExchange{}, now, events);
      return;
    case QueuedRequest::Kind::kDeleteChild: {
      auto it = s.children.find(request.spi);
      const ProtocolId protocol =
          it != s.children.end() && it->second.config ? it->second.config->protocol : ProtocolId::kEsp;
      // Section 3.11: a CHILD_SA is named by the SPI its deleter receives on.
      out.push_back(Payload{DeletePayload{protocol, {request.spi}}, false});
      del.spis = {request.spi};
      ike::send_request(s, ExchangeType::kInformational, std::move(out), std::move(del), now, events);
      return;
    }
    default:
      return;
  }
}

void consume_request(IkeSa::State& s, uint32_t message_id, std::span<const Payload> payloads, const Now& now,
                     IkeContext& context, IkeEvents& events) {
  std::vector<uint32_t> ours;  // our inbound SPIs of the children the peer deletes
  bool delete_ike = false;
  for (const Payload& p : payloads) {
    const auto* d = std::get_if<DeletePayload>(&p.body);
    if (!d) continue;
    if (d->protocol == ProtocolId::kIke) delete_ike = true;
    for (uint32_t spi : d->spis) {
      // The peer names the SPI it receives on: our outbound one.
      for (const auto& [in, child] : s.children) {
        if (child.outbound_spi == spi) ours.push_back(in);
      }
    }
  }
  std::vector<Payload> out;
  if (delete_ike) {
    // Section 1.4.1: the answer to deleting the IKE SA is empty.
    ike::send_response(s, ExchangeType::kInformational, message_id, {}, events);
    if (s.collision) ike_child::peer_deleted_during_rekey(s, now, context, events);
    close_ike(s, "ike_deleted", "deleted by the peer", events);
    return;
  }
  if (!ours.empty()) {
    // Section 1.4.1: answer with the SPIs of our halves of the same SAs.
    DeletePayload d{ProtocolId::kEsp, {}};
    for (uint32_t spi : ours) {
      auto it = s.children.find(spi);
      if (it != s.children.end() && it->second.config) d.protocol = it->second.config->protocol;
      d.spis.push_back(spi);
    }
    out.push_back(Payload{std::move(d), false});
  }
  ike::send_response(s, ExchangeType::kInformational, message_id, std::move(out), events);
  for (uint32_t spi : ours) remove_child(s, spi, events);
}

void consume_response(IkeSa::State& s, Exchange& exchange, std::span<const Payload> payloads, const Now& now,
                      IkeContext& context, IkeEvents& events) {
  (void)payloads;
  (void)now;
  (void)context;
  auto* del = std::get_if<DeleteExchange>(&exchange);
  if (!del) return;  // a liveness check answered: last_heard moved on
  if (del->spis.empty()) {
    close_ike(s, "ike_closed", "deleted", events);
    return;
  }
  for (uint32_t spi : del->spis) remove_child(s, spi, events);
}

}  // namespace ike_info
}  // namespace cordon::ipsec
