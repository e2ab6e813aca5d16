"""Fixtures for the integration suite: every test drives the REAL daemon
($YUBIN, default bin/yubin) started in its own temp dir, with clients
nobody here wrote (smtplib, swaks, curl, bsd-mailx, pflogsumm) or a raw
socket client when the exact bytes matter.

Temp dirs come from mkdtemp under /tmp with mode 0755 (not pytest's
tmp_path, whose parents are 0700). Set YUBIN_KEEP=1 to keep them.
"""
import os
import shutil
import signal
import subprocess

import pytest

from helpers.daemon import YUBIN, Yubin, mkdir_0755

TEST_DEADLINE = 90   # seconds; a hung test fails instead of hanging the suite


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture(autouse=True)
def _deadline():
    def expired(signum, frame):
        raise TimeoutError("test exceeded %d s" % TEST_DEADLINE)
    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(TEST_DEADLINE)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.fixture
def yubin_factory(request):
    """make(start=True, **params) -> a Yubin with its own dir, port and
    queue; params override the defaults in helpers/daemon.py (None drops
    one). Every daemon is stopped at the end; a bad exit status or a
    sanitizer report fails the test."""
    made = []

    def make(start=True, **params):
        y = Yubin(mkdir_0755("yubin-itest."), params)
        made.append(y)
        if start:
            y.start()
        return y

    yield make
    problems = []
    for y in made:
        y.stop()
        problems.extend(y.problems)
        failed = any(getattr(request.node, "rep_" + w, None) is not None and getattr(request.node, "rep_" + w).failed
                     for w in ("setup", "call"))
        if failed:
            print("\n=== %s (port %d)\n--- yubin.conf:\n%s\n%s" % (y.dir, y.port, open(y.conf).read(), y.diag()))
        if not os.environ.get("YUBIN_KEEP"):
            shutil.rmtree(y.dir, ignore_errors=True)
    if problems:
        pytest.fail("\n".join(problems))


@pytest.fixture
def yubin(yubin_factory):
    return yubin_factory()


@pytest.fixture(scope="session")
def tls_cert():
    """(cert, key): self-signed for localhost, mx.example.test and 127.0.0.1."""
    d = mkdir_0755("yubin-itest-tls.")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
                    "-keyout", key, "-out", cert, "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,DNS:mx.example.test,IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=30)
    os.chmod(cert, 0o644)
    os.chmod(key, 0o600)
    yield cert, key
    shutil.rmtree(d, ignore_errors=True)


def pytest_report_header(config):
    return "yubin under test: %s%s" % (YUBIN, "" if os.access(YUBIN, os.X_OK) else " (MISSING)")

