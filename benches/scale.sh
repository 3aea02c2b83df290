#!/usr/bin/env bash
# dnsgrade with many server addresses, dark and answering (loopback only).
#
# For each N in SIZES (default "10000 100000"), generates a config of N server addresses
# (N/5 tier-2 institutions × 5 name servers of one address, one SOA check each, interval 5s,
# timeout 10s, global_rate and max_in_flight sized to N/5 probes/s), validates it with
# check-config, and runs `dnsgrade run` on it for DURATION seconds (default 90) in two cases:
#   dark:      the addresses are in 127.64.0.0/10 on a port where nothing listens, so every probe
#              times out (UDP to a loopback address without a listener gets no reply);
#   answering: the addresses are in 127.128.0.0/10 and one responder answers every one of them
#              from the address it was queried on. NSD bound to the wildcard is tried first;
#              NSD 4.6 replies from 127.0.0.1 instead (it does not use IP_PKTINFO), so the
#              fallback is a small python3 responder that does (recvmsg/sendmsg with
#              IP_PKTINFO; RESPONDERS processes on one SO_REUSEPORT port, default 1).
# At the end of each run it prints the daemon's RSS (VmRSS, VmHWM), open fds, start-up time,
# the evaluation lag gauge, the achieved probes/s over the last MEASURE seconds (default 30) of
# the /metrics counter versus the configured rate, the share of ok/timeout outcomes,
# probes in flight, how long one GET /metrics takes and how big its body is; for the
# answering case also the responder's answers/s and CPU share (is it keeping up?).
#
#   bash benches/scale.sh                      # N = 10000 and 100000, 90 s per case
#   SIZES="20000" CASES="dark" DURATION=120 bash benches/scale.sh
#   SHORT=1 bash benches/scale.sh              # also CI=true: N = 10000 only, 40 s per case
# Other knobs: MEASURE, PER_INST, RESPONDER=auto|nsd|python, RESPONDERS, START_TIMEOUT (900 s),
# SCRAPE_TIMEOUT (300 s; a scrape that fails is reported as "-", not fatal). "achieved" counts
# dnsgrade_probes_sent_total when the daemon has it, else the probes recorded
# (dnsgrade_probes_total), which is also printed as "recorded".
#
# Builds with `cargo build --release` (honours CARGO_TARGET_DIR). Raises the fd limit
# (ulimit -n 1048576; root). Every packet goes to loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
short=0
if [ "${CI:-}" = "true" ] || [ "${SHORT:-0}" = "1" ]; then short=1; fi
SIZES=${SIZES:-$([ $short = 1 ] && echo 10000 || echo "10000 100000")}
DURATION=${DURATION:-$([ $short = 1 ] && echo 40 || echo 90)}
MEASURE=${MEASURE:-30}
CASES=${CASES:-dark answering}
PER_INST=${PER_INST:-5}      # addresses (name servers) per institution
INTERVAL=5
TIMEOUT=10
RESPONDER=${RESPONDER:-auto} # auto (NSD on the wildcard if it answers from the queried address, else python), nsd, python
RESPONDERS=${RESPONDERS:-1}  # python responder processes
START_TIMEOUT=${START_TIMEOUT:-900}  # seconds the daemon may take to log its readiness event ("listening", http=…) on stdout
SCRAPE_TIMEOUT=${SCRAPE_TIMEOUT:-300} # seconds one GET /metrics may take
BIN=${CARGO_TARGET_DIR:-target}/release/dnsgrade
[ "$MEASURE" -lt "$DURATION" ] || { echo "MEASURE ($MEASURE) must be shorter than DURATION ($DURATION)" >&2; exit 64; }

. benches/lib.sh
install_missing nsd:nsd /usr/bin/time:time curl:curl
cargo build --release --quiet
[ -x "$BIN" ] || { echo "no $BIN after the build" >&2; exit 1; }
if ! ulimit -n 1048576 2>/dev/null; then
  ulimit -n "$(ulimit -Hn)"
  echo "fd limit $(ulimit -n): the hard limit (raising it to 1048576 needs CAP_SYS_RESOURCE)"
else
  echo "fd limit $(ulimit -n)"
fi
TCK=$(getconf CLK_TCK)

