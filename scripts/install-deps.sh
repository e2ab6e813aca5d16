#!/bin/sh
# Installs what yubin needs on Debian 12: build dependencies, and with
# "--test" the test peers too. Never starts a daemon: a policy-rc.d that
# denies every start is put in place first (and left in place only if we
# created it and the caller asks to keep it; by default it stays, which is
# what a build or CI machine wants).
#
# Usage: scripts/install-deps.sh [--test]
set -eu

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

build_pkgs="build-essential pkg-config clang libevent-dev libc-ares-dev libssl-dev libcmocka-dev openssl"
test_pkgs="python3 python3-pytest python3-aiosmtpd python3-dnspython swaks libnet-ssleay-perl libio-socket-ssl-perl curl bsd-mailx postfix pflogsumm dnsmasq-base procmail fetchmail dovecot-core dovecot-pop3d dovecot-imapd haproxy libclang-rt-14-dev"

missing() {
    for p in "$@"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' || echo "$p"
    done
}

pkgs="$build_pkgs"
[ "$want_test" = 1 ] && pkgs="$pkgs $test_pkgs"
todo=$(missing $pkgs)
[ -z "$todo" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages: $todo" >&2
    echo "install-deps: run as root (or install them yourself)" >&2
    exit 1
fi

# No daemon we install may start (dovecot, postfix, haproxy ...).
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
fi
# Without this, postfix's postinst writes an "Internet Site" /etc/postfix/main.cf.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# postfix must come in the same command as bsd-mailx, or apt picks exim4.
apt-get install -y -qq --no-install-recommends $todo >/dev/null
