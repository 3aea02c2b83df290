#!/usr/bin/env bash
# Starts a real Unbound on loopback for dnsgrade's end-to-end tests, and stops exactly that one.
#
#   scripts/unbound-lab.sh start DIR PORT STUB_ZONE STUB_ADDR   # prints the PID
#   scripts/unbound-lab.sh stop DIR                              # kills the PID in DIR/unbound.pid
#
# Unbound listens on 127.0.0.1:PORT only, resolves STUB_ZONE by asking the authoritative server
# at STUB_ADDR (127.0.0.1@port), and has no other upstream: no query leaves the machine.
set -euo pipefail
cmd=${1:?start|stop}
dir=${2:?directory}
case "$cmd" in
start)
  port=${3:?port}
  zone=${4:?stub zone}
  stub=${5:?stub address, e.g. 127.0.0.1@5300}
  unbound_bin=$(command -v unbound || echo /usr/sbin/unbound)
  [ -x "$unbound_bin" ] || { echo "unbound is not installed (scripts/test.sh installs it)" >&2; exit 69; }
  mkdir -p "$dir"
  cat > "$dir/unbound.conf" <<CONF
server:
  interface: 127.0.0.1
  port: $port
  do-ip6: no
  do-daemonize: no
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  username: ""
  chroot: ""
  directory: "$dir"
  pidfile: ""
  logfile: "$dir/unbound.log"
  use-syslog: no
  verbosity: 1
  module-config: "iterator"
  num-threads: 1
  so-reuseport: no
  outgoing-interface: 127.0.0.1
  infra-keep-probing: yes
  infra-host-ttl: 5
  serve-expired: no
  prefetch: no
stub-zone:
  name: "$zone"
  stub-addr: $stub
CONF
  "$unbound_bin" -c "$dir/unbound.conf" -d >"$dir/unbound.out" 2>&1 &
  pid=$!
  echo "$pid" > "$dir/unbound.pid"
  echo "$pid"
  ;;
stop)
  [ -f "$dir/unbound.pid" ] && kill "$(cat "$dir/unbound.pid")" 2>/dev/null || true
  ;;
*)
  echo "usage: $0 start DIR PORT STUB_ZONE STUB_ADDR | stop DIR" >&2
  exit 64
  ;;
esac
