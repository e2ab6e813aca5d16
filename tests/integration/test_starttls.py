"""STARTTLS (RFC 3207) with a certificate made by openssl for localhost and
127.0.0.1: smtplib and swaks verify it; the server forgets the plaintext
session, refuses commands smuggled behind STARTTLS (CVE-2011-0411) and, at
smtpd_tls_security_level = encrypt, refuses mail before TLS."""
import re
import socket
import ssl
import subprocess

import pytest

from helpers.daemon import QID_RE, message, transaction
from helpers.rawsmtp import Closed


@pytest.fixture
def tls_yubin(yubin_factory, tls_cert):
    cert, key = tls_cert
    return yubin_factory(smtpd_tls_cert_file=cert, smtpd_tls_key_file=key, smtpd_tls_security_level="may")


def client_context(cert):
    return ssl.create_default_context(cafile=cert)


def keywords(r):
    return [line.split()[0].upper() for line in r.lines[1:]]


def test_ehlo_advertises_starttls(tls_yubin):
    with tls_yubin.raw() as c:
        c.banner()
        assert "STARTTLS" in keywords(c.ehlo())


def test_smtplib_starttls_verified(tls_yubin, tls_cert):
    y = tls_yubin
    with y.smtp() as s:
        s.ehlo()
        assert s.has_extn("starttls")
        code, text = s.starttls(context=client_context(tls_cert[0]))
        assert code == 220, text
        code, _ = s.ehlo()
        assert code == 250
        assert not s.has_extn("starttls"), "STARTTLS still advertised inside TLS"
        assert s.has_extn("pipelining")
        version = s.sock.version()
        qid = transaction(s, "tls@client.test", ["alice@mx.example.test"], message("over tls"))
        s.quit()
    qf = y.qfile(qid)
    assert qf.attrs.get("proto") == "ESMTPS", qf.attrs
    assert version in qf.attrs.get("tls", ""), "tls attribute %r lacks %s" % (qf.attrs.get("tls"), version)
    received = qf.header("Received")[0]
    assert re.search(r"\bwith ESMTPS\b", received), "Received: %r does not say 'with ESMTPS' (RFC 3848)" % received
    y.wait_log(r"yubin/smtpd\[\d+\]: (Anonymous |Untrusted |Trusted |Verified )?TLS connection established "
               r"from localhost\[127\.0\.0\.1\]: %s with cipher \S+" % re.escape(version))


def test_swaks_tls_verify(tls_yubin, tls_cert):
    y = tls_yubin
    r = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % y.port, "--helo", "client.test", "--timeout", "10",
                        "-tls", "--tls-verify", "--tls-ca-path", tls_cert[0],
                        "--from", "swaks@client.test", "--to", "alice@mx.example.test"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    qid = re.search(r"250 2\.0\.0 Ok: queued as (%s)" % QID_RE, r.stdout).group(1)
    assert y.qfile(qid).attrs.get("proto") == "ESMTPS"


def test_swaks_tls_wrong_ca_fails(tls_yubin):
    """Control: verification is real, a wrong CA makes swaks give up."""
    r = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % tls_yubin.port, "--timeout", "10",
                        "-tls", "--tls-verify", "--tls-ca-path", "/etc/ssl/certs/ca-certificates.crt",
                        "--from", "swaks@client.test", "--to", "alice@mx.example.test"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 29, r.stdout + r.stderr
    assert tls_yubin.settled() == {}


