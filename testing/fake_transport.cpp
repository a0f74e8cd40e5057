#include "testing/fake_transport.hpp"

#include "testing/sim_network.hpp"

#include <algorithm>

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

os::Result<size_t> FakeTransport::receive(std::span<os::Datagram> batch) {
  const size_t n = std::min(batch.size(), kMaxBatch);
  size_t count = 0;
  for (; count < n && !inbox_.empty(); ++count) {
    const Datagram& d = inbox_.front();
    os::Datagram& out = batch[count];
    out.length = std::min(d.data.size(), out.data.size());
    out.truncated = out.length < d.data.size();
    out.peer = d.from;
    std::copy_n(d.data.begin(), out.length, out.data.begin());
    inbox_.pop_front();
  }
  return count;
}

os::Result<size_t> FakeTransport::send(std::span<const os::Datagram> batch) {
  for (const os::Datagram& d : batch) send(d.peer, d.data.first(std::min(d.length, d.data.size())));
  return batch.size();
}

void FakeTransport::deliver(Datagram d) {
  ++received_;
  inbox_.push_back(std::move(d));
}

}  // namespace cordon::testing
