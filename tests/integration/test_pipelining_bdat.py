"""RFC 2920 pipelining, RFC 3030 BDAT and dot-stuffing, with a raw client
that decides every byte (swaks, curl and smtplib cannot send BDAT)."""
import re

from helpers.daemon import QID_RE

QUEUED = re.compile(r"^2\.0\.0 Ok: queued as (%s)$" % QID_RE)


def qid_of(r):
    assert r.code == 250, r
    m = QUEUED.match(r.lines[-1])
    assert m, "not a 'queued as' reply: %r" % r
    return m.group(1)


def open_session(y):
    c = y.raw()
    c.banner()
    r = c.ehlo()
    return c, [line.split()[0].upper() for line in r.lines[1:]]


def test_pipelined_group(yubin):
    c, kw = open_session(yubin)
    with c:
        assert "PIPELINING" in kw
        c.send("MAIL FROM:<p@client.test>\r\nRCPT TO:<alice@mx.example.test>\r\n"
               "RCPT TO:<bob@mx.example.test>\r\nDATA\r\n")
        rs = c.replies(4)
        assert [r.code for r in rs] == [250, 250, 250, 354], rs
        c.send("Subject: pipelined\r\n\r\nbody\r\n.\r\n")
        qid = qid_of(c.reply())
    qf = yubin.qfile(qid)
    assert qf.sender == "p@client.test"
    assert qf.addrs == ["alice@mx.example.test", "bob@mx.example.test"]
    assert qf.content.endswith(b"Subject: pipelined\r\n\r\nbody\r\n")


def test_pipelined_group_with_rejected_recipient(yubin):
    c, _ = open_session(yubin)
    with c:
        c.send("MAIL FROM:<p@client.test>\r\nRCPT TO:<bad address@x>\r\n"
               "RCPT TO:<carol@mx.example.test>\r\nDATA\r\n")
        rs = c.replies(4)
        assert [r.code for r in rs] == [250, 501, 250, 354], rs
        c.send("Subject: partly\r\n\r\nbody\r\n.\r\n")
        qid = qid_of(c.reply())
    assert yubin.qfile(qid).addrs == ["carol@mx.example.test"]


def test_pipelined_transactions_after_end_of_data(yubin):
    """A client may pipeline RSET/MAIL/RCPT after the final dot's reply is
    read; two complete transactions in one session."""
    c, _ = open_session(yubin)
    with c:
        qids = []
        for n in range(2):
            c.send("RSET\r\nMAIL FROM:<p%d@client.test>\r\nRCPT TO:<alice@mx.example.test>\r\nDATA\r\n" % n)
            assert [r.code for r in c.replies(4)] == [250, 250, 250, 354]
            c.send("Subject: t%d\r\n\r\nx\r\n.\r\n" % n)
            qids.append(qid_of(c.reply()))
    assert [yubin.qfile(q).sender for q in qids] == ["p0@client.test", "p1@client.test"]


def test_bdat_chunks(yubin):
    c, kw = open_session(yubin)
    with c:
        assert "CHUNKING" in kw
        assert c.cmd("MAIL FROM:<b@client.test>").code == 250
        assert c.cmd("RCPT TO:<alice@mx.example.test>").code == 250
        parts = [b"Subject: bdat\r\n\r\nfirst line\r", b"\n.leading dot stays\r\n", b"..two dots stay\r\n.\r\n"]
        for p in parts[:-1]:
            c.send(b"BDAT %d\r\n" % len(p) + p)
            r = c.reply()
            assert r.code == 250 and r.enhanced == "2.0.0", r
        c.send(b"BDAT %d LAST\r\n" % len(parts[-1]) + parts[-1])
        qid = qid_of(c.reply())
    qf = yubin.qfile(qid)
    # BDAT content is taken literally: no dot-unstuffing, CRLF split across chunks.
    assert qf.content.endswith(b"".join(parts)), qf.content


def test_bdat_pipelined_and_zero_last(yubin):
    c, _ = open_session(yubin)
    with c:
        a, b = b"Subject: bdat0\r\n\r\n", b"body\r\n"
        c.send(b"MAIL FROM:<b@client.test>\r\nRCPT TO:<alice@mx.example.test>\r\n"
               b"BDAT %d\r\n%sBDAT %d\r\n%sBDAT 0 LAST\r\n" % (len(a), a, len(b), b))
        rs = c.replies(5)
        assert [r.code for r in rs] == [250] * 5, rs
        qid = qid_of(rs[-1])
    assert yubin.qfile(qid).content.endswith(b"Subject: bdat0\r\n\r\nbody\r\n")


def test_bdat_then_data_is_refused(yubin):
    c, _ = open_session(yubin)
    with c:
        assert c.cmd("MAIL FROM:<b@client.test>").code == 250
        assert c.cmd("RCPT TO:<alice@mx.example.test>").code == 250
        c.send(b"BDAT 5\r\nabcde")
        assert c.reply().code == 250
        r = c.cmd("DATA")
        assert r.code == 503, "DATA in the middle of BDAT: %r" % r
    assert yubin.settled() == {}


def test_dot_stuffed_lines_stored_unstuffed(yubin):
    c, _ = open_session(yubin)
    with c:
        assert c.cmd("MAIL FROM:<d@client.test>").code == 250
        assert c.cmd("RCPT TO:<alice@mx.example.test>").code == 250
        assert c.cmd("DATA").code == 354
        c.send(b"Subject: dots\r\n\r\n..one dot\r\n...two dots\r\n..\r\nmid.dle\r\n. space\r\nend\r\n.\r\n")
        qid = qid_of(c.reply())
    content = yubin.qfile(qid).content
    assert content.endswith(b"Subject: dots\r\n\r\n.one dot\r\n..two dots\r\n.\r\nmid.dle\r\n space\r\nend\r\n"), content
    with open(yubin.qpath(qid), "rb") as f:
        assert b".one dot\r\n..two dots\r\n.\r\nmid.dle" in f.read()


def test_998_octet_line_kept_intact(yubin):
    """RFC 5322's line limit (998 octets + CRLF) must pass unchanged."""
    c, _ = open_session(yubin)
    with c:
        assert c.cmd("MAIL FROM:<d@client.test>").code == 250
        assert c.cmd("RCPT TO:<alice@mx.example.test>").code == 250
        assert c.cmd("DATA").code == 354
        long_line = b"y" * 998
        c.send(b"Subject: long\r\n\r\n" + long_line + b"\r\n.\r\n")
        qid = qid_of(c.reply())
    assert yubin.qfile(qid).content.endswith(b"\r\n\r\n" + long_line + b"\r\n")


def test_longer_line_never_truncated(yubin):
    """A 5000-octet line: either refused as a whole (5xx, nothing queued)
    or stored intact, never cut or split silently."""
    c, _ = open_session(yubin)
    with c:
        assert c.cmd("MAIL FROM:<d@client.test>").code == 250
        assert c.cmd("RCPT TO:<alice@mx.example.test>").code == 250
        assert c.cmd("DATA").code == 354
        long_line = b"y" * 5000
        c.send(b"Subject: long\r\n\r\n" + long_line + b"\r\n.\r\n")
        r = c.reply()
        assert r.code == 250 or (r.code >= 500 and r.every_line_enhanced()), r
        assert c.cmd("RSET").code == 250, "session unusable afterwards"
    msgs = yubin.settled()
    if r.code == 250:
        [qf] = msgs.values()
        assert qf.content.endswith(b"\r\n\r\n" + long_line + b"\r\n")
    else:
        assert msgs == {}
