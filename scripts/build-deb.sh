#!/usr/bin/env bash
# Builds the Debian package (make deb; docs/packaging.md):
#
#   ./scripts/build-deb.sh [--out DIR] [--prebuilt CORDON]
#
# Copies the source tree (the files git knows, committed or not, minus
# those .gitignore names) to DIR/cordon-VERSION and runs
# `dpkg-buildpackage -b -us -uc` there, so the tree itself stays clean. As
# Debian's tools do, the package lands in the parent of that copy: DIR
# (default build-deb/). Then lintian checks it; any error (an E: line)
# fails the build. The last line printed is the package's path.
#
# --prebuilt CORDON packages that binary instead of compiling one
# (debian/rules, CORDON_PREBUILT): `make test` uses it, having built cordon
# already. DEB_BUILD_OPTIONS passes through (parallel=N; `make deb` sets it).
set -euo pipefail

ROOT=$(realpath "$(dirname "$0")/..")
OUT=$ROOT/build-deb
PREBUILT=""
while [ $# -gt 0 ]; do
  case $1 in
    --out) OUT=$2; shift 2 ;;
    --prebuilt) PREBUILT=$(realpath "$2"); shift 2 ;;
    *) echo "usage: $0 [--out DIR] [--prebuilt CORDON]" >&2; exit 2 ;;
  esac
done
die() { echo "build-deb: $*" >&2; exit 1; }

for tool in dpkg-buildpackage dh help2man lintian; do
  command -v "$tool" >/dev/null || die "$tool not found; run scripts/install-deps.sh"
done
[ -z "$PREBUILT" ] || [ -x "$PREBUILT" ] || die "--prebuilt $PREBUILT: no such executable; build it first (make build)"

# One version: debian/changelog's must be CMakeLists.txt's project VERSION.
version=$(dpkg-parsechangelog -l "$ROOT/debian/changelog" -SVersion)
project=$(sed -n 's/^project(cordon VERSION \([0-9.]*\).*/\1/p' "$ROOT/CMakeLists.txt")
[ "$version" = "$project" ] || die "debian/changelog is at version $version but CMakeLists.txt's project(cordon VERSION) is $project; add an entry for $project at the top of debian/changelog"
arch=$(dpkg-architecture -qDEB_HOST_ARCH)

mkdir -p "$OUT"
OUT=$(realpath "$OUT")
src=$OUT/cordon-$version
rm -rf "$src"
mkdir -p "$src"
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard |
     while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
     tar --null -T - -cf -) | tar -xf - -C "$src"
else
  tar -C "$ROOT" --exclude='./build*' --exclude=./.git --exclude=./fuzz-corpus -cf - . | tar -xf - -C "$src"
fi

export CORDON_PREBUILT=$PREBUILT
if [ -n "$PREBUILT" ]; then
  # A binary built with the project's flags: its debug symbols are in
  # the build tree already, no dbgsym package for it.
  export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:+$DEB_BUILD_OPTIONS }noautodbgsym"
fi
if command -v ccache >/dev/null; then
  export CORDON_CCACHE=1
  # debhelper (compat 13) gives the build a HOME of its own, under debian/,
  # which would put ccache's cache there and lose it with the copy.
  CCACHE_DIR=${CCACHE_DIR:-$(ccache -k cache_dir)}
  export CCACHE_DIR
fi

echo "build-deb: dpkg-buildpackage -b -us -uc in $src${PREBUILT:+ (packaging $PREBUILT)}"
(cd "$src" && dpkg-buildpackage -b -us -uc) >"$OUT/build.log" 2>&1 ||
  { tail -n 40 "$OUT/build.log" >&2; die "dpkg-buildpackage failed; the whole log is $OUT/build.log"; }

deb=$OUT/cordon_${version}_${arch}.deb
[ -f "$deb" ] || die "dpkg-buildpackage made no $deb; see $OUT/build.log"
echo "build-deb: lintian $deb"
lintian_status=0
lintian --fail-on error "$deb" | tee "$OUT/lintian.log" || lintian_status=$?
[ "$lintian_status" -eq 0 ] || die "lintian found errors (E: lines above, also in $OUT/lintian.log)"
rm -rf "$src"
echo "$deb"
