#!/usr/bin/env bash
# CPU per probe: the dnsgrade daemon versus prometheus-blackbox-exporter and dnsperf, same run,
# same NSD.
#
# Installs nsd, prometheus-blackbox-exporter and time from Debian if missing, serves a small
# example.cn. zone from one NSD process (one server process) listening on 127.0.1.1 … 127.0.1.20
# (one port), and measures, on loopback only:
#   A. for each target rate (RATES, default "1000 10000" probes/s), `dnsgrade run` with a
#      generated config whose checks add up to that rate (institutions × 20 addresses × checks /
#      interval); after a warm-up (WARMUP, 5 s) the daemon's CPU time (utime+stime of its PID)
#      and the probes it sent (dnsgrade_probes_sent_total when the daemon has it, else the sum of
#      dnsgrade_probes_total, the probes recorded; both are shown) over SECONDS: µs of CPU per probe and the
#      achieved probes/s;
#   B. prometheus-blackbox-exporter with a `dns` module (example.cn SOA over UDP), driven by a
#      python3 client at BB_RATE (default 200) `/probe` requests/s: the exporter's CPU µs per
#      probe (only the exporter's PID is measured, not the client's).
#   C. dnsperf (one thread) sending the same ten queries at the same rates: the floor, what a
#      query costs on this machine when nothing is parsed, judged or counted.
# Prints a table with the figures, the ratio blackbox µs / dnsgrade µs and the ratio
# dnsgrade µs / dnsperf µs. Absolute µs move with the machine (a shared VM varies 2x from one
# day to the next); the ratios, taken in the same run, are the figures to compare.
#
#   bash benches/probe-cost.sh [SECONDS]        # SECONDS default 60; CI=true or SHORT=1: 10
#   RATES="1000 5000" BB_RATE=300 PORT=5353 bash benches/probe-cost.sh 30
#
# Builds with `cargo build --release` (honours CARGO_TARGET_DIR). Every packet goes to loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
short=0
if [ "${CI:-}" = "true" ] || [ "${SHORT:-0}" = "1" ]; then short=1; fi
SECONDS_MEASURED=${1:-$([ $short = 1 ] && echo 10 || echo 60)}
RATES=${RATES:-1000 10000}
BB_RATE=${BB_RATE:-200}
WARMUP=${WARMUP:-5}
PORT=${PORT:-5353}
NADDR=20          # NSD listens on 127.0.1.1 … 127.0.1.$NADDR
CHECKS=10         # checks per institution: example.cn SOA and h1 … h9.example.cn A
INTERVAL=5        # seconds between two probes of one check on one address
BIN=${CARGO_TARGET_DIR:-target}/release/dnsgrade

. benches/lib.sh
install_missing nsd:nsd prometheus-blackbox-exporter:prometheus-blackbox-exporter \
  /usr/bin/time:time curl:curl dnsperf:dnsperf
cargo build --release --quiet
[ -x "$BIN" ] || { echo "no $BIN after the build" >&2; exit 1; }
TCK=$(getconf CLK_TCK)

