"""JournalStorage: TinyDB documents as an append-only JSON-lines log, under a file lock."""

from __future__ import annotations

import json
import os
import warnings

import pytest
from tinydb import TinyDB, where
from tinydb.operations import delete, increment
from tinydb.table import Table

from kepler_nb.journal import storage
from kepler_nb.journal.storage import JournalStorage, JournalTable


@pytest.fixture
def path(tmp_path):
    return tmp_path / "journal.jsonl"


@pytest.fixture(params=[Table, JournalTable], ids=["tinydb-table", "journal-table"])
def table_class(request, monkeypatch):
    """TinyDB's own table and the journal's (cheaper writes) must store the same."""
    monkeypatch.setattr(TinyDB, "table_class", request.param)
    return request.param


@pytest.fixture(autouse=True)
def no_damage_reported():
    """Nothing in this file is damage: a JournalCorruptWarning fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", storage.JournalCorruptWarning)
        yield


def open_db(path) -> TinyDB:
    return TinyDB(str(path), storage=JournalStorage)


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


DOCS = [
    {"name": "baseline", "lr": 0.01, "tags": ["a", "b"], "final": {"loss": 0.25}},
    {"name": "wider ü ✓", "lr": 3e-4, "tags": [], "final": None},
    {"name": "deep", "lr": 1.0, "nested": {"list": [1, 2, {"x": True}]}},
]


def insert_all(db: TinyDB, docs=DOCS) -> list[int]:
    with db.storage.transaction():
        return [db.insert(doc) for doc in docs]


def test_round_trip_and_reopen(path, table_class):
    db = open_db(path)
    ids = insert_all(db)
    assert ids == [1, 2, 3]
    with db.storage.transaction():
        db.update({"lr": 0.5, "status": "finished"}, doc_ids=[1])
        db.update(delete("tags"), doc_ids=[2])
        db.remove(doc_ids=[3])
        db.table("other").insert({"k": "v"})

    expected = [{**DOCS[0], "lr": 0.5, "status": "finished"}, {"name": "wider ü ✓", "lr": 3e-4, "final": None}]
    assert [dict(d) for d in db.all()] == expected

    reopened = open_db(path)
    assert [dict(d) for d in reopened.all()] == expected
    assert [d.doc_id for d in reopened.all()] == [1, 2]
    assert reopened.table("other").all() == [{"k": "v"}]
    assert reopened.search(where("lr") == 0.5)[0]["name"] == "baseline"

    # One small JSON line per change, readable without Kepler.
    entries = lines(path)
    assert entries[0] == storage.HEADER
    assert {"t": "_default", "id": "3", "del": True} in entries
    assert all(len(json.dumps(e)) < 300 for e in entries)


def test_in_place_operations_are_written(path, table_class):
    """TinyDB edits the documents it read in place; every kind of edit reaches the file."""
    db = open_db(path)
    insert_all(db, [{"n": 1, "gone": "x"}, {"n": 10}])
    with db.storage.transaction():
        db.update(increment("n"), doc_ids=[1])
        db.update(delete("gone"), doc_ids=[1])
        db.update({"n": 99}, where("n") == 10)
        db.upsert({"n": 5, "new": True}, where("n") == 1000)
    assert [dict(d) for d in open_db(path).all()] == [{"n": 2}, {"n": 99}, {"n": 5, "new": True}]
    # Untouched documents are not rewritten: one line per actual change.
    assert len(lines(path)) == 1 + 2 + 4

    with db.storage.transaction():
        db.update_multiple([({"m": 1}, where("n") == 2), ({"m": 2}, where("n") == 99)])
        assert db.insert_multiple([{"n": 7}, {"n": 8}]) == [4, 5]
        assert db.remove(where("n") == 99) == [2]
        db.remove(doc_ids=[3])
        assert db.contains(doc_id=1) and not db.contains(doc_id=2)
    reopened = open_db(path)
    assert {d.doc_id: dict(d) for d in reopened.all()} == {1: {"n": 2, "m": 1}, 4: {"n": 7}, 5: {"n": 8}}
    with reopened.storage.transaction():
        reopened.truncate()
    assert open_db(path).all() == []


def test_write_outside_a_transaction_raises_and_changes_nothing(path):
    db = open_db(path)
    insert_all(db, [{"n": 1}])
    before = path.read_bytes()
    with pytest.raises(RuntimeError, match=r"outside transaction\(\); wrap the change in it"):
        db.update({"n": 2}, doc_ids=[1])
    with pytest.raises(RuntimeError, match="transaction"):
        db.insert({"n": 3})
    assert path.read_bytes() == before
    # The edit TinyDB made in memory before the refusal is gone too.
    assert [dict(d) for d in db.all()] == [{"n": 1}]


def test_partial_trailing_line_is_ignored_then_cut_by_the_next_writer(path):
    db = open_db(path)
    insert_all(db)
    complete = path.read_bytes()
    # What a writer killed in the middle of os.write leaves behind.
    with open(path, "ab") as f:
        f.write(b'{"t":"_default","id":"4","doc":{"name":"half-writ')

    reader = open_db(path)
    assert [dict(d) for d in reader.all()] == DOCS
    assert path.read_bytes().startswith(complete)  # a reader never changes the file

    writer = open_db(path)
    insert_all(writer, [{"name": "after the crash"}])
    text = path.read_text(encoding="utf-8")
    assert "half-writ" not in text
    assert text.endswith("\n")
    assert all(isinstance(e, dict) for e in lines(path))  # every line parses
    assert [d["name"] for d in open_db(path).all()] == [d["name"] for d in DOCS] + ["after the crash"]
    # The reader that saw the partial line picks up the clean continuation.
    assert reader.get(doc_id=4)["name"] == "after the crash"


def test_incremental_refresh_sees_another_instances_writes(path):
    a, b = open_db(path), open_db(path)
    insert_all(a)
    assert len(b.all()) == 3
    kept = b.storage._tables["_default"]["2"]
    offset = b.storage._offset

    with a.storage.transaction():
        a.update({"lr": 9.0}, doc_ids=[1])
        a.remove(doc_ids=[3])
        a.insert({"name": "from a"})
    assert b.get(doc_id=1)["lr"] == 9.0
    assert b.get(doc_id=3) is None
    assert b.get(doc_id=4)["name"] == "from a"
    # Only the appended bytes were replayed: untouched documents are the same objects.
    assert b.storage._offset > offset
    assert b.storage._tables["_default"]["2"] is kept

    # And back: b's write is seen by a, ids continue where the file is.
    with b.storage.transaction():
        b.insert({"name": "from b"})
    assert [d.doc_id for d in a.all()] == [1, 2, 4, 5]


def test_compaction_keeps_every_document_and_swaps_atomically(path, monkeypatch):
    monkeypatch.setattr(storage, "COMPACT_MIN_LINES", 30)
    db, watcher = open_db(path), open_db(path)
    ids = insert_all(db, [{"n": i, "v": 0} for i in range(8)])
    watcher.all()
    inode = path.stat().st_ino
    for v in range(1, 10):
        with db.storage.transaction():
            for doc_id in ids:
                db.update({"v": v}, doc_ids=[doc_id])

    # 8 inserts + 72 updates were written; compaction swapped in a new file.
    assert len(lines(path)) < 30
    assert path.stat().st_ino != inode
    assert not list(path.parent.glob("*.tmp"))
    expected = [{"n": i, "v": 9} for i in range(8)]
    assert [dict(d) for d in open_db(path).all()] == expected
    assert [dict(d) for d in watcher.all()] == expected  # a reader follows the swap
    # The backup is refreshed with each compaction: it holds every document.
    backup = {e["id"]: e["doc"] for e in lines(db.storage.backup_path) if "doc" in e}
    assert sorted(d["n"] for d in backup.values()) == list(range(8))


def test_a_compaction_that_fails_before_the_swap_leaves_the_old_log(path, monkeypatch, caplog):
    """Compaction is housekeeping: if it fails, the write it followed still stands."""
    monkeypatch.setattr(storage, "COMPACT_MIN_LINES", 10)
    # The "kepler" logger may not propagate (the event log detaches it): listen on it directly.
    monkeypatch.setattr(storage.log, "handlers", [*storage.log.handlers, caplog.handler])
    db = open_db(path)
    insert_all(db, [{"n": i} for i in range(5)])
    real_replace = os.replace
    refused = []

    def failing_replace(src, dst):
        if str(dst) == str(path):
            refused.append(src)
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with db.storage.transaction():
        for i in range(12):
            db.update({"m": i}, doc_ids=[1])
    monkeypatch.setattr(os, "replace", real_replace)

    assert refused, "the compaction was never attempted"
    assert "could not be compacted" in caplog.text
    assert not list(path.parent.glob("*.tmp"))
    # Every change is in the old log, which was never replaced.
    assert len(lines(path)) == 1 + 5 + 12
    docs = [dict(d) for d in open_db(path).all()]
    assert docs == [{"n": 0, "m": 11}] + [{"n": i} for i in range(1, 5)]
    assert [dict(d) for d in db.all()] == docs


def test_a_missing_file_reads_as_empty_and_is_created_on_first_write(path):
    db = open_db(path)
    assert db.all() == []
    assert not path.exists()
    insert_all(db, [{"n": 1}])
    assert lines(path) == [storage.HEADER, {"t": "_default", "id": "1", "doc": {"n": 1}}]


def test_a_first_write_killed_half_way_is_not_damage(path):
    path.write_bytes(b'{"kepler_journal":1}\n{"t":"_default","id":"1","doc":{"na')
    assert open_db(path).all() == []
    insert_all(open_db(path), [{"name": "first whole write"}])
    assert lines(path) == [storage.HEADER, {"t": "_default", "id": "1", "doc": {"name": "first whole write"}}]
    other = path.with_name("other.jsonl")
    other.write_bytes(b'{"kepler_jou')  # killed inside the header itself
    assert open_db(other).all() == []
    insert_all(open_db(other), [{"name": "again"}])
    assert lines(other) == [storage.HEADER, {"t": "_default", "id": "1", "doc": {"name": "again"}}]


def test_a_refresh_never_changes_a_table_a_caller_is_iterating(path):
    a, b = open_db(path), open_db(path)
    insert_all(a)
    names = []
    for doc in b:  # lazily, over what b read
        insert_all(a, [{"name": f"more {doc.doc_id}"}])
        assert b.get(doc_id=len(DOCS) + doc.doc_id)["name"] == f"more {doc.doc_id}"  # b refreshes meanwhile
        names.append(doc["name"])
    assert names == [d["name"] for d in DOCS]
    assert len(b.all()) == 2 * len(DOCS)
