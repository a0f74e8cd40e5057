#!/usr/bin/env bash
# Where a Cordon tunnel's CPU goes under iperf3 TCP (docs/performance.md,
# "The after-offloads profile" and "Two cores").
#
#   ./bench/profile.sh BUILD_DIR [--streams N] [--seconds S] [--offloads on|off]
#                                [--workers N] [--rps MASK] [--perf]
#
# The set-up of bench/run.sh: two namespaces, cordon-prof-<pid>-a and -b,
# joined by a veth pair, a Cordon tunnel between them (MTU 1420, one peer
# each side), one iperf3 TCP run from A to B of S seconds (10) with N
# streams (1). Then, as key=value lines:
#   - the throughput (iperf3 receiver bits/s) and the data packets the
#     sender's peer counted (tx_packets);
#   - each daemon's offload counters over the run (cordon status --json,
#     field offloads) and the packets per super-packet they give;
#   - CPU time over the run, per thread, of both daemons (the thread whose
#     id is the process id is the control thread; the others are the
#     workers, in thread-id order, which is the order they were started
#     in) and of the iperf3 server, from utime + stime in
#     /proc/PID/task/TID/stat (10 ms ticks); the iperf3 client's own
#     figure (iperf3 -J, cpu_utilization_percent); and the busy time of
#     each CPU from /proc/stat, which includes whatever else the machine
#     ran meanwhile;
#   - on which CPU each of those threads was found, sampled every 0.2 s;
#   - with --rps MASK: receive packet steering on both cordon0 devices
#     (every rx queue's rps_cpus set to the hex CPU MASK), so that the inner
#     TCP receive of a TUN write runs on a CPU of MASK, not inline in the
#     worker;
#   - with --perf: `perf record -e cpu-clock -F 2000 --call-graph dwarf` of
#     both daemons from 1 s before the run to 1 s after it, each sample
#     given to the first stage found walking its stack from the leaf
#     (TUN read, split, seal, UDP send, UDP receive, open, coalesce, TUN
#     write; anything else is the rest), as ms of CPU and ns per data
#     packet. Kernel work a system call does inline is charged to it.
# Everything runs inside the two namespaces with private addresses assigned
# here; only the processes started here are stopped, by PID.
set -euo pipefail

usage() {
  echo "usage: $0 BUILD_DIR [--streams N] [--seconds S] [--offloads on|off] [--workers N] [--rps MASK] [--perf]" >&2
  exit 2
}
[ $# -ge 1 ] || usage
BUILD_DIR=$1; shift
STREAMS=1 SECONDS_RUN=10 OFFLOADS=on WORKERS=0 PERF=no RPS=
while [ $# -gt 0 ]; do
  case $1 in
    --streams) STREAMS=${2:?}; shift 2 ;;
    --seconds) SECONDS_RUN=${2:?}; shift 2 ;;
    --offloads) OFFLOADS=${2:?}; shift 2 ;;
    --workers) WORKERS=${2:?}; shift 2 ;;
    --rps) RPS=${2:?}; shift 2 ;;
    --perf) PERF=yes; shift ;;
    *) usage ;;
  esac
done
case $OFFLOADS in on) OFFLOADS_TOML=true ;; off) OFFLOADS_TOML=false ;; *) usage ;; esac

die() { echo "profile: error: $*" >&2; exit 1; }
CORDON_BIN=$(realpath "$BUILD_DIR/src/cli/cordon" 2>/dev/null || true)
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, TUN devices, perf)"
[ -n "$CORDON_BIN" ] && [ -x "$CORDON_BIN" ] || die "no cordon binary at $BUILD_DIR/src/cli/cordon"
for tool in ip iperf3 ping ss jq awk; do command -v "$tool" >/dev/null 2>&1 || die "$tool not found"; done
[ "$PERF" = no ] || command -v perf >/dev/null 2>&1 || die "perf not found"

NS_A=cordon-prof-$$-a
NS_B=cordon-prof-$$-b
UL_A=10.202.0.1 UL_B=10.202.0.2
CD_A=10.77.0.1 CD_B=10.77.0.2
CD_PORT=51820 IPERF_PORT=5201 MTU=1420
WORK=$(mktemp -d /tmp/cordon-prof-XXXXXX)
declare -a PIDS=()

. "$(dirname "$0")/lib.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM
HOST_EXTRA="workers = $WORKERS
offloads = $OFFLOADS_TOML"

