"""Real SMTP clients nobody here wrote (swaks, curl) against the daemon:
each run must end with a message in the queue, or with the client's own
"rejected" exit status when the server refuses."""
import os
import re
import subprocess

from helpers.daemon import QID_RE

QUEUED = re.compile(r"250 2\.0\.0 Ok: queued as (%s)" % QID_RE)


def swaks(y, *args, source=None):
    cmd = ["swaks", "--server", "127.0.0.1:%d" % y.port, "--helo", "client.test", "--timeout", "10"]
    if source:
        cmd += ["--local-interface", source]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=60)


def curl(y, msgfile, *args):
    cmd = ["curl", "-sS", "-v", "--max-time", "10", "--url", "smtp://127.0.0.1:%d/client.test" % y.port,
           "--upload-file", msgfile, "--crlf"]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=60)


def queued_qid(text):
    m = QUEUED.search(text)
    assert m, "no 'queued as' reply in client output:\n%s" % text
    return m.group(1)


def test_swaks_plain(yubin):
    r = swaks(yubin, "--from", "swaks@client.test", "--to", "alice@mx.example.test",
              "--header", "Subject: swaks plain", "--body", "hello from swaks")
    assert r.returncode == 0, r.stdout + r.stderr
    qid = queued_qid(r.stdout)
    qf = yubin.qfile(qid)
    assert qf.sender == "swaks@client.test"
    assert qf.addrs == ["alice@mx.example.test"]
    assert qf.header("Subject") == ["swaks plain"]
    assert b"\r\n\r\nhello from swaks\r\n" in qf.content


def test_swaks_pipeline_with_file(yubin):
    path = os.path.join(yubin.dir, "msg.eml")
    with open(path, "w") as f:
        f.write("From: swaks@client.test\nTo: alice@mx.example.test\nSubject: swaks pipelined\n\n"
                "line one\n.leading dot\n..two dots\nend\n")
    r = swaks(yubin, "--from", "swaks@client.test", "--to", "alice@mx.example.test,bob@mx.example.test",
              "--data", "@" + path, "--pipeline")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PIPELINING" in r.stdout
    qid = queued_qid(r.stdout)
    qf = yubin.qfile(qid)
    assert qf.addrs == ["alice@mx.example.test", "bob@mx.example.test"]
    # swaks dot-stuffs; the queue keeps the original lines.
    assert b"\r\nline one\r\n.leading dot\r\n..two dots\r\nend\r\n" in qf.content


def test_swaks_quit_after_rcpt_queues_nothing(yubin):
    r = swaks(yubin, "--from", "swaks@client.test", "--to", "alice@mx.example.test", "--quit-after", "RCPT")
    assert r.returncode == 0, r.stdout + r.stderr
    assert yubin.settled() == {}


def test_swaks_relay_denied_from_outside(yubin):
    r = swaks(yubin, "--from", "swaks@client.test", "--to", "victim@elsewhere.test", source="127.0.0.2")
    assert r.returncode == 24, "swaks exit %d (24 = RCPT rejected)\n%s" % (r.returncode, r.stdout)
    assert "554 5.7.1 <victim@elsewhere.test>: Relay access denied" in r.stdout
    assert yubin.settled() == {}


def test_curl_crlf(yubin):
    path = os.path.join(yubin.dir, "curl.eml")
    with open(path, "w") as f:
        f.write("From: curl@client.test\nTo: alice@mx.example.test\nSubject: curl\n\nbody\n.dot line\n")
    r = curl(yubin, path, "--mail-from", "curl@client.test",
             "--mail-rcpt", "alice@mx.example.test", "--mail-rcpt", "carol@mx.example.test")
    assert r.returncode == 0, r.stderr
    qid = queued_qid(r.stderr)
    qf = yubin.qfile(qid)
    assert qf.sender == "curl@client.test"
    assert qf.addrs == ["alice@mx.example.test", "carol@mx.example.test"]
    assert qf.content.endswith(b"Subject: curl\r\n\r\nbody\r\n.dot line\r\n")
    assert yubin.mailq()[qid].rcpts == qf.addrs


def test_curl_without_crlf_is_bare_lf(yubin):
    """curl without --crlf sends the file's bare LFs: refused, nothing queued."""
    path = os.path.join(yubin.dir, "lf.eml")
    with open(path, "w") as f:
        f.write("Subject: lf\n\nline1\nline2\n")
    cmd = ["curl", "-sS", "-v", "--max-time", "10", "--url", "smtp://127.0.0.1:%d/client.test" % yubin.port,
           "--upload-file", path, "--mail-from", "curl@client.test", "--mail-rcpt", "alice@mx.example.test"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0, "curl succeeded with bare LF content:\n%s" % r.stderr
    assert yubin.settled() == {}
