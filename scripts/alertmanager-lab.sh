#!/usr/bin/env bash
# Starts a real Alertmanager (Debian's prometheus-alertmanager) on loopback with its own config
# and data directory, for the end-to-end tests; prints its PID. Stop it by that PID.
# Clustering is off (--cluster.listen-address=), so nothing listens beyond 127.0.0.1.
#
#   scripts/alertmanager-lab.sh DIR LISTEN_PORT
set -euo pipefail
dir=${1:?directory}
port=${2:?listen port}
bin=$(command -v prometheus-alertmanager || command -v alertmanager || echo /usr/bin/prometheus-alertmanager)
[ -x "$bin" ] || { echo "prometheus-alertmanager is not installed (scripts/test.sh installs it)" >&2; exit 69; }
mkdir -p "$dir/data"
cat > "$dir/alertmanager.yml" <<CONF
global:
  resolve_timeout: 5m
route:
  receiver: "null"
  group_by: ["alertname", "object"]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: "null"
CONF
"$bin" --config.file="$dir/alertmanager.yml" --storage.path="$dir/data" \
  --web.listen-address="127.0.0.1:$port" --cluster.listen-address= \
  >"$dir/alertmanager.log" 2>&1 &
echo $!