# --- namespaces, veth, iperf3 server, the tunnel -----------------------------------
ip netns add "$NS_A"
ip netns add "$NS_B"
for ns in "$NS_A" "$NS_B"; do ip -n "$ns" link set lo up; done
ip -n "$NS_A" link add ul0 type veth peer name ul0 netns "$NS_B"
ip -n "$NS_A" addr add "$UL_A/24" dev ul0
ip -n "$NS_B" addr add "$UL_B/24" dev ul0
ip -n "$NS_A" link set ul0 up
ip -n "$NS_B" link set ul0 up
poll_until 10 ip netns exec "$NS_A" ping -n -c 1 -W 1 "$UL_B" || die "the veth pair does not carry traffic"

spawn "$NS_B" "$WORK/iperf3-server.log" iperf3 -s -p "$IPERF_PORT"
SERVER_PID=$LAST_PID
poll_until 10 bash -c "ip netns exec $NS_B ss -Hltn 'sport = :$IPERF_PORT' | grep -q $IPERF_PORT" \
  || die "iperf3 server did not start"

status() { ip netns exec "$1" "$CORDON_BIN" status --json -s "$WORK/cordon-$2.sock"; }

"$CORDON_BIN" genkey --out "$WORK/link.key" >/dev/null 2>&1 || die "cordon genkey failed"
write_cordon_config a 0x0001000a "$CD_A" 0x0001000b "$CD_B" "$UL_B:$CD_PORT"
write_cordon_config b 0x0001000b "$CD_B" 0x0001000a "$CD_A"
spawn "$NS_B" "$WORK/cordon-b.log" "$CORDON_BIN" up -c "$WORK/cordon-b.toml"
PID_B=$LAST_PID
spawn "$NS_A" "$WORK/cordon-a.log" "$CORDON_BIN" up -c "$WORK/cordon-a.toml"
PID_A=$LAST_PID
poll_until 20 status "$NS_A" a && poll_until 20 status "$NS_B" b \
  || die "the daemons did not answer: $(tail -n 5 "$WORK/cordon-a.log" "$WORK/cordon-b.log")"
poll_until 20 ip netns exec "$NS_A" ping -n -c 1 -W 1 "$CD_B" || die "no ping through the tunnel"
if [ -n "$RPS" ]; then
  for ns in "$NS_A" "$NS_B"; do
    ip netns exec "$ns" sh -c "for q in /sys/class/net/cordon0/queues/rx-*/rps_cpus; do echo $RPS >\$q; done" \
      || die "cannot set rps_cpus on cordon0 in $ns"
  done
fi
# Warm up: the handshake, the key schedules, the first TCP connection.
ip netns exec "$NS_A" iperf3 -c "$CD_B" -p "$IPERF_PORT" -t 1 >/dev/null 2>&1 || die "warm-up iperf3 failed"