work=$(mktemp -d)
dg_pid=""
nsd_pid=""
resp_pids=()
stop_responders() {
  local p
  for p in "${resp_pids[@]}"; do stop_pid "$p"; done
  resp_pids=()
}
cleanup() {
  stop_pid "$dg_pid"
  stop_pid "$nsd_pid"
  stop_responders
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
now() { date +%s.%N; }
addr_of() { # address i (1-based) of a /10 starting at 127.$1.0.0
  echo "127.$(( $1 + ($2 >> 16) )).$(( ($2 >> 8) & 255 )).$(( $2 & 255 ))"
}
cat > "$work/example.cn.zone" <<'ZONE'
$ORIGIN example.cn.
$TTL 3600
@ IN SOA ns1.example.cn. hostmaster.example.cn. 2026112201 7200 3600 2419200 300
@ IN NS ns1.example.cn.
ns1 IN A 127.128.0.1
ZONE

# The python responder: answers SOA example.cn (any name, in fact) from the address each query
# was sent to (IP_PKTINFO in, IP_PKTINFO out); ignores anything not from and to 127.0.0.0/8.
# Writes "answered queries" to its stats file about once a second.
cat > "$work/responder.py" <<'PY'
import socket, struct, sys, time
port, stats = int(sys.argv[1]), sys.argv[2]
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 23)
s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 23)
s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
s.bind(("0.0.0.0", port))
rdata = (b"\x03ns1\x07example\x02cn\x00\x0ahostmaster\x07example\x02cn\x00"
         + struct.pack(">IIIII", 2026112201, 7200, 3600, 2419200, 300))
SOA = b"\xc0\x0c" + struct.pack(">HHIH", 6, 1, 3600, len(rdata)) + rdata
OPT = b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"
LVL, pack, recvmsg, sendmsg, mono = socket.IPPROTO_IP, struct.pack, s.recvmsg, s.sendmsg, time.monotonic
ZERO4 = b"\0\0\0\0"
n, due = 0, mono() + 1
def dump():
    with open(stats + ".tmp", "w") as f:
        f.write(f"{n}\n")
    import os
    os.replace(stats + ".tmp", stats)
dump()
while True:
    data, anc, _, src = recvmsg(1500, 64)
    t = mono()
    if t >= due:
        dump(); due = t + 1
    if len(data) < 17 or data[2] & 0x80 or not src[0].startswith("127."):
        continue
    dst = None
    for lvl, typ, cd in anc:
        if lvl == LVL and typ == IP_PKTINFO:
            dst = cd[8:12]          # ipi_addr: the header's destination address
    if dst is None or dst[0] != 127:
        continue
    i = 12
    while i < len(data) and data[i]:
        i += data[i] + 1
    qend = i + 5
    if qend > len(data):
        continue
    soa = data[i + 1:i + 3] == b"\x00\x06"
    f1 = data[2]
    hdr = (data[:2] + bytes((0x84 | (f1 & 0x79), 0)) + b"\x00\x01"
           + (b"\x00\x01" if soa else b"\x00\x00") + b"\x00\x00"
           + (b"\x00\x01" if data[10:12] != b"\x00\x00" else b"\x00\x00"))
    reply = hdr + data[12:qend] + (SOA if soa else b"") + (OPT if data[10:12] != b"\x00\x00" else b"")
    try:
        sendmsg([reply], [(LVL, IP_PKTINFO, pack("=I4s4s", 0, dst, ZERO4))], 0, src)
        n += 1
    except OSError:
        pass
PY