work=$(mktemp -d)
nsd_pid=""
dg_pid=""
bb_pid=""
cleanup() {
  stop_pid "$dg_pid"
  stop_pid "$bb_pid"
  stop_pid "$nsd_pid"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

cpu_ticks() { # utime+stime of PID, in clock ticks (fields 14 and 15 of /proc/PID/stat)
  sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}
now() { date +%s.%N; }
probes_counted() { # "SENT RECORDED" from the daemon's /metrics at $1 (base URL): SENT is
  # dnsgrade_probes_sent_total when the daemon has it, else the same as RECORDED (the sum of
  # dnsgrade_probes_total)
  curl -sf --max-time 60 "$1/metrics" | awk '
    /^dnsgrade_probes_sent_total[ {]/ { sent += $NF; have_sent = 1 }
    /^dnsgrade_probes_total[ {]/      { total += $NF }
    END { printf "%.0f %.0f\n", have_sent ? sent : total, total }'
}
free_port() { # a free TCP port on 127.0.0.1
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- NSD on 127.0.1.1 … 127.0.1.20, one port, one server process --------------------------
python3 - "$PORT" "$NADDR" <<'PY'
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
for attempt in range(50):  # a server that was just stopped may still hold it briefly
    try:
        for i in range(1, n + 1):
            for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                with socket.socket(socket.AF_INET, kind) as s:
                    s.bind((f"127.0.1.{i}", port))
        break
    except OSError as e:
        if attempt == 49:
            sys.exit(f"port {port} is taken on 127.0.1.{i} ({e}); set PORT=another")
        time.sleep(0.2)
PY
python3 - "$work" "$NADDR" "$PORT" "$CHECKS" <<'PY'
import sys
d, n, port, checks = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
with open(f"{d}/example.cn.zone", "w") as z:
    z.write("$ORIGIN example.cn.\n$TTL 3600\n"
            "@ IN SOA ns1.example.cn. hostmaster.example.cn. 2026112201 7200 3600 2419200 300\n"
            "@ IN NS ns1.example.cn.\n@ IN NS ns2.example.cn.\n"
            "ns1 IN A 127.0.1.1\nns2 IN A 127.0.1.2\n@ IN A 192.0.2.1\n")
    for j in range(1, checks):
        z.write(f"h{j} IN A 192.0.2.{j}\n")
PY
listen=()
for i in $(seq 1 "$NADDR"); do listen+=("ip-address: 127.0.1.$i@$PORT"); done
write_nsd_conf "$work" example.cn "${listen[@]}"
start_nsd "$work"
soa_ok() { # one SOA query to $1, answered with NOERROR
  python3 - "$1" "$PORT" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
q = struct.pack(">HHHHHH", 0x4242, 0, 1, 0, 0, 0) + b"\x07example\x02cn\x00" + struct.pack(">HH", 6, 1)
s.sendto(q, (sys.argv[1], int(sys.argv[2])))
try:
    r, src = s.recvfrom(4096)
except OSError:
    sys.exit(1)
sys.exit(0 if r[:2] == b"\x42\x42" and r[3] & 15 == 0 and src[0] == sys.argv[1] else 1)
PY
}
ready=0
for _ in $(seq 1 100); do
  if soa_ok 127.0.1.1 && soa_ok "127.0.1.$NADDR"; then ready=1; break; fi
  kill -0 "$nsd_pid" 2>/dev/null || break
  sleep 0.2
done
if [ $ready != 1 ]; then echo "NSD did not answer:" >&2; cat "$work/nsd.out" "$work/nsd.log" >&2 2>/dev/null || true; exit 1; fi
echo "NSD (pid $nsd_pid) serves example.cn. on 127.0.1.1-$NADDR:$PORT"

# --- Phase A: dnsgrade ---------------------------------------------------------------------
results="$work/results"
: > "$results"
for rate in $RATES; do
  cfg="$work/dnsgrade-$rate.toml"
  python3 - "$cfg" "$work/state-$rate" "$rate" "$NADDR" "$PORT" "$CHECKS" "$INTERVAL" <<'PY'
import math, sys
cfg, state = sys.argv[1], sys.argv[2]
rate, naddr, port, checks, interval = (int(x) for x in sys.argv[3:8])
# rate = institutions × addresses × checks / interval
inst = max(1, round(rate * interval / (naddr * checks)))
planned = inst * naddr * checks / interval
per_addr = planned / naddr
with open(cfg, "w") as f:
    f.write(f"""# generated by benches/probe-cost.sh: {inst} institutions x {naddr} addresses x {checks} checks every {interval}s = {planned:.0f} probes/s
[daemon]
listen = "127.0.0.1:0"
state_dir = "{state}"
interval = "{interval}s"
global_rate = {math.ceil(planned * 1.5) + 100}
per_server_rate = {math.ceil(per_addr * 2) + 10}
max_in_flight = {max(4096, math.ceil(planned * 10 * 1.2))}
""")
    for i in range(inst):
        f.write(f'\n[[institution]]\nname = "inst-{i:04d}"\ntier = 2\n')
        for a in range(1, naddr + 1):
            f.write(f'  [[institution.server]]\n  name = "ns{a}"\n  addresses = ["127.0.1.{a}:{port}"]\n')
        f.write('  [[institution.check]]\n  name = "example.cn"\n  type = "SOA"\n')
        for j in range(1, checks):
            f.write(f'  [[institution.check]]\n  name = "h{j}.example.cn"\n  type = "A"\n  values = ["192.0.2.{j}"]\n')
PY
  if ! "$BIN" check-config --config "$cfg" > "$work/check-$rate.out" 2>&1; then
    echo "check-config refused $cfg:" >&2; tail -20 "$work/check-$rate.out" >&2; exit 1
  fi
  planned=$(grep -Eo '^total: [0-9.]+' "$work/check-$rate.out" | grep -Eo '[0-9.]+$')
  mkdir -p "$work/state-$rate"
  "$BIN" run --config "$cfg" > "$work/dg-$rate.out" 2> "$work/dg-$rate.err" &
  dg_pid=$!
  url=""
  for _ in $(seq 1 300); do
    url=$(grep -Eo -m1 'http://[0-9.:]+' "$work/dg-$rate.out" 2>/dev/null || true)
    [ -n "$url" ] && break
    kill -0 "$dg_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$url" ]; then
    echo "dnsgrade did not start (rate $rate); its stderr:" >&2
    tail -40 "$work/dg-$rate.err" >&2
    exit 1
  fi
  echo "dnsgrade (pid $dg_pid) on $url: planned $planned probes/s; warm-up ${WARMUP}s, measuring ${SECONDS_MEASURED}s"
  sleep "$WARMUP"
  t1=$(now); read -r p1 r1 < <(probes_counted "$url"); t1b=$(now)
  c1=$(cpu_ticks "$dg_pid"); s1=$(now)
  sleep "$SECONDS_MEASURED"
  c2=$(cpu_ticks "$dg_pid"); s2=$(now)
  t2=$(now); read -r p2 r2 < <(probes_counted "$url"); t2b=$(now)
  if ! kill -0 "$dg_pid" 2>/dev/null; then
    echo "dnsgrade exited during the run (rate $rate); its stderr:" >&2; tail -40 "$work/dg-$rate.err" >&2; exit 1
  fi
  metrics=$(curl -sf --max-time 60 "$url/metrics")
  in_flight=$(awk '/^dnsgrade_probes_in_flight /{print $2}' <<<"$metrics")
  limited=$(awk '/^dnsgrade_probes_rate_limited_total /{print $2}' <<<"$metrics")
  ok=$(awk '/^dnsgrade_probes_total\{.*outcome="ok"/{s+=$NF} END{printf "%.0f", s}' <<<"$metrics")
  all=$(awk '/^dnsgrade_probes_total\{/{s+=$NF} END{printf "%.0f", s}' <<<"$metrics")
  stop_pid "$dg_pid"; dg_pid=""
  # Probes per second between the two scrapes (taken around the CPU window, at their midpoints)
  # and CPU seconds per second within the window: their ratio is the CPU per probe.
  python3 - "$rate" "$planned" "$p1" "$p2" "$t1" "$t1b" "$t2" "$t2b" "$c1" "$c2" "$s1" "$s2" "$TCK" "$ok" "$all" "$in_flight" "$limited" "$r1" "$r2" >> "$results" <<'PY'
import sys
a = sys.argv[1:]
rate, planned = a[0], float(a[1])
p1, p2 = float(a[2]), float(a[3])
t1, t2 = (float(a[4]) + float(a[5])) / 2, (float(a[6]) + float(a[7])) / 2
c1, c2, s1, s2, tck = float(a[8]), float(a[9]), float(a[10]), float(a[11]), float(a[12])
ok, allp = float(a[13]), float(a[14])
pps = (p2 - p1) / (t2 - t1)
cpu_per_s = (c2 - c1) / tck / (s2 - s1)
us = cpu_per_s / pps * 1e6 if pps > 0 else float("nan")
rec = (float(a[18]) - float(a[17])) / (t2 - t1)
print(f"dnsgrade {rate} {planned:.0f} {pps:.0f} {cpu_per_s*100:.1f} {us:.2f} {ok/allp*100 if allp else 0:.2f} {a[15]} {a[16]} {rec:.0f}")
PY
  tail -1 "$results" | awk '{printf "  achieved %s probes/s (planned %s; recorded %s/s), CPU %s%% of one core, %s us per probe, ok %s%%, in flight %s, rate-limited %s\n", $4, $3, $10, $5, $6, $7, $8, $9;
    if ($10 > 0 && ($4 / $10 > 1.1 || $4 / $10 < 0.9)) print "  warning: probes sent and probes recorded differ by more than 10%" }'
done

# --- Phase C: dnsperf, the floor ------------------------------------------------------------
# dnsperf sends the same queries at the same rates from one thread and only matches replies to
# queries: what a query costs on this machine when nothing is parsed, judged or counted.
printf 'example.cn SOA\n' > "$work/queries"
for j in $(seq 1 $((CHECKS - 1))); do printf 'h%s.example.cn A\n' "$j" >> "$work/queries"; done
for rate in $RATES; do
  /usr/bin/time -f '%U %S' -o "$work/dnsperf-$rate.time" \
    dnsperf -s 127.0.1.1 -p "$PORT" -d "$work/queries" -Q "$rate" -l "$SECONDS_MEASURED" -c 1 -T 1 -q 1000 \
    > "$work/dnsperf-$rate.out" 2>&1 || true
  python3 - "$rate" "$work/dnsperf-$rate.out" "$work/dnsperf-$rate.time" "$SECONDS_MEASURED" >> "$results" <<'PY'
import re, sys
rate, out, tm, span = sys.argv[1], open(sys.argv[2]).read(), open(sys.argv[3]).read().split(), float(sys.argv[4])
done = re.search(r"Queries completed:\s+(\d+)", out)
sent = re.search(r"Queries sent:\s+(\d+)", out)
lost = re.search(r"Queries lost:\s+(\d+)", out)
n = int(done.group(1)) if done else 0
cpu = float(tm[-2]) + float(tm[-1])
us = cpu / n * 1e6 if n else float("nan")
ok = n / int(sent.group(1)) * 100 if sent and int(sent.group(1)) else 0
print(f"dnsperf {rate} {rate} {n / span:.0f} {cpu / span * 100:.1f} {us:.2f} {ok:.2f} - -")
PY
  tail -1 "$results" | awk '{printf "dnsperf @ %s/s: achieved %s q/s, CPU %s%% of one core, %s us per query\n", $2, $4, $5, $6}'
done

# --- Phase B: prometheus-blackbox-exporter -------------------------------------------------
cat > "$work/blackbox.yml" <<YML
modules:
  dns:
    prober: dns
    timeout: 2s
    dns:
      query_name: example.cn
      query_type: SOA
      transport_protocol: udp
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
      valid_rcodes: [NOERROR]
YML
bb_port=$(free_port)
prometheus-blackbox-exporter --config.file="$work/blackbox.yml" --web.listen-address="127.0.0.1:$bb_port" \
  --log.level=warn > "$work/bb.out" 2>&1 &
bb_pid=$!
bb_url="http://127.0.0.1:$bb_port"
for _ in $(seq 1 100); do
  curl -sf --max-time 2 "$bb_url/probe?module=dns&target=127.0.1.1:$PORT" 2>/dev/null | grep -q '^probe_success 1' && break
  kill -0 "$bb_pid" 2>/dev/null || break
  sleep 0.1
done
if ! curl -sf --max-time 2 "$bb_url/probe?module=dns&target=127.0.1.1:$PORT" | grep -q '^probe_success 1'; then
  echo "blackbox exporter did not probe successfully; its output, and a probe with debug=true:" >&2
  cat "$work/bb.out" >&2
  curl -s --max-time 5 "$bb_url/probe?module=dns&target=127.0.1.1:$PORT&debug=true" | grep -E 'level=|^probe_success' >&2 || true
  kill -0 "$nsd_pid" 2>/dev/null || echo "NSD is no longer running" >&2
  exit 1
fi
echo "blackbox exporter (pid $bb_pid) on $bb_url: ${BB_RATE} /probe requests/s; warm-up ${WARMUP}s, measuring ${SECONDS_MEASURED}s"
# The client paces requests at a fixed rate over keep-alive connections from a thread pool,
# and reads only the exporter's CPU time, at the start and the end of the measured span.
python3 - "$bb_port" "$bb_pid" "127.0.1.1:$PORT" "$BB_RATE" "$WARMUP" "$SECONDS_MEASURED" "$TCK" >> "$results" <<'PY'
import http.client, sys, threading, time
port, pid, target = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rate, warmup, span, tck = float(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7])
threads = max(4, min(64, int(rate // 10)))
path = f"/probe?module=dns&target={target}"

def cpu():
    with open(f"/proc/{pid}/stat") as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / tck

start = time.monotonic() + 0.2
m_start, m_end = start + warmup, start + warmup + span
lock = threading.Lock()
counts = {"done": 0, "ok": 0, "late": 0, "errors": 0}

def worker(k):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    i = k
    while True:
        due = start + i / rate
        if due >= m_end:
            break
        d = due - time.monotonic()
        if d > 0:
            time.sleep(d)
        elif d < -0.5:
            with lock:
                counts["late"] += 1
        try:
            conn.request("GET", path)
            body = conn.getresponse().read()
            good = b"\nprobe_success 1" in body
            err = False
        except Exception:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            good, err = False, True
        t = time.monotonic()
        if m_start <= due and t < m_end:
            with lock:
                counts["done"] += 1
                counts["ok"] += good
                counts["errors"] += err
        i += threads

ws = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(threads)]
for w in ws:
    w.start()
time.sleep(max(0, m_start - time.monotonic()))
c1, s1 = cpu(), time.monotonic()
time.sleep(max(0, m_end - time.monotonic()))
c2, s2 = cpu(), time.monotonic()
for w in ws:
    w.join(timeout=15)
n = counts["done"]
pps = n / (s2 - s1)
cpu_per_s = (c2 - c1) / (s2 - s1)
us = cpu_per_s / pps * 1e6 if pps > 0 else float("nan")
okp = counts["ok"] / n * 100 if n else 0
print(f"blackbox - {rate:.0f} {pps:.0f} {cpu_per_s*100:.1f} {us:.2f} {okp:.2f} - {counts['late']}/{counts['errors']}")
PY
tail -1 "$results" | awk '{printf "  achieved %s probes/s (asked %s), CPU %s%% of one core, %s us per probe, probe_success %s%%, late/errors %s\n", $4, $3, $5, $6, $7, $9}'
stop_pid "$bb_pid"; bb_pid=""

echo
python3 - "$results" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
bb = [r for r in rows if r[0] == "blackbox"]
print(f"{'prober':<28} {'planned/s':>10} {'achieved/s':>11} {'CPU %':>7} {'us/probe':>9} {'ok %':>7}")
for r in rows:
    name = f"{r[0]} @ {r[1]}/s" if r[0] != "blackbox" else "blackbox_exporter"
    print(f"{name:<28} {r[2]:>10} {r[3]:>11} {r[4]:>7} {r[5]:>9} {r[6]:>7}")
if bb:
    b = float(bb[0][5])
    for r in rows:
        if r[0] == "dnsgrade" and float(r[5]) > 0:
            print(f"ratio blackbox us / dnsgrade us at {r[1]}/s: {b / float(r[5]):.1f}")
floor = {r[1]: float(r[5]) for r in rows if r[0] == "dnsperf" and float(r[5]) > 0}
for r in rows:
    if r[0] == "dnsgrade" and r[1] in floor:
        print(f"ratio dnsgrade us / dnsperf us at {r[1]}/s: {float(r[5]) / floor[r[1]]:.2f}")
PY
