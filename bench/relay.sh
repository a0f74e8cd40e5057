#!/usr/bin/env bash
# Relayed-path throughput as a ratio of direct-path throughput, on the real
# kernel, in the same run (docs/design.md, "The data path"; docs/protocol.md, "Coordinators": relay by host ID).
#
#   ./bench/relay.sh BUILD_DIR        (called by bench/run.sh)
#
# The managed network of scripts/demo.sh (scripts/lib/managed_net.sh): a
# coordinator `hub` and clients `a`, `b`, each behind its own nftables NAT
# router, every machine a namespace (cordon-relay-<pid>-<round>-*). Built
# twice:
#   - direct:  plain `masquerade` on both routers; it keeps the client's
#              port, so hole punching works and a reaches b directly;
#   - relayed: `masquerade fully-random` on both; every new mapping gets a
#              random port, hole punching fails, and a's packets to b go
#              through the hub.
# Each time: wait for the expected path in `cordon status --json` on a, one
# iperf3 TCP stream a -> b over the tunnel for 10 s (receiver bits/s), and
# the path checked again after. Prints key=value lines on stdout; progress
# and failures on stderr. Exits 1 if a round failed (its figure is nan) or
# its tunnel stalled (under 1 Mbit/s; the figure is kept). RELAY_KEEP=1
# keeps the temp dir (daemon logs, iperf3 JSON) for a look afterwards.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=$1
CORDON=$(realpath "$BUILD_DIR/src/cli/cordon" 2>/dev/null || true)
TCP_SECONDS=10
B_TUNNEL=10.77.0.3   # b's tunnel address: the third host of 10.77.0.0/16 (mn_describe)
# How long a and b get to find a direct path; the relayed round pings as
# long before it checks that the path is still relayed.
PATH_SECONDS=20

die() { echo "relay: error: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, TUN devices, nftables); try: sudo $0 $BUILD_DIR"
[ -n "$CORDON" ] && [ -x "$CORDON" ] || die "no cordon binary at $BUILD_DIR/src/cli/cordon; build first (make build)"
for tool in ip ping iperf3 ss nft awk; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found; run ./scripts/install-deps.sh"
done

# shellcheck source=../scripts/lib/managed_net.sh
. "$REPO/scripts/lib/managed_net.sh"

BASE_WORK=$(mktemp -d /tmp/cordon-relay-XXXXXX)
trap '[ -n "${RELAY_KEEP:-}" ] || rm -rf "$BASE_WORK"' EXIT

# bits_per_second of end.sum_received in iperf3 -J output (one key a line).
received_bps() {
  awk 'index($0, "\"sum_received\"") { inside = 1; next }
       inside && index($0, "\"bits_per_second\"") {
         v = $0; sub(/^[^:]*:[ \t]*/, "", v); sub(/[,} \t\r]*$/, "", v); print v; exit }' "$1"
}

# round LABEL MASQUERADE EXPECTED_PATH: prints Gbit/s. Runs in a subshell
# with its own tear-down, so a failed round leaves nothing behind and the
# other round still runs.
round() (
  local label=$1 masq=$2 expected=$3 bps
  PREFIX=cordon-relay-$$-$label
  WORK=$BASE_WORK/$label
  PIDS=()
  mkdir -p "$WORK"
  cleanup() {
    local status=$? f
    mn_stop_pids
    if [ "$status" -ne 0 ]; then
      for f in "$WORK"/daemon-*.log; do
        [ -e "$f" ] && { echo "--- $label: $(basename "$f")"; tail -n 20 "$f"; } >&2
      done
    fi
    mn_delete_machines
  }
  trap cleanup EXIT
  trap 'exit 130' INT TERM
  echo "relay: [$label] network with '$masq' on both routers" >&2
  mn_network "$masq"
  # Traffic to b starts the path search (a's first packets go via the hub).
  ping_and_path() { in_ns a ping -n -c 1 -W 1 "$B_TUNNEL" && path_is a "$B_ID" "$1"; }
  if [ "$expected" = direct ]; then
    poll_until "$PATH_SECONDS" ping_and_path direct || die "[$label] a and b found no direct path (path: $(path_json a "$B_ID"))"
  else
    in_ns a ping -n -q -c $((PATH_SECONDS * 5)) -i 0.2 "$B_TUNNEL" >/dev/null || die "[$label] ping a -> b failed"
    path_is a "$B_ID" relayed || die "[$label] path to b is $(path_json a "$B_ID"), not relayed"
  fi
  echo "relay: [$label] path a -> b: $(path_json a "$B_ID"); iperf3 TCP, 1 stream, $TCP_SECONDS s" >&2
  ip netns exec "$PREFIX-b" iperf3 -s -1 -B "$B_TUNNEL" >"$WORK/iperf3-server.log" 2>&1 &
  PIDS+=("$!")
  poll_until 10 bash -c "ip netns exec $PREFIX-b ss -Hltn 'sport = :5201' | grep -q 5201" \
    || die "[$label] the iperf3 server did not start"
  in_ns a iperf3 -c "$B_TUNNEL" -t "$TCP_SECONDS" -J >"$WORK/iperf3.json" 2>&1 \
    || die "[$label] iperf3 failed: $(tail -n 5 "$WORK/iperf3.json")"
  path_is a "$B_ID" "$expected" || die "[$label] after iperf3 the path to b is $(path_json a "$B_ID"), not $expected"
  bps=$(received_bps "$WORK/iperf3.json")
  [ -n "$bps" ] || die "[$label] no bits_per_second in the iperf3 output"
  awk -v b="$bps" 'BEGIN { printf "%.3f\n", b / 1e9 }'
  # A tunnel that stalls is a failure, not a slow result: keep the figure,
  # but say so (the daemons' logs follow from cleanup).
  awk -v b="$bps" 'BEGIN { exit !(b + 0 < 1e6) }' && die "[$label] under 1 Mbit/s received: the tunnel stalled"
  return 0
)

failed=0
direct=$(round direct "masquerade" direct) || failed=1
relayed=$(round relayed "masquerade fully-random" relayed) || failed=1
direct=${direct:-nan} relayed=${relayed:-nan}
echo "relay_direct_tcp1_gbps=$direct"
echo "relay_relayed_tcp1_gbps=$relayed"
echo "relay_ratio_vs_direct_netns=$(awk -v r="$relayed" -v d="$direct" \
  'BEGIN { if (r == "nan" || d == "nan" || d + 0 == 0) print "nan"; else printf "%.3f", r / d }')"
exit "$failed"
