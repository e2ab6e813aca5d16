"""A raw SMTP client on a plain socket: the tests decide every byte on the
wire (pipelined groups, BDAT chunks, smuggling variants, STARTTLS with
plaintext behind it), and see every reply line as the server sent it.

Trusts nothing the server sends: replies are parsed with a line limit and a
deadline, and EOF or a reset is reported, never hidden.
"""
import re
import socket
import ssl
import time

MAX_LINE = 4096
ENHANCED = re.compile(r"^([245])\.\d{1,3}\.\d{1,3}(?: |$)")


class Closed(Exception):
    """The server closed the connection before a complete reply."""


class Reply:
    def __init__(self, code, lines, raw):
        self.code = code
        self.lines = lines      # text after "NNN-" / "NNN ", one per line
        self.raw = raw          # the reply lines as received (bytes)

    @property
    def text(self):
        return "\n".join(self.lines)

    @property
    def enhanced(self):
        """The enhanced status code of the first line, or None."""
        m = re.match(r"^(\d\.\d{1,3}\.\d{1,3})(?: |$)", self.lines[0] if self.lines else "")
        return m.group(1) if m else None

    def every_line_enhanced(self):
        """Does every line carry an enhanced code whose class matches the reply code?"""
        cls = str(self.code)[0]
        for line in self.lines:
            m = ENHANCED.match(line)
            if not m or m.group(1) != cls:
                return False
        return True

    def __repr__(self):
        return "Reply(%d, %r)" % (self.code, self.lines)


class RawSMTP:
    def __init__(self, port, host="127.0.0.1", source=None, timeout=5.0):
        src = (source, 0) if source else None
        self.sock = socket.create_connection((host, port), timeout=timeout, source_address=src)
        self.timeout = timeout
        self.rbuf = b""
        self.eof = False

    # ---- bytes ----
    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def _fill(self, deadline):
        """Read more into rbuf. False on EOF; socket.timeout at the deadline."""
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("no data before the deadline")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        except ssl.SSLError:
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.rbuf += chunk
        return True

    def readline(self, timeout=None):
        """One line including its CRLF, or None at EOF."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while True:
            i = self.rbuf.find(b"\n")
            if i >= 0:
                line, self.rbuf = self.rbuf[:i + 1], self.rbuf[i + 1:]
                return line
            if len(self.rbuf) > MAX_LINE:
                raise AssertionError("server sent a line longer than %d bytes: %r" % (MAX_LINE, self.rbuf[:200]))
            if not self._fill(deadline):
                if self.rbuf:
                    line, self.rbuf = self.rbuf, b""
                    return line
                return None

    # ---- replies ----
    def reply(self, timeout=None):
        """Read one (possibly multi-line) reply. Raises Closed on EOF."""
        lines, raw = [], []
        while True:
            line = self.readline(timeout)
            if line is None:
                raise Closed("connection closed after %r" % raw)
            raw.append(line)
            if not line.endswith(b"\r\n"):
                raise AssertionError("reply line not terminated by CRLF: %r" % line)
            m = re.match(rb"^(\d{3})([ -])(.*)\r\n$", line)
            if not m:
                raise AssertionError("malformed reply line: %r" % line)
            lines.append(m.group(3).decode("utf-8", "replace"))
            if m.group(2) == b" ":
                codes = {re.match(rb"^\d{3}", r).group(0) for r in raw}
                if len(codes) != 1:
                    raise AssertionError("reply lines with different codes: %r" % raw)
                return Reply(int(m.group(1)), lines, raw)

    def replies(self, n, timeout=None):
        return [self.reply(timeout) for _ in range(n)]

    def cmd(self, line, timeout=None):
        self.send(line + "\r\n")
        return self.reply(timeout)

    def banner(self):
        r = self.reply()
        assert r.code == 220, "banner: %r" % r
        return r

    def ehlo(self, name="client.test"):
        r = self.cmd("EHLO " + name)
        assert r.code == 250, "EHLO: %r" % r
        return r

    def session(self, sender="sender@client.test", rcpts=("alice@mx.example.test",), ehlo=True):
        """Banner, EHLO, MAIL, RCPT...: every reply must be 250."""
        self.banner()
        if ehlo:
            self.ehlo()
        r = self.cmd("MAIL FROM:<%s>" % sender)
        assert r.code == 250, "MAIL: %r" % r
        for a in rcpts:
            r = self.cmd("RCPT TO:<%s>" % a)
            assert r.code == 250, "RCPT %s: %r" % (a, r)

    def replies_until_close(self, timeout=5.0):
        """Every reply until the server closes; (replies, closed). closed is
        False when the deadline passed with the connection still open."""
        out = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return out, False
            try:
                out.append(self.reply(left))
            except Closed:
                return out, True
            except socket.timeout:
                return out, False

    def wait_closed(self, timeout=3.0):
        """True when the server closes within timeout (data read meanwhile is
        kept in rbuf); False when the connection stays open."""
        deadline = time.monotonic() + timeout
        try:
            while self._fill(deadline):
                pass
            return True
        except socket.timeout:
            return False

    # ---- TLS ----
    def starttls_handshake(self, context, server_hostname="localhost"):
        """Wrap the socket (after a 220 to STARTTLS). Raises ssl.SSLError or
        OSError when the handshake fails."""
        self.sock.settimeout(self.timeout)
        self.sock = context.wrap_socket(self.sock, server_hostname=server_hostname)
        self.rbuf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
