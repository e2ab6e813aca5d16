"""SMTP server basics against the real daemon: what smtplib and a raw
client see (reply codes, enhanced codes, queue IDs), what lands in the
queue file, and how mailq shows it (Postfix's postqueue -p layout)."""
import os
import re
import subprocess

import pytest

from helpers import mailq
from helpers.daemon import QID_RE, message, transaction

EHLO_KEYWORDS = ["PIPELINING", "SIZE", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING"]


def test_local_mail_is_queued_and_listed(yubin):
    msg = message("basic")
    qid = yubin.send("sender@client.test", ["alice@mx.example.test"], msg)
    assert re.fullmatch(QID_RE, qid)
    assert os.path.isfile(yubin.qpath(qid)), "no queue file messages/%s" % qid
    qf = yubin.qfile(qid)
    assert qf.sender == "sender@client.test"
    assert qf.addrs == ["alice@mx.example.test"]
    assert [r.status for r in qf.rcpts] == ["P"]
    # Our Received: line is prepended; the client's message follows unchanged.
    assert qf.content.startswith(b"Received: ")
    assert qf.content.endswith(msg.encode())
    assert qf.attrs.get("helo") == "client.test"
    assert qf.attrs.get("client_addr") == "127.0.0.1"
    assert qf.attrs.get("proto") == "ESMTP"

    entries = yubin.mailq()
    assert list(entries) == [qid]
    e = entries[qid]
    assert e.sender == "sender@client.test"
    assert e.rcpts == ["alice@mx.example.test"]
    assert e.size == qf.size == len(qf.content)


def test_mailq_names_agree(yubin):
    """`yubin queue`, `yubin queue list` and the mailq link print the same."""
    qid = yubin.send("s@client.test", ["bob@mx.example.test"], message("names"))
    a = yubin.mailq_text()
    b = yubin.run("queue", "list")
    c = subprocess.run([yubin.link("mailq")], env=yubin.env(), capture_output=True, text=True, timeout=30)
    assert b.returncode == 0 and c.returncode == 0, (b.stderr, c.stderr)
    assert a == b.stdout == c.stdout
    assert qid in mailq.parse(a)
    assert a.endswith("\n-- 0 Kbytes in 1 Request.\n")


def test_empty_queue(yubin):
    assert yubin.mailq_text() == "Mail queue is empty\n"


def test_multiple_recipients_keep_order(yubin):
    rcpts = ["carol@mx.example.test", "alice@mx.example.test", "bob@localhost"]
    qid = yubin.send("sender@client.test", rcpts, message("multi"))
    assert yubin.qfile(qid).addrs == rcpts
    assert yubin.mailq()[qid].rcpts == rcpts


def test_several_messages_one_session(yubin):
    with yubin.smtp() as s:
        q1 = transaction(s, "a@client.test", ["alice@mx.example.test"], message("one"))
        q2 = transaction(s, "b@client.test", ["bob@mx.example.test"], message("two"))
        s.quit()
    assert q1 != q2
    assert yubin.qfile(q1).sender == "a@client.test"
    assert yubin.qfile(q2).sender == "b@client.test"
    assert sorted(yubin.mailq()) == sorted([q1, q2])


def test_greeting_and_ehlo(yubin):
    with yubin.raw() as c:
        b = c.banner()
        assert b.lines[0].startswith("mx.example.test ESMTP"), b
        r = c.ehlo()
        assert r.lines[0].split()[0] == "mx.example.test"
        kw = [line.split()[0].upper() for line in r.lines[1:]]
        for k in EHLO_KEYWORDS:
            assert k in kw, "EHLO does not advertise %s: %r" % (k, r.lines)
        assert "STARTTLS" not in kw, "STARTTLS advertised without a certificate"
        assert "SIZE 10240000" in r.lines


def test_helo_gives_plain_smtp(yubin):
    with yubin.raw() as c:
        c.banner()
        r = c.cmd("HELO client.test")
        assert r.code == 250 and len(r.lines) == 1, r
        assert c.cmd("MAIL FROM:<s@client.test>").code == 250
        assert c.cmd("RCPT TO:<alice@mx.example.test>").code == 250
        assert c.cmd("DATA").code == 354
        r = c.cmd("Subject: helo\r\n\r\nbody\r\n.")
        assert r.code == 250, r
        qid = re.search(r"queued as (%s)" % QID_RE, r.text).group(1)
    assert yubin.qfile(qid).attrs.get("proto") == "SMTP"


def test_rset_clears_transaction(yubin):
    with yubin.raw() as c:
        c.banner()
        c.ehlo()
        assert c.cmd("MAIL FROM:<s@client.test>").code == 250
        assert c.cmd("RCPT TO:<alice@mx.example.test>").code == 250
        r = c.cmd("RSET")
        assert r.code == 250 and r.enhanced == "2.0.0", r
        r = c.cmd("RCPT TO:<alice@mx.example.test>")
        assert r.code == 503 and r.enhanced == "5.5.1", "RCPT after RSET: %r" % r
        r = c.cmd("DATA")
        assert r.code in (503, 554) and r.enhanced == "5.5.1", "DATA after RSET: %r" % r
        assert c.cmd("MAIL FROM:<s@client.test>").code == 250
    assert yubin.settled() == {}


def test_noop_vrfy_help_quit(yubin):
    with yubin.raw() as c:
        c.banner()
        c.ehlo()
        r = c.cmd("NOOP")
        assert r.code == 250 and r.enhanced == "2.0.0", r
        r = c.cmd("VRFY alice@mx.example.test")
        assert r.code == 252 and r.enhanced == "2.0.0", r
        r = c.cmd("HELP")
        assert r.code == 214 and r.every_line_enhanced(), r
        r = c.cmd("QUIT")
        assert r.code == 221 and r.enhanced == "2.0.0", r
        assert c.wait_closed(3), "connection still open after QUIT"


@pytest.mark.parametrize("line,code,enh", [
    ("FOO bar", 500, "5.5.2"),
    ("MAIL FROM:<s@client.test>", 503, "5.5.1"),   # before EHLO
])
def test_errors_before_ehlo(yubin, line, code, enh):
    with yubin.raw() as c:
        c.banner()
        r = c.cmd(line)
        assert (r.code, r.enhanced) == (code, enh), r
        assert c.cmd("NOOP").code == 250, "session unusable after an error"


def test_sequence_errors(yubin):
    with yubin.raw() as c:
        c.banner()
        c.ehlo()
        r = c.cmd("RCPT TO:<alice@mx.example.test>")
        assert (r.code, r.enhanced) == (503, "5.5.1"), "RCPT before MAIL: %r" % r
        assert c.cmd("MAIL FROM:<s@client.test>").code == 250
        r = c.cmd("MAIL FROM:<s@client.test>")
        assert (r.code, r.enhanced) == (503, "5.5.1"), "nested MAIL: %r" % r
        r = c.cmd("DATA")
        assert r.code in (503, 554) and r.enhanced == "5.5.1", "DATA without recipients: %r" % r


@pytest.mark.parametrize("addr", ["<a b@mx.example.test>", "<user@mx..example.test>", "<user@@mx.example.test>"])
def test_bad_recipient_syntax(yubin, addr):
    with yubin.raw() as c:
        c.banner()
        c.ehlo()
        assert c.cmd("MAIL FROM:<s@client.test>").code == 250
        r = c.cmd("RCPT TO:" + addr)
        assert (r.code, r.enhanced) == (501, "5.1.3"), "RCPT TO:%s -> %r" % (addr, r)


def test_bad_sender_syntax(yubin):
    with yubin.raw() as c:
        c.banner()
        c.ehlo()
        r = c.cmd("MAIL FROM:<a b@client.test>")
        assert r.code == 501 and r.every_line_enhanced(), r


def test_size_parameter(yubin):
    with yubin.raw() as c:
        c.banner()
        c.ehlo()
        r = c.cmd("MAIL FROM:<s@client.test> SIZE=10240001")
        assert (r.code, r.enhanced) == (552, "5.3.4"), r
        r = c.cmd("MAIL FROM:<s@client.test> SIZE=1000")
        assert r.code == 250, r


def test_message_size_limit_while_streaming(yubin_factory):
    y = yubin_factory(message_size_limit=4000)
    with y.raw() as c:
        c.banner()
        assert "SIZE 4000" in c.ehlo().lines
        assert c.cmd("MAIL FROM:<s@client.test>").code == 250
        assert c.cmd("RCPT TO:<alice@mx.example.test>").code == 250
        assert c.cmd("DATA").code == 354
        c.send(b"Subject: big\r\n\r\n" + (b"x" * 70 + b"\r\n") * 150 + b".\r\n")
        r = c.reply()
        assert (r.code, r.enhanced) == (552, "5.3.4"), r
        assert c.cmd("RSET").code == 250, "session unusable after 552"
    assert y.settled() == {}


def test_recipient_limit(yubin_factory):
    y = yubin_factory(smtpd_recipient_limit=3)
    with y.raw() as c:
        c.banner()
        c.ehlo()
        assert c.cmd("MAIL FROM:<s@client.test>").code == 250
        for i in range(3):
            assert c.cmd("RCPT TO:<u%d@mx.example.test>" % i).code == 250
        r = c.cmd("RCPT TO:<u3@mx.example.test>")
        assert (r.code, r.enhanced) == (452, "4.5.3"), r
        assert c.cmd("DATA").code == 354
        r = c.cmd("Subject: limit\r\n\r\nbody\r\n.")
        assert r.code == 250, r
        qid = re.search(r"queued as (%s)" % QID_RE, r.text).group(1)
    assert y.qfile(qid).addrs == ["u0@mx.example.test", "u1@mx.example.test", "u2@mx.example.test"]


def test_enhanced_codes_on_every_reply(yubin):
    """RFC 2034: every reply except the greeting, EHLO/HELO and 354 carries
    an enhanced status code on each line, of the same class as the code."""
    seen = []
    with yubin.raw() as c:
        c.banner()
        c.ehlo()
        for line in ["NOOP", "VRFY alice@mx.example.test", "HELP", "FOO", "RCPT TO:<a@mx.example.test>",
                     "DATA", "MAIL FROM:<s@client.test> SIZE=999999999", "MAIL FROM:<s@client.test>",
                     "MAIL FROM:<s@client.test>", "RCPT TO:<bad address@x>", "RCPT TO:<alice@mx.example.test>",
                     "RSET", "MAIL FROM:<s@client.test>", "RCPT TO:<alice@mx.example.test>"]:
            seen.append((line, c.cmd(line)))
        assert c.cmd("DATA").code == 354
        seen.append(("<end of data>", c.cmd("Subject: e\r\n\r\nx\r\n.")))
        seen.append(("QUIT", c.cmd("QUIT")))
    bad = [(cmd, r) for cmd, r in seen if not r.every_line_enhanced()]
    assert not bad, "replies without enhanced status codes: %r" % bad


def test_dsn_parameters_are_kept(yubin):
    qid = yubin.send("s@client.test", ["alice@mx.example.test"], message("dsn"),
                     mail_options=["RET=HDRS", "ENVID=abc+2Bdef"],
                     rcpt_options=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;orig+2Bx@y.test"])
    qf = yubin.qfile(qid)
    assert qf.attrs.get("envid") == "abc+def", "ENVID not stored xtext-decoded: %r" % qf.attrs
    assert qf.attrs.get("ret", "").lower() in ("hdrs", "2"), "RET=HDRS not stored: %r" % qf.attrs
    r = qf.rcpts[0]
    assert r.orcpt == "rfc822;orig+x@y.test", r
    assert r.notify == 2 | 4, "NOTIFY=SUCCESS,FAILURE stored as %d" % r.notify
    with open(yubin.qpath(qid), "rb") as f:
        raw = f.read()
    assert b"abc+2Bdef" not in raw and b"orig+2Bx" not in raw


@pytest.mark.parametrize("param", ["NOTIFY=BOGUS", "ORCPT=rfc822;a+0Db@x.test", "NOTIFY=NEVER,SUCCESS"])
def test_bad_dsn_parameters_rejected(yubin, param):
    with yubin.raw() as c:
        c.banner()
        c.ehlo()
        assert c.cmd("MAIL FROM:<s@client.test>").code == 250
        r = c.cmd("RCPT TO:<alice@mx.example.test> " + param)
        assert r.code == 501 and r.every_line_enhanced(), "%s -> %r" % (param, r)


def test_smtputf8_address(yubin):
    with yubin.raw() as c:
        c.banner()
        c.ehlo()
        assert c.cmd("MAIL FROM:<s@client.test> SMTPUTF8 BODY=8BITMIME").code == 250
        r = c.cmd("RCPT TO:<d\u00f6rte@mx.example.test>")
        assert r.code == 250, r
        assert c.cmd("DATA").code == 354
        r = c.cmd("Subject: \u00fcnicode\r\n\r\nGr\u00fc\u00dfe\r\n.")
        assert r.code == 250, r
        qid = re.search(r"queued as (%s)" % QID_RE, r.text).group(1)
    qf = yubin.qfile(qid)
    assert qf.addrs == ["d\u00f6rte@mx.example.test"]
    assert "Gr\u00fc\u00dfe".encode() in qf.content


def test_utf8_address_needs_smtputf8(yubin):
    with yubin.raw() as c:
        c.banner()
        c.ehlo()
        assert c.cmd("MAIL FROM:<s@client.test>").code == 250
        r = c.cmd("RCPT TO:<d\u00f6rte@mx.example.test>")
        assert r.code >= 500, "non-ASCII address accepted without SMTPUTF8: %r" % r
