#include "testing/fake_transport.hpp"

#include "testing/sim_network.hpp"

namespace cordon::testing {

FakeTransport::~FakeTransport() { network_.unbind(this); }

void FakeTransport::send(const Endpoint& to, ByteSpan datagram) {
  ++sent_;
  network_.send(*this, to, datagram);
}

std::optional<Datagram> FakeTransport::receive() {
  if (inbox_.empty()) return std::nullopt;
  Datagram d = std::move(inbox_.front());
  inbox_.pop_front();
  return d;
}

void FakeTransport::deliver(Datagram d) {
  ++received_;
  inbox_.push_back(std::move(d));
}

}  // namespace cordon::testing
