#!/usr/bin/env bash
# A gateway's forwarding and the protected-traffic filter's cost, on the
# real kernel, in the same run (docs/gateways.md; docs/performance.md,
# "Gateways and the filter").
#
#   ./bench/gateway.sh BUILD_DIR        (called by bench/run.sh)
#
# Three namespaces, cordon-gateway-<pid>-gw, -cl and -lan, joined by two
# veth pairs; a managed network made with `cordon admin`:
#
#   cl 10.203.0.2 ==== veth ==== 10.203.0.1 gw 192.168.71.1 ---- veth ---- lan 192.168.71.10
#   (client, tunnel 10.77.0.2)   (coordinator with --subnet 192.168.71.0/24,       (no Cordon; default
#                                  tunnel 10.77.0.1)                                  route via gw)
#
# In each of ROUNDS rounds (3; GATEWAY_ROUNDS=N overrides), one after the
# other:
#   - iperf3 TCP, 1 stream, TCP_SECONDS (5) s, cl -> gw's tunnel address
#     and cl -> the LAN host through gw (receiver bits/s), with no filter
#     rules on gw;
#   - 64-byte UDP packets/s received (iperf3 -u -l 64 -b 0, UDP_SECONDS
#     (5) s) cl -> gw's tunnel address, with gw's `[filter]` set, by a
#     rewrite of its config and SIGHUP, to: no rules (the filter off); one
#     rule, `allow in proto udp dport 5201`; 1,000 drop rules that do not
#     match the flow (`drop in proto udp dport 10000` to `10999`: incoming
#     UDP, the bucket the flow's packets are looked up in) followed by that
#     allow rule. Each setting is measured once `cordon status` on gw shows
#     it.
# The figures are the medians of the rounds (of two values, their mean);
# each round's values are in the *_rounds lines.
#   gateway_ratio_vs_direct: cl -> LAN host over cl -> gw's own address.
#   filter_1000_pps_ratio:   1,000 rules + the allow rule over the allow
#                            rule alone. With no rules the filter tracks
#                            nothing, so the baseline is one allow rule:
#                            both settings track the flow's connection
#                            (filter_off_pps is given for reference).
# Prints key=value lines on stdout (the two ratios as nan if the run
# stopped early); progress and failures on stderr. Exits 1 if a
# measurement failed (its figure is nan). GATEWAY_KEEP=1 keeps the
# temp dir (daemon logs, iperf3 JSON) for a look afterwards.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=$1
CORDON=$(realpath "$BUILD_DIR/src/cli/cordon" 2>/dev/null || true)

die() { echo "gateway: error: $*" >&2; exit 1; }
[[ ${GATEWAY_ROUNDS:-3} =~ ^[1-9][0-9]*$ ]] || die "GATEWAY_ROUNDS must be a positive integer, not '${GATEWAY_ROUNDS:-}'"
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, TUN devices); try: sudo $0 $BUILD_DIR"
[ -n "$CORDON" ] && [ -x "$CORDON" ] || die "no cordon binary at $BUILD_DIR/src/cli/cordon; build first (make build)"
for tool in ip ping iperf3 ss awk; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found; run ./scripts/install-deps.sh"
done

ROUNDS=${GATEWAY_ROUNDS:-3}
TCP_SECONDS=5 UDP_SECONDS=5
GW_UL=10.203.0.1 CL_UL=10.203.0.2      # underlay (veth)
GW_LAN=192.168.71.1 LAN_HOST=192.168.71.10 LAN_NET=192.168.71.0/24
GW_TUNNEL=10.77.0.1                    # the first host of 10.77.0.0/16: gw, added first
IPERF_PORT=5201
FILTER_RULES=1000

# poll_until, in_ns, admin, status_of, mn_stop_pids (scripts/lib/managed_net.sh);
# its network of hub, a and b is not built here.
# shellcheck source=../scripts/lib/managed_net.sh
. "$REPO/scripts/lib/managed_net.sh"
. "$REPO/bench/stats.sh"

