"""Parses mailq output and checks it against Postfix's postqueue -p layout
(conventions.md 4.1) character for character, so scripts and
postfix_exporter written for Postfix read yubin's queue listing unchanged.
"""
import re

HEADER = "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------"
EMPTY = "Mail queue is empty\n"
RCPT_INDENT = " " * 41
MSG_LINE = re.compile(r"^([0-9A-F]+)([*!#]?) +(\d+) ((?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) "
                      r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d\d:\d\d:\d\d)  (\S+)$")


class Entry:
    def __init__(self, qid, marker, size, arrival, sender):
        self.qid, self.marker, self.size, self.arrival, self.sender = qid, marker, size, arrival, sender
        self.rcpts = []
        self.reasons = []

    def __repr__(self):
        return "Entry(%s%s, %d, %r, %r)" % (self.qid, self.marker, self.size, self.sender, self.rcpts)


def parse(text):
    """Return {qid: Entry}. Raises AssertionError naming the first line that
    does not follow the layout."""
    if text == EMPTY:
        return {}
    lines = text.split("\n")
    assert lines[0] == HEADER, "mailq header line is %r, expected %r" % (lines[0], HEADER)
    assert lines[-1] == "", "mailq output does not end with a newline: %r" % text[-80:]
    trailer = lines[-2]
    m = re.match(r"^-- (\d+) Kbytes in (\d+) Requests?\.$", trailer)
    assert m, "mailq trailer line is %r" % trailer
    assert lines[-3] == "", "no blank line before the mailq trailer"
    body = lines[1:-3]
    entries, cur = {}, None
    for i, line in enumerate(body):
        if line == "":
            assert cur is not None and i + 1 < len(body) and body[i + 1] != "", \
                "stray blank line in mailq output at line %d" % (i + 2)
            cur = None
            continue
        if cur is None:
            mm = MSG_LINE.match(line)
            assert mm, "mailq message line %d does not follow the layout: %r" % (i + 2, line)
            qid, marker, size, arrival, sender = mm.group(1), mm.group(2), int(mm.group(3)), mm.group(4), mm.group(5)
            expect = "%-11s %7d %s  %s" % (qid + marker, size, arrival, sender)
            assert line == expect, "mailq message line %r, Postfix layout gives %r" % (line, expect)
            assert qid not in entries, "queue ID %s listed twice" % qid
            cur = entries[qid] = Entry(qid, marker, size, arrival, sender)
            continue
        if line.startswith(RCPT_INDENT) and not line[41:].startswith(" ") and not line.endswith(")"):
            cur.rcpts.append(line[41:])
            continue
        rm = re.match(r"^( *)\((.*)\)$", line)
        assert rm, "mailq line %d is neither a recipient nor a reason: %r" % (i + 2, line)
        reason = rm.group(2)
        assert len(rm.group(1)) == max(0, 76 - len(reason)), "mailq reason line not aligned: %r" % line
        cur.reasons.append(reason)
    for e in entries.values():
        assert e.rcpts, "mailq entry %s has no recipient line" % e.qid
    n, kb = int(m.group(2)), int(m.group(1))
    assert n == len(entries), "trailer says %d requests, listing has %d" % (n, len(entries))
    assert kb == sum(e.size for e in entries.values()) // 1024, "trailer Kbytes %d wrong" % kb
    assert trailer.endswith("Request.") == (n == 1), "trailer plural wrong: %r" % trailer
    return entries


def normalise(text):
    """mailq text without the active/hold markers' effect on layout, for
    comparing listings taken at different moments."""
    ents = parse(text)
    return {q: (e.size, e.arrival, e.sender, tuple(e.rcpts)) for q, e in ents.items()}
