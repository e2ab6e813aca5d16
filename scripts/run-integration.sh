#!/bin/sh
# Runs the pytest integration suite (tests/integration) against a real
# yubin binary: $YUBIN, default bin/yubin. Uses Debian's /usr/bin/python3
# (pytest, aiosmtpd, dnspython are installed there, not in pyenv's python3).
# The exit status is pytest's: 0 all passed, 1 failures, 5 no tests ran
# (also a failure), anything else an error. Extra arguments go to pytest.
set -u
cd "$(dirname "$0")/.." || exit 2
: "${YUBIN:=$(pwd)/bin/yubin}"
export YUBIN
export PYTHONDONTWRITEBYTECODE=1
if [ ! -x "$YUBIN" ]; then
    echo "run-integration: no executable yubin at $YUBIN (run make, or set YUBIN)" >&2
    exit 2
fi
/usr/bin/python3 -m pytest tests/integration -q -p no:cacheprovider "$@"
rc=$?
[ "$rc" -eq 5 ] && echo "run-integration: pytest collected no tests" >&2
exit "$rc"
