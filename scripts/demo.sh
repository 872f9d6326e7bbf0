#!/usr/bin/env bash
# make demo: a self-contained server under ./demo on 127.0.0.1 high ports.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/build/sealpost
dir=$PWD/demo
port=${SEALPOST_DEMO_PORT:-2525}

if [ ! -f "$dir/sealpost.conf" ]; then
	"$bin" init "$dir" --hostname mx.demo.test --domain demo.test --listen 127.0.0.1 \
		--smtp-port "$port" --submission-port $((port + 62)) --submissions-port $((port + 40))
	# The server drops privileges when started as root: let its users reach ./demo.
	chmod 755 "$dir"
	printf 'demo-password\n' | "$bin" user -c "$dir/sealpost.conf" add alice@demo.test
fi
cat <<MSG

sealpost demo: listening on 127.0.0.1:$port, domain demo.test, user alice@demo.test
Send it a message from another terminal, e.g.:

  swaks --server 127.0.0.1:$port --to alice@demo.test --from you@example.org
  printf 'Subject: hi\n\nhello\n' | $bin send -c $dir/sealpost.conf alice@demo.test

and read it in $dir/mail/demo.test/alice/new/ . The first connection from an
address waits 3 s for the banner (the pregreet test: a client that talks
before it is dropped); later ones do not. Stop the server with Ctrl-C.

MSG
exec "$bin" serve -c "$dir/sealpost.conf" -f