PREFIX=cordon-gateway-$$
NAMESPACES=(gw cl lan)
WORK=$(mktemp -d /tmp/cordon-gateway-XXXXXX)
PIDS=()
GW_PID=
REPORTED=  # set once the figures are printed
cleanup() {
  local status=$? ns f
  mn_stop_pids
  if [ "$status" -ne 0 ] && [ -z "$REPORTED" ]; then
    echo "gateway_ratio_vs_direct=nan"
    echo "filter_1000_pps_ratio=nan"
  fi
  if [ "$status" -ne 0 ]; then
    for f in "$WORK"/daemon-*.log; do
      [ -e "$f" ] && { echo "--- $(basename "$f")"; tail -n 20 "$f"; } >&2
    done
  fi
  for ns in "${NAMESPACES[@]}"; do ip netns del "$PREFIX-$ns" 2>/dev/null || true; done
  [ -n "${GATEWAY_KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Measurements print a number, or nan after a warning; a failure is
# remembered in a file, as they run in command substitutions.
warn() { echo "gateway: WARNING: $*" >&2; touch "$WORK/failed"; }

measure_tcp() {  # measure_tcp LABEL ADDR -> Gbit/s, one stream
  local label=$1 addr=$2 out="$WORK/$1-$ROUND-tcp.json" bps=''
  if in_ns cl iperf3 -c "$addr" -p "$IPERF_PORT" -t "$TCP_SECONDS" -J >"$out" 2>&1; then
    bps=$(json_num "$out" sum_received bits_per_second)
  fi
  if [ -z "$bps" ]; then warn "$label: iperf3 TCP failed: $(tail -n 5 "$out")"; echo nan; return; fi
  awk -v b="$bps" 'BEGIN { printf "%.3f", b / 1e9 }'
}

measure_pps64() {  # measure_pps64 LABEL ADDR -> packets/s received
  local label=$1 addr=$2 out="$WORK/$1-$ROUND-udp64.json" pps=''
  if in_ns cl iperf3 -c "$addr" -p "$IPERF_PORT" -u -l 64 -b 0 -t "$UDP_SECONDS" -J >"$out" 2>&1; then
    pps=$(received_pps "$out")
  fi
  if [ -z "$pps" ]; then warn "$label: iperf3 UDP failed: $(tail -n 5 "$out")"; echo nan; return; fi
  echo "$pps"
}

# record NAME VALUE: appends one round's VALUE to R_<NAME> (comma-separated).
record() {
  local name="R_$1"
  if [ -n "${!name:-}" ]; then printf -v "$name" '%s,%s' "${!name}" "$2"; else printf -v "$name" '%s' "$2"; fi
}

# --- the machines ---------------------------------------------------------------
echo "gateway: setting up $PREFIX-{gw,cl,lan}" >&2
for ns in "${NAMESPACES[@]}"; do ip netns add "$PREFIX-$ns"; ip -n "$PREFIX-$ns" link set lo up; done
ip -n "$PREFIX-cl" link add ul0 type veth peer name ul0 netns "$PREFIX-gw"
ip -n "$PREFIX-cl" addr add "$CL_UL/24" dev ul0
ip -n "$PREFIX-gw" addr add "$GW_UL/24" dev ul0
ip -n "$PREFIX-gw" link add lan0 type veth peer name eth0 netns "$PREFIX-lan"
ip -n "$PREFIX-gw" addr add "$GW_LAN/24" dev lan0
ip -n "$PREFIX-lan" addr add "$LAN_HOST/24" dev eth0
for link in cl:ul0 gw:ul0 gw:lan0 lan:eth0; do ip -n "$PREFIX-${link%%:*}" link set "${link#*:}" up; done
# The LAN host's only configuration, as on an office LAN: its gateway.
ip -n "$PREFIX-lan" route add default via "$GW_LAN"
poll_until 10 in_ns cl ping -n -c 1 -W 1 "$GW_UL" || die "the underlay veth does not carry traffic"
poll_until 10 in_ns lan ping -n -c 1 -W 1 "$GW_LAN" || die "the LAN veth does not carry traffic"

# --- the managed network: gw a gateway for 192.168.71.0/24, cl its client -----
umask 077
admin network init --number 1 --name gwbench --ipv4 10.77.0.0/16 >/dev/null
admin host add --name gw --role coordinator --endpoint "$GW_UL:51820" --subnet "$LAN_NET" >/dev/null
admin host add --name cl --role client --coordinator gw >/dev/null
for name in gw cl; do
  admin user add --host "$name" --name "ops-$name" >"$WORK/user-$name.out"
  sed -n 's/^password (shown only now[^:]*: //p' "$WORK/user-$name.out" >"$WORK/password-$name"
  [ -s "$WORK/password-$name" ] || die "no generated password in: $(cat "$WORK/user-$name.out")"
  mkdir -p "$WORK/state-$name"
  admin keyset export --host "$name" --out "$WORK/$name.keyset" >/dev/null
  in_ns "$name" "$CORDON" keyset install "$WORK/$name.keyset" --password-file "$WORK/password-$name" \
    --state-dir "$WORK/state-$name" >/dev/null
  cat >"$WORK/$name.base.toml" <<TOML
[host]
keyset = "$WORK/state-$name/keyset"
password_file = "$WORK/password-$name"
interface = "cordon0"
state_dir = "$WORK/state-$name"
control_socket = "$WORK/$name.sock"
log_level = "warn"
TOML
  cp "$WORK/$name.base.toml" "$WORK/$name.toml"
done
umask 022

# The filter settings: gw's config is its base plus one of these.
ALLOW_RULE="allow in proto udp dport $IPERF_PORT"
: >"$WORK/filter-off.toml"
printf '\n[filter]\nrules = [\n  "%s",\n]\n' "$ALLOW_RULE" >"$WORK/filter-1.toml"
{
  printf '\n[filter]\nrules = [\n'
  for i in $(seq 0 $((FILTER_RULES - 1))); do printf '  "drop in proto udp dport %d",\n' $((10000 + i)); done
  printf '  "%s",\n]\n' "$ALLOW_RULE"
} >"$WORK/filter-$FILTER_RULES.toml"

# filter_rules_shown: the rule count on gw's `cordon status` filter line, 0
# without one.
filter_rules_shown() {
  status_of gw | awk '/^filter: ruleset / { n = $4 } END { print n + 0 }'
}
# set_filter off|1|1000: rewrites gw's config and reloads it (SIGHUP);
# returns once gw's status shows the new rule count.
set_filter() {
  local setting=$1 want
  case $setting in off) want=0 ;; 1) want=1 ;; *) want=$((FILTER_RULES + 1)) ;; esac
  cat "$WORK/gw.base.toml" "$WORK/filter-$setting.toml" >"$WORK/gw.toml"
  kill -HUP "$GW_PID"
  poll_until 20 bash -c "[ \"\$(ip netns exec $PREFIX-gw $CORDON status -s $WORK/gw.sock \
      | awk '/^filter: ruleset / { n = \$4 } END { print n + 0 }')\" = $want ]" \
    || die "gw did not show $want filter rules within 20 s (it shows $(filter_rules_shown)); its log: $(tail -n 5 "$WORK/daemon-gw.log")"
}

