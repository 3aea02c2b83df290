#!/usr/bin/env bash
# dnsgrade sweep against dnsperf on the same NSD node (loopback only).
#
# Installs nsd, dnsperf and time from Debian, generates a synthetic cn. zone of N delegations
# (default 1,000,000), serves it from one NSD on 127.0.1.1 (one server process), and measures in
# the same run: dnsperf's q/s with the same names, and `dnsgrade sweep` verifying every answer.
# Prints both q/s, their ratio, client CPU seconds per million queries (user + sys), and peak RSS.
#
#   bash benches/sweep-vs-dnsperf.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
PORT=${PORT:-5353}
ADDR=127.0.1.1
. benches/lib.sh
install_missing nsd:nsd dnsperf:dnsperf /usr/bin/time:time
BIN=${CARGO_TARGET_DIR:-target}/release/dnsgrade
cargo build --release --quiet
[ -x "$BIN" ] || { echo "no $BIN after the build" >&2; exit 1; }
work=$(mktemp -d)
nsd_pid=""
cleanup() {
  stop_pid "$nsd_pid"
  rm -rf "$work"
}
trap cleanup EXIT

echo "generating cn. with $N delegations in $work"
python3 - "$N" "$work" <<'PY'
import sys
n, d = int(sys.argv[1]), sys.argv[2]
with open(f"{d}/cn.zone", "w") as z, open(f"{d}/queries", "w") as q:
    z.write("$ORIGIN cn.\n$TTL 86400\n@ IN SOA a.dns.cn. hostmaster.cn. 2026112201 7200 3600 2419200 21600\n@ IN NS a.dns.cn.\na.dns IN A 127.0.1.1\n")
    for i in range(n):
        z.write(f"d{i} IN NS ns1.d{i}\nd{i} IN NS ns2.d{i}.example.net.\nns1.d{i} IN A 127.1.{i // 256 % 256}.{i % 256}\n")
        q.write(f"d{i}.cn NS\n")
PY
write_nsd_conf "$work" cn "ip-address: $ADDR@$PORT"
start_nsd "$work"
# Ready when one SOA query is answered (-n 1: the input once; dnsperf cannot reread a pipe).
echo "cn SOA" > "$work/ready"
for _ in $(seq 1 600); do
  if dnsperf -s $ADDR -p $PORT -n 1 -t 1 -d "$work/ready" 2>/dev/null | grep -q "Queries completed: *[1-9]"; then break; fi
  sleep 1
done
echo "NSD (pid $nsd_pid) serves cn. on $ADDR:$PORT"

measure() { # prints "user sys maxrss_kb" of the command
  /usr/bin/time -f "%U %S %M" -o "$work/time" "$@" > "$work/out" 2>&1 || true
  cat "$work/time"
}
echo "dnsperf: every name once, 100 outstanding queries"
read -r pu ps prss < <(measure dnsperf -s $ADDR -p $PORT -d "$work/queries" -n 1 -q 100 -c 1 -T 1)
pqps=$(grep -Eo "Queries per second: *[0-9.]+" "$work/out" | grep -Eo "[0-9.]+$")
pdone=$(grep -Eo "Queries completed: *[0-9]+" "$work/out" | grep -Eo "[0-9]+$")
echo "dnsgrade sweep: every name once, verifying every answer"
read -r gu gs grss < <(measure "$BIN" sweep --server $ADDR:$PORT --zone "$work/cn.zone" --rate 100000000 --concurrency 100 --timeout 2s --max-error-ratio 1)
gqps=$(grep -Eo "[0-9]+ q/s" "$work/out" | grep -Eo "^[0-9]+")
gdone=$(grep -Eo "swept [0-9]+" "$work/out" | grep -Eo "[0-9]+")
cat "$work/out" | head -4
python3 - "$pqps" "$pdone" "$pu" "$ps" "$prss" "$gqps" "$gdone" "$gu" "$gs" "$grss" <<'PY'
import sys
pq, pn, pu, ps, prss, gq, gn, gu, gs, grss = sys.argv[1:]
pq, pn, gq, gn = float(pq), float(pn), float(gq), float(gn)
pcpu = (float(pu) + float(ps)) / pn * 1e6
gcpu = (float(gu) + float(gs)) / gn * 1e6
print(f"dnsperf:        {pq:10.0f} q/s  {pcpu:6.2f} CPU s per million queries  peak RSS {int(prss)/1024:7.1f} MiB")
print(f"dnsgrade sweep: {gq:10.0f} q/s  {gcpu:6.2f} CPU s per million queries  peak RSS {int(grss)/1024:7.1f} MiB")
print(f"ratio q/s dnsgrade/dnsperf: {gq/pq:.3f} (target >= 0.9); CPU per query ratio: {gcpu/pcpu:.3f} (target <= 1.0); RSS target <= 300 MiB")
PY
