#!/usr/bin/env bash
# Starts a real Prometheus on loopback that scrapes one dnsgrade and loads dnsgrade's rules,
# for the end-to-end tests; prints its PID. Stop it by that PID.
#
#   scripts/prometheus-lab.sh DIR LISTEN_PORT DNSGRADE_ADDR [FOR]
#
# With FOR (e.g. 2s), the rules are loaded from a copy whose `for:` durations are all FOR:
# the lab scrapes every second, and the shipped minute-long waits (tested by promtool) would
# only make the end-to-end tests slow. Nothing else in the rules changes.
set -euo pipefail
dir=${1:?directory}
port=${2:?listen port}
target=${3:?dnsgrade host:port}
for_override=${4:-}
here=$(cd "$(dirname "$0")/.." && pwd)
rules=$here/rules/prometheus/dnsgrade.yml
bin=$(command -v prometheus || echo /usr/bin/prometheus)
[ -x "$bin" ] || { echo "prometheus is not installed (scripts/test.sh installs it)" >&2; exit 69; }
mkdir -p "$dir/data"
if [ -n "$for_override" ]; then
  sed -E "s/^( *)for: .*/\1for: $for_override/" "$rules" >"$dir/dnsgrade.yml"
  rules=$dir/dnsgrade.yml
fi
cat > "$dir/prometheus.yml" <<CONF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $rules
scrape_configs:
  - job_name: dnsgrade
    static_configs:
      - targets: ["$target"]
CONF
"$bin" --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
  --web.listen-address="127.0.0.1:$port" >"$dir/prometheus.log" 2>&1 &
echo $!
