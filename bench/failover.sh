#!/usr/bin/env bash
# How long traffic is stranded when a direct path breaks under a steady
# flow, on the real kernel (docs/coordinators.md, "When a direct path
# breaks"; goal: at most 5 s).
#
#   ./bench/failover.sh BUILD_DIR        (called by bench/run.sh)
#
# The managed network of scripts/demo.sh (scripts/lib/managed_net.sh): a
# coordinator `hub` and clients `a`, `b`, each behind its own nftables NAT
# router (plain `masquerade`: a and b find a direct path), every machine a
# namespace (cordon-failover-<pid>-*). Once a and b talk directly, a pings b
# 100 times a second (ping -i 0.01, ECHOES echoes); CUT_AFTER seconds in,
# b's router starts dropping UDP between a's router and b, and nothing else
# (the hub stays reachable from both). The echoes lost, times the gap ping
# kept between them (10 ms asked for), is the loss window. Prints path_failover_loss_s= on stdout (nan if the run
# failed); progress and failures on stderr. FAILOVER_KEEP=1 keeps the temp
# dir (daemon logs, ping output).
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=$1
CORDON=$(realpath "$BUILD_DIR/src/cli/cordon" 2>/dev/null || true)
B_TUNNEL=10.77.0.3   # b's tunnel address: the third host of 10.77.0.0/16 (mn_describe)
GAP=0.01             # 100 packets/s asked for
ECHOES=1800          # 18 s at that rate; up to 30 s where ping's timer slack stretches the gap
CUT_AFTER=5
PATH_SECONDS=20      # how long a and b get to find a direct path

die() { echo "failover: error: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, TUN devices, nftables); try: sudo $0 $BUILD_DIR"
[ -n "$CORDON" ] && [ -x "$CORDON" ] || die "no cordon binary at $BUILD_DIR/src/cli/cordon; build first (make build)"
for tool in ip ping nft awk; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found; run ./scripts/install-deps.sh"
done

# shellcheck source=../scripts/lib/managed_net.sh
. "$REPO/scripts/lib/managed_net.sh"

PREFIX=cordon-failover-$$
WORK=$(mktemp -d /tmp/cordon-failover-XXXXXX)
PIDS=()
cleanup() {
  local status=$? f
  mn_stop_pids
  if [ "$status" -ne 0 ]; then
    echo "path_failover_loss_s=nan"
    for f in "$WORK"/daemon-*.log; do
      [ -e "$f" ] && { echo "--- $(basename "$f")"; tail -n 20 "$f"; } >&2
    done
  fi
  mn_delete_machines
  [ -n "${FAILOVER_KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "failover: network with 'masquerade' on both routers" >&2
mn_network masquerade

both_direct() { in_ns a ping -n -c 1 -W 1 "$B_TUNNEL" && path_is a "$B_ID" direct && path_is b "$A_ID" direct; }
poll_until "$PATH_SECONDS" both_direct \
  || die "a and b found no direct path (a -> b: $(path_json a "$B_ID"), b -> a: $(path_json b "$A_ID"))"

echo "failover: a -> b direct; ping -i $GAP -c $ECHOES, UDP a-b cut after ${CUT_AFTER} s" >&2
ip netns exec "$PREFIX-a" ping -n -q -i "$GAP" -c "$ECHOES" -W 1 "$B_TUNNEL" >"$WORK/ping.txt" 2>&1 &
ping_pid=$!
PIDS+=("$ping_pid")
# The flow's first seconds on the direct path: a span of the measurement,
# not a wait for an event.
sleep "$CUT_AFTER"
# b's router (managed_net.sh's nat_router): forwarded UDP from and to a's
# router, both ways, is dropped.
in_ns rb nft add rule inet filter forward ip saddr "$RA_UL" meta l4proto udp drop
in_ns rb nft add rule inet filter forward ip daddr "$RA_UL" meta l4proto udp drop
wait "$ping_pid" || true   # exits 1 when any echo went unanswered
PIDS=("${PIDS[@]:0:${#PIDS[@]}-1}")
echo "failover: a -> b after the cut: path $(path_json a "$B_ID"); $(grep -E 'packets transmitted' "$WORK/ping.txt")" >&2

# "2500 packets transmitted, 2375 received, 5% packet loss, time 40027ms":
# ping keeps its interval only roughly (timer slack stretches it, here to
# about 16 ms), so the gap it actually kept, time / (sent - 1), gives the
# window.
read -r sent received ms < <(awk '/packets transmitted/ { t = $NF; sub(/ms$/, "", t); print $1, $4, t }' "$WORK/ping.txt")
[ -n "${ms:-}" ] && [ "$sent" -gt 1 ] || die "no summary in the ping output: $(tail -n 3 "$WORK/ping.txt")"
awk -v s="$sent" -v r="$received" -v ms="$ms" 'BEGIN {
  gap = ms / 1000 / (s - 1)
  printf "failover: %d of %d echoes lost, %.4f s apart\n", s - r, s, gap > "/dev/stderr"
  printf "path_failover_loss_s=%.2f\n", (s - r) * gap }'
