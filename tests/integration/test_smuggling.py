"""SMTP smuggling (security.md 1.2): every end-of-data variant the public
scanners try, sent the way the SEC Consult scanner sends it (a body line,
the variant, CRLF, then a complete lower-case "smuggled" transaction and the
genuine CRLF.CRLF), followed by QUIT so each run ends deterministically.

Whatever the server does with the variant (reject it, or keep it as
content), it must never answer one DATA with two 250 replies, and no message
from smuggled@ may ever reach the queue."""
import re

import pytest

from helpers.rawsmtp import Closed

VARIANTS = {
    "V1": b"\n.\n",
    "V2": b"\n.\r",
    "V3": b"\r.\n",
    "V4": b"\r.\r",
    "V5": b"\n.\r\n",
    "V6": b"\r.\r\n",
    "V7": b"\r\n\x00.\r\n",
    "V8": b"\r\n.\x00\r\n",
    "V9": b"\r\n.\n",
    "V10": b"\r\n.\r",
    "V11": b"\r\n.\r\r\n",
    "V12": b"\r\r\n.\r\r\n",
}

SMUGGLED = (b"mail FROM:<smuggled@attacker.test>\r\n"
            b"rcpt TO:<victim@mx.example.test>\r\n"
            b"data\r\n"
            b"From: smuggled@attacker.test\r\nTo: victim@mx.example.test\r\nSubject: SMUGGLED\r\n\r\n"
            b"SMUGGLING WORKS\r\n.\r\n")


def has_bare_cr_or_lf(data):
    return re.search(rb"(?<!\r)\n|\r(?!\n)", data) is not None


def no_smuggled_mail(y):
    for where in ("messages", "hold"):
        for qid, qf in y.settled(where=where).items():
            assert not isinstance(qf, Exception), "bad queue file %s/%s after the session: %s" % (where, qid, qf)
            assert qf.sender != "smuggled@attacker.test", "smuggled message queued as %s/%s" % (where, qid)
            # If the outer message was accepted, the smuggled part is content.
            assert qf.sender == "test@client.test", qf.sender
    assert "smuggled@attacker.test" not in y.mailq_text()
    assert "from=<smuggled@attacker.test>, size=" not in y.log()


@pytest.mark.parametrize("name", list(VARIANTS))
def test_end_of_data_variant(yubin, name):
    variant = VARIANTS[name]
    with yubin.raw() as c:
        c.session(sender="test@client.test", rcpts=["victim@mx.example.test"])
        assert c.cmd("DATA").code == 354
        c.send(b"From: test@client.test\r\nTo: victim@mx.example.test\r\nSubject: CHECK %s\r\n\r\n"
               b"TESTING %s as fake end-of-data\r\n" % (name.encode(), name.encode())
               + variant + b"\r\n" + SMUGGLED)
        try:
            c.send(b"QUIT\r\n")
        except OSError:
            pass        # the server may already have rejected and closed
        replies, closed = c.replies_until_close(timeout=8)
    assert closed, "server neither finished nor closed the session: %r" % replies
    oks = [r for r in replies if r.code == 250]
    assert len(oks) <= 1, "%s: more than one 250 after one DATA (smuggling): %r" % (name, replies)
    assert not [r for r in replies if r.code == 354], "%s: smuggled DATA got 354: %r" % (name, replies)
    if has_bare_cr_or_lf(b"line\r\n" + variant + b"\r\n"):
        # The variant has a bare CR or LF: a protocol error (security.md 8.1).
        assert not oks, "%s: message with a bare CR/LF accepted: %r" % (name, replies)
        assert any(r.code >= 500 and r.enhanced == "5.5.2" for r in replies), \
            "%s: no 5.5.2 rejection of the bare CR/LF: %r" % (name, replies)
    no_smuggled_mail(yubin)


