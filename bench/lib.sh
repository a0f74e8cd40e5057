# Shell helpers shared by bench/run.sh and bench/profile.sh: processes they
# start in namespaces, stopped by PID, and the namespaces and temp dir
# removed on exit; polling with a deadline; a two-host Cordon config.
# The sourcing script sets NS_A, NS_B, WORK, MTU and CD_PORT, and declares
# the array PIDS.

# Stops one process this script started: SIGTERM, up to 5 s, then SIGKILL.
stop_pid() {
  local pid=$1 _
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# Stops only the processes this script started, by PID, then deletes the
# namespaces and the temp dir.
cleanup() {
  local pid
  for pid in "${PIDS[@]+"${PIDS[@]}"}"; do stop_pid "$pid"; done
  ip netns del "$NS_A" 2>/dev/null || true
  ip netns del "$NS_B" 2>/dev/null || true
  rm -rf "$WORK"
}

# spawn NS LOG CMD...: starts CMD in the background inside a namespace and
# sets LAST_PID. `ip netns exec` execs the command itself, so the PID is
# the command's.
spawn() {
  local ns=$1 log=$2; shift 2
  ip netns exec "$ns" "$@" >"$log" 2>&1 &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}

# poll_until SECONDS CMD...: runs CMD every 0.1 s until it succeeds.
poll_until() {
  local tries=$(( $1 * 10 )) _; shift
  for _ in $(seq 1 "$tries"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  return 1
}

# write_cordon_config NAME SELF_ID ADDR PEER_ID PEER_ADDR [ENDPOINT]: one
# side of a two-host tunnel, keyed by $WORK/link.key. HOST_EXTRA (may be
# empty) holds more [host] lines, one per line.
write_cordon_config() {
  local name=$1 self=$2 addr=$3 peer=$4 peer_addr=$5 endpoint=${6:-}
  mkdir -p "$WORK/state-$name" && chmod 700 "$WORK/state-$name"
  {
    echo "[host]"
    echo "id = \"$self\""
    echo "interface = \"cordon0\""
    echo "addresses = [\"$addr/24\"]"
    echo "mtu = $MTU"
    echo "listen_port = $CD_PORT"
    [ -n "${HOST_EXTRA:-}" ] && printf '%s\n' "$HOST_EXTRA"
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
