"""JournalStorage: TinyDB documents as an append-only JSON-lines log, under a file lock."""

from __future__ import annotations

import json
import os
import sys
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
    """Nothing in this file is damage unless a test says so: a JournalCorruptWarning fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", storage.JournalCorruptWarning)
        yield


def open_db(path) -> TinyDB:
    return TinyDB(str(path), storage=JournalStorage)


def lines(path) -> list[dict]:
    """The entries of the log after its header (which is checked)."""
    header, *entries = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert header["kepler_journal"] == 1
    return entries


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
    assert len(lines(path)) == 2 + 4

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
    assert len(lines(path)) < 29
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
    assert len(lines(path)) == 5 + 12
    docs = [dict(d) for d in open_db(path).all()]
    assert docs == [{"n": 0, "m": 11}] + [{"n": i} for i in range(1, 5)]
    assert [dict(d) for d in db.all()] == docs


def test_a_missing_file_reads_as_empty_and_is_created_on_first_write(path):
    db = open_db(path)
    assert db.all() == []
    assert not path.exists()
    insert_all(db, [{"n": 1}])
    assert lines(path) == [{"t": "_default", "id": "1", "doc": {"n": 1}}]


def test_a_first_write_killed_half_way_is_not_damage(path):
    path.write_bytes(b'{"kepler_journal":1}\n{"t":"_default","id":"1","doc":{"na')
    assert open_db(path).all() == []
    insert_all(open_db(path), [{"name": "first whole write"}])
    assert lines(path) == [{"t": "_default", "id": "1", "doc": {"name": "first whole write"}}]
    other = path.with_name("other.jsonl")
    other.write_bytes(b'{"kepler_jou')  # killed inside the header itself
    assert open_db(other).all() == []
    insert_all(open_db(other), [{"name": "again"}])
    assert lines(other) == [{"t": "_default", "id": "1", "doc": {"name": "again"}}]


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


def test_threads_sharing_one_storage_lose_nothing(path, monkeypatch):
    """A kernel's threads (the journal widget, subshells, a thread pool) share one storage object."""
    import threading

    monkeypatch.setattr(storage, "COMPACT_MIN_LINES", 50)  # compactions too, while others read
    db = TinyDB(str(path), storage=JournalStorage)
    db.table_class = JournalTable
    table = db.table("runs")
    acked: list[list[int]] = [[] for _ in range(4)]
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def work(worker: int) -> None:
        try:
            start.wait()
            for n in range(100):
                with db.storage.transaction():
                    doc_id = table.insert({"worker": worker, "n": n})
                with db.storage.transaction():
                    table.update({"done": True}, doc_ids=[doc_id])
                acked[worker].append(doc_id)
                if n % 5 == 0:
                    table.all()  # a reader among the writers
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    writing = True

    def read() -> None:
        try:
            while writing:
                table.all()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # threads take turns often: races show up within 400 documents
    readers = [threading.Thread(target=read) for _ in range(2)]
    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    try:
        for t in readers + threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        writing = False
        for t in readers:
            t.join()
        sys.setswitchinterval(switch)
    assert errors == []
    ids = [i for ids in acked for i in ids]
    assert len(ids) == len(set(ids)) == 400
    for reader in (table, TinyDB(str(path), storage=JournalStorage).table("runs")):
        docs = {d.doc_id: d for d in reader.all()}
        assert set(docs) == set(ids)
        assert all(d["done"] for d in docs.values())
    assert b"\x00" not in path.read_bytes()


def test_a_header_names_a_new_generation_for_each_file(path, monkeypatch):
    monkeypatch.setattr(storage, "COMPACT_MIN_LINES", 5)
    db = open_db(path)
    insert_all(db, [{"n": 1}])
    first = json.loads(path.read_text().splitlines()[0])["generation"]
    head = json.loads(db.storage.head_path.read_text())
    assert head == {"generation": first, "size": path.stat().st_size, "ids": {"_default": 1}}
    for n in range(8):  # superseded lines pile up: compacted into a new file, a new generation
        with db.storage.transaction():
            db.update({"n": n}, doc_ids=[1])
    second = json.loads(path.read_text().splitlines()[0])
    assert second["generation"] != first and len(second["generation"]) == 32
    assert second["ids"] == {"_default": 1}
    assert json.loads(db.storage.head_path.read_text())["generation"] == second["generation"]


