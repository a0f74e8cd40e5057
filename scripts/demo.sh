#!/usr/bin/env bash
# A managed Cordon network behind NATs, in under a minute (make demo):
#
#   ./scripts/demo.sh BUILD_DIR
#
# Builds a small network with `cordon admin`: one coordinator, `hub`, and two
# clients, `a` and `b`, each behind its own NAT router. Every machine is a
# network namespace (cordon-demo-<pid>-*); the "internet" is a bridge in one
# more. The routers masquerade with nftables, like home routers. The demo
# exports and installs the key sets, starts the daemons, and shows a and b
# finding a direct path through their NATs: `cordon status` on a before and
# after, a ping and a short iperf3 through the tunnel, and the hub's view.
# Everything is removed on exit. Only addresses inside the namespaces are used.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
BUILD_DIR=$1
CORDON=$(realpath "$BUILD_DIR/src/cli/cordon" 2>/dev/null || true)

if [ -t 1 ]; then BOLD=$'\e[1m' DIM=$'\e[2m' GREEN=$'\e[32m' RED=$'\e[31m' RESET=$'\e[0m'
else BOLD='' DIM='' GREEN='' RED='' RESET=''; fi

section() { printf '\n%s== %s ==%s\n' "$BOLD" "$*" "$RESET"; }
step()    { printf '%s$ %s%s\n' "$DIM" "$*" "$RESET"; }
ok()      { printf '%s✔ %s%s\n' "$GREEN" "$*" "$RESET"; }
die()     { printf '%s✘ %s%s\n' "$RED" "$*" "$RESET" >&2; exit 1; }
indent()  { sed 's/^/    /'; }

[ "$(id -u)" -eq 0 ] || die "the demo needs root (network namespaces, TUN devices, nftables); try: sudo $0 $BUILD_DIR"
[ -n "$CORDON" ] && [ -x "$CORDON" ] || die "no cordon binary at $BUILD_DIR/src/cli/cordon; run 'make build' first"
for tool in ip ping iperf3 ss nft; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found; run ./scripts/install-deps.sh"
done

PREFIX=cordon-demo-$$
NAMESPACES=(inet hub ra rb a b)
HUB_UL=203.0.113.1 RA_UL=203.0.113.11 RB_UL=203.0.113.12
WORK=$(mktemp -d /tmp/cordon-demo-XXXXXX)
declare -a PIDS=()

