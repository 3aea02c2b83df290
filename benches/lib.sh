# Shell helpers the benchmark scripts share: installing what they need, writing an NSD
# configuration, starting NSD in the foreground, finding a free port, asking a server for
# example.cn SOA, and stopping exactly the PIDs they started.
# Sourced, not run: `. benches/lib.sh`.

# install_missing CMD:PACKAGE... — installs each PACKAGE whose CMD is neither on the PATH nor
# in /usr/sbin (a CMD starting with / is a file to test instead).
install_missing() {
  local need=() spec cmd pkg
  for spec in "$@"; do
    cmd=${spec%%:*}; pkg=${spec#*:}
    if [ "${cmd#/}" != "$cmd" ]; then [ -e "$cmd" ] && continue
    else command -v "$cmd" >/dev/null 2>&1 && continue; [ -x "/usr/sbin/$cmd" ] && continue
    fi
    need+=("$pkg")
  done
  if [ ${#need[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends "${need[@]}"
  fi
}

# stop_pid PID — stops one PID this script started, and the processes it forked (NSD's).
stop_pid() {
  local p=$1 kids k comm
  [ -n "$p" ] || return 0
  kids=$(cat /proc/"$p"/task/*/children 2>/dev/null || true)
  comm=$(cat /proc/"$p"/comm 2>/dev/null || true)
  kill "$p" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  for k in $kids; do # the children end with their parent; force only one still there by then
    for _ in $(seq 1 50); do kill -0 "$k" 2>/dev/null || break; sleep 0.1; done
    if [ "$(cat /proc/"$k"/comm 2>/dev/null)" = "$comm" ]; then kill -9 "$k" 2>/dev/null || true; fi
  done
}

# write_nsd_conf DIR ZONE LISTEN... — writes DIR/nsd.conf: one server process, no rate limit,
# no chroot or user change, state and logs in DIR, serving ZONE from DIR/ZONE.zone (ZONE
# without its final dot). Each LISTEN is a line for the server: section, such as
# "ip-address: 127.0.1.1@5353" or "port: 5300".
write_nsd_conf() {
  local dir=$1 zone=$2 line
  shift 2
  {
    echo "server:"
    for line in "$@"; do echo "  $line"; done
    cat <<CONF
  server-count: 1
  rrl-ratelimit: 0
  username: ""
  chroot: ""
  zonesdir: "$dir"
  database: ""
  zonelistfile: "$dir/zone.list"
  xfrdfile: "$dir/xfrd.state"
  pidfile: "$dir/nsd.pid"
  logfile: "$dir/nsd.log"
  verbosity: 0
  hide-version: yes
  round-robin: no
remote-control:
  control-enable: no
zone:
  name: "$zone."
  zonefile: "$dir/$zone.zone"
CONF
  } > "$dir/nsd.conf"
}

# start_nsd DIR — starts NSD in the foreground on DIR/nsd.conf, output in DIR/nsd.out, and
# sets nsd_pid. The caller waits for its first answer.
start_nsd() {
  local nsd_bin
  nsd_bin=$(command -v nsd || echo /usr/sbin/nsd)
  "$nsd_bin" -d -c "$1/nsd.conf" > "$1/nsd.out" 2>&1 &
  nsd_pid=$!
}

# free_udp_port — prints a port that is free for UDP and TCP on every address.
free_udp_port() {
  python3 -c '
import socket
for _ in range(100):
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", 0)); p = u.getsockname()[1]
    t = socket.socket()
    try:
        t.bind(("0.0.0.0", p)); print(p); break
    except OSError:
        pass
    finally:
        u.close(); t.close()'
}

# answers_from ADDR PORT — sends one example.cn SOA query to ADDR:PORT; succeeds when a
# NOERROR reply comes back from ADDR:PORT.
answers_from() {
  python3 - "$1" "$2" <<'PY'
import socket, struct, sys
addr, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
q = struct.pack(">HHHHHH", 0x5151, 0, 1, 0, 0, 0) + b"\x07example\x02cn\x00" + struct.pack(">HH", 6, 1)
s.sendto(q, (addr, port))
try:
    r, src = s.recvfrom(4096)
except OSError:
    print(f"  no reply from {addr}:{port}"); sys.exit(1)
if src != (addr, port):
    print(f"  query to {addr}:{port} answered from {src[0]}:{src[1]}"); sys.exit(1)
sys.exit(0 if r[:2] == b"\x51\x51" and r[3] & 15 == 0 else 1)
PY
}
