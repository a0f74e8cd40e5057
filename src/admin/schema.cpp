// The network database schema (schema.hpp): version 1, and the migrations
// after it, each with its notes.
//
// Layout notes:
//  - hosts.id is the whole 32-bit host ID (network << 16 | number).
//  - Tunnel addresses are stored as offsets from the network's prefixes
//    (network.ipv4 / network.ipv6), which never change after `network init`.
//  - links keeps one row per host pair (a < b) with its 32-byte link key.
//    A pair exists while something asks for it: an explicit `link add`
//    (manual = 1), a client's coordinator assignment, or a group link whose
//    groups hold the two hosts (links.cpp reconciles the three).
//  - hosts.dirty marks the hosts whose next update package is due, with its
//    kind (dirty.hpp): 1 = address book only, 2 = keys. Keys wins.
//  - hosts.next_host_key is a rotated host key not yet delivered: the next
//    package wraps it under each current user's user key and seals its
//    body under it (core/keys/update_package.hpp, format 2); key sets
//    exported meanwhile already carry it. The users table is what the wraps
//    are made from, so no column was added for revocation.
#include "admin/schema.hpp"

#include <array>

namespace cordon::admin {
namespace {

constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE network (
  id          INTEGER PRIMARY KEY CHECK (id = 1),
  number      INTEGER NOT NULL CHECK (number BETWEEN 1 AND 65535),
  name        TEXT NOT NULL,
  ipv4        TEXT NOT NULL,
  ipv6        TEXT,
  created_at  INTEGER NOT NULL
);

CREATE TABLE hosts (
  id              INTEGER PRIMARY KEY,
  number          INTEGER NOT NULL UNIQUE CHECK (number BETWEEN 1 AND 65535),
  name            TEXT NOT NULL UNIQUE,
  role            INTEGER NOT NULL CHECK (role IN (1, 2)),
  tunnel_v4       INTEGER UNIQUE,
  tunnel_v6       INTEGER UNIQUE,
  registry        INTEGER REFERENCES hosts(id),
  rendezvous      INTEGER REFERENCES hosts(id),
  courier         INTEGER REFERENCES hosts(id),
  host_key        BLOB NOT NULL CHECK (length(host_key) = 32),
  next_host_key   BLOB CHECK (next_host_key IS NULL OR length(next_host_key) = 32),
  keyset_version  INTEGER NOT NULL DEFAULT 0,
  exported        INTEGER NOT NULL DEFAULT 0,
  dirty           INTEGER NOT NULL DEFAULT 0 CHECK (dirty IN (0, 1, 2)),
  created_at      INTEGER NOT NULL
);
CREATE INDEX hosts_by_registry ON hosts(registry) WHERE registry IS NOT NULL;
CREATE INDEX hosts_by_rendezvous ON hosts(rendezvous) WHERE rendezvous IS NOT NULL;
CREATE INDEX hosts_by_courier ON hosts(courier) WHERE courier IS NOT NULL;
CREATE INDEX hosts_dirty ON hosts(dirty) WHERE dirty <> 0;

CREATE TABLE endpoints (
  host      INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
  position  INTEGER NOT NULL,
  endpoint  TEXT NOT NULL,
  PRIMARY KEY (host, position)
) WITHOUT ROWID;

CREATE TABLE subnets (
  host      INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
  position  INTEGER NOT NULL,
  prefix    TEXT NOT NULL,
  PRIMARY KEY (host, position)
) WITHOUT ROWID;

CREATE TABLE users (
  id                INTEGER PRIMARY KEY,
  host              INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
  name              TEXT NOT NULL,
  user_key          BLOB NOT NULL CHECK (length(user_key) = 32),
  kdf_alg           INTEGER NOT NULL,
  opslimit          INTEGER NOT NULL,
  memlimit          INTEGER NOT NULL,
  salt              BLOB NOT NULL,
  wrapped_user_key  BLOB NOT NULL,
  password_source   TEXT NOT NULL CHECK (password_source IN ('generated', 'chosen')),
  created_at        INTEGER NOT NULL,
  UNIQUE (host, name)
);

CREATE TABLE host_groups (
  id    INTEGER PRIMARY KEY,
  name  TEXT NOT NULL UNIQUE
);

CREATE TABLE group_members (
  group_id  INTEGER NOT NULL REFERENCES host_groups(id) ON DELETE CASCADE,
  host      INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
  PRIMARY KEY (group_id, host)
) WITHOUT ROWID;
CREATE INDEX group_members_by_host ON group_members(host);

CREATE TABLE group_links (
  a  INTEGER NOT NULL REFERENCES host_groups(id) ON DELETE CASCADE,
  b  INTEGER NOT NULL REFERENCES host_groups(id) ON DELETE CASCADE,
  CHECK (a <= b),
  PRIMARY KEY (a, b)
) WITHOUT ROWID;
CREATE INDEX group_links_by_b ON group_links(b);

CREATE TABLE links (
  a           INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
  b           INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
  manual      INTEGER NOT NULL DEFAULT 0,
  key         BLOB NOT NULL CHECK (length(key) = 32),
  created_at  INTEGER NOT NULL,
  rotated_at  INTEGER,
  CHECK (a < b),
  PRIMARY KEY (a, b)
) WITHOUT ROWID;
CREATE INDEX links_by_b ON links(b);

CREATE TABLE compromised_hosts (
  id    INTEGER PRIMARY KEY,
  name  TEXT NOT NULL,
  time  INTEGER NOT NULL
);

CREATE TABLE audit (
  id         INTEGER PRIMARY KEY,
  time       INTEGER NOT NULL,
  operation  TEXT NOT NULL,
  arguments  TEXT NOT NULL,
  result     TEXT NOT NULL
);
)sql";

// Version 2: the administrator's filter rules (docs/gateways.md, "Central
// rules"). Each rule is for one host or one group (exactly one of the two
// columns), applies in `position` order, and keeps its text as written;
// names in it are resolved when key sets and packages are made. AUTOINCREMENT:
// a rule's number is never given to another rule, since hosts show it.
constexpr const char* kSchemaV2 = R"sql(
CREATE TABLE filter_rules (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  position    INTEGER NOT NULL,
  host        INTEGER REFERENCES hosts(id) ON DELETE CASCADE,
  group_id    INTEGER REFERENCES host_groups(id) ON DELETE CASCADE,
  rule        TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  CHECK ((host IS NULL) <> (group_id IS NULL))
);
CREATE INDEX filter_rules_by_position ON filter_rules(position);
)sql";

