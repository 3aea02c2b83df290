#!/usr/bin/env bash
# Starts a real Prometheus on loopback that scrapes one dnsgrade and loads dnsgrade's rules,
# for the end-to-end tests; prints its PID. Stop it by that PID.
#
#   scripts/prometheus-lab.sh DIR LISTEN_PORT DNSGRADE_ADDR
set -euo pipefail
dir=${1:?directory}
port=${2:?listen port}
target=${3:?dnsgrade host:port}
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$(command -v prometheus || echo /usr/bin/prometheus)
[ -x "$bin" ] || { echo "prometheus is not installed (scripts/test.sh installs it)" >&2; exit 69; }
mkdir -p "$dir/data"
cat > "$dir/prometheus.yml" <<CONF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $here/rules/prometheus/dnsgrade.yml
scrape_configs:
  - job_name: dnsgrade
    static_configs:
      - targets: ["$target"]
CONF
"$bin" --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
  --web.listen-address="127.0.0.1:$port" >"$dir/prometheus.log" 2>&1 &
echo $!
