#!/usr/bin/env bash
# A two-host Cordon tunnel in two minutes (make demo):
#
#   ./scripts/demo.sh BUILD_DIR
#
# Creates two network namespaces, cordon-demo-<pid>-a and -b, joined by a
# veth pair (the "underlay"), gives both ends one link key, starts
# `cordon up` in each, pings and runs a short iperf3 through the tunnel,
# shows `cordon status` from both sides, and removes everything on exit.
# Only addresses inside the two namespaces are used.
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

[ "$(id -u)" -eq 0 ] || die "the demo needs root (network namespaces and TUN devices); try: sudo $0 $BUILD_DIR"
[ -n "$CORDON" ] && [ -x "$CORDON" ] || die "no cordon binary at $BUILD_DIR/src/cli/cordon; run 'make build' first"
for tool in ip ping iperf3 ss; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found; run ./scripts/install-deps.sh"
done

NS_A=cordon-demo-$$-a
NS_B=cordon-demo-$$-b
UL_A=10.203.0.1 UL_B=10.203.0.2
WORK=$(mktemp -d /tmp/cordon-demo-XXXXXX)
declare -a PIDS=()

# --- tear-down, also after an error or Ctrl-C --------------------------------
cleanup() {
  local status=$? pid i
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
  ip netns del "$NS_A" 2>/dev/null || true
  ip netns del "$NS_B" 2>/dev/null || true
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
in_a() { ip netns exec "$NS_A" "$@"; }
in_b() { ip netns exec "$NS_B" "$@"; }

# --- 1 ----------------------------------------------------------------------------
section "1. Two hosts: network namespaces joined by a veth pair"
step "ip netns add $NS_A; ip netns add $NS_B"
ip netns add "$NS_A"
ip netns add "$NS_B"
ip -n "$NS_A" link set lo up
ip -n "$NS_B" link set lo up
step "ip -n $NS_A link add ul0 type veth peer name ul0 netns $NS_B"
ip -n "$NS_A" link add ul0 type veth peer name ul0 netns "$NS_B"
ip -n "$NS_A" addr add "$UL_A/24" dev ul0
ip -n "$NS_B" addr add "$UL_B/24" dev ul0
ip -n "$NS_A" link set ul0 up
ip -n "$NS_B" link set ul0 up
poll_until 10 in_a ping -n -c 1 -W 1 "$UL_B" || die "the veth pair carries no traffic"
ok "host A has underlay address $UL_A, host B has $UL_B"

# --- 2 ----------------------------------------------------------------------------
section "2. One link key, shared by both ends"
step "cordon genkey --out $WORK/a-b.key"
"$CORDON" genkey --out "$WORK/a-b.key" >/dev/null
ok "$(stat -c '%n: mode %a, %s bytes' "$WORK/a-b.key")"

# --- 3 ----------------------------------------------------------------------------
section "3. A config file for each host"
write_config() {  # NAME SELF V4 V6 PEER PEER_V4 PEER_V6 [ENDPOINT]
  local name=$1 self=$2 v4=$3 v6=$4 peer=$5 pv4=$6 pv6=$7 endpoint=${8:-}
  mkdir -p "$WORK/state-$name" && chmod 700 "$WORK/state-$name"
  {
    echo "[host]"
    echo "id = \"$self\""
    echo "interface = \"cordon0\""
    echo "addresses = [\"$v4/24\", \"$v6/64\"]"
    echo "listen_port = 51820"
    echo "state_dir = \"$WORK/state-$name\""
    echo "control_socket = \"$WORK/$name.sock\""
    echo
    echo "[[peer]]"
    echo "id = \"$peer\""
    echo "name = \"host-$( [ "$name" = a ] && echo b || echo a )\""
    if [ -n "$endpoint" ]; then echo "endpoint = \"$endpoint\""; fi
    echo "key_file = \"a-b.key\""
    echo "allowed_prefixes = [\"$pv4/32\", \"$pv6/128\"]"
  } >"$WORK/$name.toml"
}
write_config a 0x0001000a 10.77.0.1 fd77::1 0x0001000b 10.77.0.2 fd77::2 "$UL_B:51820"
write_config b 0x0001000b 10.77.0.2 fd77::2 0x0001000a 10.77.0.1 fd77::1
echo "Host A ($WORK/a.toml) knows where B is:"
sed 's/^/    /' "$WORK/a.toml"
echo "Host B has no endpoint for A: it learns it from A's first authentic packet."
step "cordon check -c a.toml && cordon check -c b.toml"
"$CORDON" check -c "$WORK/a.toml" >/dev/null
"$CORDON" check -c "$WORK/b.toml" >/dev/null
ok "both configs are valid"

# --- 4 ----------------------------------------------------------------------------
section "4. Starting the daemons"
for name in b a; do
  ns=$NS_A; [ "$name" = b ] && ns=$NS_B
  step "ip netns exec $ns cordon up -c $name.toml &"
  ip netns exec "$ns" "$CORDON" up -c "$WORK/$name.toml" >"$WORK/daemon-$name.log" 2>&1 &
  PIDS+=("$!")
  poll_until 20 ip netns exec "$ns" "$CORDON" status -s "$WORK/$name.sock" \
    || die "cordon up on host $name did not start; its log: $(cat "$WORK/daemon-$name.log")"
done
ok "both daemons are up; each has a cordon0 TUN device"
in_a ip -brief addr show dev cordon0 | sed 's/^/    A: /'
in_b ip -brief addr show dev cordon0 | sed 's/^/    B: /'

# --- 5 ----------------------------------------------------------------------------
section "5. Ping through the tunnel"
poll_until 20 in_a ping -n -c 1 -W 1 10.77.0.2 || die "A cannot reach B through the tunnel"
step "ip netns exec $NS_A ping -c 3 10.77.0.2"
in_a ping -n -c 3 -i 0.2 10.77.0.2 | sed 's/^/    /'
step "ip netns exec $NS_A ping -c 3 fd77::2"
in_a ping -n -c 3 -i 0.2 fd77::2 | sed 's/^/    /'
step "ip netns exec $NS_B ping -c 3 10.77.0.1     (B answers A at the endpoint it learnt)"
in_b ping -n -c 3 -i 0.2 10.77.0.1 | sed 's/^/    /'
ok "IPv4 and IPv6 cross the tunnel in both directions"

# --- 6 ----------------------------------------------------------------------------
section "6. A short iperf3 run (3 s) through the tunnel"
in_b iperf3 -s -1 -B 10.77.0.2 >"$WORK/iperf3-server.log" 2>&1 &
PIDS+=("$!")
poll_until 10 bash -c "ip netns exec $NS_B ss -Hltn 'sport = :5201' | grep -q 5201" \
  || die "the iperf3 server did not start"
step "ip netns exec $NS_A iperf3 -c 10.77.0.2 -t 3"
in_a iperf3 -c 10.77.0.2 -t 3 | sed 's/^/    /'
ok "iperf3 done (bench/run.sh measures speed properly: make bench)"

# --- 7 ----------------------------------------------------------------------------
section "7. cordon status on host A"
step "ip netns exec $NS_A cordon status -s a.sock"
in_a "$CORDON" status -s "$WORK/a.sock" | sed 's/^/    /'
section "8. cordon status on host B"
step "ip netns exec $NS_B cordon status -s b.sock"
in_b "$CORDON" status -s "$WORK/b.sock" | sed 's/^/    /'
ok "B learnt A's endpoint $UL_A:51820 from A's traffic"
