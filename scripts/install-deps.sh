#!/usr/bin/env bash
# Installs the Debian 12 packages Cordon needs to build, test, demo and bench.
# Only missing packages are installed; running it again is cheap.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev
  # libraries
  libssl-dev libsodium-dev libsqlite3-dev libpq-dev libfmt-dev libspdlog-dev
  libcli11-dev libtomlplusplus-dev nlohmann-json3-dev libmnl-dev libnftables-dev libsystemd-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # [metrics] and the web console: the HTTP server (docs/metrics.md, docs/console.md)
  libcpp-httplib-dev
  # the web console's map layout, built into the binary (docs/console.md)
  libjs-d3
  # the console's browser test (tests/netns/console_test.cpp): headless Chromium over WebDriver
  chromium chromium-driver
  # netns tests, demo and bench
  iproute2 iputils-ping iperf3 nftables tcpdump wireguard-go wireguard-tools fastd
  # the IPsec tests' peer (tests/netns/strongswan.hpp): charon with user-space ESP
  # (kernel-libipsec), swanctl, the plugins they load, and openssl for the test PKI
  strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-extra-plugins
  libstrongswan-standard-plugins openssl
  # the systemd tests: systemd as PID 1 of a namespace, systemd-analyze, journalctl
  systemd
  # the docs walkthrough test (tests/netns/doc_walkthrough.py)
  python3
  # ESP sealed and opened by an independent implementation (tests/netns/scapy_esp.py)
  python3-scapy
  # make deb and its test (scripts/build-deb.sh, tests/netns/deb_test.cpp)
  debhelper dpkg-dev fakeroot lintian help2man bash-completion man-db
  # promtool, which the metrics tests run (`promtool check metrics`)
  prometheus
  # the admin tests' private PostgreSQL server (tests/postgres/pg_server.hpp)
  postgresql
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