def test_a_reader_is_not_fooled_by_a_recycled_inode(path):
    """Two compactions can give the journal back the inode a reader cached: its offset means nothing there."""
    db = open_db(path)
    insert_all(db, [{"v": "a1"}, {"v": "a2"}, {"v": "a3"}])
    reader = open_db(path)
    assert [d["v"] for d in reader.all()] == ["a1", "a2", "a3"]
    old = path.read_bytes()
    header, *entries = old.splitlines(keepends=True)

    # Another file written into the same inode: a new generation, the documents changed since,
    # one more. Its lines line up with the old ones, so the old offset falls on a line start.
    generation = json.loads(header).get("generation")
    new_header = header.replace(generation.encode(), b"f" * 32) if generation else header
    new = new_header + b"".join(e.replace(b'"a', b'"b') for e in entries)
    new += b'{"t":"_default","id":"4","doc":{"v":"b4"}}\n'
    assert len(new_header) == len(header) and new.startswith(new_header)
    inode = path.stat().st_ino
    with open(path, "r+b") as f:
        f.write(new)
    assert path.stat().st_ino == inode
    db.storage.head_path.write_text(json.dumps({"generation": "f" * 32, "size": len(new), "ids": {"_default": 4}}))

    assert [d["v"] for d in reader.all()] == ["b1", "b2", "b3", "b4"]


def test_ids_are_never_handed_out_twice(path):
    db = open_db(path)
    db.table_class = JournalTable
    table = db.table("runs")
    with db.storage.transaction():
        assert [table.insert({"n": n}) for n in range(3)] == [1, 2, 3]
        table.remove(doc_ids=[3])
    with db.storage.transaction():
        assert table.insert({"n": 4}) == 4  # TinyDB alone would give 3 again
    reopened = open_db(path)
    reopened.table_class = JournalTable
    with reopened.storage.transaction():
        reopened.table("runs").truncate()
    with reopened.storage.transaction():
        assert reopened.table("runs").insert({"n": 5}) == 5


def test_temporary_files_of_killed_writers_are_removed(path):
    dead = 4_194_999  # above Linux's largest pid: no such process
    home = path.parent
    leftovers = [home / f"journal.jsonl.{dead}.tmp", home / f"journal.jsonl.bak.{dead}.tmp"]
    leftovers.append(home / f"journal.jsonl.head.{dead}-140000.tmp")
    for leftover in leftovers:
        leftover.write_bytes(b"x" * 100_000)
    mine = home / f"journal.jsonl.{os.getpid()}-1.tmp"  # a live writer's: kept
    mine.write_bytes(b"busy")
    other = home / "notes.123.tmp"  # not the journal's: kept
    other.write_bytes(b"theirs")
    insert_all(open_db(path), [{"n": 1}])
    assert [p.exists() for p in leftovers] == [False, False, False]
    assert mine.exists() and other.exists()


def test_a_line_under_an_id_that_is_not_a_number_is_damage(path):
    db = open_db(path)
    insert_all(db, [{"n": 1}, {"n": 2}])
    with open(path, "ab") as f:
        f.write(b'{"t":"_default","id":"?7","doc":{"n":7}}\n')
    with pytest.warns(storage.JournalCorruptWarning, match="line 4 is not a journal entry"):
        docs = open_db(path).all()
    assert [dict(d) for d in docs] == [{"n": 1}, {"n": 2}]
    assert [dict(d) for d in open_db(path).all()] == [{"n": 1}, {"n": 2}]  # recovered for good