results="$work/results"
: > "$results"
responder=""
ans_port=""
start_responder() { # sets responder= to "nsd" or "python", started on $ans_port
  ans_port=$(free_udp_port)
  local a1 aN
  a1=$(addr_of 128 1); aN=$(addr_of 128 "$1")
  if [ "$RESPONDER" != python ]; then
    write_nsd_conf "$work" example.cn "port: $ans_port" "do-ip6: no"
    start_nsd "$work"
    for _ in $(seq 1 50); do answers_from 127.0.0.1 "$ans_port" >/dev/null 2>&1 && break; sleep 0.1; done
    echo "NSD on the wildcard (port $ans_port): does it answer from the queried address?"
    if answers_from "$a1" "$ans_port" && answers_from "$aN" "$ans_port"; then
      responder=nsd; echo "  yes: NSD (pid $nsd_pid) is the responder"; return 0
    fi
    echo "  no: NSD on the wildcard does not answer from the queried address"
    stop_pid "$nsd_pid"; nsd_pid=""
    if [ "$RESPONDER" = nsd ]; then echo "RESPONDER=nsd cannot serve the answering case" >&2; exit 1; fi
  fi
  local k
  for k in $(seq 1 "$RESPONDERS"); do
    python3 "$work/responder.py" "$ans_port" "$work/resp.$k" 2> "$work/resp.$k.err" &
    resp_pids+=($!)
  done
  for _ in $(seq 1 50); do answers_from "$a1" "$ans_port" >/dev/null 2>&1 && break; sleep 0.1; done
  if answers_from "$a1" "$ans_port" && answers_from "$aN" "$ans_port"; then
    responder=python
    echo "  python responder (pid ${resp_pids[*]}, port $ans_port) answers from the queried address"
  else
    echo "the python responder does not answer right:" >&2; cat "$work"/resp.*.err >&2; exit 1
  fi
}
responder_answered() { # answers so far (python: the stats files; nsd: unknown)
  if [ "$responder" = python ]; then cat "$work"/resp.[0-9]* 2>/dev/null | awk '{s+=$1} END{print s+0}'; else echo 0; fi
}
responder_ticks() {
  local s=0 p
  if [ "$responder" = python ]; then for p in "${resp_pids[@]}"; do s=$(( s + $(cpu_ticks "$p") )); done
  elif [ -n "$nsd_pid" ]; then s=$(cpu_ticks "$nsd_pid"); fi
  echo "$s"
}
metric_sum() { # sum of the samples of metric $1 in file $2 (optionally only lines matching $3)
  awk -v m="$1" -v f="${3:-}" 'index($0, m) == 1 { c = substr($0, length(m) + 1, 1); if ((c == "{" || c == " ") && (f == "" || index($0, f))) { s += $NF; n++ } } END { if (n) printf "%.0f\n", s; else print "-" }' "$2"
}
probes_in() { # probes recorded in metrics file $1: dnsgrade_probes_sent_total when present
  local s
  s=$(metric_sum dnsgrade_probes_sent_total "$1")
  if [ "$s" = "-" ]; then metric_sum dnsgrade_probes_total "$1"; else echo "$s"; fi
}

for n in $SIZES; do
  for case in $CASES; do
    case $case in
      dark) base=64; port=$(free_udp_port) ;;
      answering)
        base=128
        if [ -z "$responder" ]; then start_responder "$n"; fi
        answers_from "$(addr_of 128 "$n")" "$ans_port" || { echo "the responder does not answer $(addr_of 128 "$n")" >&2; exit 1; }
        port=$ans_port ;;
      *) echo "unknown case $case (dark, answering)" >&2; exit 64 ;;
    esac
    [ "$n" -le 4000000 ] || { echo "N=$n does not fit a /10" >&2; exit 64; }
    cfg="$work/scale-$n-$case.toml"
    python3 - "$cfg" "$work/state-$n-$case" "$n" "$PER_INST" "$base" "$port" "$INTERVAL" "$TIMEOUT" <<'PY'
import math, sys
cfg, state = sys.argv[1], sys.argv[2]
n, per, base, port, interval, timeout = (int(x) for x in sys.argv[3:9])
rate = n / interval
with open(cfg, "w") as f:
    f.write(f"""# generated by benches/scale.sh: {n} addresses, {math.ceil(n / per)} institutions, 1 SOA check, every {interval}s = {rate:.0f} probes/s
[daemon]
listen = "127.0.0.1:0"
state_dir = "{state}"
interval = "{interval}s"
timeout = "{timeout}s"
global_rate = {math.ceil(rate * 1.2)}
max_in_flight = {max(4096, math.ceil(rate * timeout * 1.2))}
""")
    i = 1
    for k in range(math.ceil(n / per)):
        f.write(f'\n[[institution]]\nname = "inst-{k:06d}"\ntier = 2\n')
        for s in range(1, per + 1):
            if i > n:
                break
            a = f"127.{base + (i >> 16)}.{(i >> 8) & 255}.{i & 255}"
            f.write(f'  [[institution.server]]\n  name = "ns{s}"\n  addresses = ["{a}:{port}"]\n')
            i += 1
        f.write('  [[institution.check]]\n  name = "example.cn"\n  type = "SOA"\n')
