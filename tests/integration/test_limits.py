"""Resource limits (security.md 6, 8.6): per-client connection cap, command
line length, hop count, idle timeout, and HTTP requests sent to the SMTP
port."""
import socket
import time

import pytest

from helpers.daemon import message
from helpers.rawsmtp import Closed


def test_connection_count_limit_per_client(yubin_factory):
    y = yubin_factory(smtpd_client_connection_count_limit=2)
    a, b = y.raw(), y.raw()
    try:
        a.banner()
        b.banner()
        with y.raw() as c:
            r = c.reply()
            assert (r.code, r.enhanced) == (421, "4.7.0"), "third connection: %r" % r
            assert c.wait_closed(3), "connection over the limit left open"
        # Another client address is not affected by 127.0.0.1's count.
        with y.raw(source="127.0.0.2") as d:
            d.banner()
        a.cmd("QUIT")
        a.wait_closed(3)
        a.close()
        # The slot is free again once the server has seen the close.
        deadline = time.monotonic() + 5
        while True:
            with y.raw() as e:
                r = e.reply()
                if r.code == 220:
                    assert e.cmd("NOOP").code == 250
                    break
            assert time.monotonic() < deadline, "slot not released after QUIT: %r" % r
            time.sleep(0.1)
    finally:
        a.close()
        b.close()


def test_long_command_line(yubin):
    with yubin.raw() as c:
        c.banner()
        c.ehlo()
        r = c.cmd("NOOP " + "x" * 600)
        assert (r.code, r.enhanced) == (500, "5.5.2"), r
        assert c.cmd("NOOP").code == 250, "session unusable after a long line"
        r = c.cmd("MAIL FROM:<%s@client.test>" % ("l" * 520))
        assert r.code >= 500, "over-long MAIL accepted: %r" % r
        assert c.cmd("MAIL FROM:<s@client.test>").code == 250


def test_huge_line(yubin):
    """A 1 MB command line: refused (500 5.5.2) or the connection dropped,
    never buffered without bound or a crash; the daemon keeps serving."""
    with yubin.raw(timeout=10) as c:
        c.banner()
        try:
            c.send(b"X" * (1 << 20))
            c.send(b"\r\n")
            r = c.reply()
            assert (r.code, r.enhanced) == (500, "5.5.2"), r
        except (OSError, Closed):
            pass
    with yubin.raw() as c:
        c.banner()
        assert c.cmd("NOOP").code == 250


def hops_message(n):
    hops = "".join("Received: from hop%d.example.net by hop%d.example.net; Mon, 23 Nov 2026 16:52:%02d +0000\r\n"
                   % (i, i + 1, i % 60) for i in range(n))
    return hops + message("hops %d" % n)


def test_hop_count_limit(yubin):
    with yubin.smtp() as s:
        s.ehlo()
        s.mail("s@client.test")
        s.rcpt("alice@mx.example.test")
        code, text = s.data(hops_message(50).encode())
        assert code == 554 and text.startswith(b"5.4.0"), (code, text)
        s.rset()
    assert yubin.settled() == {}
    qid = yubin.send("s@client.test", ["alice@mx.example.test"], hops_message(48))
    assert len(yubin.qfile(qid).header("Received")) == 49


def test_hop_count_limit_setting(yubin_factory):
    y = yubin_factory(hopcount_limit=5)
    with y.smtp() as s:
        s.ehlo()
        s.mail("s@client.test")
        s.rcpt("alice@mx.example.test")
        code, text = s.data(hops_message(5).encode())
        assert code == 554 and text.startswith(b"5.4.0"), (code, text)
    y.send("s@client.test", ["alice@mx.example.test"], hops_message(3))


def test_idle_timeout(yubin_factory):
    y = yubin_factory(smtpd_timeout="2s")
    with y.raw(timeout=10) as c:
        c.banner()
        c.ehlo()
        t0 = time.monotonic()
        r = c.reply(timeout=8)
        elapsed = time.monotonic() - t0
        assert (r.code, r.enhanced) == (421, "4.4.2"), r
        assert 1.5 <= elapsed <= 5, "timeout after %.1fs with smtpd_timeout=2s" % elapsed
        assert c.wait_closed(3), "connection open after the timeout reply"


def test_timeout_applies_inside_data(yubin_factory):
    y = yubin_factory(smtpd_timeout="2s")
    with y.raw(timeout=10) as c:
        c.session()
        assert c.cmd("DATA").code == 354
        c.send(b"Subject: slow\r\n\r\npartial")
        replies, closed = c.replies_until_close(timeout=8)
        assert closed, "connection still open 8s into a stalled DATA"
        assert not [r for r in replies if r.code == 250], replies
    assert y.settled() == {}


@pytest.mark.parametrize("request_line", [b"GET / HTTP/1.0\r\n", b"POST /form HTTP/1.1\r\n"])
def test_http_request_is_dropped(yubin, request_line):
    with yubin.raw() as c:
        c.banner()
        c.send(request_line + b"Host: 127.0.0.1\r\n\r\n")
        replies, closed = c.replies_until_close(timeout=5)
    assert replies and replies[0].code == 221, replies
    assert closed, "HTTP client not disconnected"


def test_http_request_before_banner(yubin):
    """A client that talks first and never reads the banner (an HTTP
    client): no command of it succeeds and it is disconnected."""
    s = socket.create_connection(("127.0.0.1", yubin.port), timeout=5)
    data, closed = b"", False
    try:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        while True:
            try:
                chunk = s.recv(4096)
            except ConnectionResetError:
                closed = True
                break
            except socket.timeout:
                break
            if not chunk:
                closed = True
                break
            data += chunk
    finally:
        s.close()
    assert b"\r\n250" not in data and b"354" not in data, data
    assert closed, "HTTP client that spoke first not disconnected: %r" % data
