"""The snapshot beside a big journal's log: used when it is this log's, ignored whenever it is not."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings

import pytest
from tinydb import TinyDB

from kepler_nb.journal import snapshot as snapshot_module
from kepler_nb.journal import storage
from kepler_nb.journal.journal import Journal
from kepler_nb.journal.snapshot import read_snapshot
from kepler_nb.journal.storage import JournalStorage


@pytest.fixture(autouse=True)
def snapshots_of_small_journals(monkeypatch):
    """Every journal here is small: take a snapshot of it all the same, on every read that has news."""
    monkeypatch.setattr(JournalStorage, "snapshot_min_bytes", 0)
    monkeypatch.setattr(JournalStorage, "snapshot_stale", 0.0)


@pytest.fixture
def path(tmp_path):
    return tmp_path / "journal.jsonl"


def open_db(path) -> TinyDB:
    return TinyDB(str(path), storage=JournalStorage)


def fill(path, n, start=0) -> dict[int, dict]:
    db = open_db(path)
    docs = {}
    with db.storage.transaction():
        for i in range(start, start + n):
            doc = {"name": f"run {i}", "lr": i / 1000, "tags": ["x", str(i)]}
            docs[db.insert(doc)] = doc
    db.storage.read()  # a read after the write: takes the snapshot
    return docs


def state(path) -> dict[int, dict]:
    return {doc.doc_id: dict(doc) for doc in open_db(path).all()}


def verdict(path) -> str:
    """What a fresh reader makes of the snapshot beside ``path``."""
    with open(path, "rb") as f:
        header = json.loads(f.readline())
        return read_snapshot(
            path.with_name(path.name + ".snap"), f.fileno(), header["generation"], os.fstat(f.fileno()).st_size
        )[1]


def test_a_fresh_reader_starts_from_the_snapshot_and_reads_only_the_lines_after_it(path, monkeypatch):
    docs = fill(path, 30)
    assert path.with_name("journal.jsonl.snap").exists()
    assert verdict(path) == "used"
    # Lines appended by a writer that took no snapshot since (a kernel that only writes).
    db = open_db(path)
    with db.storage.transaction():
        docs[db.insert({"name": "after the snapshot"})] = {"name": "after the snapshot"}
    read_from = []
    original = JournalStorage._read_from
    monkeypatch.setattr(JournalStorage, "_read_from", lambda s, f, at: read_from.append(at) or original(s, f, at))
    assert state(path) == docs
    assert read_from and read_from[0] > 0  # control: it read only the log's tail, after the snapshot


def test_a_snapshot_of_an_earlier_generation_is_ignored(path):
    docs = fill(path, 20)
    old = path.with_name("journal.jsonl.snap").read_bytes()
    db = open_db(path)
    with db.storage.transaction():
        db.storage._rewrite(db.storage._tables)  # a compaction: a new generation
        db.update({"lr": 5.0}, doc_ids=[3])
    docs[3]["lr"] = 5.0
    path.with_name("journal.jsonl.snap").write_bytes(old)  # the snapshot of the file before
    assert verdict(path) == "taken from another generation of the log"
    assert state(path) == docs


@pytest.mark.parametrize("where", ["payload", "header", "cut short", "empty"])
def test_a_damaged_snapshot_is_ignored_never_trusted(path, where):
    docs = fill(path, 25)
    snap = path.with_name("journal.jsonl.snap")
    data = bytearray(snap.read_bytes())
    if where == "payload":
        data[-40] ^= 0x01  # one bit of one document
    elif where == "header":
        data = data.replace(b'"lines":', b'"lines":9')
    elif where == "cut short":
        data = data[: len(data) // 2]
    else:
        data = bytearray()
    snap.write_bytes(bytes(data))
    assert verdict(path) != "used"
    assert state(path) == docs


def test_a_damaged_line_under_the_snapshot_is_still_found_and_recovered(path):
    """The snapshot holds good documents, but a log damaged before its end must not go unnoticed."""
    fill(path, 25)
    raw = path.read_bytes()
    at = raw.index(b'"run 3"')
    path.write_bytes(raw[:at] + b"\x00garbage" + raw[at + 8 :])
    assert verdict(path) == "the log's first bytes are not the ones it was taken from"
    with pytest.warns(storage.JournalCorruptWarning, match="line"):
        names = {d["name"] for d in open_db(path).all()}
    assert "run 4" in names


def test_a_copy_that_went_its_own_way_is_not_read_with_the_other_copys_snapshot(tmp_path):
    """Two copies of one folder share a generation; each appended other records, then one's snapshot
    reached the other (a sync client, a restore)."""
    a, b = tmp_path / "a" / "journal.jsonl", tmp_path / "b" / "journal.jsonl"
    fill(a, 20)
    shutil.copytree(a.parent, b.parent)
    fill(a, 5, start=100)
    docs_b = {**state(b), **fill(b, 7, start=200)}
    shutil.copy(a.with_name("journal.jsonl.snap"), b.with_name("journal.jsonl.snap"))
    assert verdict(b) == "the log's first bytes are not the ones it was taken from"
    assert state(b) == docs_b


def test_leftover_temporary_snapshots_are_removed_and_the_journal_loads(path):
    docs = fill(path, 10)
    dead = 2**22 + 12345  # no such process
    leftover = path.with_name(f"journal.jsonl.snap.{dead}-1.tmp")
    leftover.write_bytes(b"kepler-journal-snapshot\n{half")
    assert state(path) == docs
    assert not leftover.exists()


WRITE_SNAPSHOTS_FOREVER = textwrap.dedent(
    """
    import sys
    from kepler_nb.journal.storage import JournalStorage
    from kepler_nb.journal.snapshot import Snapshot, write_snapshot
    s = JournalStorage(sys.argv[1])
    s.read()
    print("ready", flush=True)
    while True:
        write_snapshot(s.snapshot_path, Snapshot(s._generation, s._offset, s._lines, s._crc, s._ids, s._tables))
    """
)


def test_a_writer_killed_mid_snapshot_leaves_a_journal_that_loads(path):
    docs = fill(path, 400)
    for delay in (0.0, 0.003, 0.01, 0.03, 0.07):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITE_SNAPSHOTS_FOREVER, str(path)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        assert proc.returncode == -signal.SIGKILL
        with warnings.catch_warnings():
            warnings.simplefilter("error", storage.JournalCorruptWarning)
            assert state(path) == docs
        assert verdict(path) == "used"  # the previous snapshot or the new one, whole


def test_threads_reading_and_writing_with_snapshots_lose_nothing(path):
    fill(path, 5)
    db = open_db(path)
    acked: list[int] = []
    errors: list[BaseException] = []

    def work(worker):
        try:
            for i in range(40):
                with db.storage.transaction():
                    acked.append(db.insert({"worker": worker, "i": i}))
                if i % 5 == 0:
                    open_db(path).all()  # a fresh reader: starts from a snapshot others keep writing
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    found = state(path)
    assert set(acked) <= set(found) and len(acked) == 160
    assert len(found) == 165


def test_the_lookup_index_follows_records_written_by_another_journal(tmp_path):
    """The index behind the lookup is kept up to date from the storage's changes, not rebuilt."""
    ours, theirs = Journal(tmp_path), Journal(tmp_path)
    fields = {"arch_signature": "a1", "signature": "s1", "input_shape": [8], "n_classes": 2}
    assert ours.lookup(dict(fields)).duplicate is None
    first = theirs.start({"name": "m", "status": "finished", **fields}, {})
    assert ours.lookup(dict(fields)).duplicate["id"] == first
    theirs.update(first, {"status": "failed"})  # an edit takes it out again
    assert ours.lookup(dict(fields)).duplicate is None
    token = ours._index.token
    second = theirs.start({"name": "m2", "status": "finished", **fields}, {})
    assert ours.lookup(dict(fields)).duplicate["id"] == second
    assert ours._index.token[0] == token[0]  # followed the change, no rebuild


def test_snapshots_are_owner_only_and_replaced_whole(path):
    fill(path, 10)
    snap = path.with_name("journal.jsonl.snap")
    assert snap.stat().st_mode & 0o777 == 0o600
    assert snap.read_bytes().startswith(snapshot_module.MAGIC)
