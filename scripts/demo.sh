#!/usr/bin/env bash
# A managed Cordon network behind NATs, in under a minute (make demo):
#
#   ./scripts/demo.sh BUILD_DIR
#
# Builds a small network with `cordon admin`: one coordinator, `hub`, and two
# clients, `a` and `b`, each behind its own NAT router. Every machine is a
# network namespace (cordon-demo-<pid>-*); the "internet" is a bridge in one
# more. The routers masquerade with nftables, like home routers. The hub is
# also the administration host: `cordon admin` sends updates through its
# daemon, and couriers deliver them (docs/couriers.md). The demo exports
# and installs the key sets, starts the daemons, then links a and b with
# `cordon admin link add` and `updates build --send`, and shows `updates
# status` as both clients apply it live; then a and b find a direct path
# through their NATs: `cordon status` on a before and after, a ping and a
# short iperf3 through the tunnel, and the hub's view. Then the hub becomes
# a gateway: the administrator gives it a tunneled subnet and three filter
# rules and sends the updates the same way; a LAN host behind the hub (one
# more namespace, no Cordon on it)
# and a ping each other, a's TCP to one port of the LAN host passes and to
# another is dropped, and the hub's `cordon status` shows each rule's
# counter. `cordon admin status` shows the live view the hub reports.
# Last, the web console (docs/console.md) starts beside the
# administrator's database and the demo prints its address, its
# certificate's fingerprint and a console login.
#
# With KEEP=1 (`make demo KEEP=1`) the demo then waits, the network and the
# console running, until Ctrl-C; open the printed address in a browser on
# this machine to see the map. CONSOLE_PORT (default 8443) moves the console.
# Everything is removed on exit. Only addresses inside the namespaces and
# loopback are used.
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
KEEP=${KEEP:-0}
CONSOLE_PORT=${CONSOLE_PORT:-8443}
for tool in ip ping iperf3 ss nft; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found; run ./scripts/install-deps.sh"
done

PREFIX=cordon-demo-$$
WORK=$(mktemp -d /tmp/cordon-demo-XXXXXX)
declare -a PIDS=()
# The machines, the administrator's steps and the daemons, narrated here
# through mn_step and mn_show (shared with bench/relay.sh).
mn_step() { step "$@"; }
mn_show() { indent; }
MN_LINK_LATER=1  # section 5 adds the link a-b over couriers
# shellcheck source=lib/managed_net.sh
. "$(dirname "$0")/lib/managed_net.sh"