# --- helpers for CPU time ----------------------------------------------------------------
# task_lines PID LABEL: "LABEL TID utime+stime(ticks) processor" per thread.
task_lines() {
  local f
  for f in /proc/"$1"/task/*/stat; do
    [ -r "$f" ] || continue
    awk -v label="$2" '{ s = $0; sub(/^.*\) /, "", s); n = split(s, v, " ");
                         t = FILENAME; sub(/\/stat$/, "", t); sub(/^.*\//, "", t);
                         print label, t, v[12] + v[13], v[37] }' "$f" 2>/dev/null || true
  done
}
snapshot() {  # snapshot FILE: every tracked thread, then /proc/stat's cpuN lines
  { task_lines "$PID_A" a; task_lines "$PID_B" b; task_lines "$SERVER_PID" server
    [ -z "${CLIENT_PID:-}" ] || task_lines "$CLIENT_PID" client
    grep '^cpu[0-9]' /proc/stat; } >"$1"
}

# --- the run -------------------------------------------------------------------------------
status "$NS_A" a >"$WORK/status-a-0.json"
status "$NS_B" b >"$WORK/status-b-0.json"
if [ "$PERF" = yes ]; then
  perf record -q -e cpu-clock -F 2000 --call-graph dwarf -p "$PID_A,$PID_B" -o "$WORK/perf.data" \
    -- sleep $(( SECONDS_RUN + 2 )) >"$WORK/perf-record.log" 2>&1 &
  PERF_PID=$!
  PIDS+=("$PERF_PID")
  sleep 1
fi
CLIENT_PID=
snapshot "$WORK/cpu-0.txt"
ip netns exec "$NS_A" iperf3 -c "$CD_B" -p "$IPERF_PORT" -t "$SECONDS_RUN" -P "$STREAMS" -J \
  >"$WORK/iperf3.json" 2>&1 &
CLIENT_PID=$!
: >"$WORK/samples.txt"
while kill -0 "$CLIENT_PID" 2>/dev/null; do
  { task_lines "$PID_A" a; task_lines "$PID_B" b; task_lines "$SERVER_PID" server
    task_lines "$CLIENT_PID" client; } >>"$WORK/samples.txt"
  sleep 0.2
done
wait "$CLIENT_PID" || die "iperf3 failed: $(tail -n 5 "$WORK/iperf3.json")"
CLIENT_PID=
snapshot "$WORK/cpu-1.txt"
status "$NS_A" a >"$WORK/status-a-1.json"
status "$NS_B" b >"$WORK/status-b-1.json"
if [ "$PERF" = yes ]; then
  wait "$PERF_PID" || true
fi

# --- report --------------------------------------------------------------------------------
BPS=$(jq '.end.sum_received.bits_per_second' "$WORK/iperf3.json")
CLIENT_CPU=$(jq '.end.cpu_utilization_percent.host_total' "$WORK/iperf3.json")
SERVER_CPU=$(jq '.end.cpu_utilization_percent.remote_total' "$WORK/iperf3.json")
delta() {  # delta SIDE JQ_PATH
  echo $(( $(jq "$2" "$WORK/status-$1-1.json") - $(jq "$2" "$WORK/status-$1-0.json") ))
}
PACKETS=$(delta a '.peers[0].tx_packets')
echo "streams=$STREAMS seconds=$SECONDS_RUN offloads=$OFFLOADS workers=$WORKERS rps=${RPS:-off}"
awk -v b="$BPS" 'BEGIN { printf "gbps=%.3f\n", b / 1e9 }'
echo "data_packets=$PACKETS"
echo "receiver_rx_packets=$(delta b '.peers[0].rx_packets')"
echo "ack_packets=$(delta b '.peers[0].tx_packets')"
for side in a b; do
  sp=$(delta $side '.offloads.split.super_packets'); sg=$(delta $side '.offloads.split.segments')
  cp=$(delta $side '.offloads.coalesced.packets'); cw=$(delta $side '.offloads.coalesced.writes')
  gd=$(delta $side '.offloads.udp.gso_datagrams'); gm=$(delta $side '.offloads.udp.gso_messages')
  rd=$(delta $side '.offloads.udp.gro_datagrams'); rm_=$(delta $side '.offloads.udp.gro_messages')
  echo "${side}_split_super_packets=$sp ${side}_split_segments=$sg"
  echo "${side}_coalesced_packets=$cp ${side}_coalesced_writes=$cw"
  echo "${side}_gso_datagrams=$gd ${side}_gso_messages=$gm"
  echo "${side}_gro_datagrams=$rd ${side}_gro_messages=$rm_"
  awk -v s="$side" -v sp="$sp" -v sg="$sg" -v cp="$cp" -v cw="$cw" -v gd="$gd" -v gm="$gm" -v rd="$rd" -v rm="$rm_" '
    function r(a, b) { return b > 0 ? sprintf("%.1f", a / b) : "-" }
    BEGIN { printf "%s_segments_per_super_packet=%s %s_packets_per_coalesced_write=%s %s_datagrams_per_gso_message=%s %s_datagrams_per_gro_message=%s\n",
            s, r(sg, sp), s, r(cp, cw), s, r(gd, gm), s, r(rd, rm) }'
done
echo "iperf3_client_cpu_percent=$CLIENT_CPU iperf3_server_cpu_percent_by_iperf3=$SERVER_CPU"
# CPU per thread: ms over the run, and the CPUs it was seen on.
awk -v pa="$PID_A" -v pb="$PID_B" -v secs="$SECONDS_RUN" '
  FILENAME ~ /cpu-0/ && /^cpu/ { c0[$1] = $2 + $3 + $4 + $7 + $8 + $9; i0[$1] = $5 + $6; next }
  FILENAME ~ /cpu-1/ && /^cpu/ { c1[$1] = $2 + $3 + $4 + $7 + $8 + $9; i1[$1] = $5 + $6; next }
  FILENAME ~ /cpu-0/ { t0[$1 " " $2] = $3; next }
  FILENAME ~ /cpu-1/ { t1[$1 " " $2] = $3; next }
  FILENAME ~ /samples/ { k = $1 " " $2; seen[k, $4]++; if (!(k in sfirst)) sfirst[k] = $3; slast[k] = $3; keys[k] = 1; next }
  END {
    for (k in t1) keys[k] = 1
    n = 0
    # sorted by side, then thread id
    for (k in keys) { split(k, p, " "); sk = sprintf("%s %012d", p[1], p[2]); order[++n] = sk; orig[sk] = k }
    for (i = 2; i <= n; i++) { x = order[i]; for (j = i - 1; j >= 1 && order[j] > x; j--) order[j + 1] = order[j]; order[j + 1] = x }
    widx["a"] = 0; widx["b"] = 0
    for (i = 1; i <= n; i++) {
      k = orig[order[i]]; split(k, p, " ")
      if (p[1] == "a" || p[1] == "b") {
        pid = (p[1] == "a") ? pa : pb
        if (p[2] == pid) role = "control"
        else { role = "worker" widx[p[1]]; widx[p[1]] += 1 }
        name = "cordon_" p[1] "_" role
      } else if (p[1] == "server") name = "iperf3_server_" p[2]
      else name = "iperf3_client_" p[2]
      if ((k in t0) && (k in t1)) ms = (t1[k] - t0[k]) * 10
      else if (k in sfirst) ms = (slast[k] - sfirst[k]) * 10  # sampled only while it ran
      else ms = 0
      where = ""
      for (c = 0; c < 64; c++) if (seen[k, c]) where = where (where == "" ? "" : ",") "cpu" c ":" seen[k, c]
      printf "%s_tid%s_cpu_ms=%d %s_tid%s_cpu_percent=%.0f %s_tid%s_seen_on=%s\n", name, p[2], ms, name, p[2], ms / secs / 10, name, p[2], (where == "" ? "-" : where)
    }
    for (c in c1) printf "%s_busy_percent=%.0f %s_idle_percent=%.0f\n", c, (c1[c] - c0[c]) / ((c1[c] - c0[c]) + (i1[c] - i0[c])) * 100, c, (i1[c] - i0[c]) / ((c1[c] - c0[c]) + (i1[c] - i0[c])) * 100
  }' "$WORK/cpu-0.txt" "$WORK/cpu-1.txt" "$WORK/samples.txt"
echo "loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"

if [ "$PERF" = yes ]; then
  # Stages by the first match walking each sample's stack from the leaf.
  # Samples carry their period (ns of CPU); a = the sender's daemon, b = the
  # receiver's.
  awk '$1 == "a" || $1 == "b" { print $1, $2 }' "$WORK/cpu-1.txt" "$WORK/samples.txt" | sort -u >"$WORK/tids.txt"
  perf script -i "$WORK/perf.data" -F tid,period,ip,sym 2>/dev/null | awk -v packets="$PACKETS" '
    function stage_of(sym) {
      if (sym ~ /TunDeviceQueue::read/) return "tun_read"
      if (sym ~ /offload::split|offload::segment_count/) return "split"
      if (sym ~ /Aead::seal/) return "seal"
      if (sym ~ /UdpSocket::send/) return "udp_send"
      if (sym ~ /UdpSocket::receive/) return "udp_receive"
      if (sym ~ /Aead::open/) return "open"
      if (sym ~ /offload::Coalescer::/) return "coalesce"
      if (sym ~ /TunDeviceQueue::write/) return "tun_write"
      return ""
    }
    function flush() {
      if (tid != "") {
        st = (stage == "") ? "rest" : stage
        ns[side, st] += period; ns["all", st] += period; total += period; samples++; bytid[tid] += period
      }
      tid = ""; stage = ""
    }
    FNR == NR { side_of[$2] = $1; next }
    /^[ \t]*[0-9]+[ \t]+[0-9]+[ \t]*$/ { flush(); tid = $1; period = $2; side = (tid in side_of) ? side_of[tid] : "?"; next }
    /^[ \t]*$/ { flush(); next }
    { if (stage == "") { s = $0; sub(/^[ \t]*[0-9a-f]+ /, "", s); stage = stage_of(s) } }
    END {
      flush()
      printf "perf_samples=%d perf_cpu_ms=%.0f\n", samples, total / 1e6
      split("tun_read split seal udp_send udp_receive open coalesce tun_write rest", order, " ")
      for (i = 1; i <= 9; i++) {
        st = order[i]
        printf "stage_%s_cpu_ms=%.0f stage_%s_ns_per_packet=%.0f stage_%s_ms_a=%.0f stage_%s_ms_b=%.0f\n",
          st, ns["all", st] / 1e6, st, (packets > 0 ? ns["all", st] / packets : 0), st, ns["a", st] / 1e6, st, ns["b", st] / 1e6
      }
      printf "stage_total_cpu_ms=%.0f stage_total_ns_per_packet=%.0f\n", total / 1e6, (packets > 0 ? total / packets : 0)
      for (t in bytid) printf "perf_%s_tid%s_cpu_ms=%.0f\n", (t in side_of) ? side_of[t] : "?", t, bytid[t] / 1e6
    }' "$WORK/tids.txt" -
fi
