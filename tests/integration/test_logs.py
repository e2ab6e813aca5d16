"""The mail log in Postfix's format, checked line by line and through
pflogsumm (which only understands Postfix's lines): accepted messages are
counted as received, relay refusals as rejected, qmgr sizes as bytes."""
import re
import subprocess

from helpers.daemon import message

ENVELOPE = re.compile(r"^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d\d:\d\d:\d\d \S+ "
                      r"(\S+?)/([a-z]+)\[(\d+)\]: (.+)$")


def grand_totals(text):
    """{'received': n, 'rejected': m, 'bytes received': b, ...} from
    pflogsumm's "Grand Totals" section."""
    sec = text.split("Grand Totals", 1)
    assert len(sec) == 2, "no Grand Totals section:\n%s" % text
    out = {}
    for line in sec[1].split("\n\n\n", 1)[0].splitlines():
        m = re.match(r"^\s*(\d+)([ km]?)\s+(\w[\w /]*?)(\s+\(\d+%\))?\s*$", line)
        if m:
            mult = {"k": 1024, "m": 1024 * 1024}.get(m.group(2), 1)
            out[m.group(3)] = int(m.group(1)) * mult
    return out


def pflogsumm(path, name="yubin"):
    r = subprocess.run(["pflogsumm", "--syslog-name=%s" % name, path], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return grand_totals(r.stdout)


def test_pflogsumm_counts(yubin):
    n, m = 3, 2
    qids = [yubin.send("s%d@client.test" % i, ["alice@mx.example.test", "bob@mx.example.test"],
                       message("count %d" % i)) for i in range(n)]
    for i in range(m):
        code, _ = yubin.rcpt_reply("<victim%d@elsewhere.test>" % i, "127.0.0.2")
        assert code == 554
    for q in qids:
        yubin.wait_log(r"yubin/qmgr\[\d+\]: %s: from=<" % q)
    yubin.wait_log(r"NOQUEUE: reject: RCPT from \S+\[127\.0\.0\.2\]: 554 5\.7\.1 <victim%d@" % (m - 1))
    totals = pflogsumm(yubin.maillog)
    assert totals.get("received") == n, totals
    assert totals.get("rejected") == m, totals
    assert totals.get("bytes received") == sum(yubin.qfile(q).size for q in qids), totals
    assert totals.get("senders") == n, totals


def test_message_lines(yubin):
    msg = message("lines")
    mid = re.search(r"Message-ID: (<[^>]+>)", msg).group(1)
    qid = yubin.send("s@client.test", ["alice@mx.example.test", "bob@mx.example.test"], msg)
    qf = yubin.qfile(qid)
    yubin.wait_log(r"yubin/qmgr\[\d+\]: %s: from=<s@client\.test>, size=%d, nrcpt=2 \(queue active\)$"
                   % (qid, qf.size))
    yubin.wait_log(r"yubin/smtpd\[\d+\]: connect from localhost\[127\.0\.0\.1\]$")
    yubin.wait_log(r"yubin/smtpd\[\d+\]: %s: client=localhost\[127\.0\.0\.1\]$" % qid)
    yubin.wait_log(r"yubin/cleanup\[\d+\]: %s: message-id=%s$" % (qid, re.escape(mid)))
    # Postfix's order for one message: client=, message-id=, queue active.
    log = yubin.log()
    order = [log.index("%s: client=" % qid), log.index("%s: message-id=" % qid), log.index("%s: from=<" % qid)]
    assert order == sorted(order), "lines out of order:\n%s" % log


def test_disconnect_line_counts_commands(yubin):
    yubin.send("s@client.test", ["alice@mx.example.test", "bob@mx.example.test"], message("counts"))
    yubin.wait_log(r"yubin/smtpd\[\d+\]: disconnect from localhost\[127\.0\.0\.1\] "
                   r"ehlo=1 mail=1 rcpt=2 data=1 quit=1 commands=6$")


def test_every_line_is_postfix_shaped(yubin):
    yubin.send("s@client.test", ["alice@mx.example.test"], message("shape"))
    yubin.rcpt_reply("<x@elsewhere.test>", "127.0.0.2")
    yubin.wait_log(r"NOQUEUE: reject")
    yubin.stop()
    yubin.check_problems()
    lines = yubin.log().splitlines()
    assert lines, "empty maillog"
    for line in lines:
        m = ENVELOPE.match(line)
        assert m, "log line not in Postfix's format: %r" % line
        assert m.group(2) == "yubin", line


def test_syslog_name(yubin_factory):
    y = yubin_factory(syslog_name="mymta")
    qid = y.send("s@client.test", ["alice@mx.example.test"], message("name"))
    y.wait_log(r" mymta/qmgr\[\d+\]: %s: from=<s@client\.test>" % qid)
    assert " yubin/" not in y.log()
    assert pflogsumm(y.maillog, "mymta").get("received") == 1
