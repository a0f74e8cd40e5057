# Shared by bench/run.sh and bench/gateway.sh: medians and ratios of the
# rounds, and figures read from iperf3 -J output.

# median LIST FORMAT: the median of the numbers in the comma-separated LIST
# (nan left out; of an even count, the mean of the middle two), printed
# with FORMAT; nan when no round gave a number.
median() {
  awk -v list="$1" -v fmt="$2" 'BEGIN {
    n = 0; k = split(list, raw, ",")
    for (i = 1; i <= k; i++) if (raw[i] != "nan" && raw[i] != "") v[++n] = raw[i] + 0
    if (n == 0) { print "nan"; exit }
    for (i = 2; i <= n; i++) { x = v[i]; for (j = i - 1; j >= 1 && v[j] > x; j--) v[j + 1] = v[j]; v[j + 1] = x }
    m = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    printf fmt "\n", m
  }'
}
# ratio A B: A / B with three decimals; nan when either is nan or B is 0.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || b + 0 == 0) print "nan"; else printf "%.3f", a / b }'; }

# json_num FILE SECTION KEY: the first KEY after the last line naming SECTION.
json_num() {
  awk -v sec="\"$2\"" -v key="\"$3\"" '
    index($0, sec) { inside = 1; val = ""; next }
    inside && index($0, key) {
      v = $0; sub(/^[^:]*:[ \t]*/, "", v); sub(/[,} \t\r]*$/, "", v); val = v; inside = 0
    }
    END { print val }' "$1"
}

# received_pps FILE: packets per second the receiver of an iperf3 UDP run
# counted (end.sum_received: sent less lost, over its seconds), from its
# -J output; nothing when the file has no such figures.
received_pps() {
  local packets lost seconds
  packets=$(json_num "$1" sum_received packets)
  lost=$(json_num "$1" sum_received lost_packets)
  seconds=$(json_num "$1" sum_received seconds)
  [ -n "$packets" ] && [ -n "$lost" ] && [ -n "$seconds" ] || return 0
  awk -v p="$packets" -v l="$lost" -v s="$seconds" 'BEGIN { printf "%.0f", (p - l) / s }'
}
