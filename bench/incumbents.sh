#!/usr/bin/env bash
# Fetch Postfix and OpenSMTPD from Debian and unpack them under bench/work/
# (apt-get download + dpkg -x: the MTA packages are never installed, they
# would conflict as the system MTA). Their shared-library dependencies are
# ordinary Debian library packages and are installed with apt-get if missing
# (libraries only, no MTA). Creates the system users both need, and one
# mailbox user, spbench, for the local deliveries of Postfix and OpenSMTPD.
# Idempotent: skips what is already there. Usage: bench/incumbents.sh WORKDIR
set -euo pipefail
work=${1:?usage: incumbents.sh WORKDIR}
mkdir -p "$work/debs" "$work/root"
chmod 755 "$work" "$work/root"

# Library packages the two need (apt-cache depends postfix opensmtpd, less
# the MTA-level ones: debconf, adduser, ssl-cert, netbase, ...).
libs="libdb5.3 libicu72 libnsl2 libsasl2-2 libssl3 libevent-2.1-7 libpam0g zlib1g libcrypt1"
missing=""
for p in $libs; do
	dpkg-query -W -f '${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "== installing library packages (not the MTAs):$missing"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

for pkg in postfix opensmtpd; do
	if ! ls "$work/debs/${pkg}_"*.deb >/dev/null 2>&1; then
		echo "== apt-get download $pkg"
		if ! (cd "$work/debs" && apt-get download "$pkg" >/dev/null 2>&1); then
			apt-get update -qq
			(cd "$work/debs" && apt-get download "$pkg" >/dev/null 2>&1)
		fi
	fi
	deb=$(ls "$work/debs/${pkg}_"*.deb | head -n 1)
	stamp="$work/root/.unpacked-$(basename "$deb")"
	if [ ! -e "$stamp" ]; then
		echo "== dpkg -x $(basename "$deb") $work/root"
		dpkg -x "$deb" "$work/root"
		touch "$stamp"
	fi
done

# System users: Postfix runs its daemons as mail_owner (postfix) and wants a
# postdrop group; Debian's OpenSMTPD drops to opensmtpd and opensmtpq
# (upstream's _smtpd/_smtpq); spbench owns the
# Maildir the incumbents deliver to (local delivery runs as the recipient).
getent group postdrop >/dev/null || groupadd --system postdrop
getent group postfix >/dev/null || groupadd --system postfix
getent passwd postfix >/dev/null ||
	useradd --system -g postfix -d /nonexistent -M -s /usr/sbin/nologin postfix
for u in opensmtpd opensmtpq; do
	getent passwd "$u" >/dev/null || useradd --system -U -d /nonexistent -M -s /usr/sbin/nologin "$u"
done
getent passwd spbench >/dev/null || useradd --system -U -d /nonexistent -M -s /bin/sh spbench
exit 0
