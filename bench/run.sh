#!/usr/bin/env bash
# Cordon's speed, measured in one run against the plain link and against
# wireguard-go, reported as ratios (docs/design.md, "The data path" and
# "What every capability meets").
#
#   ./bench/run.sh BUILD_DIR        (make bench)
#
# Two namespaces, cordon-bench-<pid>-a and -b, joined by a veth pair. Over
# (1) the veth itself, (2) a Cordon tunnel (two `cordon up`) and (3) a
# wireguard-go tunnel, each measured alone, one after the other:
#   - iperf3 TCP, 1 stream and 4 streams, 10 s each (receiver bits/s)
#   - average ping RTT (ping -c 50 -i 0.01 -q)
#   - UDP 64-byte packets/s received (iperf3 -u -l 64 -b 0, 5 s)
#   - bytes of overhead per packet: one ping of known size captured on the
#     underlay, UDP payload length minus inner IP packet length.
# Both tunnels use MTU 1420. Everything runs inside the two namespaces with
# private addresses assigned here; nothing leaves them.
# Then, if the build has them, bench/admin_scale (10,000 hosts: key sets,
# peak memory, incremental update rebuild) and bench/mesh_scale (relayed vs
# direct data path, relay packets per second, a registry of 10,000 clients)
# add their key=value lines, bench/relay.sh measures the relayed path
# against the direct one on the real kernel (a managed network behind NAT
# routers, in namespaces of its own), and bench/failover.sh, in the same
# kind of network, how long a 100 packets/s flow is stranded when its direct
# path breaks.
#
# Output: a table, then key=value lines (also written to
# bench/results/latest.txt).
set -euo pipefail

