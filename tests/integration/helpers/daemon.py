"""One real yubin daemon in its own temp dir: writes yubin.conf, starts
`$YUBIN serve -c CONF` in the foreground, waits for its listening socket
through /proc/net/tcp (no probe connection, so no stray "connect from" in
the log), and stops it with SIGTERM. Also the command-line side (queue,
config, the sendmail and mailq links) and readers for the queue and log.

Trusts: the binary under test is hostile to the extent that it may hang,
crash or lie; every wait has a deadline and every exit is checked.
"""
import os
import pwd
import re
import signal
import smtplib
import socket
import struct
import subprocess
import tempfile
import time

from helpers import mailq as mailq_mod
from helpers import queuefile
from helpers.rawsmtp import RawSMTP

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
YUBIN = os.path.abspath(os.environ.get("YUBIN") or os.path.join(REPO, "bin", "yubin"))
SANITIZER = re.compile(r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|ThreadSanitizer")
QID_RE = r"[0-9A-F]{6,20}"
QUEUED = re.compile(r"^2\.0\.0 Ok: queued as (%s)$" % QID_RE)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(ip, port):
    """Is ip:port in LISTEN state (read from /proc/net/tcp, no connection)?"""
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            local, state = parts[1], parts[3]
            if state != "0A":
                continue
            hexip, hexport = local.split(":")
            if int(hexport, 16) != port:
                continue
            addr = socket.inet_ntoa(struct.pack("<I", int(hexip, 16)))
            if addr in (ip, "0.0.0.0"):
                return True
    return False


def wait_listen(ip, port, proc=None, timeout=10.0, diag=lambda: ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if listening(ip, port):
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError("daemon exited with %s before listening on %s:%d\n%s"
                                 % (proc.returncode, ip, port, diag()))
        time.sleep(0.01)
    raise AssertionError("nothing listens on %s:%d after %.0fs\n%s" % (ip, port, timeout, diag()))


def mkdir_0755(prefix):
    """A fresh dir under /tmp, mode 0755 (pytest's tmp_path parents are 0700)."""
    d = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(d, 0o755)
    return d


def mail_owner():
    return "root" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name


def tail(path, n=40):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return "(no %s)" % path
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-n:])


