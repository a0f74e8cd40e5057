# Statistics shared by bench/run.sh and bench/gateway.sh.

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