def test_pipelined_smuggling(yubin):
    """Variant P: a complete second transaction, its content sent before 354,
    in the same write as the first message's genuine end of data."""
    with yubin.raw() as c:
        c.session(sender="test@client.test", rcpts=["victim@mx.example.test"])
        assert c.cmd("DATA").code == 354
        c.send(b"Subject: outer\r\n\r\nouter body\r\n.\r\n" + SMUGGLED)
        replies, closed = c.replies_until_close(timeout=8)
    assert closed, "server kept the connection after unsynchronised content: %r" % replies
    queued = [r for r in replies if r.code == 250 and "queued as" in r.text]
    assert len(queued) <= 1, replies
    last = replies[-1] if replies else None
    assert last is not None and (last.code, last.enhanced) == (554, "5.5.0"), \
        "expected '554 5.5.0 Error: SMTP protocol synchronization' last: %r" % replies
    no_smuggled_mail(yubin)


@pytest.mark.parametrize("content", [
    b"Subject: lf\r\n\r\nline one\nline two\r\n.\r\n",
    b"Subject: lf\nX: y\r\n\r\nbody\r\n.\r\n",
])
def test_bare_lf_rejected(yubin, content):
    with yubin.raw() as c:
        c.session()
        assert c.cmd("DATA").code == 354
        c.send(content)
        replies, closed = c.replies_until_close(timeout=5)
    assert replies, "no reply to content with a bare LF"
    assert replies[0].code == 550 and replies[0].enhanced == "5.5.2", replies
    assert closed, "connection left open after a bare LF"
    assert yubin.settled() == {}


def test_bare_cr_rejected(yubin):
    with yubin.raw() as c:
        c.session()
        assert c.cmd("DATA").code == 354
        c.send(b"Subject: cr\r\n\r\nline one\rline two\r\n.\r\n")
        replies, closed = c.replies_until_close(timeout=5)
    assert replies and replies[0].code >= 500 and replies[0].enhanced == "5.5.2", replies
    assert closed
    assert yubin.settled() == {}


def test_bare_lf_in_command_rejected(yubin):
    with yubin.raw() as c:
        c.banner()
        c.send(b"EHLO client.test\nMAIL FROM:<a@client.test>\r\n")
        replies, closed = c.replies_until_close(timeout=5)
    assert replies and replies[0].code >= 500, "command ending in bare LF accepted: %r" % replies
    assert not [r for r in replies if r.code == 250], replies


def test_content_before_354_rejected(yubin):
    with yubin.raw() as c:
        c.session()
        c.send(b"DATA\r\nSubject: early\r\n\r\nbody\r\n.\r\n")
        replies, closed = c.replies_until_close(timeout=5)
    assert replies, "no reply"
    assert not [r for r in replies if r.code in (250, 354) and "queued" in r.text], replies
    last = replies[-1]
    assert (last.code, last.enhanced) == (554, "5.5.0"), \
        "expected '554 5.5.0 Error: SMTP protocol synchronization': %r" % replies
    assert "synchronization" in last.text
    assert closed, "connection left open after a synchronization error"
    assert yubin.settled() == {}


def test_session_survives_genuine_end(yubin):
    """Control: the genuine CRLF.CRLF ends the message, and the text of a
    transaction inside the content stays content."""
    with yubin.raw() as c:
        c.session(sender="test@client.test", rcpts=["victim@mx.example.test"])
        assert c.cmd("DATA").code == 354
        c.send(b"Subject: control\r\n\r\nhello\r\n" + SMUGGLED.replace(b"\r\n.\r\n", b"\r\n..\r\n") + b".\r\n")
        r = c.reply()
        assert r.code == 250, r
        assert c.cmd("QUIT").code == 221
    no_smuggled_mail(yubin)
    [(qid, qf)] = yubin.all_messages().items()
    assert b"\r\nmail FROM:<smuggled@attacker.test>\r\n" in qf.content
    assert qf.content.endswith(b"SMUGGLING WORKS\r\n.\r\n")


def test_reply_after_close_is_eof(yubin):
    """After a bare-LF rejection the connection is really gone: a further
    command gets no reply."""
    with yubin.raw() as c:
        c.session()
        assert c.cmd("DATA").code == 354
        c.send(b"a\nb\r\n.\r\n")
        r = c.reply()
        assert r.code == 550
        try:
            c.send(b"NOOP\r\n")
            extra = c.reply(timeout=3)
        except (Closed, OSError):
            extra = None
        assert extra is None, "reply after the connection should be closed: %r" % extra