// Version 3: reach limits (docs/gateways.md, "Reach"): which prefixes of a
// gateway's tunneled subnets a host, or a group's members, may reach. A
// host with no row for a gateway reaches all its subnets.
constexpr const char* kSchemaV3 = R"sql(
CREATE TABLE reach (
  gateway   INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
  host      INTEGER REFERENCES hosts(id) ON DELETE CASCADE,
  group_id  INTEGER REFERENCES host_groups(id) ON DELETE CASCADE,
  position  INTEGER NOT NULL,
  prefix    TEXT NOT NULL,
  CHECK ((host IS NULL) <> (group_id IS NULL))
);
CREATE INDEX reach_by_gateway ON reach(gateway);
)sql";

// Version 4: a filter rule is for protected traffic (the tunnel's filter)
// or for open traffic (the host's nftables firewall; docs/firewall.md,
// "Central open rules"). The rules of before version 4 are all protected.
constexpr const char* kSchemaV4 = R"sql(
ALTER TABLE filter_rules ADD COLUMN kind TEXT NOT NULL DEFAULT 'protected' CHECK (kind IN ('protected', 'open'));
)sql";

// Version 5: the network's rekey period in seconds (docs/administration.md,
// "Network settings"; core/keys/keyset.hpp, tag 3): 0 turns rekeying off.
// Networks of before version 5 get the default, the P³ functional
// specification's rekey_wait.
constexpr const char* kSchemaV5 = R"sql(
ALTER TABLE network ADD COLUMN rekey_period INTEGER NOT NULL DEFAULT 3600
  CHECK (rekey_period = 0 OR rekey_period BETWEEN 60 AND 86400);
)sql";