def test_curl_starttls(tls_yubin, tls_cert):
    y = tls_yubin
    path = y.dir + "/curl.eml"
    with open(path, "w") as f:
        f.write("Subject: curl tls\n\nbody\n")
    r = subprocess.run(["curl", "-sS", "-v", "--max-time", "10", "--url", "smtp://127.0.0.1:%d/client.test" % y.port,
                        "--ssl-reqd", "--cacert", tls_cert[0], "--mail-from", "curl@client.test",
                        "--mail-rcpt", "alice@mx.example.test", "-T", path, "--crlf"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    qid = re.search(r"250 2\.0\.0 Ok: queued as (%s)" % QID_RE, r.stderr).group(1)
    assert y.qfile(qid).content.endswith(b"Subject: curl tls\r\n\r\nbody\r\n")


def test_command_pipelined_with_starttls(tls_yubin, tls_cert):
    """"STARTTLS\\r\\nNOOP\\r\\n" in one write: the server must answer with an
    error or drop the connection (security.md 8.2), never start TLS and
    then run the plaintext NOOP inside it."""
    with tls_yubin.raw() as c:
        c.banner()
        c.ehlo()
        c.send(b"STARTTLS\r\nNOOP\r\n")
        try:
            r = c.reply()
        except Closed:
            return
        if r.code == 220:
            try:
                c.starttls_handshake(client_context(tls_cert[0]), server_hostname="localhost")
                injected = c.reply(timeout=2)
            except (ssl.SSLError, OSError, Closed, socket.timeout):
                injected = None
            assert injected is None, "plaintext NOOP executed inside TLS (CVE-2011-0411): %r" % injected
            pytest.fail("server started TLS although plaintext followed STARTTLS (must reject and drop)")
        assert r.code >= 400, r
        assert c.wait_closed(3), "connection left open after STARTTLS with pipelined plaintext"


def test_mail_after_starttls_needs_new_ehlo(tls_yubin, tls_cert):
    with tls_yubin.raw() as c:
        c.banner()
        c.ehlo()
        assert c.cmd("STARTTLS").code == 220
        c.starttls_handshake(client_context(tls_cert[0]), server_hostname="localhost")
        r = c.cmd("MAIL FROM:<a@client.test>")
        assert (r.code, r.enhanced) == (503, "5.5.1"), "MAIL without EHLO after STARTTLS: %r" % r
        assert "STARTTLS" not in keywords(c.ehlo())
        r = c.cmd("STARTTLS")
        assert r.code >= 500, "second STARTTLS: %r" % r
        assert c.cmd("MAIL FROM:<a@client.test>").code == 250


def test_encrypt_level_requires_tls(yubin_factory, tls_cert):
    cert, key = tls_cert
    y = yubin_factory(smtpd_tls_cert_file=cert, smtpd_tls_key_file=key, smtpd_tls_security_level="encrypt")
    with y.raw() as c:
        c.banner()
        assert "STARTTLS" in keywords(c.ehlo())
        r = c.cmd("MAIL FROM:<a@client.test>")
        assert (r.code, r.enhanced) == (530, "5.7.0"), r
        assert c.cmd("STARTTLS").code == 220
        c.starttls_handshake(client_context(cert), server_hostname="localhost")
        c.ehlo()
        assert c.cmd("MAIL FROM:<a@client.test>").code == 250
        assert c.cmd("RCPT TO:<alice@mx.example.test>").code == 250
        assert c.cmd("DATA").code == 354
        r = c.cmd("Subject: enc\r\n\r\nx\r\n.")
        assert r.code == 250, r
    [(qid, qf)] = y.all_messages().items()
    assert qf.attrs.get("proto") == "ESMTPS"


def test_no_starttls_without_certificate(yubin):
    with yubin.raw() as c:
        c.banner()
        c.ehlo()
        r = c.cmd("STARTTLS")
        assert r.code >= 500 and r.every_line_enhanced(), r
        assert c.cmd("NOOP").code == 250


def test_garbage_handshake_does_not_hurt_the_daemon(tls_yubin, tls_cert):
    with tls_yubin.raw() as c:
        c.banner()
        c.ehlo()
        assert c.cmd("STARTTLS").code == 220
        c.send(b"this is not a TLS ClientHello\r\n" * 4)
        assert c.wait_closed(5), "server kept a connection whose TLS handshake failed"
    with tls_yubin.smtp() as s:
        s.ehlo()
        assert s.starttls(context=client_context(tls_cert[0]))[0] == 220
        assert s.noop()[0] == 250
