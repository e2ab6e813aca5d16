"""Durability (security.md 3, 8.3): mail that got 250 survives a restart
and a SIGKILL in the middle of a burst; files the server never answered 250
for are removed at start and logged, never left half-written."""
import os
import random
import smtplib
import threading
import time

from helpers import mailq, queuefile
from helpers.daemon import message, transaction


def test_restart_keeps_the_queue(yubin):
    qids = [yubin.send("s%d@client.test" % i, ["u%d@mx.example.test" % i, "v@mx.example.test"],
                       message("restart %d" % i, body=("x" * 70 + "\r\n") * (i * 10))) for i in range(5)]
    before = yubin.mailq_text()
    assert sorted(mailq.parse(before)) == sorted(qids)
    files_before = {q: open(yubin.qpath(q), "rb").read() for q in qids}

    yubin.stop()
    yubin.check_problems()
    stopped = yubin.run("queue", "list")
    assert stopped.returncode == 0, stopped.stderr
    assert mailq.normalise(stopped.stdout) == mailq.normalise(before)

    yubin.start()
    after = yubin.mailq_text()
    assert mailq.normalise(after) == mailq.normalise(before)
    for q in qids:
        qf = yubin.qfile(q)
        assert queuefile.parse(files_before[q]).content == qf.content
    # The restarted daemon still accepts mail, with a new queue ID.
    q6 = yubin.send("late@client.test", ["alice@mx.example.test"], message("after restart"))
    assert q6 not in qids
    assert sorted(yubin.mailq()) == sorted(qids + [q6])


def test_sigkill_during_burst_loses_nothing_acknowledged(yubin):
    total, workers = 200, 10
    accepted = {}                 # qid -> (sender, rcpt, body marker)
    lock = threading.Lock()
    kill_at = 60
    killed = threading.Event()
    errors = []

    def worker(w):
        rnd = random.Random(w)
        n = 0
        s = None
        try:
            while n < total // workers and not killed.is_set():
                if s is None:
                    s = yubin.smtp(timeout=10)
                sender = "w%d.m%d@client.test" % (w, n)
                marker = "burst-%d-%d" % (w, n)
                body = (marker + " " + "z" * rnd.randint(10, 150) + "\r\n") * rnd.randint(1, 400)
                qid = transaction(s, sender, ["alice@mx.example.test"], message(marker, body=body))
                with lock:
                    accepted[qid] = (sender, marker)
                n += 1
        except (smtplib.SMTPException, OSError, AssertionError) as e:
            if not killed.is_set():
                errors.append("worker %d: %r" % (w, e))
        finally:
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass

    threads = [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(workers)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with lock:
            if len(accepted) >= kill_at:
                break
        if not any(t.is_alive() for t in threads):
            break
        time.sleep(0.002)
    with lock:
        killed.set()
        yubin.kill9()
        acked = dict(accepted)
    for t in threads:
        t.join(15)
    assert not errors, errors
    assert len(acked) >= kill_at, "only %d messages accepted before the kill" % len(acked)
    assert len(acked) < total, "burst finished before the kill; nothing was interrupted"

    # With the daemon dead: every acknowledged message is complete on disk.
    for qid, (sender, marker) in acked.items():
        path = yubin.qpath(qid)
        assert os.path.isfile(path), "acknowledged %s lost by SIGKILL" % qid
        qf = queuefile.load(path)
        assert qf.sender == sender
        assert marker.encode() in qf.content
    unfinished = []
    for qid, qf in yubin.all_messages().items():
        if isinstance(qf, queuefile.QueueFileError):
            assert qf.incomplete, "corrupt (not merely unfinished) queue file %s: %s" % (qid, qf)
            assert qid not in acked
            unfinished.append(qid)

    yubin.start()
    listing = yubin.mailq()
    missing = sorted(set(acked) - set(listing))
    assert not missing, "acknowledged messages not listed after restart: %r" % missing
    # Unfinished files are gone, each with a warning in the log.
    for qid, qf in yubin.all_messages().items():
        assert not isinstance(qf, Exception), "invalid queue file %s after restart: %s" % (qid, qf)
    for qid in unfinished:
        assert not os.path.exists(yubin.qpath(qid)), "unfinished %s not removed at start" % qid
        yubin.wait_log(r"yubin/\w+\[\d+\]: warning: .*%s" % qid)
    assert sorted(listing) == sorted(yubin.queue_ids())
    for qid in listing:
        assert listing[qid].size == yubin.qfile(qid).size


def test_start_removes_unfinished_files(yubin):
    """Files planted while the daemon is down: one cut in the middle of a
    record and one cut just before the end record are unfinished writes;
    the daemon removes both at start and logs each. A good one stays."""
    good = yubin.send("good@client.test", ["alice@mx.example.test"], message("good", body=("g" * 70 + "\r\n") * 40))
    yubin.stop()
    yubin.check_problems()
    with open(yubin.qpath(good), "rb") as f:
        data = f.read()
    planted = {"0000000000A1": data[:len(data) // 2], "0000000000B2": data[:-21]}
    for qid, content in planted.items():
        with open(yubin.qpath(qid), "wb") as f:
            f.write(content)
        try:
            queuefile.load(yubin.qpath(qid))
            raise AssertionError("planted file unexpectedly valid")
        except queuefile.QueueFileError as e:
            assert e.incomplete
    yubin.start()
    assert list(yubin.mailq()) == [good]
    for qid in planted:
        assert not os.path.exists(yubin.qpath(qid)), "unfinished %s not removed at start" % qid
        yubin.wait_log(r"yubin/\w+\[\d+\]: warning: .*%s" % qid)
    assert yubin.queue_ids() == [good]
