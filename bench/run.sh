#!/usr/bin/env bash
# Cordon's speed, measured in one run against the plain link, wireguard-go
# and fastd, reported as ratios (docs/design.md, "The data path" and
# "What every capability meets").
#
#   ./bench/run.sh BUILD_DIR        (make bench)
#
# Two namespaces, cordon-bench-<pid>-a and -b, joined by a veth pair. Over
# (1) the veth itself, (2) a Cordon tunnel (two `cordon up`), (3) a
# wireguard-go tunnel and (4) a fastd tunnel, each measured alone, one after
# the other (and (2b), the Cordon tunnel rekeying every second, and (2c),
# with size classes on, TCP 1 stream only: rekey_1s_tcp_ratio and
# shaping_tcp_ratio):
#   - iperf3 TCP, 1 stream and 4 streams, 5 s each (receiver bits/s)
#   - average ping RTT (ping -c 50 -i 0.01 -q)
#   - UDP 64-byte packets/s received (iperf3 -u -l 64 -b 0, 5 s)
#   - bytes of overhead per packet: one ping of known size captured on the
#     underlay, UDP payload length minus inner IP packet length (once per
#     path: it does not vary).
# The four paths are measured in ROUNDS rounds (3; BENCH_ROUNDS=N
# overrides), each round all four paths in turn, every tunnel started
# afresh, so that a burst of load from other work on the machine lands in
# one round of every path rather than in all rounds of one. Every figure
# is the median over the rounds (of two values, their mean); a round that
# failed is reported as nan in the <path>_<metric>_rounds lines, left out
# of the median, and makes the script exit non-zero. The iperf3 runs were
# 10 s before there were rounds; with 5 s, three rounds and the steps
# below took 4.5 minutes in all on the 2-core guest of docs/performance.md.
# The tunnels all use MTU 1420, one peer on each side, keys made in the
# run's temp dir. fastd runs in TUN mode with the method aes128-ctr+umac
# (AES-128 in counter mode, UMAC authentication): Debian's fastd links
# OpenSSL's libcrypto, so its AES uses the CPU's AES-NI as Cordon's
# AES-256-GCM does. `null` and the null+ methods are out: they do not
# encrypt. Everything runs inside the two namespaces with private addresses
# assigned here; nothing leaves them.
# Then, if the build has them, bench/admin_scale (100,000 hosts: key sets,
# peak memory, incremental update rebuild) and bench/mesh_scale (relayed vs
# direct data path, relay packets per second, a registry of 10,000 clients)
# add their key=value lines, bench/relay.sh measures the relayed path
# against the direct one on the real kernel (a managed network behind NAT
# routers, in namespaces of its own), and bench/failover.sh, in the same
# kind of network, how long a 100 packets/s flow is stranded when its direct
# path breaks. Last, bench/gateway.sh, in namespaces of its own, measures a
# gateway's TCP throughput to a LAN host against that to its own tunnel
# address, and 64-byte packets/s with 1,000 filter rules on the receiver
# against one rule (about 80 s on its own). Then bench/filter_bench, in
# process, the filter's CPU time per packet: a new connection's first
# packet with 1 and with 1,000 + 1 rules, and a tracked connection's packet
# with 1,000 + 1 (about 5 s). Last, bench/courier_bench, in process: a
# change to 1,000 hosts carried by two couriers whose spools are on disk,
# from the administration host's submit to its last verified receipt, and
# the spool's store and load rates (about 10 s on the 2-core guest, up to
# a minute when other work keeps its disk busy: docs/performance.md,
# "Couriers"). Last, bench/ipsec.sh: TCP through a Cordon IPsec tunnel
# between two Cordon gateways (ESP in UDP and raw ESP) against strongSwan's
# user-space IPsec, and IKE_SA + CHILD_SA setups per second a Cordon
# responder completes (about 2 minutes).
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
[[ ${BENCH_ROUNDS:-3} =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS must be a positive integer, not '${BENCH_ROUNDS:-}'"
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, TUN devices, tcpdump); try: sudo $0 $BUILD_DIR"
[ -n "$CORDON_BIN" ] && [ -x "$CORDON_BIN" ] || die "no cordon binary at $BUILD_DIR/src/cli/cordon; build first (make build)"
for tool in ip iperf3 ping tcpdump ss wireguard-go wg fastd awk; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found; run ./scripts/install-deps.sh"
done

# --- settings ----------------------------------------------------------------
NS_A=cordon-bench-$$-a
NS_B=cordon-bench-$$-b
UL_A=10.201.0.1 UL_B=10.201.0.2          # underlay (veth)
CD_A=10.77.0.1 CD_B=10.77.0.2            # Cordon tunnel
WG_A=10.78.0.1 WG_B=10.78.0.2            # wireguard-go tunnel
FD_A=10.79.0.1 FD_B=10.79.0.2            # fastd tunnel
CD_PORT=51820 WG_PORT=51821 FD_PORT=51822 IPERF_PORT=5201
WG_IF_A=wgb$$a WG_IF_B=wgb$$b            # unique: wireguard-go's UAPI sockets are global files
FD_METHOD=aes128-ctr+umac                # why: see the header comment
MTU=1420
TCP_SECONDS=5 UDP_SECONDS=5
ROUNDS=${BENCH_ROUNDS:-3}
PING_PAYLOAD=996                         # inner IPv4 packet: 996 + 8 (ICMP) + 20 (IP) = 1024 bytes
INNER_LEN=1024

WORK=$(mktemp -d /tmp/cordon-bench-XXXXXX)
RESULTS_DIR="$REPO/bench/results"
declare -a PIDS=()

# --- cleanup (bench/lib.sh) -------------------------------------------------------
. "$REPO/bench/lib.sh"
. "$REPO/bench/stats.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

# Stops one spawned process and forgets it.
despawn() {
  local pid=$1 keep=() p
  stop_pid "$pid"
  for p in "${PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
  PIDS=("${keep[@]+"${keep[@]}"}")
}

# Measurements run in subshells, so a failure is remembered in a file.
warn() { echo "bench: WARNING: $*" >&2; touch "$WORK/failed"; }

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
  local label=$1 addr=$2 out="$WORK/$1-udp64.json" pps=''
  if ip netns exec "$NS_A" iperf3 -c "$addr" -p "$IPERF_PORT" -u -l 64 -b 0 -t "$UDP_SECONDS" -J >"$out" 2>&1; then
    pps=$(received_pps "$out")
  fi
  if [ -z "$pps" ]; then warn "$label: iperf3 UDP failed: $(tail -5 "$out")"; echo nan; return; fi
  echo "$pps"
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

# --- rounds ------------------------------------------------------------------------
# record METRIC LABEL VALUE: appends one round's VALUE to R_<METRIC>_<LABEL>
# (comma-separated, in round order).
record() {
  local name="R_$1_$2"
  if [ -n "${!name:-}" ]; then printf -v "$name" '%s,%s' "${!name}" "$3"; else printf -v "$name" '%s' "$3"; fi
}

# measure_all LABEL ADDR [PORT]: one round of LABEL; records each metric
# and, the first time it is measured, fills M_overhead_<LABEL>.
measure_all() {
  local label=$1 addr=$2 port=${3:-} name
  echo "  [$label] ping RTT" >&2;              record rtt "$label" "$(measure_rtt "$label" "$addr")"
  echo "  [$label] TCP, 1 stream" >&2;        record tcp1 "$label" "$(measure_tcp "$label" "$addr" 1)"
  echo "  [$label] TCP, 4 streams" >&2;       record tcp4 "$label" "$(measure_tcp "$label" "$addr" 4)"
  echo "  [$label] UDP, 64-byte packets" >&2; record pps64 "$label" "$(measure_pps64 "$label" "$addr")"
  name="M_overhead_$label"
  if [ -z "$port" ]; then
    printf -v "$name" '%s' -  # no tunnel, no overhead to measure
  elif [ -z "${!name:-}" ] || [ "${!name}" = nan ]; then
    echo "  [$label] overhead per packet" >&2; printf -v "$name" '%s' "$(measure_overhead "$label" "$addr" "$port")"
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


# --- one tunnel, measured alone ------------------------------------------------
# run_tunnel LABEL TITLE ADDR PORT: start_LABEL spawns the tunnel's two ends
# (logs in $WORK/LABEL-a.log and LABEL-b.log) and returns non-zero, after a
# warning, when they did not start. A ping from A must then reach ADDR, B's
# tunnel address, within 20 s; measure_all fills M_<metric>_LABEL, or every
# metric is nan. The tunnel's processes are stopped before the next tunnel
# starts, so each tunnel is measured alone.
run_tunnel() {
  local label=$1 title=$2 addr=$3 port=$4 first=${#PIDS[@]} pid m up=no
  echo "bench: $title, round $ROUND of $ROUNDS" >&2
  if "start_$label"; then
    if poll_until 20 ip netns exec "$NS_A" ping -n -c 1 -W 1 "$addr"; then
      up=yes
    else
      warn "$label: no ping got through the tunnel within 20 s"
    fi
  fi
  if [ "$up" = yes ]; then
    measure_all "$label" "$addr" "$port"
  else
    tail -n 20 "$WORK/$label-a.log" "$WORK/$label-b.log" >&2 || true
    for m in rtt tcp1 tcp4 pps64; do record "$m" "$label" nan; done
    m="M_overhead_$label"
    [ -n "${!m:-}" ] || printf -v "$m" '%s' nan
  fi
  for pid in "${PIDS[@]:$first}"; do despawn "$pid"; done
}

# tunnel_up NS IF ADDR: gives a tunnel device that its daemon created the
# address ADDR/24 and the bench's MTU, and sets it up.
tunnel_up() {
  ip -n "$1" addr add "$3/24" dev "$2" && ip -n "$1" link set "$2" mtu "$MTU" up
}

# --- (2) Cordon -----------------------------------------------------------------
cordon_ready() { ip netns exec "$1" "$CORDON_BIN" status --json -s "$WORK/cordon-$2.sock"; }
start_cordon() {
  # A fresh key and fresh state in every round: nothing carries over.
  rm -rf "$WORK/link.key" "$WORK/state-a" "$WORK/state-b"
  "$CORDON_BIN" genkey --out "$WORK/link.key" >/dev/null 2>"$WORK/genkey.log" \
    || die "cordon genkey failed: $(cat "$WORK/genkey.log")"
  write_cordon_config a 0x0001000a "$CD_A" 0x0001000b "$CD_B" "$UL_B:$CD_PORT"
  write_cordon_config b 0x0001000b "$CD_B" 0x0001000a "$CD_A"
  spawn "$NS_B" "$WORK/cordon-b.log" "$CORDON_BIN" up -c "$WORK/cordon-b.toml"
  spawn "$NS_A" "$WORK/cordon-a.log" "$CORDON_BIN" up -c "$WORK/cordon-a.toml"
  poll_until 20 cordon_ready "$NS_A" a && poll_until 20 cordon_ready "$NS_B" b \
    || { warn "cordon: the daemons did not answer on their control sockets within 20 s"; return 1; }
}

# --- (2b) Cordon rekeying every second ------------------------------------------
# The same tunnel with `rekey_period = 1` on both ends: a rekey round a second
# during the transfer (docs/protocol.md, "Rekey exchange"). Only TCP, 1
# stream: rekey_1s_tcp_ratio is this over (2)'s, which rekeys once at start.
start_cordon_rekey() { HOST_EXTRA="rekey_period = 1" start_cordon; }
# --- (2c) Cordon with size classes ----------------------------------------------
# The same tunnel with every datagram padded up to a size class
# (docs/protocol.md, "Size classes"): shaping_tcp_ratio is its TCP 1 stream
# over (2)'s, which has them off (the default).
start_cordon_shaping() { HOST_EXTRA='size_classes = "128, 256, 512, 1024"' start_cordon; }
run_tcp_variant() {  # LABEL TITLE ADDR: start_LABEL, then TCP 1 stream into R_tcp1_LABEL
  local label=$1 title=$2 addr=$3 first=${#PIDS[@]} pid value=nan
  echo "bench: $title, round $ROUND of $ROUNDS" >&2
  if "start_$label" && poll_until 20 ip netns exec "$NS_A" ping -n -c 1 -W 1 "$addr"; then
    value=$(measure_tcp "$label" "$addr" 1)
  else
    warn "$label: the tunnel did not come up"
  fi
  record tcp1 "$label" "$value"
  for pid in "${PIDS[@]:$first}"; do despawn "$pid"; done
}

# --- (3) wireguard-go -----------------------------------------------------------
wg_ready() { ip -n "$1" link show "$2" && [ -S "/var/run/wireguard/$2.sock" ]; }
start_wggo() {
  local pub_a pub_b
  (umask 077 && wg genkey >"$WORK/wg-a.key" && wg genkey >"$WORK/wg-b.key") || die "wg genkey failed"
  pub_a=$(wg pubkey <"$WORK/wg-a.key") && pub_b=$(wg pubkey <"$WORK/wg-b.key") || die "wg pubkey failed"
  spawn "$NS_A" "$WORK/wggo-a.log" wireguard-go -f "$WG_IF_A"
  spawn "$NS_B" "$WORK/wggo-b.log" wireguard-go -f "$WG_IF_B"
  poll_until 20 wg_ready "$NS_A" "$WG_IF_A" && poll_until 20 wg_ready "$NS_B" "$WG_IF_B" \
    || { warn "wggo: wireguard-go did not create its devices within 20 s"; return 1; }
  ip netns exec "$NS_A" wg set "$WG_IF_A" private-key "$WORK/wg-a.key" listen-port "$WG_PORT" \
      peer "$pub_b" allowed-ips "$WG_B/32" endpoint "$UL_B:$WG_PORT" \
    && ip netns exec "$NS_B" wg set "$WG_IF_B" private-key "$WORK/wg-b.key" listen-port "$WG_PORT" \
      peer "$pub_a" allowed-ips "$WG_A/32" \
    && tunnel_up "$NS_A" "$WG_IF_A" "$WG_A" && tunnel_up "$NS_B" "$WG_IF_B" "$WG_B" \
    || { warn "wggo: configuring the devices failed"; return 1; }
}

# --- (4) fastd ------------------------------------------------------------------
# fastd_key SIDE: a secret in fastd-SIDE.secret (mode 0600, in fastd's config
# syntax, included by the side's config) and its public key in fastd-SIDE.pub.
fastd_key() {
  local side=$1 secret
  secret=$(fastd --generate-key --machine-readable 2>"$WORK/fastd-genkey.log") \
    || die "fastd --generate-key failed: $(cat "$WORK/fastd-genkey.log")"
  (umask 077 && printf 'secret "%s";\n' "$secret" >"$WORK/fastd-$side.secret") \
    || die "cannot write $WORK/fastd-$side.secret"
  fastd --machine-readable --show-key -c "$WORK/fastd-$side.secret" \
      >"$WORK/fastd-$side.pub" 2>"$WORK/fastd-genkey.log" \
    || die "fastd --show-key failed: $(cat "$WORK/fastd-genkey.log")"
}
write_fastd_config() {  # SIDE BIND_ADDR PEER_SIDE [PEER_REMOTE]
  local side=$1 bind=$2 peer=$3 remote=${4:-}
  {
    echo "log level warn;"
    echo "mode tun;"
    echo "interface \"fastd0\";"
    echo "mtu $MTU;"
    echo "method \"$FD_METHOD\";"
    echo "bind $bind:$FD_PORT;"
    echo "include \"$WORK/fastd-$side.secret\";"
    echo "peer \"$peer\" {"
    echo "  key \"$(cat "$WORK/fastd-$peer.pub")\";"
    [ -n "$remote" ] && echo "  remote $remote:$FD_PORT;"
    echo "}"
  } >"$WORK/fastd-$side.conf"
}
start_fastd() {
  fastd_key a
  fastd_key b
  write_fastd_config a "$UL_A" b "$UL_B"
  write_fastd_config b "$UL_B" a
  spawn "$NS_B" "$WORK/fastd-b.log" fastd -c "$WORK/fastd-b.conf"
  spawn "$NS_A" "$WORK/fastd-a.log" fastd -c "$WORK/fastd-a.conf"
  poll_until 20 ip -n "$NS_A" link show fastd0 && poll_until 20 ip -n "$NS_B" link show fastd0 \
    || { warn "fastd: fastd did not create its devices within 20 s"; return 1; }
  tunnel_up "$NS_A" fastd0 "$FD_A" && tunnel_up "$NS_B" fastd0 "$FD_B" \
    || { warn "fastd: configuring the devices failed"; return 1; }
}

# --- (1) to (4), in rounds -----------------------------------------------------------
for ROUND in $(seq 1 "$ROUNDS"); do
  echo "bench: (1) plain veth, round $ROUND of $ROUNDS" >&2
  measure_all veth "$UL_B"
  run_tunnel cordon "(2) Cordon" "$CD_B" "$CD_PORT"
  run_tcp_variant cordon_rekey "(2b) Cordon, a rekey every second" "$CD_B"
  run_tcp_variant cordon_shaping "(2c) Cordon, size classes on" "$CD_B"
  run_tunnel wggo "(3) wireguard-go" "$WG_B" "$WG_PORT"
  run_tunnel fastd "(4) fastd" "$FD_B" "$FD_PORT"
done
M_tcp1_cordon_rekey=$(median "$R_tcp1_cordon_rekey" %.3f)
M_tcp1_cordon_shaping=$(median "$R_tcp1_cordon_shaping" %.3f)
# The medians the report shows.
for m in rtt tcp1 tcp4 pps64; do
  case $m in pps64) fmt=%.0f ;; *) fmt=%.3f ;; esac
  for t in veth cordon wggo fastd; do
    r="R_${m}_$t"
    printf -v "M_${m}_$t" '%s' "$(median "${!r}" "$fmt")"
  done
done

# --- (5) the administrator at 100,000 hosts (bench/admin_scale) -----------------
# Only when the build has it; its key=value lines join the report below.
# Two networks of 50,000 hosts (a host number is 16 bits; docs/design.md,
# "Administration at scale").
ADMIN_SCALE=$BUILD_DIR/bench/admin_scale
if [ -x "$ADMIN_SCALE" ]; then
  echo "bench: (5) admin_scale" >&2
  "$ADMIN_SCALE" >"$WORK/admin_scale.out" 2>"$WORK/admin_scale.err" \
    || warn "admin_scale failed or missed a target: $(tail -n 3 "$WORK/admin_scale.err" "$WORK/admin_scale.out")"
fi

# --- (6) coordinators: relay and registry costs (bench/mesh_scale) --------------
MESH_SCALE=$BUILD_DIR/bench/mesh_scale
if [ -x "$MESH_SCALE" ]; then
  echo "bench: (6) mesh_scale" >&2
  "$MESH_SCALE" >"$WORK/mesh_scale.out" 2>"$WORK/mesh_scale.err" \
    || warn "mesh_scale failed: $(tail -n 3 "$WORK/mesh_scale.err")"
  [ -s "$WORK/mesh_scale.err" ] && warn "mesh_scale: $(tail -n 3 "$WORK/mesh_scale.err")"
fi

# --- (7) relayed vs direct path through NAT routers (bench/relay.sh) -----------
# Its own namespaces (cordon-relay-<pid>-*), torn down before it returns.
if [ -x "$CORDON_BIN" ]; then
  echo "bench: (7) relay" >&2
  "$REPO/bench/relay.sh" "$BUILD_DIR" >"$WORK/relay.out" 2>"$WORK/relay.err" \
    || warn "relay failed: $(grep '^relay: error:' "$WORK/relay.err" | tail -n 3)"
fi

# --- (8) a direct path that breaks under a flow (bench/failover.sh) -----------
# Its own namespaces (cordon-failover-<pid>-*), torn down before it returns.
if [ -x "$CORDON_BIN" ]; then
  echo "bench: (8) failover" >&2
  "$REPO/bench/failover.sh" "$BUILD_DIR" >"$WORK/failover.out" 2>"$WORK/failover.err" \
    || warn "failover failed: $(grep '^failover: error:' "$WORK/failover.err" | tail -n 3)"
fi

# --- (9) a gateway and the filter (bench/gateway.sh) ----------------------------
# Its own namespaces (cordon-gateway-<pid>-*), torn down before it returns.
if [ -x "$CORDON_BIN" ]; then
  echo "bench: (9) gateway" >&2
  "$REPO/bench/gateway.sh" "$BUILD_DIR" >"$WORK/gateway.out" 2>"$WORK/gateway.err" \
    || warn "gateway failed: $(grep -E '^gateway: (error|WARNING):' "$WORK/gateway.err" | tail -n 3)"
fi

# --- (10) the filter in process (bench/filter_bench) ---------------------------
# One iteration is one packet, so its cpu_time is the time per packet.
FILTER_BENCH=$BUILD_DIR/bench/filter_bench
if [ -x "$FILTER_BENCH" ]; then
  echo "bench: (10) filter_bench" >&2
  if "$FILTER_BENCH" --benchmark_format=json >"$WORK/filter_bench.json" 2>"$WORK/filter_bench.err"; then
    fb() { median "$(json_num "$WORK/filter_bench.json" "$1" cpu_time)" "%.0f"; }
    {
      echo "filter_new_connection_ns_1_rule=$(fb BM_NewConnection/drop_rules:0)"
      echo "filter_new_connection_ns_1000_rules=$(fb BM_NewConnection/drop_rules:1000)"
      echo "filter_tracked_packet_ns_1000_rules=$(fb BM_TrackedConnection/drop_rules:1000)"
    } >"$WORK/filter_bench.out"
  else
    warn "filter_bench failed: $(tail -n 3 "$WORK/filter_bench.err")"
  fi
fi

# --- (11) couriers: 1,000 hosts and the spool (bench/courier_bench) -------------
# Its spools in a temporary directory under /tmp, removed when it exits.
COURIER_BENCH=$BUILD_DIR/bench/courier_bench
if [ -x "$COURIER_BENCH" ]; then
  echo "bench: (11) courier_bench" >&2
  "$COURIER_BENCH" >"$WORK/courier_bench.out" 2>"$WORK/courier_bench.err" \
    || warn "courier_bench failed: $(tail -n 3 "$WORK/courier_bench.err")"
fi

# --- (12) the IPsec gateway against strongSwan (bench/ipsec.sh) ----------------
# Its own namespaces (cordon-ipsec-<pid>-*), torn down before it returns.
if [ -x "$CORDON_BIN" ]; then
  echo "bench: (12) ipsec" >&2
  "$REPO/bench/ipsec.sh" "$BUILD_DIR" >"$WORK/ipsec.out" 2>"$WORK/ipsec.err" \
    || warn "ipsec failed: $(grep -E '^ipsec: (error|WARNING):' "$WORK/ipsec.err" | tail -n 3)"
fi

# --- report ---------------------------------------------------------------------

# metric METRIC LABEL: the measured M_<METRIC>_<LABEL>.
metric() { local name="M_$1_$2"; echo "${!name}"; }
PATHS=(veth cordon wggo fastd)  # the table's columns, in order
# cells METRIC: the metric on every path, one word each.
cells() { local t; for t in "${PATHS[@]}"; do metric "$1" "$t"; done; }
row() { printf '%-30s %12s %12s %14s %12s\n' "$@"; }  # one line of the table

report() {
  local m t unit
  echo "Cordon benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -r), $(nproc) CPUs, MTU $MTU, fastd $FD_METHOD, median of $ROUNDS rounds"
  echo
  row "metric" "veth" "cordon" "wireguard-go" "fastd"
  row "------" "----" "------" "------------" "-----"
  # shellcheck disable=SC2046  # each cell is one word: a number, nan or -
  {
    row "TCP 1 stream (Gbit/s)" $(cells tcp1)
    row "TCP 4 streams (Gbit/s)" $(cells tcp4)
    row "ping RTT avg (ms)" $(cells rtt)
    row "UDP 64 B received (pkt/s)" $(cells pps64)
    row "overhead per packet (bytes)" $(cells overhead)
  }
  echo
  # <path>_<metric>[_<unit>] for every path, then Cordon's ratios.
  for m in tcp1 tcp4 rtt pps64; do
    case $m in tcp*) unit=_gbps ;; rtt) unit=_ms ;; *) unit= ;; esac
    for t in "${PATHS[@]}"; do echo "${t}_$m$unit=$(metric "$m" "$t")"; done
  done
  # The same, round by round (the figures above are their medians).
  for m in tcp1 tcp4 rtt pps64; do
    case $m in tcp*) unit=_gbps ;; rtt) unit=_ms ;; *) unit= ;; esac
    for t in "${PATHS[@]}"; do r="R_${m}_$t"; echo "${t}_$m${unit}_rounds=${!r}"; done
  done
  for m in tcp1 tcp4 rtt pps64; do
    echo "${m}_ratio_vs_wireguard_go=$(ratio "$(metric "$m" cordon)" "$(metric "$m" wggo)")"
    echo "${m}_ratio_vs_fastd=$(ratio "$(metric "$m" cordon)" "$(metric "$m" fastd)")"
    case $m in tcp*) echo "${m}_ratio_vs_veth=$(ratio "$(metric "$m" cordon)" "$(metric "$m" veth)")";; esac
  done
  echo "cordon_rekey_1s_tcp1_gbps=$M_tcp1_cordon_rekey"
  echo "cordon_rekey_1s_tcp1_gbps_rounds=$R_tcp1_cordon_rekey"
  echo "rekey_1s_tcp_ratio=$(ratio "$M_tcp1_cordon_rekey" "$(metric tcp1 cordon)")"
  echo "cordon_shaping_tcp1_gbps=$M_tcp1_cordon_shaping"
  echo "cordon_shaping_tcp1_gbps_rounds=$R_tcp1_cordon_shaping"
  echo "shaping_tcp_ratio=$(ratio "$M_tcp1_cordon_shaping" "$(metric tcp1 cordon)")"
  echo "overhead_bytes=$(metric overhead cordon)"
  echo "wireguard_go_overhead_bytes=$(metric overhead wggo)"
  echo "fastd_overhead_bytes=$(metric overhead fastd)"
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
  if [ -s "$WORK/gateway.out" ]; then
    grep -E '^[a-z0-9_]+=' "$WORK/gateway.out" || true
  fi
  if [ -s "$WORK/filter_bench.out" ]; then
    grep -E '^[a-z0-9_]+=' "$WORK/filter_bench.out" || true
  fi
  if [ -s "$WORK/courier_bench.out" ]; then
    grep -E '^[a-z0-9_]+=' "$WORK/courier_bench.out" || true
  fi
  if [ -s "$WORK/ipsec.out" ]; then
    grep -E '^[a-z0-9_]+=' "$WORK/ipsec.out" || true
  fi
}

mkdir -p "$RESULTS_DIR"
report | tee "$RESULTS_DIR/latest.txt"
if [ -e "$WORK/failed" ]; then
  echo "bench: some measurements failed (nan above); see the warnings" >&2
  exit 1
fi
