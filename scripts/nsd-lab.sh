#!/usr/bin/env bash
# Starts a real NSD on loopback for dnsgrade's end-to-end tests, and stops exactly that one.
#
#   scripts/nsd-lab.sh start DIR ADDR PORT ZONE ZONE_FILE   # prints the PID
#   scripts/nsd-lab.sh stop DIR                             # kills the PID in DIR/nsd.pid
#
# NSD serves ZONE from ZONE_FILE (signed or not) on ADDR@PORT only (ADDR must be a loopback
# address, 127.0.0.0/8 or ::1), one server process, no zone transfers, no remote control.
set -euo pipefail
cmd=${1:?start|stop}
dir=${2:?directory}
case "$cmd" in
start)
  addr=${3:?address}
  port=${4:?port}
  zone=${5:?zone}
  file=${6:?zone file}
  case "$addr" in
    127.*|::1) ;;
    *) echo "nsd-lab.sh: $addr is not a loopback address" >&2; exit 64 ;;
  esac
  nsd_bin=$(command -v nsd || echo /usr/sbin/nsd)
  [ -x "$nsd_bin" ] || { echo "nsd is not installed (scripts/test.sh installs it)" >&2; exit 69; }
  mkdir -p "$dir"
  cat > "$dir/nsd.conf" <<CONF
server:
  ip-address: $addr@$port
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: "$dir"
  database: ""
  zonelistfile: "$dir/zone.list"
  xfrdfile: "$dir/xfrd.state"
  pidfile: "$dir/nsd.daemon.pid"
  logfile: "$dir/nsd.log"
  verbosity: 1
  hide-version: yes
remote-control:
  control-enable: no
zone:
  name: "$zone"
  zonefile: "$file"
CONF
  "$nsd_bin" -d -c "$dir/nsd.conf" >"$dir/nsd.out" 2>&1 &
  pid=$!
  echo "$pid" > "$dir/nsd.pid"
  echo "$pid"
  ;;
stop)
  [ -f "$dir/nsd.pid" ] && kill "$(cat "$dir/nsd.pid")" 2>/dev/null || true
  ;;
*)
  echo "usage: $0 start DIR ADDR PORT ZONE ZONE_FILE | stop DIR" >&2
  exit 64
  ;;
esac
