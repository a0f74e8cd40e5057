#!/usr/bin/env bash
# The long fuzz campaign (make fuzz): every libFuzzer target in tests/fuzz
# runs for SECONDS, JOBS at a time, on a corpus kept between runs.
#
#   ./scripts/fuzz.sh BUILD_DIR [SECONDS [JOBS]]      (defaults 240 and 2)
#
# Corpora live in fuzz-corpus/NAME at the top of the tree (gitignored). A
# run reads that corpus and the seeds (tests/fuzz/corpus/NAME), writes what
# it finds into a scratch directory, and then merges (libFuzzer -merge=1)
# only the inputs that add coverage into fuzz-corpus/NAME. A crash, leak or
# timeout leaves its input in fuzz-corpus/crashes/NAME-*; add it to the
# seeds once it is fixed. The closing lines say, per target, how many
# inputs ran, the corpus size and the crashes; the exit status is 1 if any
# target crashed.
set -euo pipefail

[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [SECONDS [JOBS]]" >&2; exit 2; }
BUILD_DIR=$(realpath "$1")
SECONDS_PER_TARGET=${2:-240}
JOBS=${3:-2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CORPORA=$ROOT/fuzz-corpus
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/cordon-fuzz-XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT
mkdir -p "$CORPORA/crashes"

# One target: fuzz, merge, and write its summary line to $SCRATCH/NAME.summary.
run_target() {
  local name=$1 bin=$BUILD_DIR/tests/$1
  local seeds=$ROOT/tests/fuzz/corpus/$name kept=$CORPORA/$name new=$SCRATCH/$name
  mkdir -p "$kept" "$new"
  local before_crashes rc=0
  before_crashes=$(find "$CORPORA/crashes" -name "$name-*" | wc -l)
  local inputs=("$kept")
  [ -d "$seeds" ] && inputs+=("$seeds")
  "$bin" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$CORPORA/crashes/$name-" "$new" "${inputs[@]}" >"$SCRATCH/$name.log" 2>&1 || rc=$?
  "$bin" -merge=1 -timeout=10 -rss_limit_mb=2048 "$kept" "$new" >>"$SCRATCH/$name.log" 2>&1 || true
  local execs corpus crashes
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$SCRATCH/$name.log" | tail -1)
  corpus=$(find "$kept" -type f | wc -l)
  crashes=$(( $(find "$CORPORA/crashes" -name "$name-*" | wc -l) - before_crashes ))
  if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then crashes=1; fi  # failed without an artifact
  printf 'fuzz %-22s %12s inputs executed  corpus %6d  crashes %d%s\n' "$name" "${execs:-?}" "$corpus" \
    "$crashes" "$([ "$crashes" -gt 0 ] && echo "  (inputs in $CORPORA/crashes/$name-*)")" \
    >"$SCRATCH/$name.summary"
  [ "$rc" -eq 0 ] || tail -40 "$SCRATCH/$name.log" >&2
}

names=()
for src in "$ROOT"/tests/fuzz/*_fuzz.cpp; do
  name=$(basename "$src" .cpp)
  [ -x "$BUILD_DIR/tests/$name" ] || { echo "$0: $BUILD_DIR/tests/$name is not built; run make fuzz" >&2; exit 2; }
  names+=("$name")
done

echo "fuzzing ${#names[@]} targets for ${SECONDS_PER_TARGET} s each, ${JOBS} at a time; corpora in $CORPORA"
running=0
for name in "${names[@]}"; do
  if [ "$running" -ge "$JOBS" ]; then wait -n || true; running=$((running - 1)); fi
  run_target "$name" &
  running=$((running + 1))
done
wait || true

failed=0
for name in "${names[@]}"; do
  cat "$SCRATCH/$name.summary"
  grep -q 'crashes 0$' "$SCRATCH/$name.summary" || failed=1
done
exit "$failed"
