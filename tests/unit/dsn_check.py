#!/usr/bin/python3
"""dsn_check.py - check a notification composed by dsn.c with an independent
MIME parser (Python's email package), so the unit test does not only agree
with itself.

Usage: dsn_check.py FILE EXPECT_JSON

EXPECT_JSON keys (all optional except rcpts and third):
  subject    expected Subject
  third      content type of the third part ("message/rfc822",
             "text/rfc822-headers")
  third_description  its Content-Description
  message    {field: value} expected in the per-message block
  rcpts      [{field: value}, ...] one per recipient block, in order
             (e.g. Final-Recipient, Action, Status)
  absent     [field, ...] that no recipient block may carry
  inner_subject  Subject of the message inside a message/rfc822 part
  human      [text, ...] that must occur in the text/plain part (compared
             with whitespace runs collapsed)

Exits 0 when everything matches, 1 with a message on stderr otherwise.
"""
import email
import email.policy
import json
import re
import sys


def norm(value):
    return re.sub(r"\s+", " ", str(value)).strip()


def check_raw(raw, problems):
    # Every line must end in CRLF and fit RFC 5322's 998-octet limit.
    if b"\0" in raw:
        problems.append("NUL byte in the message")
    for n, line in enumerate(raw.split(b"\r\n")):
        if b"\n" in line or b"\r" in line:
            problems.append("bare CR or LF in line %d" % (n + 1))
        if len(line) > 998:
            problems.append("line %d is %d octets long" % (n + 1, len(line)))
    if not raw.endswith(b"\r\n"):
        problems.append("message does not end with CRLF")


def check_fields(block, expect, what, problems):
    for name, want in expect.items():
        got = block.get(name)
        if got is None:
            problems.append("%s: no %s field" % (what, name))
        elif norm(got) != norm(want):
            problems.append("%s: %s is %r, expected %r" % (what, name, norm(got), want))


def check(raw, expect):
    problems = []
    check_raw(raw, problems)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    if msg.defects:
        problems.append("top-level defects: %r" % msg.defects)
    if "subject" in expect and norm(msg.get("Subject", "")) != expect["subject"]:
        problems.append("Subject is %r" % msg.get("Subject"))
    if msg.get_content_type() != "multipart/report":
        problems.append("top-level type is %s" % msg.get_content_type())
        return problems
    if msg.get_param("report-type") != "delivery-status":
        problems.append("report-type is %r" % msg.get_param("report-type"))
    parts = msg.get_payload()
    if len(parts) != 3:
        problems.append("%d parts, expected 3" % len(parts))
        return problems
    for part in parts:
        if part.defects:
            problems.append("%s part defects: %r" % (part.get_content_type(), part.defects))

    human, report, third = parts
    if human.get_content_type() != "text/plain" or human.get_content_charset() != "us-ascii":
        problems.append("first part is %s" % human.get("Content-Type"))
    else:
        text = norm(human.get_content())
        for want in expect.get("human", []):
            if norm(want) not in text:
                problems.append("human part lacks %r" % want)

    if report.get_content_type() != "message/delivery-status":
        problems.append("second part is %s" % report.get_content_type())
    else:
        blocks = report.get_payload()
        rcpts = expect.get("rcpts", [])
        if len(blocks) != 1 + len(rcpts):
            problems.append("%d field blocks, expected %d" % (len(blocks), 1 + len(rcpts)))
        else:
            if blocks[0].get("Reporting-MTA") is None:
                problems.append("no Reporting-MTA")
            check_fields(blocks[0], expect.get("message", {}), "per-message", problems)
            for i, want in enumerate(rcpts):
                check_fields(blocks[1 + i], want, "recipient %d" % (i + 1), problems)
                for name in expect.get("absent", []):
                    if blocks[1 + i].get(name) is not None:
                        problems.append("recipient %d has %s" % (i + 1, name))

    if third.get_content_type() != expect.get("third"):
        problems.append("third part is %s, expected %s" % (third.get_content_type(), expect.get("third")))
    if "third_description" in expect and norm(third.get("Content-Description", "")) != expect["third_description"]:
        problems.append("third part description is %r" % third.get("Content-Description"))
    if "inner_subject" in expect:
        inner = third.get_payload()
        inner = inner[0] if isinstance(inner, list) and inner else None
        if inner is None or norm(inner.get("Subject", "")) != expect["inner_subject"]:
            problems.append("inner message Subject is not %r" % expect["inner_subject"])
    return problems


def main():
    if len(sys.argv) != 3:
        print("usage: dsn_check.py FILE EXPECT_JSON", file=sys.stderr)
        return 2
    with open(sys.argv[1], "rb") as f:
        raw = f.read()
    problems = check(raw, json.loads(sys.argv[2]))
    for p in problems:
        print("dsn_check: %s: %s" % (sys.argv[1], p), file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
