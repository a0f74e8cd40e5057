# shellcheck shell=bash
# The managed network of scripts/demo.sh, shared with bench/relay.sh and
# bench/failover.sh (bench/gateway.sh uses only the helpers below, such as
# poll_until, in_ns, admin and status_of): one coordinator, `hub`, and two
# clients, `a` and `b`, each behind its own NAT router. Every machine is a
# network namespace ($PREFIX-<name>); the "internet" is a bridge in one
# more. Only addresses inside the namespaces are used.
#
# Sourced, not run. The caller sets PREFIX (namespace name prefix), WORK (a
# private temp dir), CORDON (the binary) and defines die(); it may define
# mn_step (prints a command about to run) and mn_show (filters its output)
# to narrate, as the demo does; by default both are silent. Daemons started
# here are appended to the caller's PIDS array; mn_delete_machines removes
# the namespaces named in MN_NAMESPACES, to which a caller may add its own.

declare -F mn_step >/dev/null || mn_step() { :; }
declare -F mn_show >/dev/null || mn_show() { cat >/dev/null; }

MN_NAMESPACES=(inet hub ra rb a b)
HUB_UL=203.0.113.1 RA_UL=203.0.113.11 RB_UL=203.0.113.12

poll_until() {  # poll_until SECONDS CMD...
  local tries=$(( $1 * 10 )) i; shift
  for i in $(seq 1 "$tries"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}
in_ns() { local ns=$1; shift; ip netns exec "$PREFIX-$ns" "$@"; }
admin() { "$CORDON" admin --db "$WORK/admin.db" "$@"; }
status_of() { in_ns "$1" "$CORDON" status -s "$WORK/$1.sock"; }
# path_row HOST PEER_ID: the peer's row in the PATH table of `cordon status`:
# PEER ROLE PATH (direct, or relayed via ID) REACHABILITY LAST STATUS PUBLIC ENDPOINT.
path_row() { status_of "$1" | awk -v id="$2" '$1 == id && ($2 == "client" || $2 == "coordinator")'; }
direct_to() { path_row "$1" "$2" | awk '$3 == "direct" {f = 1} END {exit !f}'; }
# path_json HOST PEER_ID: the peer's "path" in `cordon status --json`
# (daemon/status_json.hpp). The document is printed with dump(2), keys
# sorted, so a peer's "id" line comes before its "path" line, both at six
# spaces of indent; "clients" entries share that indent but have no "path".
path_json() {
  in_ns "$1" "$CORDON" status --json -s "$WORK/$1.sock" | awk -v id="\"$2\"" '
    /^      "id": / { mine = index($0, id) > 0 }
    mine && /^      "path": / { v = $2; gsub(/[",]/, "", v); print v; exit }
    /^    }/ { mine = 0 }'
}
path_is() { [ "$(path_json "$1" "$2")" = "$3" ]; }

mn_port=0
plug() {  # plug NS ADDRESS: a veth from NS's `wan` to the internet bridge
  ip -n "$PREFIX-$1" link add wan type veth peer name "p$mn_port" netns "$PREFIX-inet"
  ip -n "$PREFIX-inet" link set "p$mn_port" master br0 up
  ip -n "$PREFIX-$1" addr add "$2/24" dev wan
  ip -n "$PREFIX-$1" link set wan up
  mn_port=$((mn_port + 1))
}
# nat_router ROUTER CLIENT LAN [MASQUERADE]: masquerade CLIENT's LAN.0/24
# behind ROUTER. MASQUERADE is the nftables statement: "masquerade" (the
# default) keeps the client's source port when it can, so one mapping serves
# every destination (cone-like); "masquerade fully-random" picks a new port
# per mapping, so the port the hub saw is not the one b would have to reach
# (symmetric-like) and hole punching fails.
nat_router() {
  local router=$1 client=$2 lan=$3 masq=${4:-masquerade}
  ip -n "$PREFIX-$router" link add lan type veth peer name lan netns "$PREFIX-$client"
  ip -n "$PREFIX-$router" addr add "$lan.1/24" dev lan
  ip -n "$PREFIX-$router" link set lan up
  ip -n "$PREFIX-$client" addr add "$lan.2/24" dev lan
  ip -n "$PREFIX-$client" link set lan up
  ip -n "$PREFIX-$client" route add default via "$lan.1"
  in_ns "$router" sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward'  # the router's own (per namespace)
  # Like a home router: the client's datagrams leave from the router's
  # address, and nothing new comes in from the internet unless the client
  # sent there first.
  in_ns "$router" nft -f - <<NFT
table ip nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" $masq
  }
}
table inet filter {
  chain input {
    type filter hook input priority filter; policy accept;
    iifname "wan" ct state new drop
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname "wan" ct state new drop
  }
}
NFT
}

# mn_machines [MASQUERADE]: the namespaces, the internet, the two routers;
# returns once a and b reach the hub through them.
mn_machines() {
  local masq=${1:-masquerade} ns
  for ns in "${MN_NAMESPACES[@]}"; do ip netns add "$PREFIX-$ns"; ip -n "$PREFIX-$ns" link set lo up; done
  ip -n "$PREFIX-inet" link add br0 type bridge stp_state 0
  ip -n "$PREFIX-inet" link set br0 up
  plug hub "$HUB_UL"
  plug ra "$RA_UL"
  plug rb "$RB_UL"
  nat_router ra a 10.201.1 "$masq"
  nat_router rb b 10.201.2 "$masq"
  poll_until 10 in_ns a ping -n -c 1 -W 1 "$HUB_UL" || die "a cannot reach the hub through its router"
  poll_until 10 in_ns b ping -n -c 1 -W 1 "$HUB_UL" || die "b cannot reach the hub through its router"
}
# mn_delete_machines: removes the namespaces (and so everything in them).
mn_delete_machines() {
  local ns
  for ns in "${MN_NAMESPACES[@]}"; do ip netns del "$PREFIX-$ns" 2>/dev/null || true; done
}

run_admin() { mn_step "cordon admin $*"; admin "$@" | mn_show; }
# mn_describe: the administrator's network: three hosts, the link a-b. The
# hub is the administration host (docs/couriers.md): `cordon admin` runs
# beside it and sends updates through its daemon. With MN_LINK_LATER=1 the
# link a-b is left for the caller to add (the demo adds it over couriers).
mn_describe() {
  run_admin network init --number 1 --name demo --ipv4 10.77.0.0/16 --ipv6 fd77::/64
  run_admin host add --name hub --role coordinator --endpoint "$HUB_UL:51820" --admin-host
  run_admin host add --name a --role client --coordinator hub
  run_admin host add --name b --role client --coordinator hub
  [ "${MN_LINK_LATER:-0}" = 1 ] || run_admin link add a b
  mn_step "cordon admin link list"
  admin link list | mn_show
}
# mn_users: one user per host, its generated password in $WORK/password-NAME;
# sets HUB_ID, A_ID, B_ID.
mn_users() {
  local name
  for name in hub a b; do
    mn_step "cordon admin user add --host $name --name ops-$name"
    admin user add --host "$name" --name "ops-$name" >"$WORK/user-$name.out"
    sed -n 's/^password (shown only now[^:]*: //p' "$WORK/user-$name.out" >"$WORK/password-$name"
    [ -s "$WORK/password-$name" ] || die "no generated password in: $(cat "$WORK/user-$name.out")"
  done
  HUB_ID=$(id_of hub) A_ID=$(id_of a) B_ID=$(id_of b)
}
id_of() { admin host show "$1" | awk '$1 == "host" { print $2; exit }'; }

# mn_keysets: exports each host's key set, installs it, writes NAME.toml.
mn_keysets() {
  local name
  for name in hub a b; do
    mkdir -p "$WORK/state-$name"
    mn_step "cordon admin keyset export --host $name --out $name.keyset"
    admin keyset export --host "$name" --out "$WORK/$name.keyset" | mn_show
    mn_step "ip netns exec $PREFIX-$name cordon keyset install $name.keyset --password-file password-$name"
    in_ns "$name" "$CORDON" keyset install "$WORK/$name.keyset" --password-file "$WORK/password-$name" \
      --state-dir "$WORK/state-$name" | sed -n 1p | mn_show
    cat >"$WORK/$name.toml" <<TOML
[host]
keyset = "$WORK/state-$name/keyset"
password_file = "$WORK/password-$name"
interface = "cordon0"
state_dir = "$WORK/state-$name"
control_socket = "$WORK/$name.sock"
TOML
  done
}

# mn_start_daemons: `cordon up` on hub, a, b; returns once a has b's record
# from the hub (b shows as reachable), or at once with MN_LINK_LATER=1.
mn_start_daemons() {
  local name
  for name in hub a b; do
    mn_step "ip netns exec $PREFIX-$name cordon up -c $name.toml &"
    # Not through in_ns: $! must be the daemon itself (ip netns exec execs
    # it), not a subshell that would leave it running when killed.
    ip netns exec "$PREFIX-$name" "$CORDON" up -c "$WORK/$name.toml" >"$WORK/daemon-$name.log" 2>&1 &
    PIDS+=("$!")
    poll_until 20 status_of "$name" || die "cordon up on $name did not start; its log: $(cat "$WORK/daemon-$name.log")"
  done
  [ "${MN_LINK_LATER:-0}" = 1 ] && return 0
  poll_until 20 bash -c "ip netns exec $PREFIX-a $CORDON status -s $WORK/a.sock | grep -qE '^$B_ID +client .* reachable'" \
    || die "a did not learn where b is from the hub"
}

# mn_network [MASQUERADE]: all of the above in one go, for the benchmarks:
# the machines, the administrator's network, users, key sets (private
# files: umask 077 while they are written), the daemons.
mn_network() {
  mn_machines "${1:-masquerade}"
  umask 077
  mn_describe
  mn_users
  mn_keysets
  umask 022
  mn_start_daemons
}

# mn_stop_pids: stops the caller's PIDS (TERM, then KILL after 5 s).
mn_stop_pids() {
  local pid i
  for pid in "${PIDS[@]+"${PIDS[@]}"}"; do
    kill -TERM "$pid" 2>/dev/null || continue
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  PIDS=()
}