PY
    /usr/bin/time -f "%e %M" -o "$work/cc.time" "$BIN" check-config --config "$cfg" > "$work/cc.out" 2>&1 || {
      echo "check-config refused $cfg:" >&2; head -20 "$work/cc.out" >&2; exit 1; }
    planned=$(grep -Eo '^total: [0-9.]+' "$work/cc.out" | grep -Eo '[0-9.]+$')
    read -r cc_s cc_kb < "$work/cc.time"
    echo
    echo "== N=$n $case: $(grep -Ec '^  inst-' "$work/cc.out") institutions, planned $planned probes/s to port $port (check-config ${cc_s}s, $((cc_kb / 1024)) MiB)"
    mkdir -p "$work/state-$n-$case"
    t0=$(now)
    "$BIN" run --config "$cfg" > "$work/dg.out" 2> "$work/dg.err" &
    dg_pid=$!
    url=""
    for _ in $(seq 1 $(( START_TIMEOUT * 10 ))); do
      url=$(grep -Eo -m1 'http://[0-9.:]+' "$work/dg.out" 2>/dev/null || true)
      [ -n "$url" ] && break
      kill -0 "$dg_pid" 2>/dev/null || break
      sleep 0.1
    done
    if [ -z "$url" ]; then
      echo "dnsgrade did not start (N=$n $case); its stderr:" >&2; tail -40 "$work/dg.err" >&2; exit 1
    fi
    started=$(python3 -c "print(f'{$(now) - $t0:.1f}')")
    echo "dnsgrade (pid $dg_pid) on $url after ${started}s; running ${DURATION}s"
    sleep "$(( DURATION - MEASURE ))"
    r1=$(responder_answered); rc1=$(responder_ticks)
    a=$(now)
    # A scrape that fails or takes longer than SCRAPE_TIMEOUT is reported, not fatal.
    curl -sf --max-time "$SCRAPE_TIMEOUT" -o "$work/m1" "$url/metrics" || { echo "  GET /metrics failed or took over ${SCRAPE_TIMEOUT}s"; : > "$work/m1"; }
    b=$(now)
    sleep "$MEASURE"
    r2=$(responder_answered); rc2=$(responder_ticks)
    c=$(now)
    took=$(curl -sf --max-time "$SCRAPE_TIMEOUT" -o "$work/m2" -w '%{time_total}' "$url/metrics") || { echo "  GET /metrics failed or took over ${SCRAPE_TIMEOUT}s"; : > "$work/m2"; took=-1; }
    d=$(now)
    kill -0 "$dg_pid" 2>/dev/null || { echo "dnsgrade exited (N=$n $case); its stderr:" >&2; tail -40 "$work/dg.err" >&2; exit 1; }
    rss=$(awk '/^VmRSS/{print $2}' "/proc/$dg_pid/status")
    hwm=$(awk '/^VmHWM/{print $2}' "/proc/$dg_pid/status")
    fds=$(ls "/proc/$dg_pid/fd" | wc -l)
    threads=$(awk '/^Threads/{print $2}' "/proc/$dg_pid/status")
    cpu=$(cpu_ticks "$dg_pid")
    stop_pid "$dg_pid"; dg_pid=""
    p1=$(probes_in "$work/m1"); p2=$(probes_in "$work/m2")
    q1=$(metric_sum dnsgrade_probes_total "$work/m1"); q2=$(metric_sum dnsgrade_probes_total "$work/m2")
    lag=$(awk '/^dnsgrade_evaluation_lag_seconds /{print $2}' "$work/m2")
    inflight=$(awk '/^dnsgrade_probes_in_flight /{print $2}' "$work/m2")
    waiting=$(awk '/^dnsgrade_probes_waiting /{print $2}' "$work/m2")
    late=$(awk '/^dnsgrade_probes_late_total /{print $2}' "$work/m2")
    limited=$(awk '/^dnsgrade_probes_rate_limited_total /{print $2}' "$work/m2")
    stray=$(awk '/^dnsgrade_stray_replies_total /{print $2}' "$work/m2")
    rec=$(metric_sum dnsgrade_probes_total "$work/m2")
    ok=$(metric_sum dnsgrade_probes_total "$work/m2" 'outcome="ok"')
    tmo=$(metric_sum dnsgrade_probes_total "$work/m2" 'outcome="timeout"')
    bytes=$(stat -c %s "$work/m2")
    lines=$(wc -l < "$work/m2")
    python3 - "$n" "$case" "$planned" "$p1" "$p2" "$a" "$b" "$c" "$d" "$rss" "$hwm" "$fds" "$lag" "$inflight" "$took" "$bytes" \
        "$rec" "$ok" "$tmo" "$r1" "$r2" "$rc1" "$rc2" "$TCK" "$MEASURE" "$responder" "${waiting:--}" "${late:--}" "${limited:--}" \
        "${stray:--}" "$started" "$cpu" "$DURATION" "$lines" "$q1" "$q2" >> "$results" <<'PY'
