"""Reads yubin queue files (src/queue/queue_file.h) independently of the C
code, so the tests check the on-disk contract rather than the product's own
reader.

    magic "YUBINQ" 0x00 0x01
    records: type (1) | length (4, big-endian) | payload
      A "name=value"   S sender   R status|notify|orcpt_len(2)|orcpt|address
      M start of content   D content chunk   X size(8)|crc32(4)|nrecords(4)

Trusts nothing: every length is checked against the file size.
"""
import struct
import zlib

MAGIC = b"YUBINQ\x00\x01"


class QueueFileError(Exception):
    def __init__(self, reason, incomplete=False):
        super().__init__(reason)
        self.incomplete = incomplete   # no end record: an unfinished write


class Rcpt:
    def __init__(self, status, notify, orcpt, addr):
        self.status, self.notify, self.orcpt, self.addr = status, notify, orcpt, addr

    def __repr__(self):
        return "Rcpt(%r, status=%r, notify=%d, orcpt=%r)" % (self.addr, self.status, self.notify, self.orcpt)


class QueueFile:
    def __init__(self):
        self.attrs = {}
        self.sender = None
        self.rcpts = []
        self.content = b""
        self.size = None
        self.crc = None
        self.nrecords = None

    @property
    def addrs(self):
        return [r.addr for r in self.rcpts]

    def header(self, name):
        """Values of a header field in the primary header block (unfolded)."""
        head = self.content.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
        fields, cur = [], None
        for line in head.split("\r\n"):
            if line[:1] in (" ", "\t") and cur is not None:
                cur += " " + line.strip()
                fields[-1] = cur
                continue
            cur = line
            fields.append(cur)
        out = []
        for f in fields:
            n, sep, v = f.partition(":")
            if sep and n.strip().lower() == name.lower():
                out.append(v.strip())
        return out


def parse(data):
    if not data.startswith(MAGIC):
        raise QueueFileError("bad magic %r" % data[:8], incomplete=len(data) < len(MAGIC))
    qf = QueueFile()
    pos, n, seen_m, senders = len(MAGIC), 0, False, 0
    chunks = []
    while True:
        if pos == len(data):
            raise QueueFileError("no end record", incomplete=True)
        if pos + 5 > len(data):
            raise QueueFileError("truncated record header at %d" % pos, incomplete=True)
        rtype = data[pos:pos + 1]
        (length,) = struct.unpack(">I", data[pos + 1:pos + 5])
        body = data[pos + 5:pos + 5 + length]
        if len(body) != length:
            raise QueueFileError("truncated %r record at %d" % (rtype, pos), incomplete=True)
        if rtype == b"X":
            if length != 16:
                raise QueueFileError("end record of length %d" % length)
            if pos + 21 != len(data):
                raise QueueFileError("data after the end record")
            qf.size, qf.crc, qf.nrecords = struct.unpack(">QII", body)
            break
        n += 1
        if rtype == b"A":
            k, sep, v = body.decode("utf-8", "replace").partition("=")
            if not sep:
                raise QueueFileError("attribute without '=': %r" % body)
            qf.attrs[k] = v
        elif rtype == b"S":
            senders += 1
            qf.sender = body.decode("utf-8", "replace")
        elif rtype == b"R":
            if length < 4:
                raise QueueFileError("short recipient record")
            (olen,) = struct.unpack(">H", body[2:4])
            if 4 + olen > length:
                raise QueueFileError("recipient ORCPT length beyond the record")
            orcpt = body[4:4 + olen].decode("utf-8", "replace") or None
            qf.rcpts.append(Rcpt(chr(body[0]), body[1], orcpt, body[4 + olen:].decode("utf-8", "replace")))
        elif rtype == b"M":
            seen_m = True
        elif rtype == b"D":
            if not seen_m:
                raise QueueFileError("content before the M record")
            chunks.append(body)
        else:
            raise QueueFileError("unknown record type %r at %d" % (rtype, pos))
        pos += 5 + length
    qf.content = b"".join(chunks)
    if senders != 1:
        raise QueueFileError("%d sender records" % senders)
    if not qf.rcpts:
        raise QueueFileError("no recipient")
    if not seen_m:
        raise QueueFileError("no M record")
    if qf.size != len(qf.content):
        raise QueueFileError("end record size %d, content has %d bytes" % (qf.size, len(qf.content)))
    if qf.crc != zlib.crc32(qf.content) & 0xFFFFFFFF:
        raise QueueFileError("CRC mismatch")
    if qf.nrecords not in (n, n + 1):
        raise QueueFileError("end record counts %d records, file has %d" % (qf.nrecords, n + 1))
    return qf


def load(path):
    with open(path, "rb") as f:
        return parse(f.read())
