#!/usr/bin/env bash
# Checks the Debian package that scripts/package.sh built (target/debian/dnsgrade_*.deb, or
# the file given as $1):
#   - dpkg-deb -c lists the binary, the systemd unit, the conffile, the man page, the three
#     shell completions, the rules, the Prometheus rules, the dashboard and the docs;
#   - /etc/dnsgrade/probes.toml is a conffile and points state_dir at /var/lib/dnsgrade
#     (the unit's StateDirectory);
#   - the packaged binary runs and accepts the packaged config and rules (check-config sends
#     nothing);
#   - systemd-analyze verify accepts the unit without a single warning, and
#     systemd-analyze security rates its sandbox at an exposure of 2.0 or less.
# Installs systemd (for systemd-analyze) if missing. Never starts the daemon.
set -euo pipefail
cd "$(dirname "$0")/.."

deb=${1:-$(ls -t target/debian/dnsgrade_*.deb 2>/dev/null | head -1)}
[ -n "$deb" ] && [ -f "$deb" ] || { echo "check-package.sh: no package; run scripts/package.sh" >&2; exit 1; }
echo "checking $deb"

fail() { echo "check-package.sh: $*" >&2; exit 1; }

listing=$(dpkg-deb -c "$deb" | awk '{print $6}')
unit=""
for u in ./usr/lib/systemd/system/dnsgrade.service ./lib/systemd/system/dnsgrade.service; do
  if grep -qxF "$u" <<<"$listing"; then unit=${u#.}; fi
done
[ -n "$unit" ] || fail "no systemd unit dnsgrade.service in the package"
for f in \
  ./usr/bin/dnsgrade \
  ./etc/dnsgrade/probes.toml \
  ./usr/share/man/man1/dnsgrade.1.gz \
  ./usr/share/bash-completion/completions/dnsgrade \
  ./usr/share/zsh/vendor-completions/_dnsgrade \
  ./usr/share/fish/vendor_completions.d/dnsgrade.fish \
  ./usr/share/dnsgrade/rules/miit-2011.toml \
  ./usr/share/dnsgrade/prometheus/dnsgrade.yml \
  ./usr/share/dnsgrade/dashboards/dnsgrade-overview.json \
  ./usr/share/doc/dnsgrade/README.md \
  ./usr/share/doc/dnsgrade/docs/matrix.md; do
  grep -qxF "$f" <<<"$listing" || fail "$f is not in the package"
done
echo "contents: binary, $unit, conffile, man page, completions, rules, dashboard, docs"

dpkg-deb -f "$deb" Package Version Architecture Depends
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dpkg-deb -e "$deb" "$work/DEBIAN"
grep -qxF /etc/dnsgrade/probes.toml "$work/DEBIAN/conffiles" || fail "/etc/dnsgrade/probes.toml is not a conffile"
root="$work/root"
dpkg-deb -x "$deb" "$root"
grep -Eq '^state_dir = "/var/lib/dnsgrade"' "$root/etc/dnsgrade/probes.toml" \
  || fail "the packaged probes.toml does not set state_dir = \"/var/lib/dnsgrade\" (the unit's StateDirectory)"
gzip -t "$root/usr/share/man/man1/dnsgrade.1.gz" || fail "the man page is not gzip"
"$root/usr/bin/dnsgrade" --version
# The packaged probes.toml reads api_token from DNSGRADE_API_TOKEN (in /etc/default/dnsgrade on
# a real install); an unset variable is a config error, so the check sets one.
DNSGRADE_API_TOKEN=check-package-token "$root/usr/bin/dnsgrade" check-config --config "$root/etc/dnsgrade/probes.toml" \
  --rules "$root/usr/share/dnsgrade/rules/miit-2011.toml" > "$work/check-config.out" 2>&1 \
  || { cat "$work/check-config.out" >&2; fail "the packaged binary rejects the packaged probes.toml or rules"; }

if ! command -v systemd-analyze >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update && apt-get install -y --no-install-recommends systemd
fi
# systemd-analyze verify checks that ExecStart's binary exists, so the unit as packaged
# (/usr/bin/dnsgrade) fails on a machine where the package is not installed. --root= on the
# unpacked tree does not help: it resolves everything there, /bin/kill of ExecReload and
# sysinit.target included, which a package tree does not have. So the unit is verified as a
# copy whose ExecStart points at the unpacked binary (every other line as shipped), and with
# MANPATH at the unpacked man pages, so its Documentation=man:dnsgrade(1) is checked against
# the packaged man page. verify exits 0 on an unknown key (a typo), so any output fails.
sed "s#^ExecStart=/usr/bin/dnsgrade #ExecStart=$root/usr/bin/dnsgrade #" "$root$unit" > "$work/dnsgrade.service"
grep -q "^ExecStart=$root/usr/bin/dnsgrade run --config /etc/dnsgrade/probes.toml$" "$work/dnsgrade.service" \
  || fail "unexpected ExecStart in $unit"
MANPATH="$root/usr/share/man" systemd-analyze verify "$work/dnsgrade.service" > "$work/verify.out" 2>&1 \
  || { cat "$work/verify.out" >&2; fail "systemd-analyze verify failed"; }
[ ! -s "$work/verify.out" ] || { cat "$work/verify.out" >&2; fail "systemd-analyze verify warned"; }
echo "systemd-analyze verify: no warnings"
# The sandbox stays tight: the exposure score (0 best, 10 worst) is at most 2.0 (1.6 today).
systemd-analyze security --offline=true --threshold=20 --no-pager "$work/dnsgrade.service" > "$work/security.out" 2>&1 \
  || { cat "$work/security.out" >&2; fail "systemd-analyze security: exposure above 2.0"; }
grep -F "Overall exposure level" "$work/security.out" | sed 's/^→ /systemd-analyze security: /'
echo "package OK: $deb"
