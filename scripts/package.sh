#!/usr/bin/env bash
# Builds the Debian package target/debian/dnsgrade_<version>-1_<arch>.deb:
#   1. cargo build --release (honours CARGO_TARGET_DIR);
#   2. the man page (`dnsgrade man`, gzipped) and the shell completions
#      (`dnsgrade completions bash|zsh|fish`) into target/assets/;
#   3. cargo deb --no-build (installs cargo-deb from crates.io with --locked if missing), with
#      the binary, the systemd unit, /etc/dnsgrade/probes.toml (a conffile), the rules, the
#      Prometheus rules, the dashboard, the docs, the man page and the completions
#      ([package.metadata.deb] in Cargo.toml says where each goes). The binary is stripped;
#      its debug symbols (the release profile keeps debug = 1 for profiling) go in a second
#      package, target/debian/dnsgrade-dbgsym_<version>-1_<arch>.ddeb (needs objcopy).
# Install with: apt install ./target/debian/dnsgrade_*.deb
# Check with:   bash scripts/check-package.sh
#
# The man page and the completions are required. DNSGRADE_NO_MAN=1 is for a local test of
# the packaging on a tree whose binary lacks those subcommands: it packages clearly marked
# placeholders instead, and such a package is not for release.
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir=${CARGO_TARGET_DIR:-target}
bin="$target_dir/release/dnsgrade"
assets=target/assets

cargo build --release --locked
[ -x "$bin" ] || { echo "package.sh: no $bin after the release build" >&2; exit 1; }

rm -rf "$assets"
mkdir -p "$assets"

# Runs `dnsgrade <args>` into <out>; a missing subcommand is an error with a clear message,
# unless DNSGRADE_NO_MAN=1, which writes a placeholder.
generate() {
  local out=$1; shift
  if "$bin" "$@" > "$out.tmp" 2> "$assets/err"; then
    [ -s "$out.tmp" ] || { echo "package.sh: \`dnsgrade $*\` printed nothing" >&2; exit 1; }
    mv "$out.tmp" "$out"
    return
  fi
  rm -f "$out.tmp"
  if [ "${DNSGRADE_NO_MAN:-0}" = 1 ]; then
    echo "package.sh: WARNING: \`dnsgrade $*\` failed; DNSGRADE_NO_MAN=1: writing a placeholder to $out (not a release package)" >&2
    case "$out" in
      *.1) printf '.TH DNSGRADE 1\n.SH NAME\ndnsgrade \\- placeholder: built without the man subcommand (DNSGRADE_NO_MAN=1)\n' > "$out" ;;
      *) printf '# placeholder: built without the completions subcommand (DNSGRADE_NO_MAN=1)\n' > "$out" ;;
    esac
    return
  fi
  echo "package.sh: \`dnsgrade $*\` failed — this dnsgrade has no such subcommand, or it broke:" >&2
  sed 's/^/  /' "$assets/err" >&2
  echo "package.sh: the package needs \`dnsgrade man\` and \`dnsgrade completions <bash|zsh|fish>\`." >&2
  echo "package.sh: (DNSGRADE_NO_MAN=1 packages placeholders instead, for a local test only.)" >&2
  exit 1
}

generate "$assets/dnsgrade.1" man
gzip -9n "$assets/dnsgrade.1"
generate "$assets/dnsgrade.bash" completions bash
generate "$assets/_dnsgrade" completions zsh
generate "$assets/dnsgrade.fish" completions fish
rm -f "$assets/err"

if ! cargo deb --version >/dev/null 2>&1; then
  echo "package.sh: installing cargo-deb"
  cargo install cargo-deb --locked
fi
mkdir -p target/debian
cargo deb --no-build --dbgsym --output target/debian/
ls -l target/debian/dnsgrade_*.deb target/debian/dnsgrade-dbgsym_*
