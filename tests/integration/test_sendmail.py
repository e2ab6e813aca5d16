"""The sendmail command line (the same binary through a symlink named
"sendmail", config from YUBIN_CONFIG), invoked the way real programs invoke
it (conventions.md 1.1): bsd-mailx, PHP's mail(), mutt, git, cron, and
Symfony's -bs. Mail goes through maildrop/ and the daemon's pickup."""
import email.utils
import os
import pwd
import re
import select
import subprocess
import time

import pytest

from helpers import mailq
from helpers.daemon import QID_RE

ME = pwd.getpwuid(os.geteuid()).pw_name
UID = os.geteuid()


def ok(r):
    assert r.returncode == 0, "sendmail exited %d: %s" % (r.returncode, r.stderr.decode(errors="replace"))


def subject_is(s):
    return lambda qf: qf.header("Subject") == [s]


def test_bsd_mailx(yubin):
    mailrc = os.path.join(yubin.dir, "mailrc")
    with open(mailrc, "w") as f:
        f.write("set sendmail=%s\n" % yubin.link("sendmail"))
    r = subprocess.run(["mail", "-n", "-s", "mailx subject", "-r", "sender@client.test", "-c", "cc@mx.example.test",
                        "rcpt@mx.example.test", "other@mx.example.test"], input=b"body from mailx\n",
                       env=yubin.env(HOME=yubin.dir, MAILRC=mailrc), capture_output=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not os.path.exists(os.path.join(yubin.dir, "dead.letter"))
    qid, qf = yubin.wait_message(subject_is("mailx subject"))
    assert qf.sender == "sender@client.test"
    assert sorted(qf.addrs) == ["cc@mx.example.test", "other@mx.example.test", "rcpt@mx.example.test"]
    [mid] = qf.header("Message-Id")
    assert re.fullmatch(r"<\d{14}\.%s@mx\.example\.test>" % qid, mid), mid
    [date] = qf.header("Date")
    assert email.utils.parsedate_to_datetime(date) is not None
    assert qf.content.endswith(b"\r\n\r\nbody from mailx\r\n")
    yubin.wait_log(r"yubin/pickup\[\d+\]: %s: uid=%d from=<sender@client\.test>$" % (qid, UID))
    yubin.wait_log(r"yubin/cleanup\[\d+\]: %s: message-id=%s$" % (qid, re.escape(mid)))


def test_php_t_i(yubin):
    msg = (b"To: a@mx.example.test, B <b@mx.example.test>\nCc: c@mx.example.test\nBcc: d@mx.example.test\n"
           b"Subject: php\n\nbody\n.\nmore\n")
    ok(yubin.sendmail("-t", "-i", input=msg))
    qid, qf = yubin.wait_message(subject_is("php"))
    assert sorted(qf.addrs) == ["a@mx.example.test", "b@mx.example.test", "c@mx.example.test", "d@mx.example.test"]
    assert qf.sender == "%s@example.test" % ME
    assert qf.header("Bcc") == [], "Bcc: header kept"
    assert qf.content.endswith(b"\r\n\r\nbody\r\n.\r\nmore\r\n")
    assert qf.header("Message-Id") and qf.header("Date")


def test_crlf_input_not_doubled(yubin):
    ok(yubin.sendmail("-t", "-i", input=b"To: a@mx.example.test\r\nSubject: crlf\r\n\r\nline\r\n"))
    _, qf = yubin.wait_message(subject_is("crlf"))
    assert b"\r\r\n" not in qf.content
    assert b"Subject: crlf\r\n" in qf.content
    assert qf.content.endswith(b"\r\n\r\nline\r\n")


def test_mutt_style(yubin):
    msg = b"From: me@client.test\nTo: a@mx.example.test\nSubject: mutt\n\nhi\n"
    ok(yubin.sendmail("-oem", "-oi", "-f", "me@client.test", "-N", "failure,delay", "-R", "hdrs", "--",
                      "a@mx.example.test", "b@elsewhere.test", input=msg))
    _, qf = yubin.wait_message(subject_is("mutt"))
    assert qf.sender == "me@client.test"
    assert qf.addrs == ["a@mx.example.test", "b@elsewhere.test"]
    assert [r.notify for r in qf.rcpts] == [4 | 8, 4 | 8]
    assert qf.header("From") == ["me@client.test"]


def test_git_style_without_double_dash(yubin):
    ok(yubin.sendmail("-i", "-f", "dev@client.test", "a@mx.example.test", "b@mx.example.test",
                      input=b"Subject: git\n\npatch\n"))
    _, qf = yubin.wait_message(subject_is("git"))
    assert qf.sender == "dev@client.test"
    assert qf.addrs == ["a@mx.example.test", "b@mx.example.test"]


def test_cron_style(yubin):
    msg = b"To: root\nSubject: Cron <root@host> run-parts\n\noutput line\n"
    ok(yubin.sendmail("-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root", input=msg))
    _, qf = yubin.wait_message(subject_is("Cron <root@host> run-parts"))
    assert qf.addrs == ["root@example.test"], "unqualified recipient not qualified with myorigin"
    assert qf.sender == "%s@example.test" % ME
    assert qf.header("From") == ["CronDaemon <%s@example.test>" % ME]


def test_full_name_does_not_replace_existing_from(yubin):
    ok(yubin.sendmail("-F", "Ignored Name", "-f", "x@client.test", "a@mx.example.test",
                      input=b"From: Real <real@client.test>\nSubject: fromkept\n\nx\n"))
    _, qf = yubin.wait_message(subject_is("fromkept"))
    assert qf.header("From") == ["Real <real@client.test>"]


def test_dot_line_ends_input_without_i(yubin):
    ok(yubin.sendmail("a@mx.example.test", input=b"Subject: dotend\n\nbefore\n.\nafter\n"))
    _, qf = yubin.wait_message(subject_is("dotend"))
    assert qf.content.endswith(b"\r\n\r\nbefore\r\n")


def test_dsn_flags(yubin):
    ok(yubin.sendmail("-N", "success,delay", "-R", "hdrs", "-V", "env42", "-f", "d@client.test", "a@mx.example.test",
                      input=b"Subject: dsnflags\n\nx\n"))
    _, qf = yubin.wait_message(subject_is("dsnflags"))
    assert qf.attrs.get("envid") == "env42"
    assert qf.attrs.get("ret", "").lower() in ("hdrs", "2")
    assert qf.rcpts[0].notify == 2 | 8


def read_reply(proc, timeout=5.0):
    """One SMTP reply from the -bs child's stdout: (code, [lines])."""
    lines, deadline = [], time.monotonic() + timeout
    while True:
        buf = b""
        while not buf.endswith(b"\n"):
            left = deadline - time.monotonic()
            assert left > 0, "no reply from sendmail -bs; so far %r %r" % (lines, buf)
            r, _, _ = select.select([proc.stdout], [], [], left)
            if r:
                ch = os.read(proc.stdout.fileno(), 1)
                assert ch, "sendmail -bs closed stdout; so far %r %r" % (lines, buf)
                buf += ch
        assert buf.endswith(b"\r\n"), "-bs reply line without CRLF: %r" % buf
        lines.append(buf.decode())
        if buf[3:4] == b" ":
            return int(buf[:3]), lines


def test_bs_dialogue(yubin):
    p = subprocess.Popen([yubin.link("sendmail"), "-bs"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=yubin.env())
    try:
        def say(line):
            p.stdin.write(line + b"\r\n")
            p.stdin.flush()
            return read_reply(p)
        code, lines = read_reply(p)
        assert code == 220 and lines[0].startswith("220 mx.example.test ESMTP"), lines
        code, lines = say(b"EHLO app.client.test")
        assert code == 250
        assert say(b"MAIL FROM:<app@client.test>")[0] == 250
        assert say(b"RCPT TO:<a@mx.example.test>")[0] == 250
        assert say(b"RCPT TO:<b@elsewhere.test>")[0] == 250, "local -bs submission must be trusted"
        assert say(b"DATA")[0] == 354
        code, lines = say(b"Subject: bs\r\n\r\n..dot\r\nbody\r\n.")
        assert code == 250 and re.search(r"queued as %s" % QID_RE, lines[-1]), lines
        code, lines = say(b"QUIT")
        assert code == 221
        assert p.wait(10) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    _, qf = yubin.wait_message(subject_is("bs"))
    assert qf.sender == "app@client.test"
    assert qf.addrs == ["a@mx.example.test", "b@elsewhere.test"]
    assert qf.content.endswith(b"\r\n\r\n.dot\r\nbody\r\n")


@pytest.mark.parametrize("args,data", [
    ([], b"Subject: norcpt\n\nx\n"),
    (["-Y", "a@mx.example.test"], b"Subject: badflag\n\nx\n"),
    (["-t"], b"Subject: no header recipients\n\nx\n"),
    (["-B", "9BITMIME", "a@mx.example.test"], b"Subject: badbody\n\nx\n"),
], ids=["no-recipients", "bad-flag", "t-without-recipients", "bad-B"])
def test_usage_errors_exit_64(yubin, args, data):
    r = yubin.sendmail(*args, input=data)
    assert r.returncode == 64, "exit %d, stderr %r" % (r.returncode, r.stderr)
    assert r.stderr.strip(), "no error message on stderr"
    time.sleep(0.3)
    assert yubin.queue_ids("maildrop") == [] and yubin.queue_ids() == []


def test_works_while_daemon_is_down(yubin):
    yubin.stop()
    yubin.check_problems()
    ok(yubin.sendmail("-f", "offline@client.test", "a@mx.example.test", input=b"Subject: offline\n\nqueued later\n"))
    assert len(yubin.queue_ids("maildrop")) == 1, "no file in maildrop/"
    assert yubin.queue_ids() == []
    yubin.start()
    qid, qf = yubin.wait_message(subject_is("offline"))
    assert qf.sender == "offline@client.test"
    yubin.wait_log(r"yubin/pickup\[\d+\]: %s: uid=%d from=<offline@client\.test>$" % (qid, UID))
    deadline = time.monotonic() + 5
    while yubin.queue_ids("maildrop") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert yubin.queue_ids("maildrop") == [], "maildrop file not removed after pickup"
    assert list(yubin.mailq()) == [qid]


def test_bp_is_mailq(yubin):
    ok(yubin.sendmail("-f", "bp@client.test", "a@mx.example.test", input=b"Subject: bp\n\nx\n"))
    qid, _ = yubin.wait_message(subject_is("bp"))
    r = yubin.sendmail("-bp")
    ok(r)
    assert r.stdout.decode() == yubin.mailq_text()
    entry = mailq.parse(r.stdout.decode())[qid]
    assert entry.sender == "bp@client.test" and entry.rcpts == ["a@mx.example.test"]


def test_config_via_C(yubin):
    env = dict(os.environ)
    env.pop("YUBIN_CONFIG", None)
    ok(yubin.sendmail("-C", yubin.conf, "-f", "c@client.test", "a@mx.example.test",
                      input=b"Subject: dashC\n\nx\n", env=env))
    yubin.wait_message(subject_is("dashC"))


def test_q_flush_with_daemon(yubin):
    ok(yubin.sendmail("-q"))