for name in gw cl; do
  # Not through in_ns: $! must be the daemon itself (ip netns exec execs it).
  ip netns exec "$PREFIX-$name" "$CORDON" up -c "$WORK/$name.toml" >"$WORK/daemon-$name.log" 2>&1 &
  PIDS+=("$!")
  [ "$name" = gw ] && GW_PID=$!
  poll_until 20 status_of "$name" || die "cordon up on $name did not start; its log: $(cat "$WORK/daemon-$name.log")"
done
poll_until 30 in_ns cl ping -n -c 1 -W 1 "$GW_TUNNEL" || die "cl cannot reach gw's tunnel address"
poll_until 30 in_ns cl ping -n -c 1 -W 1 "$LAN_HOST" || die "cl cannot reach the LAN host through gw"
[ "$(in_ns gw cat /proc/sys/net/ipv4/ip_forward)" = 1 ] || die "gw did not turn IPv4 forwarding on"

# One iperf3 server on gw (its tunnel address) and one on the LAN host.
for ns in gw lan; do
  ip netns exec "$PREFIX-$ns" iperf3 -s -p "$IPERF_PORT" >"$WORK/iperf3-server-$ns.log" 2>&1 &
  PIDS+=("$!")
  poll_until 10 bash -c "ip netns exec $PREFIX-$ns ss -Hltn 'sport = :$IPERF_PORT' | grep -q $IPERF_PORT" \
    || die "the iperf3 server on $ns did not start: $(cat "$WORK/iperf3-server-$ns.log")"
