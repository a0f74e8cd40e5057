#!/usr/bin/env bash
# The IPsec gateway's speed (docs/ipsec.md) against strongSwan's user-space
# IPsec (charon with kernel-libipsec), on the real kernel, in the same run.
#
#   ./bench/ipsec.sh BUILD_DIR        (called by bench/run.sh)
#
# Four namespaces, cordon-ipsec-<pid>-gwa, -gwb, -lana and -lanb:
#
#   lana 10.205.1.10 -- gwa 10.205.1.1 ==== veth 10.204.0.1 / .2 ==== gwb 10.205.2.1 -- lanb 10.205.2.10
#
# The LAN hosts run nothing but iperf3 and have a default route via their
# gateway. Between the gateways, one tunnel at a time, site to site
# (10.205.1.0/24 <-> 10.205.2.0/24), pre-shared key, IKE
# aes256gcm16-prfsha256-x25519, ESP aes256gcm16:
#   ipsec       two Cordon daemons, `encap = true` (ESP in UDP 4500)
#   ipsec_raw   two Cordon daemons, `encap = false` (raw ESP, IP protocol 50)
#   strongswan  two charon daemons with kernel-libipsec, `encap = yes` (ESP in
#               UDP 4500), each with a private /run
# In each of ROUNDS rounds (3; IPSEC_ROUNDS=N overrides) each tunnel is
# started afresh and measured with iperf3 TCP, 1 stream, TCP_SECONDS (5) s,
# lana -> lanb (receiver bits/s); figures are the medians of the rounds.
#   ipsec_tcp1_ratio_vs_strongswan: ipsec (ESP in UDP) over strongswan,
#   both encapsulated, so the same packets cross the wire.
# Then ike_setups_per_s: gwb runs Cordon as responder, gwa runs charon as
# initiator with `reuse_ikesa = no`, so that every `swanctl --initiate`
# sets up a new IKE_SA with its CHILD_SA (IKE_SA_INIT and IKE_AUTH, x25519
# and PSK); SETUP_LOOPS (4) swanctl loops in parallel initiate SETUPS (10)
# each; the figure is the setups that succeeded over the wall-clock time.
# It is bounded by the initiator as much as by the responder: both share
# the machine's CPUs.
# Prints key=value lines on stdout; progress and failures on stderr. Exits
# 1 if a measurement failed (its figure is nan). IPSEC_KEEP=1 keeps the
# temp dir (daemon logs, iperf3 JSON); IPSEC_LOG_LEVEL=info (or debug)
# sets the Cordon daemons' log_level (default warn).
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=$1
CORDON=$(realpath "$BUILD_DIR/src/cli/cordon" 2>/dev/null || true)
CHARON=/usr/lib/ipsec/charon

die() { echo "ipsec: error: $*" >&2; exit 1; }
[[ ${IPSEC_ROUNDS:-3} =~ ^[1-9][0-9]*$ ]] || die "IPSEC_ROUNDS must be a positive integer, not '${IPSEC_ROUNDS:-}'"
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, TUN devices); try: sudo $0 $BUILD_DIR"
[ -n "$CORDON" ] && [ -x "$CORDON" ] || die "no cordon binary at $BUILD_DIR/src/cli/cordon; build first (make build)"
[ -x "$CHARON" ] || die "no $CHARON; run ./scripts/install-deps.sh (strongswan-charon)"
for tool in ip ping iperf3 ss awk swanctl unshare; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found; run ./scripts/install-deps.sh"
done

ROUNDS=${IPSEC_ROUNDS:-3}
TCP_SECONDS=5
SETUP_LOOPS=4 SETUPS=10
WAN_A=10.204.0.1 WAN_B=10.204.0.2
NET_A=10.205.1.0/24 NET_B=10.205.2.0/24
LAN_B_HOST=10.205.2.10
IPERF_PORT=5201
IKE_PROPOSAL=aes256gcm16-prfsha256-x25519
ESP_PROPOSAL=aes256gcm16

