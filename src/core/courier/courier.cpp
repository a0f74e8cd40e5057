// The courier's spool and routes (courier.hpp); transfers are in
// courier_transfer.cpp.
#include "core/courier/courier.hpp"

#include <algorithm>

#include "core/courier/status_report.hpp"
#include "core/keys/update_package.hpp"

namespace cordon::courier {
namespace {

HeldItem meta_of(uint64_t id, const Item& item) {
  HeldItem m;
  m.id = id;
  m.kind = item.kind;
  m.dest = item.dest;
  m.via = item.via;
  m.subject = item.subject;
  m.version = item.version;
  m.urgent = item.urgent();
  m.new_host_key = item.new_host_key();
  m.bytes = item.encoded_size();
  return m;
}

bool contains(const std::vector<HostId>& list, HostId id) { return std::find(list.begin(), list.end(), id) != list.end(); }

// A package's header must agree with its item (docs/couriers.md, "Items"):
// a courier cannot open the package, but it can refuse one that claims to
// be for another host or version than it is.
bool package_matches(const Item& item) {
  const auto header = keys::parse_update_header(item.payload);
  if (!header) return false;
  return header->host == item.dest && header->version == item.version &&
         header->sealed_under_new_host_key() == item.new_host_key();
}

}  // namespace

Courier::Courier(CourierConfig config, Environment& env, uint64_t boot_random,
                 std::vector<std::pair<uint64_t, std::vector<std::byte>>> loaded, int64_t now_ns)
    : config_(std::move(config)), env_(env), boot_random_(boot_random), next_hello_ns_(now_ns) {
  for (auto& [id, encoded] : loaded) {
    auto item = parse_item(encoded);
    next_id_ = std::max(next_id_, id + 1);
    if (!item) continue;
    Held held{meta_of(id, item.value()), std::move(encoded), next_seq_++};
    held.meta.inbox = held.meta.dest == config_.self;
    items_.emplace(id, std::move(held));
  }
  route_all();
}

void Courier::reconfigure(CourierConfig config, int64_t now_ns) {
  const bool courier_changed = config.own_courier != config_.own_courier;
  config_ = std::move(config);
  route_all();
  if (courier_changed) next_hello_ns_ = now_ns;  // the new courier hears from this host at once
}

bool Courier::linked(HostId peer) const { return contains(config_.peers, peer); }
bool Courier::is_coordinator(HostId peer) const { return contains(config_.coordinators, peer); }
bool Courier::serves(HostId client) const { return contains(config_.served, client); }

// docs/couriers.md, "The path of an update", rules 1 to 4.
std::optional<HostId> Courier::next_hop(const HeldItem& item) const {
  if (item.dest == config_.self) return std::nullopt;
  if (item.via == config_.self) return linked(item.dest) ? std::optional(item.dest) : std::nullopt;
  if (linked(item.via)) return item.via;
  if (!config_.coordinator && config_.own_courier && linked(*config_.own_courier)) return config_.own_courier;
  if (config_.coordinator && config_.admin_courier && *config_.admin_courier != config_.self &&
      linked(*config_.admin_courier)) {
    return config_.admin_courier;
  }
  return std::nullopt;
}

void Courier::route_all() {
  for (auto& [id, held] : items_) {
    held.meta.inbox = held.meta.dest == config_.self;
    held.meta.next_hop = next_hop(held.meta);
  }
}

Result<Ok, std::string> Courier::submit(Item item, int64_t now_ns) {
  if (!config_.admin_host || *config_.admin_host != config_.self) {
    return cordon::fail(std::string("this host is not the administration host named in its key set"));
  }
  if (item.kind != ItemKind::kPackage || !package_matches(item)) {
    return cordon::fail(std::string("not an update package whose header matches its host and version"));
  }
  // The administration host's own package is applied here, like any
  // host's, and its receipt goes straight into the inbox.
  const Refusal r = item.dest == config_.self ? deliver_here(item, now_ns) : hold(std::move(item), now_ns);
  if (r != Refusal::kNone) return cordon::fail(std::string(refusal_name(r)));
  return Ok{};
}

bool Courier::report_status(std::vector<std::byte> payload, uint64_t time_ms, int64_t now_ns) {
  if (!config_.coordinator || !config_.admin_host || !config_.admin_courier) return false;
  Item item;
  item.kind = ItemKind::kStatus;
  item.dest = *config_.admin_host;
  item.via = *config_.admin_courier;
  item.subject = config_.self;
  item.version = time_ms;
  item.payload = std::move(payload);
  return hold(std::move(item), now_ns) == Refusal::kNone;
}

// Who may hand this host an item (docs/couriers.md, "The path of an
// update"): packages come from the administration host or a coordinator;
// a client's receipts only about itself; notices and status reports only
// from coordinators.
Refusal Courier::admit(HostId from, const Item& item) const {
  const bool from_admin = config_.admin_host && from == *config_.admin_host;
  const bool from_coordinator = is_coordinator(from);
  if (item.dest != config_.self && !config_.coordinator) return Refusal::kNotServed;
  switch (item.kind) {
    case ItemKind::kPackage:
      if (!from_admin && !from_coordinator) return Refusal::kUntrustedSender;
      if (!package_matches(item)) return Refusal::kMalformed;
      if (item.via == config_.self && item.dest != config_.self && !serves(item.dest)) return Refusal::kNotServed;
      return Refusal::kNone;
    case ItemKind::kReceipt:
      if (!from_coordinator && item.subject != from) return Refusal::kUntrustedSender;
      if (receipt_host(item.payload) != item.subject) return Refusal::kMalformed;
      break;
    case ItemKind::kNotice:
      if (!from_coordinator) return Refusal::kUntrustedSender;
      break;
    case ItemKind::kStatus:
      if (!from_coordinator) return Refusal::kUntrustedSender;
      if (status_report_host(item.payload) != item.subject) return Refusal::kMalformed;
      break;
  }
  // Receipts, notices and status reports end at the administration host.
  if (item.dest == config_.self && (!config_.admin_host || *config_.admin_host != config_.self)) {
    return Refusal::kNotServed;
  }
  return Refusal::kNone;
}

Refusal Courier::accept(HostId from, const Item& item, int64_t now_ns) {
  Refusal r = admit(from, item);
  if (r == Refusal::kNone) {
    r = item.kind == ItemKind::kPackage && item.dest == config_.self ? deliver_here(item, now_ns) : hold(item, now_ns);
  }
  if (r != Refusal::kNone && r != Refusal::kBusy && r != Refusal::kStorageFailed) {
    ++counters_.refused_in;
    ++counters_.refusals[std::string(refusal_name(r))];
    // Only a trusted sender's package is worth a word to the
    // administration host; anyone else's is counted and dropped.
    if (item.kind == ItemKind::kPackage && item.dest != config_.self && r != Refusal::kUntrustedSender &&
        r != Refusal::kMalformed) {
      notify(item, config_.self, Notice::State::kRefused, r, now_ns);
    }
  }
  return r;
}

Refusal Courier::deliver_here(const Item& package, int64_t now_ns) {
  Applied applied = env_.apply(package);
  if (applied.retry) return Refusal::kStorageFailed;
  ++counters_.packages_applied;
  config_.installed = std::max(config_.installed, applied.installed);
  next_hello_ns_ = now_ns;  // the courier learns the new version at once
  if (applied.receipt && config_.admin_host && config_.admin_courier) {
    // A receipt that cannot be stored is lost, not the package: the host
    // sends another when the package comes again.
    hold(to_admin(ItemKind::kReceipt, package, config_.self, std::move(*applied.receipt)), now_ns);
  }
  return Refusal::kNone;
}

// A receipt or notice about `package`, for the administration host (call
// only when the key set names it and its courier).
Item Courier::to_admin(ItemKind kind, const Item& package, HostId subject, std::vector<std::byte> payload) const {
  Item item;
  item.kind = kind;
  item.flags = package.flags & kFlagUrgent;
  item.dest = *config_.admin_host;
  item.via = *config_.admin_courier;
  item.subject = subject;
  item.version = package.version;
  item.payload = std::move(payload);
  return item;
}

// False when the spool already holds this item or a newer one of its kind
// for the same host, or the host confirmed the version (a repeat).
bool Courier::supersedes_nothing(const Item& item) const {
  if (item.kind == ItemKind::kPackage) {
    const auto peer = peers_.find(item.dest.value);
    if (peer != peers_.end() && peer->second.installed && *peer->second.installed >= item.version) return true;
  }
  for (const auto& [id, held] : items_) {
    const HeldItem& m = held.meta;
    if (m.dest == item.dest && m.kind == item.kind && m.subject == item.subject && m.version >= item.version) {
      // An equal receipt or notice may carry news (held, then refused; a
      // repeat's receipt): the newer arrival replaces it.
      if (item.kind != ItemKind::kPackage && m.version == item.version) continue;
      return true;
    }
  }
  return false;
}

// A package carries the host's whole state: older ones go, except the
// newest one that replaces the host key (the host needs it to open the
// later ones: docs/administration.md, "Missed packages"). Receipts and
// notices: the newest of each kind per host.
void Courier::drop_superseded(const Item& item) {
  std::optional<uint64_t> keep_key_package;
  if (item.kind == ItemKind::kPackage && !item.new_host_key()) {
    for (const auto& [id, held] : items_) {
      const HeldItem& m = held.meta;
      if (m.kind == ItemKind::kPackage && m.dest == item.dest && m.new_host_key && m.version < item.version &&
          (!keep_key_package || m.version > items_.at(*keep_key_package).meta.version)) {
        keep_key_package = id;
      }
    }
  }
  std::vector<uint64_t> gone;
  for (const auto& [id, held] : items_) {
    const HeldItem& m = held.meta;
    if (m.dest == item.dest && m.kind == item.kind && m.subject == item.subject && m.version <= item.version &&
        id != keep_key_package) {
      gone.push_back(id);
    }
  }
  for (uint64_t id : gone) {
    ++counters_.superseded;
    erase(id);
  }
}

// The host confirmed `version` (a hello or an acknowledgement): what it
// holds makes every package up to it unneeded.
void Courier::drop_confirmed(HostId host, uint64_t version) {
  std::vector<uint64_t> gone;
  for (const auto& [id, held] : items_) {
    if (held.meta.kind == ItemKind::kPackage && held.meta.dest == host && held.meta.version <= version) {
      gone.push_back(id);
    }
  }
  for (uint64_t id : gone) {
    ++counters_.superseded;
    erase(id);
  }
}

Refusal Courier::hold(Item item, int64_t now_ns) {
  if (supersedes_nothing(item)) {
    ++counters_.duplicates;
    return Refusal::kNone;  // stored before: the sender may forget it
  }
  // What stays for this host once the older ones go.
  uint64_t kept = 0;
  for (const auto& [id, held] : items_) {
    const HeldItem& m = held.meta;
    const bool goes = m.kind == item.kind && m.subject == item.subject && m.version <= item.version &&
                      !(m.kind == ItemKind::kPackage && m.new_host_key && !item.new_host_key());
    if (m.dest == item.dest && !goes) kept += m.bytes;
  }
  if (item.kind == ItemKind::kPackage && kept + item.encoded_size() > config_.spool_host_limit) {
    return item.encoded_size() > config_.spool_host_limit ? Refusal::kTooLarge : Refusal::kSpoolFull;
  }
  const uint64_t id = next_id_++;
  std::vector<std::byte> encoded = encode_item(item);
  if (!env_.store(id, encoded)) return Refusal::kStorageFailed;
  drop_superseded(item);
  Held held{meta_of(id, item), std::move(encoded), next_seq_++};
  held.meta.inbox = item.dest == config_.self;
  held.meta.next_hop = next_hop(held.meta);
  ++counters_.items_stored;
  const bool final_courier = item.kind == ItemKind::kPackage && item.via == config_.self;
  items_.emplace(id, std::move(held));
  if (final_courier) notify(item, config_.self, Notice::State::kHeld, Refusal::kNone, now_ns);
  return Refusal::kNone;
}

void Courier::notify(const Item& package, HostId courier, Notice::State state, Refusal reason, int64_t now_ns) {
  if (!config_.admin_host || !config_.admin_courier || package.kind != ItemKind::kPackage) return;
  hold(to_admin(ItemKind::kNotice, package, package.dest,
                encode_notice(Notice{courier, state, static_cast<uint8_t>(reason)})),
       now_ns);
}

bool Courier::in_transfer(uint64_t item) const {
  return std::any_of(out_.begin(), out_.end(), [item](const auto& t) { return t.second.item == item; });
}

void Courier::erase(uint64_t id) {
  end_transfers_of(id);
  items_.erase(id);
  env_.erase(id);
}

CourierStatus Courier::status() const {
  CourierStatus out;
  for (const auto& [id, held] : items_) {
    HeldItem m = held.meta;
    m.sending = in_transfer(id);
    out.items.push_back(m);
  }
  out.incoming = in_.size();
  out.counters = counters_;
  return out;
}

std::vector<std::pair<HeldItem, std::vector<std::byte>>> Courier::inbox() const {
  std::vector<std::pair<HeldItem, std::vector<std::byte>>> out;
  for (const auto& [id, held] : items_) {
    if (held.meta.inbox) out.emplace_back(held.meta, held.encoded);
  }
  return out;
}

}  // namespace cordon::courier