import sys
v = sys.argv[1:]
n, case, planned = v[0], v[1], float(v[2])
num = lambda x: float(x) if x not in ("-", "") else None
p1, p2, q1, q2 = num(v[3]), num(v[4]), num(v[34]), num(v[35])
t1, t2 = (float(v[5]) + float(v[6])) / 2, (float(v[7]) + float(v[8])) / 2
rss, hwm, fds = int(v[9]) / 1024, int(v[10]) / 1024, v[11]
lag, inflight, took, size = v[12] or "-", v[13] or "-", float(v[14]), int(v[15]) / 2**20
rec = float(v[16]) if v[16] != "-" else 0
ok = float(v[17]) if v[17] != "-" else 0
tmo = float(v[18]) if v[18] != "-" else 0
r1, r2, rc1, rc2, tck, measure, responder = float(v[19]), float(v[20]), float(v[21]), float(v[22]), float(v[23]), float(v[24]), v[25]
waiting, late, limited, stray, started, cpu, duration, lines = v[26], v[27], v[28], v[29], v[30], float(v[31]), float(v[32]), v[33]
rate = lambda a, b: f"{(b - a) / (t2 - t1):.0f}" if a is not None and b is not None else "-"
pps, recorded = rate(p1, p2), rate(q1, q2)
pct = f"{float(pps) / planned * 100:.1f}" if pps != "-" else "-"
resp = "-"
if case == "answering" and responder == "python":
    resp = f"{(r2 - r1) / measure:.0f}/s@{(rc2 - rc1) / tck / measure * 100:.0f}%"
print("\t".join(str(x) for x in [
    n, case, f"{planned:.0f}", pps, pct, f"{rss:.1f}", f"{hwm:.1f}", fds, lag,
    inflight, f"{took:.3f}" if took >= 0 else "-", f"{size:.2f}" if took >= 0 else "-", f"{ok / rec * 100 if rec else 0:.1f}", f"{tmo / rec * 100 if rec else 0:.1f}",
    resp, waiting, late, limited, stray, started, f"{cpu / tck / duration * 100:.0f}", lines, recorded]))
PY
    IFS=$'\t' read -r _ _ pl ach pct rss hwm fds lag inf took size okp tmop resp waiting late limited stray st cpup lines recd < <(tail -1 "$results")
    echo "  achieved $ach probes/s of $pl configured ($pct%) over the last ${MEASURE}s (recorded: $recd/s); outcomes: ok $okp%, timeout $tmop%"
    echo "  RSS $rss MiB (peak $hwm MiB), $fds open fds, $threads threads, ${cpup}% of one core on average since start"
    echo "  evaluation lag ${lag}s, in flight $inf, waiting $waiting, late $late, rate-limited $limited, stray replies $stray"
    echo "  GET /metrics: ${took}s, $size MiB, $lines lines"
    [ "$resp" = "-" ] || echo "  responder: $resp answers/s at that share of one core (summed over $RESPONDERS process(es))"
    rm -f "$work/m1" "$work/m2"
    rm -rf "$work/state-$n-$case"
  done
done

echo
python3 - "$results" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
h = ["N", "case", "planned/s", "achieved/s", "%", "recorded/s", "RSS MiB", "peak MiB", "fds", "eval lag s", "in flight",
     "metrics s", "metrics MiB", "ok %", "timeout %", "responder", "start s", "CPU %"]
keep = [0, 1, 2, 3, 4, 22, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 19, 20]
w = [max(len(h[i]), *(len(r[k]) for r in rows)) for i, k in enumerate(keep)]
print("  ".join(x.rjust(w[i]) for i, x in enumerate(h)))
for r in rows:
    print("  ".join(r[k].rjust(w[i]) for i, k in enumerate(keep)))
PY