PREFIX=cordon-ipsec-$$
NAMESPACES=(gwa gwb lana lanb)
WORK=$(mktemp -d /tmp/cordon-ipsec-XXXXXX)
PIDS=()
REPORTED=

# stop_pid, spawn and poll_until (bench/lib.sh; its cleanup is replaced below).
. "$REPO/bench/lib.sh"
. "$REPO/bench/stats.sh"
cleanup() {
  local status=$? pid ns
  for pid in "${PIDS[@]+"${PIDS[@]}"}"; do stop_pid "$pid"; done
  if [ "$status" -ne 0 ] && [ -z "$REPORTED" ]; then
    echo "ipsec_tcp1_ratio_vs_strongswan=nan"
    echo "ike_setups_per_s=nan"
  fi
  for ns in "${NAMESPACES[@]}"; do ip netns del "$PREFIX-$ns" 2>/dev/null || true; done
  [ -n "${IPSEC_KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

warn() { echo "ipsec: WARNING: $*" >&2; touch "$WORK/failed"; }
in_ns() { local ns=$1; shift; ip netns exec "$PREFIX-$ns" "$@"; }
despawn_all() {  # stops every process spawned since index $1
  local pid
  for pid in "${PIDS[@]:$1}"; do stop_pid "$pid"; done
  PIDS=("${PIDS[@]:0:$1}")
}

record() {  # record NAME VALUE: appends one round's VALUE to R_<NAME>
  local name="R_$1"
  if [ -n "${!name:-}" ]; then printf -v "$name" '%s,%s' "${!name}" "$2"; else printf -v "$name" '%s' "$2"; fi
}

measure_tcp() {  # measure_tcp LABEL -> Mbit/s, one stream, lana -> lanb
  local label=$1 out="$WORK/$1-$ROUND-tcp.json" bps=''
  if in_ns lana iperf3 -c "$LAN_B_HOST" -p "$IPERF_PORT" -t "$TCP_SECONDS" -J >"$out" 2>&1; then
    bps=$(json_num "$out" sum_received bits_per_second)
  fi
  if [ -z "$bps" ]; then warn "$label: iperf3 TCP failed: $(tail -n 5 "$out")"; echo nan; return; fi
  awk -v b="$bps" 'BEGIN { printf "%.1f", b / 1e6 }'
}

# --- the namespaces ------------------------------------------------------------
echo "ipsec: setting up $PREFIX-{gwa,gwb,lana,lanb}" >&2
for ns in "${NAMESPACES[@]}"; do
  ip netns add "$PREFIX-$ns"
  ip -n "$PREFIX-$ns" link set lo up
done
veth() {  # veth NS_A IF_A ADDR_A NS_B IF_B ADDR_B
  ip -n "$PREFIX-$1" link add "$2" type veth peer name "$5" netns "$PREFIX-$4"
  ip -n "$PREFIX-$1" addr add "$3" dev "$2"
  ip -n "$PREFIX-$4" addr add "$6" dev "$5"
  ip -n "$PREFIX-$1" link set "$2" up
  ip -n "$PREFIX-$4" link set "$5" up
}
veth gwa ul0 "$WAN_A/24" gwb ul0 "$WAN_B/24"
veth gwa lan0 10.205.1.1/24 lana eth0 10.205.1.10/24
veth gwb lan0 10.205.2.1/24 lanb eth0 "$LAN_B_HOST/24"
ip -n "$PREFIX-lana" route add default via 10.205.1.1
ip -n "$PREFIX-lanb" route add default via 10.205.2.1
# charon leaves forwarding to the system; Cordon turns it on itself.
for ns in gwa gwb; do in_ns "$ns" sysctl -qw net.ipv4.ip_forward=1; done
poll_until 10 in_ns gwa ping -n -c 1 -W 1 "$WAN_B" || die "the WAN veth does not carry traffic"

spawn "$PREFIX-lanb" "$WORK/iperf3-server.log" iperf3 -s -p "$IPERF_PORT"
SERVER_PIDS=${#PIDS[@]}
poll_until 10 bash -c "ip netns exec $PREFIX-lanb ss -Hltn 'sport = :$IPERF_PORT' | grep -q $IPERF_PORT" \
  || die "iperf3 server did not start: $(cat "$WORK/iperf3-server.log")"

openssl rand -hex 32 >"$WORK/site.psk"
chmod 600 "$WORK/site.psk"
PSK=$(cat "$WORK/site.psk")

# --- Cordon ------------------------------------------------------------------------
# cordon_config SIDE SELF PEER LOCAL_NET REMOTE_NET ENCAP INITIATE: a manual-mode
# host (a dummy peer: the daemon wants one) with an [ipsec] connection.
cordon_config() {
  local side=$1 self=$2 peer=$3 local_net=$4 remote_net=$5 encap=$6 initiate=$7 dir="$WORK/cordon-$1"
  rm -rf "$dir" && mkdir -p "$dir/state" && chmod 700 "$dir/state"
  cp "$WORK/site.psk" "$dir/site.psk"
  "$CORDON" genkey --out "$dir/dummy.key" >/dev/null 2>&1 || die "cordon genkey failed"
  {
    echo "[host]"
    echo "id = \"0x0001000$([ "$side" = gwa ] && echo 1 || echo 2)\""
    echo "interface = \"cordon0\""
    echo "addresses = [\"10.77.0.$([ "$side" = gwa ] && echo 1 || echo 2)/24\"]"
    echo "state_dir = \"$dir/state\""
    echo "control_socket = \"$dir/control.sock\""
    echo "log_level = \"${IPSEC_LOG_LEVEL:-warn}\""
    echo
    echo "[[peer]]"
    echo "id = \"0x00010063\""
    echo "key_file = \"$dir/dummy.key\""
    echo "allowed_prefixes = [\"10.77.0.99/32\"]"
    echo
    echo "[ipsec]"
    echo "interface = \"cordon-ipsec0\""
    # The address itself, not 0.0.0.0: the daemon takes listen_address as
    # the local address of every IKE datagram (NAT detection, local_addrs).
    echo "listen_address = \"$self\""
    echo
    echo "[ipsec.connections.site]"
    echo "local_addrs = [\"$self\"]"
    echo "remote_addrs = [\"$peer\"]"
    echo "proposals = [\"$IKE_PROPOSAL\"]"
    echo "encap = $encap"
    echo "dpd_delay = 0"
    echo "psk_file = \"site.psk\""
    echo "[ipsec.connections.site.local]"
    echo "auth = \"psk\""
    echo "id = \"$side.bench\""
    echo "[ipsec.connections.site.remote]"
    echo "auth = \"psk\""
    echo "id = \"%any\""
    echo "[ipsec.connections.site.children.net]"
    echo "local_ts = [\"$local_net\"]"
    echo "remote_ts = [\"$remote_net\"]"
    echo "esp_proposals = [\"$ESP_PROPOSAL\"]"
    if [ "$initiate" = yes ]; then echo "start_action = \"start\""; fi
  } >"$dir/host.toml"
}
cordon_ready() { in_ns "$1" "$CORDON" status --json -s "$WORK/cordon-$1/control.sock"; }
start_cordon_side() {  # SIDE
  spawn "$PREFIX-$1" "$WORK/cordon-$1.log" "$CORDON" up -c "$WORK/cordon-$1/host.toml" --accept-new-keys
  poll_until 20 cordon_ready "$1" || { warn "cordon on $1 did not answer: $(tail -n 5 "$WORK/cordon-$1.log")"; return 1; }
}
start_cordon_pair() {  # ENCAP
  cordon_config gwb "$WAN_B" "$WAN_A" "$NET_B" "$NET_A" "$1" no
  cordon_config gwa "$WAN_A" "$WAN_B" "$NET_A" "$NET_B" "$1" yes
  start_cordon_side gwb && start_cordon_side gwa
}
start_ipsec() { start_cordon_pair true; }
start_ipsec_raw() { start_cordon_pair false; }

# --- strongSwan ------------------------------------------------------------------
# strongswan_config SIDE SELF PEER LOCAL_NET REMOTE_NET REUSE: strongswan.conf
# (the plugins libipsec needs, vici on a socket in the side's directory, a
# log file) and swanctl.conf.
strongswan_config() {
  local side=$1 self=$2 peer=$3 local_net=$4 remote_net=$5 reuse=$6 dir="$WORK/swan-$1" other
  other=$([ "$side" = gwa ] && echo gwb || echo gwa)
  rm -rf "$dir" && mkdir -p "$dir"
  cat >"$dir/strongswan.conf" <<EOF
charon {
  load = random nonce openssl kdf sha1 sha2 aes pem pkcs1 pkcs8 x509 revocation constraints pubkey curve25519 hmac gcm kernel-libipsec kernel-netlink socket-default vici updown
  reuse_ikesa = $reuse
  plugins {
    vici { socket = unix://$dir/charon.vici }
  }
  filelog {
    charon { path = $dir/charon.log
      default = 1
    }
  }
}
EOF
  cat >"$dir/swanctl.conf" <<EOF
connections {
  bench {
    local_addrs = $self
    remote_addrs = $peer
    proposals = $IKE_PROPOSAL
    encap = yes
    dpd_delay = 0
    local { auth = psk
      id = $side.bench }
    remote { auth = psk
      id = $other.bench }
    children {
      net { local_ts = $local_net
        remote_ts = $remote_net
        esp_proposals = $ESP_PROPOSAL }
    }
  }
}
secrets {
  ike-bench { id-1 = gwa.bench
    id-2 = gwb.bench
    secret = "$PSK" }
}
EOF
}
swanctl_in() {  # SIDE ARGS...: swanctl against that side's charon
  local side=$1; shift
  in_ns "$side" swanctl "$@" --uri "unix://$WORK/swan-$side/charon.vici"
}
start_charon() {  # SIDE: charon with a private /run, its config loaded
  local dir="$WORK/swan-$1"
  spawn "$PREFIX-$1" "$WORK/charon-$1.log" env STRONGSWAN_CONF="$dir/strongswan.conf" \
    unshare -m sh -c "mount -t tmpfs none /run && exec $CHARON"
  poll_until 20 test -S "$dir/charon.vici" || { warn "charon on $1 made no vici socket: $(tail -n 5 "$WORK/charon-$1.log")"; return 1; }
  swanctl_in "$1" --load-all --file "$dir/swanctl.conf" >"$WORK/swanctl-load-$1.log" 2>&1 \
    || { warn "swanctl --load-all on $1 failed: $(tail -n 5 "$WORK/swanctl-load-$1.log")"; return 1; }
}
start_strongswan() {
  strongswan_config gwa "$WAN_A" "$WAN_B" "$NET_A" "$NET_B" yes
  strongswan_config gwb "$WAN_B" "$WAN_A" "$NET_B" "$NET_A" yes
  start_charon gwb && start_charon gwa || return 1
  swanctl_in gwa --initiate --child net --timeout 20 >"$WORK/swanctl-initiate.log" 2>&1 \
    || { warn "swanctl --initiate failed: $(tail -n 5 "$WORK/swanctl-initiate.log")"; return 1; }
}

# ping_within SECONDS: a ping from lana answered by lanb before the deadline.
ping_within() {
  local end=$(( $(date +%s) + $1 ))
  while [ "$(date +%s)" -lt "$end" ]; do
    in_ns lana ping -n -c 1 -W 1 "$LAN_B_HOST" >/dev/null 2>&1 && return 0
  done
  return 1
}

# run_tcp LABEL: start_LABEL, wait for lana to reach lanb, TCP 1 stream.
run_tcp() {
  local label=$1 first=${#PIDS[@]} value=nan
  echo "ipsec: $label, round $ROUND of $ROUNDS" >&2
  if "start_$label"; then
    if ping_within 20; then
      value=$(measure_tcp "$label")
    else
      warn "$label: no ping from lana reached lanb within 20 s"
      tail -n 20 "$WORK"/cordon-*.log "$WORK"/swan-*/charon.log >&2 2>/dev/null || true
    fi
  fi
  record "tcp1_$label" "$value"
  despawn_all "$first"
}

for ROUND in $(seq 1 "$ROUNDS"); do
  run_tcp ipsec
  run_tcp ipsec_raw
  run_tcp strongswan
done
M_ipsec=$(median "$R_tcp1_ipsec" %.1f)
M_ipsec_raw=$(median "$R_tcp1_ipsec_raw" %.1f)
M_strongswan=$(median "$R_tcp1_strongswan" %.1f)

# --- IKE setups per second: strongSwan initiates, Cordon answers -----------------
echo "ipsec: IKE_SA + CHILD_SA setups, $SETUP_LOOPS x $SETUPS from strongSwan to Cordon" >&2
SETUPS_PER_S=nan
first=${#PIDS[@]}
cordon_config gwb "$WAN_B" "$WAN_A" "$NET_B" "$NET_A" true no
strongswan_config gwa "$WAN_A" "$WAN_B" "$NET_A" "$NET_B" no
if start_cordon_side gwb && start_charon gwa; then
  start_ns=$(date +%s%N)
  LOOP_PIDS=()
  for loop in $(seq 1 "$SETUP_LOOPS"); do
    (
      for _ in $(seq 1 "$SETUPS"); do
        if swanctl_in gwa --initiate --child net --timeout 30 >>"$WORK/setups-$loop.log" 2>&1; then echo ok; fi
      done >"$WORK/setups-$loop.count"
    ) &
    LOOP_PIDS+=("$!")
  done
  for pid in "${LOOP_PIDS[@]}"; do wait "$pid" || true; done
  end_ns=$(date +%s%N)
  done_setups=$(cat "$WORK"/setups-*.count | grep -c ok || true)
  if [ "$done_setups" -gt 0 ]; then
    SETUPS_PER_S=$(awk -v n="$done_setups" -v t=$((end_ns - start_ns)) 'BEGIN { printf "%.1f", n / (t / 1e9) }')
  fi
  [ "$done_setups" -eq $((SETUP_LOOPS * SETUPS)) ] \
    || warn "only $done_setups of $((SETUP_LOOPS * SETUPS)) setups succeeded: $(tail -n 3 "$WORK"/setups-1.log)"
fi
despawn_all "$first"

REPORTED=yes
echo "ipsec_tcp1_mbps=$M_ipsec"
echo "ipsec_tcp1_mbps_rounds=$R_tcp1_ipsec"
echo "ipsec_raw_esp_tcp1_mbps=$M_ipsec_raw"
echo "ipsec_raw_esp_tcp1_mbps_rounds=$R_tcp1_ipsec_raw"
echo "strongswan_tcp1_mbps=$M_strongswan"
echo "strongswan_tcp1_mbps_rounds=$R_tcp1_strongswan"
echo "ipsec_tcp1_ratio_vs_strongswan=$(ratio "$M_ipsec" "$M_strongswan")"
echo "ipsec_raw_esp_tcp1_ratio_vs_strongswan=$(ratio "$M_ipsec_raw" "$M_strongswan")"
echo "ike_setups_per_s=$SETUPS_PER_S"
[ ! -e "$WORK/failed" ] || exit 1
