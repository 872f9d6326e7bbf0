#!/usr/bin/env bash
# make bench: sealpost's own figures on this machine (loopback only, bounded).
# The side-by-side comparison with Postfix and OpenSMTPD is issue 8's harness
# and is not here yet; these are the numbers quoted in the closing notes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh test >/dev/null
make -s all
bin=$PWD/build/sealpost
py=/usr/bin/python3
dir=$(mktemp -d /tmp/sealpost-bench-XXXXXX)
chmod 755 "$dir"
port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
p25=$(port) p587=$(port) p465=$(port)
"$bin" init "$dir" --hostname mx.bench.test --domain bench.test --listen 127.0.0.1 \
	--smtp-port "$p25" --submission-port "$p587" --submissions-port "$p465" >/dev/null
printf 'bench-password\n' | "$bin" user -c "$dir/sealpost.conf" add bob@bench.test >/dev/null
"$bin" serve -c "$dir/sealpost.conf" -f 2>"$dir/server.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
	"$py" -c "import socket; socket.create_connection(('127.0.0.1', $p25), 1)" 2>/dev/null && break
	sleep 0.1
done
echo "== plaintext, 1 KB, accepted and delivered (bench/smtp_load.py)"
for s in 1 10 50; do
	printf 'sessions=%-3s ' "$s"
	"$py" bench/smtp_load.py 127.0.0.1 "$p25" --sessions "$s" --messages $((s * 100 > 400 ? s * 100 : 400)) \
		--rcpt bob@bench.test --max-seconds 60
done
echo "== TLS on $p465 and idle plaintext on $p25 (bench/tls_figures.py)"
ulimit -n 8192
"$py" bench/tls_figures.py "$p465" "$pid" --handshakes 500 --idle 2000 --plain "$p25"
for _ in $(seq 100); do
	[ -z "$(ls -A "$dir/spool/queue")" ] && break
	sleep 0.1
done
echo "== delivered files: $(ls "$dir/mail/bench.test/bob/new" | wc -l), left in queue: $(ls "$dir/spool/queue" | wc -l)"
