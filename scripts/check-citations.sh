#!/usr/bin/env bash
# Fails if a file of the repository cites a text its readers do not have:
# the project's private design and style notes, its developer notes, the
# reference texts by their file names, or tracker issue numbers. Cite
# docs/design.md, another page of docs/, an RFC section, or a reference
# design by its public title instead (docs/design.md, "Reference designs").
#
#   ./scripts/check-citations.sh [SOURCE_DIR]      (ctest: citations)
#
# Checks the files git tracks (every file under SOURCE_DIR when it is not a
# git work tree), skipping binary files. Prints FILE:LINE: TEXT for each hit
# and exits 1 if there was any.
set -euo pipefail

ROOT=$(realpath "${1:-$(dirname "$0")/..}")
cd "$ROOT"

# Built from pieces so that this script does not match itself.
md='\.md'
forbidden=(
  "DESIGN${md}"
  "STYLE${md}"
  "DEVELOPERS${md}"
  "seeds""/"
  "[Ii]ssue"" [0-9]"
)
pattern=$(IFS='|'; echo "${forbidden[*]}")

list_files() {
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z
  else
    find . -path ./.git -prune -o -path './build*' -prune -o -type f -print0
  fi
}

hits=$(list_files | xargs -0 -r grep -nIE "$pattern" -- 2>/dev/null || true)
if [ -n "$hits" ]; then
  echo "$hits"
  echo "check-citations: $(wc -l <<<"$hits") citation(s) of texts a reader of this" \
       "repository does not have; cite docs/design.md, a docs/ page, an RFC or a" \
       "public title instead (docs/design.md, \"Reference designs\")." >&2
  exit 1
fi
echo "check-citations: no forbidden citations"