done

# --- rounds -------------------------------------------------------------------------
for ROUND in $(seq 1 "$ROUNDS"); do
  echo "gateway: round $ROUND of $ROUNDS" >&2
  set_filter off
  echo "  [tcp] cl -> gw $GW_TUNNEL, 1 stream, $TCP_SECONDS s" >&2
  record tcp_gw "$(measure_tcp gw "$GW_TUNNEL")"
  echo "  [tcp] cl -> LAN host $LAN_HOST through gw, 1 stream, $TCP_SECONDS s" >&2
  record tcp_lan "$(measure_tcp lan "$LAN_HOST")"
  echo "  [udp] 64-byte packets cl -> gw, filter off" >&2
  record pps_off "$(measure_pps64 filter-off "$GW_TUNNEL")"
  set_filter 1
  echo "  [udp] 64-byte packets cl -> gw, 1 rule" >&2
  record pps_1 "$(measure_pps64 filter-1 "$GW_TUNNEL")"
  set_filter "$FILTER_RULES"
  echo "  [udp] 64-byte packets cl -> gw, $FILTER_RULES rules + 1" >&2
  record pps_1000 "$(measure_pps64 "filter-$FILTER_RULES" "$GW_TUNNEL")"
done
# Every rule of the last setting shows with its counter; the allow rule
# (the last) opened the flows' connections, no drop rule decided anything.
status_of gw >"$WORK/gw-status-filter.txt" || true
awk '/^filter: ruleset / { print "gateway: gw " $0 }' "$WORK/gw-status-filter.txt" >&2

# --- report -------------------------------------------------------------------------
# shellcheck disable=SC2154  # the R_* lists are set by record, through printf -v
tcp_gw=$(median "$R_tcp_gw" %.3f) tcp_lan=$(median "$R_tcp_lan" %.3f)
# shellcheck disable=SC2154
pps_off=$(median "$R_pps_off" %.0f) pps_1=$(median "$R_pps_1" %.0f) pps_1000=$(median "$R_pps_1000" %.0f)
REPORTED=yes
echo "gateway_direct_tcp1_gbps=$tcp_gw"
echo "gateway_lan_tcp1_gbps=$tcp_lan"
echo "gateway_ratio_vs_direct=$(ratio "$tcp_lan" "$tcp_gw")"
echo "gateway_direct_tcp1_gbps_rounds=$R_tcp_gw"
echo "gateway_lan_tcp1_gbps_rounds=$R_tcp_lan"
echo "filter_off_pps=$pps_off"
echo "filter_1_pps=$pps_1"
echo "filter_1000_pps=$pps_1000"
echo "filter_1000_pps_ratio=$(ratio "$pps_1000" "$pps_1")"
echo "filter_off_pps_rounds=$R_pps_off"
echo "filter_1_pps_rounds=$R_pps_1"
echo "filter_1000_pps_rounds=$R_pps_1000"
[ ! -e "$WORK/failed" ] || exit 1