def test_files_are_owner_only(path):
    insert_all(open_db(path), [{"n": 1}])
    files = [p for p in path.parent.iterdir() if p.is_file()]
    assert {p.name for p in files} >= {"journal.jsonl", "journal.jsonl.head", "journal.jsonl.lock"}
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in files} == {p.name: "0o600" for p in files}


# -- writes that cost what they change ---------------------------------------------------------


def test_a_write_compares_only_the_documents_it_reached(path, monkeypatch):
    monkeypatch.setattr(TinyDB, "table_class", JournalTable)
    db = open_db(path)
    with db.storage.transaction():
        db.insert_multiple({"n": i} for i in range(200))
    compared = []
    original = storage.JournalStorage._changed_lines

    def spy(self, data, touched=None):
        compared.append({name: set(ids) for name, ids in touched.items()})  # id -> what it was before
        return original(self, data, touched)

    monkeypatch.setattr(storage.JournalStorage, "_changed_lines", spy)
    with db.storage.transaction():
        db.update({"n": -1}, doc_ids=[7])
    with db.storage.transaction():
        db.remove(doc_ids=[8])
    assert compared == [{"_default": {"7"}}, {"_default": {"8"}}]
    assert lines(path)[-2:] == [
        {"t": "_default", "id": "7", "doc": {"n": -1}},
        {"t": "_default", "id": "8", "del": True},
    ]
    reread = open_db(path)
    assert reread.get(doc_id=7) == {"n": -1} and reread.get(doc_id=8) is None and len(reread) == 199


def test_a_write_changes_its_table_in_place_unless_a_reader_holds_it(path, monkeypatch):
    """No copy of a big table per write; a table lent by read() is never changed under its reader."""
    monkeypatch.setattr(TinyDB, "table_class", JournalTable)
    db = open_db(path)

    def write(change):
        with db.storage.transaction():
            change()

    write(lambda: db.insert_multiple({"n": i} for i in range(100)))
    write(lambda: db.insert({"n": 100}))  # a table made by a write may be copied once more
    own = db.storage._tables["_default"]
    assert db.get(doc_id=5) == {"n": 4}  # a lookup by id lends nothing
    write(lambda: db.update({"n": -1}, doc_ids=[3]))
    assert db.storage._tables["_default"] is own and len(own) == 101  # changed in place, not copied
    lent = db.storage.read()["_default"]
    held = {key: dict(doc) for key, doc in lent.items()}
    write(lambda: db.insert({"n": 101}))
    write(lambda: db.remove(doc_ids=[1]))
    assert {key: dict(doc) for key, doc in lent.items()} == held  # the reader's table is as it got it
    assert db.storage._tables["_default"] is not lent and len(open_db(path)) == 101


def test_an_update_by_condition_writes_only_the_matching_documents(path, monkeypatch):
    monkeypatch.setattr(TinyDB, "table_class", JournalTable)
    db = open_db(path)
    with db.storage.transaction():
        db.insert_multiple({"n": i} for i in range(10))
    with db.storage.transaction():
        db.update(increment("n"), where("n") >= 8)
    assert lines(path)[-2:] == [
        {"t": "_default", "id": "9", "doc": {"n": 9}},
        {"t": "_default", "id": "10", "doc": {"n": 10}},
    ] or sorted(e["id"] for e in lines(path)[10:]) == ["10", "9"]
    assert len(lines(path)) == 12 and sorted(d["n"] for d in open_db(path).all()) == [*range(8), 9, 10]


def test_a_long_log_is_read_in_one_parse_and_a_bad_line_still_named(path):
    db = open_db(path)
    with db.storage.transaction():
        db.insert_multiple({"n": i} for i in range(50))
    assert len(open_db(path)) == 50
    text = path.read_text(encoding="utf-8").splitlines()
    text[20] = "#" + text[20][1:]  # one line damaged in the middle of the log, its length kept
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    assert storage._parse_lines([line.encode() for line in text]) is None
    with pytest.warns(storage.JournalCorruptWarning, match="line 21 is not valid JSON"):
        open_db(path).all()