class Yubin:
    """A daemon configuration in directory d; start()/stop() run it."""

    def __init__(self, d, params):
        self.dir = d
        self.port = free_port()
        self.conf = os.path.join(d, "yubin.conf")
        self.queue_dir = os.path.join(d, "queue")
        self.maillog = os.path.join(d, "maillog")
        self.proc = None
        self.runs = 0
        self.stderr_path = None
        self.problems = []
        self.params = {
            "myhostname": "mx.example.test",
            "mydomain": "example.test",
            "myorigin": "$mydomain",
            "mydestination": "$myhostname, localhost",
            "mynetworks": "127.0.0.1/32",
            "queue_directory": self.queue_dir,
            "maillog_file": self.maillog,
            "smtpd_listen": "127.0.0.1:%d" % self.port,
            "mail_owner": mail_owner(),
            "queue_run_delay": "1s",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
        }
        self.set(**params)

    # ---- configuration ----
    def set(self, **params):
        """Change parameters (None removes one) and rewrite the file."""
        for k, v in params.items():
            if v is None:
                self.params.pop(k, None)
            else:
                self.params[k] = str(v)
        with open(self.conf, "w") as f:
            f.write("# written by tests/integration\n")
            for k, v in self.params.items():
                f.write("%s = %s\n" % (k, v))

    def env(self, **extra):
        e = dict(os.environ)
        e["YUBIN_CONFIG"] = self.conf
        e.update(extra)
        return e

    def diag(self):
        return "--- daemon stderr (%s):\n%s\n--- maillog:\n%s" % (
            self.stderr_path, tail(self.stderr_path) if self.stderr_path else "", tail(self.maillog))

    # ---- process ----
    def start(self, timeout=10.0):
        assert self.proc is None, "daemon already running"
        assert os.access(YUBIN, os.X_OK), "no yubin binary at %s (set YUBIN or run make)" % YUBIN
        self.runs += 1
        self.stderr_path = os.path.join(self.dir, "serve.%d.out" % self.runs)
        out = open(self.stderr_path, "wb")
        try:
            self.proc = subprocess.Popen([YUBIN, "serve", "-c", self.conf], stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=subprocess.STDOUT, cwd=self.dir)
        finally:
            out.close()
        try:
            wait_listen("127.0.0.1", self.port, self.proc, timeout, self.diag)
        except AssertionError:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
            raise
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _sanitizer_check(self):
        if self.stderr_path and os.path.exists(self.stderr_path):
            with open(self.stderr_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
            if SANITIZER.search(text):
                self.problems.append("sanitizer report in %s:\n%s" % (self.stderr_path, text[-4000:]))

    def stop(self, timeout=15.0):
        """SIGTERM and wait. Records (does not raise) a slow exit, a bad exit
        status or a sanitizer report in self.problems; check_problems()
        raises them."""
        if self.proc is None:
            return
        p, self.proc = self.proc, None
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                self.problems.append("daemon did not exit within %.0fs of SIGTERM" % timeout)
                return
            if p.returncode not in (0, -signal.SIGTERM):
                self.problems.append("daemon exited with status %s after SIGTERM\n%s" % (p.returncode, self.diag()))
        else:
            self.problems.append("daemon had already exited with status %s\n%s" % (p.returncode, self.diag()))
        self._sanitizer_check()

    def kill9(self):
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
        self.proc = None
        self._sanitizer_check()

    def restart(self):
        self.stop()
        self.check_problems()
        return self.start()

    def check_problems(self):
        if self.problems:
            msg, self.problems = "\n".join(self.problems), []
            raise AssertionError(msg)

    # ---- commands ----
    def run(self, *args, input=None, env=None, timeout=30, cwd=None):
        """`yubin -c CONF ARGS...` -> CompletedProcess (text)."""
        return subprocess.run([YUBIN, "-c", self.conf, *args], input=input, env=env or self.env(),
                              capture_output=True, text=True, timeout=timeout, cwd=cwd or self.dir)

    def link(self, name):
        """A symlink to the binary named name (sendmail, mailq) in the temp dir."""
        path = os.path.join(self.dir, name)
        if not os.path.lexists(path):
            os.symlink(YUBIN, path)
        return path

    def sendmail(self, *args, input=b"", env=None, timeout=30):
        """The sendmail link with YUBIN_CONFIG set -> CompletedProcess (bytes)."""
        return subprocess.run([self.link("sendmail"), *args], input=input, env=env or self.env(),
                              capture_output=True, timeout=timeout, cwd=self.dir)

    def mailq_text(self):
        r = self.run("queue")
        assert r.returncode == 0, "yubin queue exited %d: %s" % (r.returncode, r.stderr)
        return r.stdout

    def mailq(self):
        return mailq_mod.parse(self.mailq_text())

    # ---- queue ----
    def qpath(self, qid, where="messages"):
        return os.path.join(self.queue_dir, where, qid)

    def queue_ids(self, where="messages"):
        d = os.path.join(self.queue_dir, where)
        try:
            return sorted(n for n in os.listdir(d) if not n.startswith("."))
        except FileNotFoundError:
            return []

    def qfile(self, qid, where="messages"):
        return queuefile.load(self.qpath(qid, where))

    def all_messages(self, where="messages"):
        """{qid: QueueFile} for every file that parses; unparsable files are
        reported as exceptions in the value."""
        out = {}
        for q in self.queue_ids(where):
            try:
                out[q] = self.qfile(q, where)
            except (queuefile.QueueFileError, OSError) as e:
                out[q] = e
        return out

    def settled(self, timeout=3.0, where="messages"):
        """Wait until every file in where/ is a complete queue file (an open
        or just-aborted transaction's file is gone or finished); return
        {qid: QueueFile}."""
        deadline = time.monotonic() + timeout
        while True:
            msgs = self.all_messages(where)
            if not any(isinstance(v, Exception) for v in msgs.values()):
                return msgs
            if time.monotonic() > deadline:
                raise AssertionError("unfinished queue files remain in %s: %r\n%s" % (where, msgs, self.diag()))
            time.sleep(0.02)

    def wait_message(self, pred, timeout=10.0, where="messages"):
        """Wait for a valid queue file for which pred(qf) is true."""
        deadline = time.monotonic() + timeout
        while True:
            for q, qf in self.all_messages(where).items():
                if not isinstance(qf, Exception) and pred(qf):
                    return q, qf
            if time.monotonic() > deadline:
                raise AssertionError("no matching queue file in %s/%s after %.0fs; have %r\n%s"
                                     % (self.queue_dir, where, timeout, self.all_messages(where), self.diag()))
            time.sleep(0.05)

    # ---- log ----
    def log(self):
        try:
            with open(self.maillog, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, timeout=5.0):
        rx = re.compile(pattern, re.M)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.log())
            if m:
                return m
            if time.monotonic() > deadline:
                raise AssertionError("no log line matching %r after %.0fs\n%s" % (pattern, timeout, self.diag()))
            time.sleep(0.05)

    # ---- SMTP ----
    def smtp(self, source="127.0.0.1", timeout=10, helo="client.test"):
        return smtplib.SMTP("127.0.0.1", self.port, local_hostname=helo, timeout=timeout,
                            source_address=(source, 0))

    def raw(self, source=None, timeout=5.0):
        return RawSMTP(self.port, source=source, timeout=timeout)

    def rcpt_reply(self, addr, source, sender="outsider@client.test"):
        """(code, text) of "RCPT TO:addr" (addr sent verbatim) after MAIL."""
        with self.smtp(source) as s:
            s.ehlo()
            code, text = s.mail(sender)
            assert code == 250, "MAIL: %d %r" % (code, text)
            code, text = s.docmd("RCPT TO:" + addr)
            try:
                s.quit()
            except smtplib.SMTPServerDisconnected:
                pass
        return code, text

    def send(self, sender, rcpts, msg, source="127.0.0.1", mail_options=(), rcpt_options=()):
        """One transaction with smtplib; returns the queue ID from the
        '250 2.0.0 Ok: queued as QID' reply."""
        with self.smtp(source) as s:
            qid = transaction(s, sender, rcpts, msg, mail_options, rcpt_options)
            s.quit()
        return qid


def transaction(s, sender, rcpts, msg, mail_options=(), rcpt_options=()):
    if s.ehlo_resp is None:
        code, text = s.ehlo()
        assert code == 250, "EHLO %d %r" % (code, text)
    code, text = s.mail(sender, list(mail_options))
    assert code == 250, "MAIL %d %r" % (code, text)
    for r in rcpts:
        code, text = s.rcpt(r, list(rcpt_options))
        assert code == 250, "RCPT %s: %d %r" % (r, code, text)
    if isinstance(msg, str):
        msg = msg.encode("utf-8")
    code, text = s.data(msg)
    text = text.decode("utf-8", "replace")
    assert code == 250, "end of DATA: %d %r" % (code, text)
    m = QUEUED.match(text)
    assert m, "end-of-DATA reply %r is not '250 2.0.0 Ok: queued as QID'" % text
    return m.group(1)


def message(subject="test", body="hello\r\n", sender="sender@client.test", to="alice@mx.example.test",
            extra=""):
    return ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%s@client.test>\r\n%s\r\n%s"
            % (sender, to, subject, re.sub(r"\W", "", subject) + str(time.monotonic_ns()), extra, body))