// Version 6: couriers (docs/couriers.md; docs/administration.md, "Delivery
// by couriers").
//  - network.admin_host: the administration host, whose ID (and its
//    courier's) every key set carries; NULL: none designated. A host that
//    is removed as compromised stops being it (SET NULL); `host remove`
//    refuses it.
//  - hosts.urgent: the host's next package is a revocation (a compromised
//    host, a removed link, membership or user): couriers forward it ahead
//    of routine items. `updates build` clears it with the dirty mark.
//  - deliveries: the packages built and still needed, with what is known
//    of their way: sent to the administration host's daemon (sent_at), a
//    courier's notice (courier, courier_state, reason), the host's receipt
//    (outcome, confirmed_version, confirmed_at, reason). Per host, only the
//    newest package is kept, plus the newest one that replaces the host
//    key when it is older and not confirmed (updates.cpp, delivery.cpp).
//    via: the courier that hands it to the host (the host itself for a
//    coordinator; NULL for a client without a courier).
constexpr const char* kSchemaV6 = R"sql(
ALTER TABLE network ADD COLUMN admin_host INTEGER REFERENCES hosts(id) ON DELETE SET NULL;
ALTER TABLE hosts ADD COLUMN urgent INTEGER NOT NULL DEFAULT 0 CHECK (urgent IN (0, 1));
CREATE TABLE deliveries (
  host               INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
  version            INTEGER NOT NULL,
  kind               INTEGER NOT NULL CHECK (kind IN (1, 2)),
  new_host_key       INTEGER NOT NULL DEFAULT 0 CHECK (new_host_key IN (0, 1)),
  urgent             INTEGER NOT NULL DEFAULT 0 CHECK (urgent IN (0, 1)),
  via                INTEGER,
  package            BLOB NOT NULL,
  built_at           INTEGER NOT NULL,
  sent_at            INTEGER,
  outcome            TEXT CHECK (outcome IN ('applied', 'already_applied', 'refused')),
  confirmed_version  INTEGER,
  confirmed_at       INTEGER,
  reason             TEXT,
  courier            INTEGER,
  courier_state      TEXT CHECK (courier_state IN ('held', 'refused')),
  updated_at         INTEGER NOT NULL,
  PRIMARY KEY (host, version)
);
CREATE INDEX deliveries_unsent ON deliveries(sent_at) WHERE sent_at IS NULL;
)sql";

// Version 7: console administrators (docs/console.md, "Logging in"): who
// may change the network from `cordon admin console`. A name and its
// Argon2id hash (libsodium crypto_pwhash_str); they are not the network's
// users, who own user keys. In the database, so that every administrator
// sharing it (and its replicas) sees the same accounts.
constexpr const char* kSchemaV7 = R"sql(
CREATE TABLE console_accounts (
  name        TEXT PRIMARY KEY,
  hash        TEXT NOT NULL,
  created_at  INTEGER NOT NULL
);
)sql";

// Version 8: IPsec peers' subnets (docs/ipsec.md, "Routing IPsec subnets
// from Cordon hosts"): the prefixes a coordinator's IPsec gateway reaches,
// which its peers route to it like its tunneled subnets, in a table of
// their own so that what the administrator said stays apart from the
// coordinator's LANs. peer: the IPsec connection's name, or NULL. Earlier
// databases gain the empty table.
constexpr const char* kSchemaV8 = R"sql(
CREATE TABLE ipsec_subnets (
  host      INTEGER NOT NULL REFERENCES hosts(id) ON DELETE CASCADE,
  position  INTEGER NOT NULL,
  prefix    TEXT NOT NULL,
  peer      TEXT,
  PRIMARY KEY (host, position)
) WITHOUT ROWID;
)sql";

constexpr std::array<Migration, 8> kMigrations = {{
    {1, kSchemaV1},
    {2, kSchemaV2},
    {3, kSchemaV3},
    {4, kSchemaV4},
    {5, kSchemaV5},
    {6, kSchemaV6},
    {7, kSchemaV7},
    {8, kSchemaV8},
}};

constexpr std::array<const char*, 16> kTables = {
    "hosts",        "network",      "endpoints", "subnets", "ipsec_subnets", "users",      "host_groups",
    "group_members", "group_links", "links",     "compromised_hosts", "audit", "filter_rules", "reach",
    "deliveries",   "console_accounts",
};

}  // namespace

std::span<const char* const> schema_tables() { return kTables; }

std::span<const Migration> migrations() { return kMigrations; }

int64_t latest_schema_version() { return kMigrations.back().version; }

}  // namespace cordon::admin
