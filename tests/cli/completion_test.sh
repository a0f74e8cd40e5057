#!/usr/bin/env bash
# `cordon completion bash` against the parser's own help (ctest:
# cli.completion_bash): bash accepts the script, and for every command path
# that `--help` shows, at every level, completing after it offers each
# subcommand and each option that `--help` lists there. The subcommands
# and options come from CLI11's help output, not from the code that writes
# the script, so a command the walk misses fails here. A planted omission
# (one top-level subcommand deleted from the script) must fail the same
# check, or this test proves nothing.
#
#   tests/cli/completion_test.sh CORDON
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 CORDON" >&2; exit 2; }
CORDON=$1
WORK=$(mktemp -d /tmp/cordon-completion-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$CORDON" completion bash >"$WORK/cordon.bash" || fail "cordon completion bash exited $?"
bash -n "$WORK/cordon.bash" || fail "bash -n refuses the script"
if "$CORDON" completion zsh >/dev/null 2>&1; then fail "cordon completion zsh succeeded; only bash is offered"; fi

# help_section PATH... SECTION: the names CLI11's help lists under SECTION
# ("Subcommands" or "Options") for the command PATH. An option line reads
# "  -i,--interface TEXT  Description": its first word, split at commas.
help_section() {
  local section=${*: -1}
  "$CORDON" "${@:1:$#-1}" --help |
    awk -v s="$section:" '$0 == s { on = 1; next } /^[^ ]/ { on = 0 } on && NF { print $1 }' |
    if [ "$section" = Options ]; then tr ',' '\n' | grep '^-'; else cat; fi
}

# offered SCRIPT CUR PATH...: what the script completes after `cordon PATH... CUR`.
offered() {
  local script=$1 cur=$2
  shift 2
  bash -c '
    source "$1"; shift
    cur=$1; shift
    COMP_WORDS=(cordon "$@" "$cur"); COMP_CWORD=$(($# + 1))
    compopt() { :; }   # only valid inside a real completion
    _cordon cordon "$cur" "${COMP_WORDS[COMP_CWORD - 1]}"
    printf "%s\n" "${COMPREPLY[@]}"' _ "$script" "$cur" "$@"
}

# check SCRIPT PATH...: every subcommand and option of PATH is offered, then
# the same for each subcommand. Prints what is missing; fails if anything.
check() {
  local script=$1
  shift
  local missing=0 name
  local offered_words offered_options
  offered_words=$(offered "$script" "" "$@")
  offered_options=$(offered "$script" "-" "$@")
  while read -r name; do
    [ -n "$name" ] || continue
    grep -qxF -- "$name" <<<"$offered_words" || { echo "cordon $* : subcommand $name not offered"; missing=1; }
  done < <(help_section "$@" Subcommands)
  while read -r name; do
    [ -n "$name" ] || continue
    grep -qxF -- "$name" <<<"$offered_options" || { echo "cordon $* : option $name not offered"; missing=1; }
  done < <(help_section "$@" Options)
  while read -r name; do
    [ -n "$name" ] || continue
    check "$script" "$@" "$name" || missing=1
  done < <(help_section "$@" Subcommands)
  return "$missing"
}

top=$(help_section Subcommands)
[ "$(wc -l <<<"$top")" -ge 10 ] || fail "cordon --help lists only: $top"
for expected in up status admin completion; do
  grep -qxF "$expected" <<<"$top" || fail "cordon --help does not list $expected; the help parser above is broken"
done
check "$WORK/cordon.bash" >"$WORK/missing" || fail "the completion misses:
$(cat "$WORK/missing")"

# Nested levels really are walked: a command three deep and its options.
grep -qxF -- "--name" <<<"$(offered "$WORK/cordon.bash" "-" admin host add)" || fail "admin host add --name not offered"
grep -qxF "add" <<<"$(offered "$WORK/cordon.bash" "" admin host)" || fail "admin host add not offered"
grep -qxF -- "--clear-ipsec-subnets" <<<"$(offered "$WORK/cordon.bash" "-" admin host set)" ||
  fail "admin host set --clear-ipsec-subnets not offered"
# An option's value is skipped when the path is read: after `admin --db FILE`
# come admin's subcommands.
grep -qxF "host" <<<"$(offered "$WORK/cordon.bash" "" admin --db x.db)" || fail "admin --db FILE: host not offered"

# The planted omission: `status` deleted from the top level's subcommands.
sed "/^    'cordon') echo /s/ status / /" "$WORK/cordon.bash" >"$WORK/planted.bash"
cmp -s "$WORK/cordon.bash" "$WORK/planted.bash" && fail "could not plant the omission (the script's layout changed?)"
if check "$WORK/planted.bash" >"$WORK/planted-missing"; then
  fail "the check passed on a script without 'status'"
fi
grep -q "subcommand status not offered" "$WORK/planted-missing" || fail "the planted omission was not the one reported: $(cat "$WORK/planted-missing")"
echo "completion: every subcommand and option of $(grep -c . <<<"$top") top-level commands and their subcommands is offered"
