#!/usr/bin/env bash
# Install what sealpost needs on Debian 12, only when missing, and create
# the two system users the server drops privileges to.
#   scripts/deps.sh build   compiler and libraries
#   scripts/deps.sh test    build + test tools (pytest, aiosmtpd, swaks, cmocka)
#   scripts/deps.sh fuzz    build + clang/libFuzzer
#   scripts/deps.sh bench   test + GnuTLS for the bench's STARTTLS client
set -euo pipefail

what=${1:-build}
pkgs=(gcc make pkg-config libc6-dev libssl-dev libevent-dev libcrypt-dev libunbound-dev libhiredis-dev libcurl4-openssl-dev openssl ca-certificates dns-root-data publicsuffix)
test_pkgs=(libcmocka-dev python3 python3-pytest python3-aiosmtpd python3-dnslib redis-server swaks libnet-ssleay-perl procps ldnsutils python3-spf python3-dkim python3-nacl)
case "$what" in
build) ;;
test) pkgs+=("${test_pkgs[@]}") ;;
fuzz) pkgs+=(clang libclang-rt-14-dev) ;;
bench) pkgs+=("${test_pkgs[@]}" libgnutls28-dev) ;;
*) echo "usage: $0 build|test|fuzz|bench" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "deps: missing Debian packages: ${missing[*]} (run as root to install them)" >&2
		exit 1
	fi
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The SMTP workers run as _sealpost, the queue and delivery as _sealpostq.
if [ "$(id -u)" = 0 ]; then
	for u in _sealpost _sealpostq; do
		if ! getent passwd "$u" >/dev/null; then
			useradd --system --no-create-home --home-dir /nonexistent \
				--shell /usr/sbin/nologin "$u"
			echo "deps: created system user $u"
		fi
	done
fi
