"""Relay control (Postfix's permit_mynetworks + reject_unauth_destination):
with mynetworks = 127.0.0.1/32, a client on 127.0.0.2 is an outsider. It may
send to our own domains and to relay_domains, nowhere else, and no routing
trick in the address opens the relay."""
import re

import pytest

from helpers.daemon import message

OUTSIDE = "127.0.0.2"


def rcpt_reply(y, addr, source, sender="outsider@client.test"):
    return y.rcpt_reply(addr, source, sender)


def test_outside_client_cannot_relay(yubin):
    code, text = rcpt_reply(yubin, "<x@elsewhere.test>", OUTSIDE)
    assert (code, text) == (554, b"5.7.1 <x@elsewhere.test>: Relay access denied")
    assert yubin.settled() == {}


def test_inside_client_may_relay(yubin):
    qid = yubin.send("insider@client.test", ["x@elsewhere.test"], message("relay"), source="127.0.0.1")
    assert yubin.qfile(qid).addrs == ["x@elsewhere.test"]


@pytest.mark.parametrize("addr", ["alice@mx.example.test", "alice@MX.Example.TEST", "bob@localhost"])
def test_outside_client_may_send_to_local_domains(yubin, addr):
    qid = yubin.send("outsider@client.test", [addr], message("local"), source=OUTSIDE)
    qf = yubin.qfile(qid)
    assert qf.attrs.get("client_addr") == OUTSIDE
    assert len(qf.addrs) == 1 and qf.addrs[0].lower() == addr.lower()


@pytest.mark.parametrize("addr", [
    "<user%elsewhere.test@mx.example.test>",
    "<\"user@elsewhere.test\"@mx.example.test>",
    "<@mx.example.test:user@elsewhere.test>",
    "<elsewhere.test!user@mx.example.test>",
    "<user@elsewhere.test@mx.example.test>",
    "<\"user%elsewhere.test\"@mx.example.test>",
    "<user@elsewhere.test.>",
    "<user@[192.0.2.1]>",
])
def test_relay_tricks_from_outside_rejected(yubin, addr):
    code, text = rcpt_reply(yubin, addr, OUTSIDE)
    assert code >= 500, "RCPT TO:%s from outside: %d %r (open relay)" % (addr, code, text)
    assert yubin.settled() == {}


def test_relay_tricks_do_not_go_through_with_data(yubin):
    """Even if some RCPT were accepted, no message for a routed address from
    outside may end up queued."""
    with yubin.smtp(OUTSIDE) as s:
        s.ehlo()
        s.mail("outsider@client.test")
        accepted = []
        for a in ["<user%elsewhere.test@mx.example.test>", "<elsewhere.test!user@mx.example.test>",
                  "<@mx.example.test:user@elsewhere.test>"]:
            if s.docmd("RCPT TO:" + a)[0] == 250:
                accepted.append(a)
        assert not accepted, "routed addresses accepted from outside: %r" % accepted


def test_relay_domains(yubin_factory):
    y = yubin_factory(relay_domains="relay.test")
    for addr in ["x@relay.test", "x@sub.relay.test", "x@a.b.relay.test"]:
        qid = y.send("outsider@client.test", [addr], message("rd"), source=OUTSIDE)
        assert y.qfile(qid).addrs == [addr]
    for addr in ["x@relay.test.evil.test", "x@evilrelay.test", "x@elsewhere.test", "x%y@relay.test@elsewhere.test"]:
        code, text = rcpt_reply(y, "<%s>" % addr, OUTSIDE)
        assert code >= 500, "relay_domains=relay.test let %s through from outside: %d %r" % (addr, code, text)


def test_relay_denied_log_line(yubin):
    code, _ = rcpt_reply(yubin, "<x@elsewhere.test>", OUTSIDE, sender="s@client.test")
    assert code == 554
    yubin.wait_log(
        r"^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ yubin/smtpd\[\d+\]: NOQUEUE: reject: RCPT from "
        r"unknown\[127\.0\.0\.2\]: 554 5\.7\.1 <x@elsewhere\.test>: Relay access denied; "
        r"from=<s@client\.test> to=<x@elsewhere\.test> proto=ESMTP helo=<client\.test>$")
    yubin.wait_log(r"yubin/smtpd\[\d+\]: connect from unknown\[127\.0\.0\.2\]$")


def test_reject_after_accepted_recipient_uses_queue_id(yubin):
    """Postfix: once a recipient was accepted the transaction has a queue ID
    and later rejects log it instead of NOQUEUE."""
    with yubin.smtp(OUTSIDE) as s:
        s.ehlo()
        s.mail("s@client.test")
        assert s.rcpt("alice@mx.example.test")[0] == 250
        assert s.rcpt("x@elsewhere.test")[0] == 554
        code, text = s.data(message("mixed").encode())
        assert code == 250, text
        qid = re.search(r"queued as ([0-9A-F]+)", text.decode()).group(1)
        s.quit()
    yubin.wait_log(r"yubin/smtpd\[\d+\]: %s: reject: RCPT from unknown\[127\.0\.0\.2\]: 554 5\.7\.1 "
                   r"<x@elsewhere\.test>: Relay access denied; from=<s@client\.test> to=<x@elsewhere\.test> "
                   r"proto=ESMTP helo=<client\.test>$" % qid)
    assert yubin.qfile(qid).addrs == ["alice@mx.example.test"]