# --- tear-down, also after an error or Ctrl-C --------------------------------
cleanup() {
  local status=$? f
  section "Tearing down"
  mn_stop_pids
  if [ "$status" -ne 0 ]; then
    for f in "$WORK"/daemon-*.log; do
      [ -e "$f" ] && { echo "--- $(basename "$f")"; tail -n 20 "$f"; }
    done
  fi
  mn_delete_machines
  rm -rf "$WORK"
  if [ "$status" -eq 0 ]; then ok "daemons stopped, namespaces and temp files removed"
  else printf '%sthe demo failed (exit %s); everything it made is removed%s\n' "$RED" "$status" "$RESET"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

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
mn_machines
ok "a and b reach the internet through their NAT routers; nothing reaches them from outside"

# --- 2 ----------------------------------------------------------------------------
section "2. The administrator describes the network"
umask 077
mn_describe
echo "The clients have no endpoint: they are behind NAT, the hub learns where they are."
mn_users
ok "three hosts, three users with generated passwords (kept in $WORK, mode 600)"

# --- 3 ----------------------------------------------------------------------------
section "3. Key sets: exported by the administrator, installed on each host"
mn_keysets
echo "A host's config only names its key set; the peers, keys and addresses come from it:"
indent <"$WORK/a.toml"

# --- 4 ----------------------------------------------------------------------------
section "4. Starting the daemons"
mn_start_daemons
ok "the daemons are up; both clients registered with the hub"

# --- 5 ----------------------------------------------------------------------------
section "5. The administrator links a and b; couriers deliver the update"
echo "No file is carried: the hub's daemon takes the packages and hands each one to its host."
run_admin link add a b
mn_step "cordon admin updates build --send -s hub.sock"
admin updates build --send -s "$WORK/hub.sock" | indent
all_applied() { admin updates status --json -s "$WORK/hub.sock" | grep '"state"' | grep -vq '"applied"' && return 1; return 0; }
poll_until 30 all_applied || die "the update did not reach every host: $(admin updates status -s "$WORK/hub.sock")"
mn_step "cordon admin updates status -s hub.sock"
admin updates status -s "$WORK/hub.sock" | indent
poll_until 20 bash -c "ip netns exec $PREFIX-a $CORDON status -s $WORK/a.sock | grep -qE '^$B_ID +client .* reachable'" \
  || die "a did not learn where b is from the hub"
ok "a and b applied the update live and confirmed it; the hub has told a where b is"

# --- 6 ----------------------------------------------------------------------------
section "6. cordon status on a, before any traffic to b"
step "ip netns exec $PREFIX-a cordon status"
status_of a | indent
echo "b is $(path_row a "$B_ID" | awk '{ print $3, $4, $5 }') (the hub): the first packets to b go through the hub at once."

# --- 7 ----------------------------------------------------------------------------
section "7. Ping through the tunnel; a and b look for a direct path meanwhile"
step "ip netns exec $PREFIX-a ping -c 5 10.77.0.3"
in_ns a ping -n -c 5 -i 0.3 10.77.0.3 | indent
ping_and_check() { in_ns a ping -n -c 1 -W 1 10.77.0.3 && direct_to a "$B_ID"; }
poll_until 20 ping_and_check || die "a and b found no direct path"
step "ip netns exec $PREFIX-a ping -c 3 fd77::3"
in_ns a ping -n -c 3 -i 0.2 fd77::3 | indent
step "ip netns exec $PREFIX-b ping -c 3 10.77.0.2"
in_ns b ping -n -c 3 -i 0.2 10.77.0.2 | indent
ok "IPv4 and IPv6 cross the tunnel in both directions"

# --- 8 ----------------------------------------------------------------------------
section "8. cordon status on a, after: the path to b is direct"
step "ip netns exec $PREFIX-a cordon status"
status_of a | indent
ok "a sends to b's router ($(path_row a "$B_ID" | awk '{ print $NF }')) directly: both NATs let the probes through"

# --- 9 ----------------------------------------------------------------------------
section "9. A short iperf3 run (3 s) on the direct path"
ip netns exec "$PREFIX-b" iperf3 -s -1 -B 10.77.0.3 >"$WORK/iperf3-server.log" 2>&1 &
PIDS+=("$!")
poll_until 10 bash -c "ip netns exec $PREFIX-b ss -Hltn 'sport = :5201' | grep -q 5201" \
  || die "the iperf3 server did not start"
step "ip netns exec $PREFIX-a iperf3 -c 10.77.0.3 -t 3"
in_ns a iperf3 -c 10.77.0.3 -t 3 | indent
ok "iperf3 done (bench/run.sh measures speed properly: make bench)"

# --- 10 ----------------------------------------------------------------------------
section "10. cordon status on the hub"
step "ip netns exec $PREFIX-hub cordon status"
status_of hub | indent
ok "the hub knows both clients' public endpoints; it relayed only the first packets"

# --- 11 ---------------------------------------------------------------------------
section "11. The hub becomes a gateway for a LAN whose hosts run no Cordon"
cat <<EOF
      hub $HUB_UL, and 192.168.71.1 on its LAN side
          |
   lan 192.168.71.10   (no Cordon; its default route is the hub)
EOF
# One more machine, removed with the others (mn_delete_machines).
MN_NAMESPACES+=(lan)
ip netns add "$PREFIX-lan"
ip -n "$PREFIX-lan" link set lo up
ip -n "$PREFIX-hub" link add lan0 type veth peer name eth0 netns "$PREFIX-lan"
ip -n "$PREFIX-hub" addr add 192.168.71.1/24 dev lan0
ip -n "$PREFIX-hub" link set lan0 up
ip -n "$PREFIX-lan" addr add 192.168.71.10/24 dev eth0
ip -n "$PREFIX-lan" link set eth0 up
ip -n "$PREFIX-lan" route add default via 192.168.71.1
poll_until 10 in_ns lan ping -n -c 1 -W 1 192.168.71.1 || die "the LAN host cannot reach the hub"
echo "The administrator gives the hub the LAN as a tunneled subnet, and rules for what enters it:"
umask 077
run_admin host set hub --subnet 192.168.71.0/24
run_admin filter add --host hub allow in proto icmp
run_admin filter add --host hub allow in proto tcp dport 5201
run_admin filter add --host hub drop in proto tcp dport 22
mn_step "cordon admin updates build --send -s hub.sock"
admin updates build --send -s "$WORK/hub.sock" | indent
umask 022
poll_until 30 all_applied || die "the gateway update did not reach every host: $(admin updates status -s "$WORK/hub.sock")"
mn_step "cordon admin updates status -s hub.sock"
admin updates status -s "$WORK/hub.sock" | indent
ok "the hub forwards for 192.168.71.0/24 (net.ipv4.ip_forward = $(in_ns hub cat /proc/sys/net/ipv4/ip_forward)); a and b route it into the tunnel"

# --- 12 ---------------------------------------------------------------------------
section "12. The LAN host and a reach each other through the hub's filter"
poll_until 20 in_ns lan ping -n -c 1 -W 1 10.77.0.2 || die "the LAN host does not reach a through the hub"
step "ip netns exec $PREFIX-lan ping -c 3 10.77.0.2        # the LAN host to a"
in_ns lan ping -n -c 3 -i 0.2 10.77.0.2 | indent
step "ip netns exec $PREFIX-a ping -c 3 192.168.71.10      # a to the LAN host"
in_ns a ping -n -c 3 -i 0.2 192.168.71.10 | indent
ip netns exec "$PREFIX-lan" iperf3 -s -1 -B 192.168.71.10 >"$WORK/iperf3-lan.log" 2>&1 &
PIDS+=("$!")
poll_until 10 bash -c "ip netns exec $PREFIX-lan ss -Hltn 'sport = :5201' | grep -q 5201" \
  || die "the iperf3 server on the LAN host did not start"
step "ip netns exec $PREFIX-a iperf3 -c 192.168.71.10 -t 2     # TCP port 5201: allowed"
in_ns a iperf3 -c 192.168.71.10 -t 2 | grep -E 'sender|receiver' | indent
step "ip netns exec $PREFIX-a timeout 2 bash -c 'echo >/dev/tcp/192.168.71.10/22'     # TCP port 22: dropped"
if in_ns a timeout 2 bash -c 'echo >/dev/tcp/192.168.71.10/22' 2>/dev/null; then
  die "a reached port 22 on the LAN host: the hub's filter let it through"
fi
echo "    no answer in 2 s"
ok "a and the LAN host ping each other, TCP to port 5201 passes, to port 22 never reaches the LAN host"

# --- 13 ---------------------------------------------------------------------------
section "13. cordon status on the gateway: the rules and their counters"
step "ip netns exec $PREFIX-hub cordon status"
status_of hub | indent
echo "DECIDED: the connections each allow rule opened, the packets the drop rule dropped (a's SYNs"
echo "to port 22; also in a's DROPS as filtered). The LAN host's pings to a leave the hub (direction"
echo "out), match no rule and pass; their replies pass as part of the tracked connection."
ok "the gateway's filter decided what entered its LAN, rule by rule"

# --- 14 ---------------------------------------------------------------------------
section "14. The administrator's live view: what the coordinators report"
live_ok() { admin status -s "$WORK/hub.sock" | grep -q ' 0 unreachable, 0 unknown;'; }
poll_until 20 live_ok || die "the live view does not show every host reachable: $(admin status -s "$WORK/hub.sock")"
mn_step "cordon admin status -s hub.sock"
admin status -s "$WORK/hub.sock" | indent
ok "the hub reports every client it serves, with its endpoint and its paths, to the administration host"

# --- 15 ---------------------------------------------------------------------------
section "15. The web console: the network map in a browser"
echo "A console administrator (not a network user: a name and a password for the console's changes):"
umask 077
head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/console-password"
run_admin console-user add demo --password-file "$WORK/console-password"
mn_step "cordon admin console --listen 127.0.0.1:$CONSOLE_PORT -s hub.sock &"
"$CORDON" admin --db "$WORK/admin.db" console --listen "127.0.0.1:$CONSOLE_PORT" -s "$WORK/hub.sock" \
  >"$WORK/console.log" 2>&1 &
PIDS+=("$!")
umask 022
poll_until 10 grep -q '^console: https://' "$WORK/console.log" || die "the console did not start: $(cat "$WORK/console.log")"
indent <"$WORK/console.log"
ok "the console serves https://127.0.0.1:$CONSOLE_PORT/ (self-signed: compare the fingerprint above with the browser's)"
echo "    log in as demo, password $(cat "$WORK/console-password")"
if [ "$KEEP" = 1 ]; then
  printf '\n%sThe network and the console keep running (KEEP=1): open https://127.0.0.1:%s/ in a browser here.%s\n' \
    "$BOLD" "$CONSOLE_PORT" "$RESET"
  echo "Press Ctrl-C (or run: kill $$) to stop everything and remove it."
  trap 'exit 0' INT TERM  # Ctrl-C is how a kept demo ends, not a failure
  while :; do sleep 1; done
fi