# --- tear-down, also after an error or Ctrl-C --------------------------------
cleanup() {
  local status=$? pid i ns
  section "Tearing down"
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || continue
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$status" -ne 0 ]; then
    for f in "$WORK"/daemon-*.log; do
      [ -e "$f" ] && { echo "--- $(basename "$f")"; tail -n 20 "$f"; }
    done
  fi
  for ns in "${NAMESPACES[@]}"; do ip netns del "$PREFIX-$ns" 2>/dev/null || true; done
  rm -rf "$WORK"
  if [ "$status" -eq 0 ]; then ok "daemons stopped, namespaces and temp files removed"
  else printf '%sthe demo failed (exit %s); everything it made is removed%s\n' "$RED" "$status" "$RESET"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

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

# --- 1 ----------------------------------------------------------------------------
section "1. The machines: a coordinator on the internet, two clients behind NAT routers"
cat <<EOF
      hub $HUB_UL
          |
   ===== internet 203.0.113.0/24 =====
          |                    |
   router ra $RA_UL     router rb $RB_UL     (nftables masquerade)
          |                    |
   a 10.201.1.2          b 10.201.2.2
EOF
for ns in "${NAMESPACES[@]}"; do ip netns add "$PREFIX-$ns"; ip -n "$PREFIX-$ns" link set lo up; done
ip -n "$PREFIX-inet" link add br0 type bridge stp_state 0
ip -n "$PREFIX-inet" link set br0 up
port=0
plug() {  # plug NS ADDRESS: a veth from NS's `wan` to the internet bridge
  ip -n "$PREFIX-$1" link add wan type veth peer name "p$port" netns "$PREFIX-inet"
  ip -n "$PREFIX-inet" link set "p$port" master br0 up
  ip -n "$PREFIX-$1" addr add "$2/24" dev wan
  ip -n "$PREFIX-$1" link set wan up
  port=$((port + 1))
}
nat_router() {  # nat_router ROUTER CLIENT LAN: masquerade CLIENT's LAN.0/24 behind ROUTER
  local router=$1 client=$2 lan=$3
  ip -n "$PREFIX-$router" link add lan type veth peer name lan netns "$PREFIX-$client"
  ip -n "$PREFIX-$router" addr add "$lan.1/24" dev lan
  ip -n "$PREFIX-$router" link set lan up
  ip -n "$PREFIX-$client" addr add "$lan.2/24" dev lan
  ip -n "$PREFIX-$client" link set lan up
  ip -n "$PREFIX-$client" route add default via "$lan.1"
  in_ns "$router" sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward'  # the router's own (per namespace)
  # Like a home router: the client's datagrams leave from the router's
  # address (masquerade keeps the port when it can), and nothing new comes
  # in from the internet unless the client sent there first.
  in_ns "$router" nft -f - <<EOF
table ip nat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" masquerade
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
EOF
}
plug hub "$HUB_UL"
plug ra "$RA_UL"
plug rb "$RB_UL"
nat_router ra a 10.201.1
nat_router rb b 10.201.2
poll_until 10 in_ns a ping -n -c 1 -W 1 "$HUB_UL" || die "a cannot reach the hub through its router"
poll_until 10 in_ns b ping -n -c 1 -W 1 "$HUB_UL" || die "b cannot reach the hub through its router"
ok "a and b reach the internet through their NAT routers; nothing reaches them from outside"

# --- 2 ----------------------------------------------------------------------------
section "2. The administrator describes the network"
umask 077
run_admin() { step "cordon admin $*"; admin "$@" | indent; }
run_admin network init --number 1 --name demo --ipv4 10.77.0.0/16 --ipv6 fd77::/64
run_admin host add --name hub --role coordinator --endpoint "$HUB_UL:51820"
run_admin host add --name a --role client --coordinator hub
run_admin host add --name b --role client --coordinator hub
run_admin link add a b
step "cordon admin link list"
admin link list | indent
echo "The clients have no endpoint: they are behind NAT, the hub learns where they are."
for name in hub a b; do
  step "cordon admin user add --host $name --name ops-$name"
  admin user add --host "$name" --name "ops-$name" >"$WORK/user-$name.out"
  sed -n 's/^password (shown only now[^:]*: //p' "$WORK/user-$name.out" >"$WORK/password-$name"
  [ -s "$WORK/password-$name" ] || die "no generated password in: $(cat "$WORK/user-$name.out")"
done
ok "three hosts, three users with generated passwords (kept in $WORK, mode 600)"
id_of() { admin host show "$1" | awk '$1 == "host" { print $2; exit }'; }
HUB_ID=$(id_of hub) A_ID=$(id_of a) B_ID=$(id_of b)

# --- 3 ----------------------------------------------------------------------------
section "3. Key sets: exported by the administrator, installed on each host"
for name in hub a b; do
  mkdir -p "$WORK/state-$name"
  step "cordon admin keyset export --host $name --out $name.keyset"
  admin keyset export --host "$name" --out "$WORK/$name.keyset" | indent
  step "ip netns exec $PREFIX-$name cordon keyset install $name.keyset --password-file password-$name"
  in_ns "$name" "$CORDON" keyset install "$WORK/$name.keyset" --password-file "$WORK/password-$name" \
    --state-dir "$WORK/state-$name" | sed -n 1p | indent
  cat >"$WORK/$name.toml" <<EOF
[host]
keyset = "$WORK/state-$name/keyset"
password_file = "$WORK/password-$name"
interface = "cordon0"
state_dir = "$WORK/state-$name"
control_socket = "$WORK/$name.sock"
EOF
done
echo "A host's config only names its key set; the peers, keys and addresses come from it:"
indent <"$WORK/a.toml"

# --- 4 ----------------------------------------------------------------------------
section "4. Starting the daemons"
for name in hub a b; do
  step "ip netns exec $PREFIX-$name cordon up -c $name.toml &"
  # Not through in_ns: $! must be the daemon itself (ip netns exec execs
  # it), not a subshell that would leave it running when killed.
  ip netns exec "$PREFIX-$name" "$CORDON" up -c "$WORK/$name.toml" >"$WORK/daemon-$name.log" 2>&1 &
  PIDS+=("$!")
  poll_until 20 status_of "$name" || die "cordon up on $name did not start; its log: $(cat "$WORK/daemon-$name.log")"
done
# a has registered with the hub and got b's record once b shows as reachable.
poll_until 20 bash -c "ip netns exec $PREFIX-a $CORDON status -s $WORK/a.sock | grep -qE '^$B_ID +client .* reachable'" \
  || die "a did not learn where b is from the hub"
ok "the daemons are up; both clients registered with the hub"

# --- 5 ----------------------------------------------------------------------------
section "5. cordon status on a, before any traffic to b"
step "ip netns exec $PREFIX-a cordon status"
status_of a | indent
echo "b is $(path_row a "$B_ID" | awk '{ print $3, $4, $5 }') (the hub): the first packets to b go through the hub at once."

# --- 6 ----------------------------------------------------------------------------
section "6. Ping through the tunnel; a and b look for a direct path meanwhile"
step "ip netns exec $PREFIX-a ping -c 5 10.77.0.3"
in_ns a ping -n -c 5 -i 0.3 10.77.0.3 | indent
ping_and_check() { in_ns a ping -n -c 1 -W 1 10.77.0.3 && direct_to a "$B_ID"; }
poll_until 20 ping_and_check || die "a and b found no direct path"
step "ip netns exec $PREFIX-a ping -c 3 fd77::3"
in_ns a ping -n -c 3 -i 0.2 fd77::3 | indent
step "ip netns exec $PREFIX-b ping -c 3 10.77.0.2"
in_ns b ping -n -c 3 -i 0.2 10.77.0.2 | indent
ok "IPv4 and IPv6 cross the tunnel in both directions"

# --- 7 ----------------------------------------------------------------------------
section "7. cordon status on a, after: the path to b is direct"
step "ip netns exec $PREFIX-a cordon status"
status_of a | indent
ok "a sends to b's router ($(path_row a "$B_ID" | awk '{ print $NF }')) directly: both NATs let the probes through"

# --- 8 ----------------------------------------------------------------------------
section "8. A short iperf3 run (3 s) on the direct path"
ip netns exec "$PREFIX-b" iperf3 -s -1 -B 10.77.0.3 >"$WORK/iperf3-server.log" 2>&1 &
PIDS+=("$!")
poll_until 10 bash -c "ip netns exec $PREFIX-b ss -Hltn 'sport = :5201' | grep -q 5201" \
  || die "the iperf3 server did not start"
step "ip netns exec $PREFIX-a iperf3 -c 10.77.0.3 -t 3"
in_ns a iperf3 -c 10.77.0.3 -t 3 | indent
ok "iperf3 done (bench/run.sh measures speed properly: make bench)"

# --- 9 ----------------------------------------------------------------------------
section "9. cordon status on the hub"
step "ip netns exec $PREFIX-hub cordon status"
status_of hub | indent
ok "the hub knows both clients' public endpoints; it relayed only the first packets"
