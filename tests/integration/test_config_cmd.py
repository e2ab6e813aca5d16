"""`yubin config` (like postconf) and configuration errors: non-default
values, defaults, unknown names with a suggestion, bad values naming file
and line (exit 78 = EX_CONFIG), and the embedded default used when there is
no configuration file at all."""
import os
import shutil
import signal
import smtplib
import subprocess
import time

import pytest

from helpers.daemon import YUBIN, listening, mkdir_0755, wait_listen


def line_of(path, name):
    with open(path) as f:
        for i, line in enumerate(f, 1):
            if line.startswith(name + " ="):
                return i
    raise AssertionError("%s not in %s" % (name, path))


def test_config_prints_non_default_values(yubin_factory):
    y = yubin_factory(start=False, smtpd_recipient_limit=77)
    r = y.run("config")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "myhostname = mx.example.test" in lines
    assert "smtpd_recipient_limit = 77" in lines
    assert "queue_directory = %s" % y.queue_dir in lines
    assert not [x for x in lines if x.startswith("message_size_limit =")], "default value printed: %r" % lines
    assert all(" = " in x for x in lines), lines


def test_config_default_value(yubin_factory):
    y = yubin_factory(start=False, message_size_limit=2048000)
    r = y.run("config", "-d", "message_size_limit")
    assert (r.returncode, r.stdout) == (0, "message_size_limit = 10240000\n"), (r.stdout, r.stderr)
    r = y.run("config", "message_size_limit")
    assert (r.returncode, r.stdout) == (0, "message_size_limit = 2048000\n"), (r.stdout, r.stderr)


def test_unknown_parameter_warns_with_suggestion(yubin_factory):
    y = yubin_factory(start=False, mesage_size_limit=100)
    r = y.run("config")
    assert r.returncode == 0, r.stderr
    assert "warning" in r.stderr and "mesage_size_limit" in r.stderr and "message_size_limit" in r.stderr, r.stderr
    # Still only a warning for the daemon.
    y.start()
    with y.smtp() as s:
        assert s.noop()[0] == 250


@pytest.mark.parametrize("value", ["lots", "-5", "99999999999999999999999"])
def test_bad_value_exits_78_naming_file_and_line(yubin_factory, value):
    y = yubin_factory(start=False, message_size_limit=value)
    n = line_of(y.conf, "message_size_limit")
    r = y.run("config")
    assert r.returncode == 78, (r.returncode, r.stderr)
    assert y.conf in r.stderr and ("line %d" % n) in r.stderr, r.stderr
    r = subprocess.run([YUBIN, "serve", "-c", y.conf], capture_output=True, text=True, timeout=30)
    assert r.returncode == 78, (r.returncode, r.stderr)
    assert y.conf in r.stderr + r.stdout
    assert not listening("127.0.0.1", y.port)


def test_expansion_loop_is_an_error(yubin_factory):
    y = yubin_factory(start=False, myorigin="$mydomain", mydomain="$myorigin")
    r = y.run("config")
    assert r.returncode == 78, (r.returncode, r.stderr)
    assert "myorigin" in r.stderr or "mydomain" in r.stderr, r.stderr


def test_embedded_default():
    if os.path.exists("/etc/yubin/yubin.conf"):
        pytest.skip("/etc/yubin/yubin.conf exists, the embedded default does not apply")
    if listening("127.0.0.1", 2525):
        pytest.skip("127.0.0.1:2525 is already in use")
    d = mkdir_0755("yubin-itest-embedded.")
    env = {k: v for k, v in os.environ.items() if k != "YUBIN_CONFIG"}
    env["HOME"] = d
    out_path = os.path.join(d, "out")
    with open(out_path, "wb") as out:
        p = subprocess.Popen([YUBIN, "serve"], cwd=d, env=env, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=subprocess.STDOUT)
    try:
        wait_listen("127.0.0.1", 2525, p, 10, lambda: open(out_path, errors="replace").read())
        deadline = time.monotonic() + 5
        while "127.0.0.1:2525" not in open(out_path, errors="replace").read():
            assert time.monotonic() < deadline, "serve does not say where it listens:\n%s" % open(out_path).read()
            time.sleep(0.05)
        assert os.path.isdir(os.path.join(d, "yubin-state")), os.listdir(d)
        with smtplib.SMTP("127.0.0.1", 2525, local_hostname="client.test", timeout=10) as s:
            s.ehlo()
            assert s.mail("me@client.test")[0] == 250
            assert s.rcpt("postmaster@localhost")[0] == 250
            code, text = s.data(b"Subject: embedded\r\n\r\nhello\r\n")
            assert code == 250, text
            qid = text.decode().rsplit(" ", 1)[-1]
            s.quit()
        state = os.path.join(d, "yubin-state")
        found = [os.path.join(top, qid) for top, _, files in os.walk(state) if qid in files]
        assert found, "queue file %s not under ./yubin-state: %r" % (qid, list(os.walk(state)))
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(d, ignore_errors=True)
    assert p.returncode in (0, -signal.SIGTERM), p.returncode
