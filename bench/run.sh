#!/usr/bin/env bash
# make bench: sealpost's own figures, then the side-by-side run against
# Postfix and OpenSMTPD (issue 8) that writes bench/RESULTS.md. Loopback only,
# every step bounded. BENCH_QUICK=1: one round, fewer loads and a smaller
# flood, results to bench/work/RESULTS-quick.md (RESULTS.md is left alone).
# BENCH_ROUNDS=N (default 3) rounds for the full run.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=${BENCH_QUICK:-0}
rounds=${BENCH_ROUNDS:-3}
bash scripts/deps.sh bench >/dev/null
make -s all build/tls_load
work=$PWD/bench/work
mkdir -p "$work"
# Postfix and OpenSMTPD: apt-get download + dpkg -x under bench/work/root
bash bench/incumbents.sh "$work"
bin=$PWD/build/sealpost
py=/usr/bin/python3
dir=$(mktemp -d /tmp/sealpost-bench-XXXXXX)
chmod 755 "$dir"
port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
p25=$(port) p587=$(port) p465=$(port) pdns=$(port)
# Every bench server asks this local DNS server (no names: NXDOMAIN for all),
# never the machine's resolver; bench/checks_cost.py starts its own.
: >"$dir/empty.zone"
"$py" tests/integration/dnsserver.py --port "$pdns" --zone "$dir/empty.zone" >/dev/null 2>&1 &
dnspid=$!
trap 'kill "$dnspid" 2>/dev/null || true' EXIT
"$bin" init "$dir" --hostname mx.bench.test --domain bench.test --listen 127.0.0.1 \
	--smtp-port "$p25" --submission-port "$p587" --submissions-port "$p465" >/dev/null
printf 'bench-password\n' | "$bin" user -c "$dir/sealpost.conf" add bob@bench.test >/dev/null
# The abuse limits (issue 7) would throttle the load clients; the bench raises
# them. Added only if this build's `check` accepts the block, so the bench also
# runs on builds from before the limits grammar.
limits_block="resolver 127.0.0.1:$pdns"'
limits {
    max-connections 20000
    max-connections-per-ip 20000
    max-connections-per-net 20000
    connection-rate off
    pregreet off
    messages-per-session 100000
    recipient-rate off
}'
{ cat "$dir/sealpost.conf"; printf '%s\n' "$limits_block"; } >"$dir/limits-probe.conf"
printf '%s\n' "$limits_block" >"$work/limits.conf" # compare.py adds the same block
if "$bin" check -c "$dir/limits-probe.conf" >/dev/null 2>&1; then
	printf '%s\n' "$limits_block" >>"$dir/sealpost.conf"
	echo "== limits raised for the bench (limits block in $dir/sealpost.conf)"
else
	echo "== this build does not accept the limits block: running with its default limits"
fi
rm -f "$dir/limits-probe.conf"
# Descriptors: the flood holds $flood connections in the server and in the
# client; raise the hard limit if we may (root), then the soft one to it.
if [ "$quick" = 1 ]; then flood=${FLOOD:-2000}; else flood=${FLOOD:-10000}; fi
[ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -ge $((flood + 1000)) ] ||
	ulimit -Hn $((flood + 1000)) 2>/dev/null || true
ulimit -Sn "$(ulimit -Hn)"
"$bin" serve -c "$dir/sealpost.conf" -f 2>"$dir/server.log" &
pid=$!
trap 'kill "$pid" "$dnspid" 2>/dev/null; wait "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
	"$py" -c "import socket; socket.create_connection(('127.0.0.1', $p25), 1)" 2>/dev/null && break
	sleep 0.1
done
# First, on the fresh server, so the memory figure is not flattered by heap
# left over from the other steps. Its extra client delivers one message to bob.
echo "== connection flood: $flood idle plaintext connections held at once (bench/conn_flood.py)"
timeout 300 "$py" bench/conn_flood.py "$p25" "$pid" --connections "$flood" --max-seconds 120 \
	--rcpt bob@bench.test || echo "conn_flood.py failed (exit $?)"
echo "== plaintext, 1 KB, accepted and delivered (bench/smtp_load.py)"
if [ "$quick" = 1 ]; then own_sessions="1 10"; else own_sessions="1 10 50"; fi
for s in $own_sessions; do
	printf 'sessions=%-3s ' "$s"
	"$py" bench/smtp_load.py 127.0.0.1 "$p25" --sessions "$s" --messages $((s * 100 > 400 ? s * 100 : 400)) \
		--rcpt bob@bench.test --max-seconds 60
done
echo "== TLS on $p465 and idle plaintext on $p25 (bench/tls_figures.py)"
"$py" bench/tls_figures.py "$p465" "$pid" --handshakes 500 --idle 2000 --plain "$p25"
for _ in $(seq 100); do
	[ -z "$(ls -A "$dir/spool/queue")" ] && break
	sleep 0.1
done
echo "== delivered files: $(ls "$dir/mail/bench.test/bob/new" | wc -l) (one is the flood's extra client), left in queue: $(ls "$dir/spool/queue" | wc -l)"
# Stop this server before the side-by-side run: one heavy thing at a time.
kill "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
trap 'kill "$dnspid" 2>/dev/null || true' EXIT

echo "== sender checks (SPF, DKIM, DMARC) on vs off: plaintext 1 KB, 50 sessions (bench/checks_cost.py)"
if [ "$quick" = 1 ]; then cc_rounds=1 cc_msgs=1000; else cc_rounds=3 cc_msgs=3000; fi
timeout 900 "$py" bench/checks_cost.py "$bin" --sessions 50 --messages "$cc_msgs" --rounds "$cc_rounds" ||
	echo "checks_cost.py failed (exit $?)"

echo "== side by side: sealpost, Postfix, OpenSMTPD (bench/compare.py)"
if [ "$quick" = 1 ]; then
	results=$work/RESULTS-quick.md
	set -- --quick
else
	results=$PWD/bench/RESULTS.md
	set -- --rounds "$rounds"
fi
timeout 1500 "$py" bench/compare.py --work "$work" --sealpost "$bin" --sealpost-extra "$work/limits.conf" \
	--results "$results" "$@"
