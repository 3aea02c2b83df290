#!/usr/bin/env bash
# Runs dnsgrade's whole test suite on a fresh Debian 12 machine.
# Installs what the tests start or call (promtool from Debian's prometheus package, a real
# Alertmanager from prometheus-alertmanager, a real Unbound, Chromium and CJK fonts for the
# status page, NSD and ldnsutils for the DNSSEC test), then runs the tests. Every test sends
# traffic only to loopback.
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
command -v promtool >/dev/null 2>&1 || need_pkgs+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || [ -x /usr/bin/prometheus-alertmanager ] || need_pkgs+=(prometheus-alertmanager)
command -v unbound >/dev/null 2>&1 || [ -x /usr/sbin/unbound ] || need_pkgs+=(unbound)
command -v chromium >/dev/null 2>&1 || need_pkgs+=(chromium)
[ -d /usr/share/fonts/opentype/noto ] || need_pkgs+=(fonts-noto-cjk)
command -v nsd >/dev/null 2>&1 || [ -x /usr/sbin/nsd ] || need_pkgs+=(nsd)
command -v ldns-signzone >/dev/null 2>&1 || need_pkgs+=(ldnsutils)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "installing: ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${need_pkgs[@]}"
fi

cargo test