usage() { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
[ $# -eq 1 ] || usage

REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=$1
CORDON_BIN=$(realpath "$BUILD_DIR/src/cli/cordon" 2>/dev/null || true)

die() { echo "bench: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, TUN devices, tcpdump); try: sudo $0 $BUILD_DIR"
[ -n "$CORDON_BIN" ] && [ -x "$CORDON_BIN" ] || die "no cordon binary at $BUILD_DIR/src/cli/cordon; build first (make build)"
for tool in ip iperf3 ping tcpdump ss wireguard-go wg awk; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found; run ./scripts/install-deps.sh"
done

# --- settings ----------------------------------------------------------------
NS_A=cordon-bench-$$-a
NS_B=cordon-bench-$$-b
UL_A=10.201.0.1 UL_B=10.201.0.2          # underlay (veth)
CD_A=10.77.0.1 CD_B=10.77.0.2            # Cordon tunnel
WG_A=10.78.0.1 WG_B=10.78.0.2            # wireguard-go tunnel
CD_PORT=51820 WG_PORT=51821 IPERF_PORT=5201
WG_IF_A=wgb$$a WG_IF_B=wgb$$b            # unique: wireguard-go's UAPI sockets are global files
MTU=1420
TCP_SECONDS=10 UDP_SECONDS=5
PING_PAYLOAD=996                         # inner IPv4 packet: 996 + 8 (ICMP) + 20 (IP) = 1024 bytes
INNER_LEN=1024

WORK=$(mktemp -d /tmp/cordon-bench-XXXXXX)
RESULTS_DIR="$REPO/bench/results"
declare -a PIDS=()

# --- cleanup -------------------------------------------------------------------
# Stops only the processes this script started, by PID, then deletes the
# namespaces and the temp dir.
stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  ip netns del "$NS_A" 2>/dev/null || true
  ip netns del "$NS_B" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts a command in the background inside a namespace; sets LAST_PID.
# `ip netns exec` execs the command itself, so the PID is the command's.
spawn() {
  local ns=$1 log=$2; shift 2
  ip netns exec "$ns" "$@" >"$log" 2>&1 &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}

# Stops one spawned process and forgets it.
despawn() {
  local pid=$1 keep=() p
  stop_pid "$pid"
  for p in "${PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
  PIDS=("${keep[@]+"${keep[@]}"}")
}

# poll_until SECONDS CMD...: runs CMD every 0.1 s until it succeeds.
poll_until() {
  local tries=$(( $1 * 10 )) i; shift
  for i in $(seq 1 "$tries"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  return 1
}

# Measurements run in subshells, so a failure is remembered in a file.
warn() { echo "bench: WARNING: $*" >&2; touch "$WORK/failed"; }

# --- JSON without jq: iperf3 -J output is one key per line ---------------------
# json_num FILE SECTION KEY: the first KEY after the last line naming SECTION.
json_num() {
  awk -v sec="\"$2\"" -v key="\"$3\"" '
    index($0, sec) { inside = 1; val = ""; next }
    inside && index($0, key) {
      v = $0; sub(/^[^:]*:[ \t]*/, "", v); sub(/[,} \t\r]*$/, "", v); val = v; inside = 0
    }
    END { print val }' "$1"
}

# --- measurements ----------------------------------------------------------------
# Each prints one number, or "nan" (with a warning) when the tool failed.

measure_tcp() {  # measure_tcp LABEL ADDR STREAMS -> Gbit/s
  local label=$1 addr=$2 streams=$3 out="$WORK/$1-tcp$3.json" bps
  if ip netns exec "$NS_A" iperf3 -c "$addr" -p "$IPERF_PORT" -t "$TCP_SECONDS" -P "$streams" -J >"$out" 2>&1; then
    bps=$(json_num "$out" sum_received bits_per_second)
  fi
  if [ -z "${bps:-}" ]; then warn "$label: iperf3 TCP x$streams failed: $(tail -5 "$out")"; echo nan; return; fi
  awk -v b="$bps" 'BEGIN { printf "%.3f", b / 1e9 }'
}

measure_rtt() {  # measure_rtt LABEL ADDR -> ms
  local label=$1 addr=$2 out="$WORK/$1-ping.txt" avg
  if ip netns exec "$NS_A" ping -n -q -c 50 -i 0.01 "$addr" >"$out" 2>&1; then
    avg=$(awk -F'/' '/^(rtt|round-trip)/ { print $5 }' "$out")
  fi
  if [ -z "${avg:-}" ]; then warn "$label: ping failed: $(tail -3 "$out")"; echo nan; return; fi
  echo "$avg"
}

measure_pps64() {  # measure_pps64 LABEL ADDR -> packets/s received
  local label=$1 addr=$2 out="$WORK/$1-udp64.json" packets lost seconds
  if ip netns exec "$NS_A" iperf3 -c "$addr" -p "$IPERF_PORT" -u -l 64 -b 0 -t "$UDP_SECONDS" -J >"$out" 2>&1; then
    # end.sum_received: packets sent and lost as the receiver counted them.
    packets=$(json_num "$out" sum_received packets)
    lost=$(json_num "$out" sum_received lost_packets)
    seconds=$(json_num "$out" sum_received seconds)
  fi
  if [ -z "${packets:-}" ] || [ -z "${lost:-}" ] || [ -z "${seconds:-}" ]; then
    warn "$label: iperf3 UDP failed: $(tail -5 "$out")"; echo nan; return
  fi
  awk -v p="$packets" -v l="$lost" -v s="$seconds" 'BEGIN { printf "%.0f", (p - l) / s }'
}

# measure_overhead LABEL ADDR PORT -> bytes: one ping of known size, the
# datagram that carried it captured on A's underlay.
measure_overhead() {
  local label=$1 addr=$2 port=$3 pcap="$WORK/$1-overhead.pcap" log="$WORK/$1-tcpdump.log" len pid
  spawn "$NS_A" "$log" tcpdump -n --immediate-mode -U -Z root -i ul0 -c 1 -w "$pcap" udp and dst port "$port" and greater 1000
  pid=$LAST_PID
  if ! poll_until 10 grep -q "listening on" "$log"; then
    warn "$label: tcpdump did not start: $(cat "$log")"; despawn "$pid"; echo nan; return
  fi
  ip netns exec "$NS_A" ping -n -c 1 -W 2 -s "$PING_PAYLOAD" "$addr" >/dev/null 2>&1 || true
  poll_until 10 bash -c "! kill -0 $pid" || true
  despawn "$pid"
  len=$(tcpdump -r "$pcap" -n -q 2>/dev/null | awk '/UDP, length/ { print $NF; exit }')
  if [ -z "${len:-}" ]; then warn "$label: no datagram of the ping was captured"; echo nan; return; fi
  echo $(( len - INNER_LEN ))
}

# measure_all LABEL ADDR [PORT]: fills M_<metric>_<LABEL>.
measure_all() {
  local label=$1 addr=$2 port=${3:-}
  echo "  [$label] ping RTT" >&2;              eval "M_rtt_$label=\$(measure_rtt $label $addr)"
  echo "  [$label] TCP, 1 stream" >&2;        eval "M_tcp1_$label=\$(measure_tcp $label $addr 1)"
  echo "  [$label] TCP, 4 streams" >&2;       eval "M_tcp4_$label=\$(measure_tcp $label $addr 4)"
  echo "  [$label] UDP, 64-byte packets" >&2; eval "M_pps64_$label=\$(measure_pps64 $label $addr)"
  if [ -n "$port" ]; then
    echo "  [$label] overhead per packet" >&2; eval "M_overhead_$label=\$(measure_overhead $label $addr $port)"
  else
    eval "M_overhead_$label=0"
  fi
}

# --- the namespaces and the veth underlay ---------------------------------------
echo "bench: setting up $NS_A and $NS_B" >&2
ip netns add "$NS_A"
ip netns add "$NS_B"
for ns in "$NS_A" "$NS_B"; do ip -n "$ns" link set lo up; done
ip -n "$NS_A" link add ul0 type veth peer name ul0 netns "$NS_B"
ip -n "$NS_A" addr add "$UL_A/24" dev ul0
ip -n "$NS_B" addr add "$UL_B/24" dev ul0
ip -n "$NS_A" link set ul0 up
ip -n "$NS_B" link set ul0 up
poll_until 10 ip netns exec "$NS_A" ping -n -c 1 -W 1 "$UL_B" || die "the veth pair does not carry traffic"

# One iperf3 server in B serves every run, whatever address it arrives on.
spawn "$NS_B" "$WORK/iperf3-server.log" iperf3 -s -p "$IPERF_PORT"
poll_until 10 bash -c "ip netns exec $NS_B ss -Hltn 'sport = :$IPERF_PORT' | grep -q $IPERF_PORT" \
  || die "iperf3 server did not start: $(cat "$WORK/iperf3-server.log")"

# --- (1) plain veth ---------------------------------------------------------------
echo "bench: (1) plain veth" >&2
measure_all veth "$UL_B"

# --- (2) Cordon -----------------------------------------------------------------
echo "bench: (2) Cordon" >&2
"$CORDON_BIN" genkey --out "$WORK/link.key" >/dev/null 2>"$WORK/genkey.log" \
  || die "cordon genkey failed: $(cat "$WORK/genkey.log")"
write_cordon_config() {  # NAME SELF_ID ADDR PEER_ID PEER_ADDR [ENDPOINT]
  local name=$1 self=$2 addr=$3 peer=$4 peer_addr=$5 endpoint=${6:-}
  mkdir -p "$WORK/state-$name" && chmod 700 "$WORK/state-$name"
  {
    echo "[host]"
    echo "id = \"$self\""
    echo "interface = \"cordon0\""
    echo "addresses = [\"$addr/24\"]"
    echo "mtu = $MTU"
    echo "listen_port = $CD_PORT"
    echo "state_dir = \"$WORK/state-$name\""
    echo "control_socket = \"$WORK/cordon-$name.sock\""
    echo "log_level = \"warn\""
    echo
    echo "[[peer]]"
    echo "id = \"$peer\""
    [ -n "$endpoint" ] && echo "endpoint = \"$endpoint\""
    echo "key_file = \"$WORK/link.key\""
    echo "allowed_prefixes = [\"$peer_addr/32\"]"
  } >"$WORK/cordon-$name.toml"
}
write_cordon_config a 0x0001000a "$CD_A" 0x0001000b "$CD_B" "$UL_B:$CD_PORT"
write_cordon_config b 0x0001000b "$CD_B" 0x0001000a "$CD_A"
spawn "$NS_B" "$WORK/cordon-b.log" "$CORDON_BIN" up -c "$WORK/cordon-b.toml"; CD_PID_B=$LAST_PID
spawn "$NS_A" "$WORK/cordon-a.log" "$CORDON_BIN" up -c "$WORK/cordon-a.toml"; CD_PID_A=$LAST_PID
cordon_ready() { ip netns exec "$1" "$CORDON_BIN" status --json -s "$WORK/cordon-$2.sock"; }
if poll_until 20 cordon_ready "$NS_A" a && poll_until 20 cordon_ready "$NS_B" b \
   && poll_until 20 ip netns exec "$NS_A" ping -n -c 1 -W 1 "$CD_B"; then
  measure_all cordon "$CD_B" "$CD_PORT"
else
  warn "Cordon tunnel did not come up; logs:"
  tail -n 20 "$WORK/cordon-a.log" "$WORK/cordon-b.log" >&2 || true
  for m in rtt tcp1 tcp4 pps64 overhead; do eval "M_${m}_cordon=nan"; done
fi
despawn "$CD_PID_A"
despawn "$CD_PID_B"

# --- (3) wireguard-go -----------------------------------------------------------
echo "bench: (3) wireguard-go" >&2
umask 077
wg genkey >"$WORK/wg-a.key"
wg genkey >"$WORK/wg-b.key"
umask 022
WG_PUB_A=$(wg pubkey <"$WORK/wg-a.key")
WG_PUB_B=$(wg pubkey <"$WORK/wg-b.key")
spawn "$NS_A" "$WORK/wggo-a.log" wireguard-go -f "$WG_IF_A"; WG_PID_A=$LAST_PID
spawn "$NS_B" "$WORK/wggo-b.log" wireguard-go -f "$WG_IF_B"; WG_PID_B=$LAST_PID
wg_ready() { ip -n "$1" link show "$2" && [ -S "/var/run/wireguard/$2.sock" ]; }
if poll_until 20 wg_ready "$NS_A" "$WG_IF_A" && poll_until 20 wg_ready "$NS_B" "$WG_IF_B"; then
  ip netns exec "$NS_A" wg set "$WG_IF_A" private-key "$WORK/wg-a.key" listen-port "$WG_PORT" \
    peer "$WG_PUB_B" allowed-ips "$WG_B/32" endpoint "$UL_B:$WG_PORT"
  ip netns exec "$NS_B" wg set "$WG_IF_B" private-key "$WORK/wg-b.key" listen-port "$WG_PORT" \
    peer "$WG_PUB_A" allowed-ips "$WG_A/32"
  ip -n "$NS_A" addr add "$WG_A/24" dev "$WG_IF_A"
  ip -n "$NS_B" addr add "$WG_B/24" dev "$WG_IF_B"
  for side in "$NS_A $WG_IF_A" "$NS_B $WG_IF_B"; do
    set -- $side
    ip -n "$1" link set "$2" mtu "$MTU" up
  done
  if poll_until 20 ip netns exec "$NS_A" ping -n -c 1 -W 1 "$WG_B"; then
    measure_all wggo "$WG_B" "$WG_PORT"
  else
    warn "wireguard-go tunnel did not come up"
    for m in rtt tcp1 tcp4 pps64 overhead; do eval "M_${m}_wggo=nan"; done
  fi
else
  warn "wireguard-go did not start: $(tail -5 "$WORK/wggo-a.log")"
  for m in rtt tcp1 tcp4 pps64 overhead; do eval "M_${m}_wggo=nan"; done
fi
despawn "$WG_PID_A"
despawn "$WG_PID_B"

# --- (4) the administrator at 10,000 hosts (bench/admin_scale) ------------------
# Only when the build has it; its key=value lines join the report below.
ADMIN_SCALE=$BUILD_DIR/bench/admin_scale
if [ -x "$ADMIN_SCALE" ]; then
  echo "bench: (4) admin_scale" >&2
  "$ADMIN_SCALE" >"$WORK/admin_scale.out" 2>"$WORK/admin_scale.err" \
    || warn "admin_scale failed or missed a target: $(tail -n 3 "$WORK/admin_scale.err" "$WORK/admin_scale.out")"
fi

# --- (5) coordinators: relay and registry costs (bench/mesh_scale) --------------
MESH_SCALE=$BUILD_DIR/bench/mesh_scale
if [ -x "$MESH_SCALE" ]; then
  echo "bench: (5) mesh_scale" >&2
  "$MESH_SCALE" >"$WORK/mesh_scale.out" 2>"$WORK/mesh_scale.err" \
    || warn "mesh_scale failed: $(tail -n 3 "$WORK/mesh_scale.err")"
  [ -s "$WORK/mesh_scale.err" ] && warn "mesh_scale: $(tail -n 3 "$WORK/mesh_scale.err")"
fi

# --- (6) relayed vs direct path through NAT routers (bench/relay.sh) -----------
# Its own namespaces (cordon-relay-<pid>-*), torn down before it returns.
if [ -x "$CORDON_BIN" ]; then
  echo "bench: (6) relay" >&2
  "$REPO/bench/relay.sh" "$BUILD_DIR" >"$WORK/relay.out" 2>"$WORK/relay.err" \
    || warn "relay failed: $(grep '^relay: error:' "$WORK/relay.err" | tail -n 3)"
fi

# --- (7) a direct path that breaks under a flow (bench/failover.sh) -----------
# Its own namespaces (cordon-failover-<pid>-*), torn down before it returns.
if [ -x "$CORDON_BIN" ]; then
  echo "bench: (7) failover" >&2
  "$REPO/bench/failover.sh" "$BUILD_DIR" >"$WORK/failover.out" 2>"$WORK/failover.err" \
    || warn "failover failed: $(grep '^failover: error:' "$WORK/failover.err" | tail -n 3)"
fi

# --- report ---------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || b + 0 == 0) print "nan"; else printf "%.3f", a / b }'; }

report() {
  echo "Cordon benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -r), $(nproc) CPUs, MTU $MTU"
  echo
  printf '%-30s %12s %12s %14s\n' "metric" "veth" "cordon" "wireguard-go"
  printf '%-30s %12s %12s %14s\n' "------" "----" "------" "------------"
  printf '%-30s %12s %12s %14s\n' "TCP 1 stream (Gbit/s)" "$M_tcp1_veth" "$M_tcp1_cordon" "$M_tcp1_wggo"
  printf '%-30s %12s %12s %14s\n' "TCP 4 streams (Gbit/s)" "$M_tcp4_veth" "$M_tcp4_cordon" "$M_tcp4_wggo"
  printf '%-30s %12s %12s %14s\n' "ping RTT avg (ms)" "$M_rtt_veth" "$M_rtt_cordon" "$M_rtt_wggo"
  printf '%-30s %12s %12s %14s\n' "UDP 64 B received (pkt/s)" "$M_pps64_veth" "$M_pps64_cordon" "$M_pps64_wggo"
  printf '%-30s %12s %12s %14s\n' "overhead per packet (bytes)" "-" "$M_overhead_cordon" "$M_overhead_wggo"
  echo
  echo "veth_tcp1_gbps=$M_tcp1_veth"
  echo "cordon_tcp1_gbps=$M_tcp1_cordon"
  echo "wggo_tcp1_gbps=$M_tcp1_wggo"
  echo "veth_tcp4_gbps=$M_tcp4_veth"
  echo "cordon_tcp4_gbps=$M_tcp4_cordon"
  echo "wggo_tcp4_gbps=$M_tcp4_wggo"
  echo "veth_rtt_ms=$M_rtt_veth"
  echo "cordon_rtt_ms=$M_rtt_cordon"
  echo "wggo_rtt_ms=$M_rtt_wggo"
  echo "veth_pps64=$M_pps64_veth"
  echo "cordon_pps64=$M_pps64_cordon"
  echo "wggo_pps64=$M_pps64_wggo"
  echo "tcp1_ratio_vs_wireguard_go=$(ratio "$M_tcp1_cordon" "$M_tcp1_wggo")"
  echo "tcp1_ratio_vs_veth=$(ratio "$M_tcp1_cordon" "$M_tcp1_veth")"
  echo "tcp4_ratio_vs_wireguard_go=$(ratio "$M_tcp4_cordon" "$M_tcp4_wggo")"
  echo "tcp4_ratio_vs_veth=$(ratio "$M_tcp4_cordon" "$M_tcp4_veth")"
  echo "rtt_ratio_vs_wireguard_go=$(ratio "$M_rtt_cordon" "$M_rtt_wggo")"
  echo "pps64_ratio_vs_wireguard_go=$(ratio "$M_pps64_cordon" "$M_pps64_wggo")"
  echo "overhead_bytes=$M_overhead_cordon"
  echo "wireguard_go_overhead_bytes=$M_overhead_wggo"
  if [ -s "$WORK/admin_scale.out" ]; then
    grep -E '^[a-z0-9_]+=' "$WORK/admin_scale.out" || true
  fi
  if [ -s "$WORK/mesh_scale.out" ]; then
    grep -E '^[a-z0-9_]+=' "$WORK/mesh_scale.out" || true
  fi
  if [ -s "$WORK/relay.out" ]; then
    grep -E '^[a-z0-9_]+=' "$WORK/relay.out" || true
  fi
  if [ -s "$WORK/failover.out" ]; then
    grep -E '^[a-z0-9_]+=' "$WORK/failover.out" || true
  fi
}

mkdir -p "$RESULTS_DIR"
report | tee "$RESULTS_DIR/latest.txt"
if [ -e "$WORK/failed" ]; then
  echo "bench: some measurements failed (nan above); see the warnings" >&2
  exit 1
fi
