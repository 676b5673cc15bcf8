"""A TinyDB storage that several kernels can write at once without losing a record.

TinyDB's own JSON storage rewrites the whole file in place on every write: a
crash mid-write leaves a broken file, two processes overwrite each other, and
the cost of one insert grows with the journal. This storage keeps the journal
as an append-only log of JSON lines instead:

* a write appends only the documents that changed (one line each), under a
  file lock, with ``fsync``; the cost is independent of the journal's size;
* a reader replays only the bytes appended since its last read, and hands
  TinyDB its cached documents without copying them (edits TinyDB makes in
  place are noted, see :class:`_Doc`), so reading and writing stay cheap
  with tens of thousands of documents;
* a writer killed mid-line leaves a partial last line, which readers ignore
  and the next writer cuts off;
* a damaged file (a line that is not JSON, or a file shorter than what was
  last written) is reported, kept aside, and rebuilt from the last good copy
  plus every readable line, never silently emptied; what looks damaged to a
  reader without the lock is looked at again under it, since a writer may
  have been at work;
* when superseded lines pile up, the log is compacted into a temporary file
  and atomically swapped in with ``os.replace``.

The first line is a header naming the file's *generation*, a random id given
to each file the storage creates (the first write, each compaction, each
recovery). The head file beside the log (``journal.jsonl.head``, one JSON
line) names the generation and size last written, and the highest document
id each table ever handed out. Generations, unlike inode numbers, survive a
copy of the folder (``cp -r``, a restore, a sync client), so a copy cut short
is still seen to be shorter than what was written; and a file whose inode
was recycled by two compactions is not taken for the one a reader cached.
The highest ids outlive a recovery that loses records: an id is never handed
out twice, so a kernel still training on a lost id can't write into another
run's record. Every line must be one the storage can apply (a document under
a positive integer id, a deletion, a dropped table): anything else is damage.

One storage object may be shared by the threads of a kernel (the journal
widget, subshells, thread pools): a re-entrant lock serialises them, and the
file lock serialises processes. Files are created owner-only (0600).
Temporary files left by killed writers are removed when a journal is opened.

Callers must hold :meth:`transaction` around every read-modify-write so that
what TinyDB read is still the truth when it writes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import threading
import time
import uuid
import warnings
import zlib
from collections.abc import Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import psutil
from filelock import FileLock
from tinydb.storages import Storage
from tinydb.table import Table

from .snapshot import Snapshot, gc_paused, read_snapshot, write_snapshot

log = logging.getLogger("kepler")

FORMAT = 1
# Every header starts with these bytes (the generation and ids follow); even a
# first write killed half-way leaves a prefix of them.
HEADER_PREFIX = b'{"kepler_journal":1'
# Where the header is looked for: it is short, a few tables' ids at most.
HEADER_MAX_BYTES = 64 * 1024
# Temporary files of writers that are gone are removed; those of a live
# process only once they are this old (a pid can be reused).
LEFTOVER_AGE = 3600.0
PRIVATE = 0o600  # files: owner-only
PRIVATE_DIR = 0o700
# Compact once superseded lines outnumber live documents by this factor.
COMPACT_RATIO = 3
COMPACT_MIN_LINES = 2000
# Refresh the backup once the log has grown by this fraction since it was taken.
BACKUP_GROWTH = 0.25
BACKUP_MIN_BYTES = 4 * 1024  # small journals get a copy early; copying them is cheap
# Changes kept for :meth:`JournalStorage.changes`; past this many, readers of them re-read everything.
CHANGES_MAX = 100_000

Tables = dict[str, dict[str, dict[str, Any]]]


class _Doc(dict):
    """A cached document that notes every in-place edit in its storage's ledger.

    TinyDB edits the documents ``read()`` returned in place and then calls
    ``write()``. Handing out the cached documents themselves (instead of a
    copy of each, on every read) needs a way to see those edits: ``write()``
    writes the documents in the ledger plus any new document object.
    """

    # Like TinyDB's Document, each has its ``doc_id``: the journal reads the cached documents themselves,
    # without a copy of each. Made by :func:`_new_doc` (dict's own constructor, no Python frame per document).
    __slots__ = ("doc_id", "ledger")
    doc_id: int
    ledger: dict[int, _Doc]


def _new_doc(data: dict[str, Any], ledger: dict[int, _Doc], doc_id: int = 0) -> _Doc:
    doc = _Doc(data)
    doc.ledger, doc.doc_id = ledger, doc_id
    return doc


def _noting(name: str) -> Any:
    method = getattr(dict, name)

    def edit(self: _Doc, *args: Any, **kwargs: Any) -> Any:
        self.ledger[id(self)] = self
        return method(self, *args, **kwargs)

    edit.__name__ = name
    return edit


for _name in ("__setitem__", "__delitem__", "__ior__", "clear", "pop", "popitem", "setdefault", "update"):
    setattr(_Doc, _name, _noting(_name))


class JournalCorruptWarning(UserWarning):
    """The journal file was damaged and has been recovered."""


class JournalTable(Table):
    """A TinyDB table whose writes cost what they change, not the size of the table.

    TinyDB's own ``_update_table`` copies the whole table on each write (and
    turns every document id into an int and back): with tens of thousands of
    records, most of a write. This one changes the storage's table dict in
    place when no reader was lent it (:meth:`JournalStorage.table_for_update`;
    otherwise a copy, once), through a view that converts only the ids it
    touches and notes what each of them held before. A lookup by id doesn't
    lend the table either. New ids come from the storage's highest id ever
    written to the table, not from the documents left in it: an id is never
    handed out twice, even after a deletion or a recovery that lost the last
    records.
    """

    def _update_table(self, updater: Callable[[Any], None]) -> None:
        storage = self._storage
        if not isinstance(storage, JournalStorage):
            tables = storage.read() or {}
            raw = dict(tables.get(self.name, {}))
            updater(_IntKeyed(raw))
            tables[self.name] = raw
            storage.write(tables)
            self.clear_cache()
            return
        with storage.mutex:  # no reader gets the table while it changes
            tables, raw = storage.table_for_update(self.name)
            view = _IntKeyed(raw)
            try:
                updater(view)
            except BaseException:
                storage.forget()  # the table may be half changed: the next read reloads it from the file
                raise
            # Only the documents the update reached can have changed: write() need not compare the rest.
            storage.write(tables, touched={self.name: view.before})
        self.clear_cache()

    def get(self, cond=None, doc_id=None, doc_ids=None):
        if doc_id is not None and isinstance(self._storage, JournalStorage):
            raw = self._storage.document(self.name, str(doc_id))  # TinyDB's lookup, without lending the table
            return None if raw is None else self.document_class(raw, doc_id)
        return super().get(cond, doc_id, doc_ids)

    def _get_next_id(self) -> int:
        if self._next_id is None:
            self._next_id = self._storage.last_id(self.name, refresh=True) + 1
        next_id = self._next_id
        self._next_id = next_id + 1
        return next_id


class FreshIdTable(JournalTable):
    """A table that never trusts a next id cached before an insert: another kernel may have inserted since.

    The cache is dropped once per insert (inside the caller's transaction), not
    once per id: ``insert_multiple`` takes its ids before it writes, so
    re-reading the table for each of them would hand out the same id again.
    """

    def insert(self, document):
        self._next_id = None
        return super().insert(document)

    def insert_multiple(self, documents):
        self._next_id = None
        return super().insert_multiple(documents)


class _IntKeyed(MutableMapping):
    """A str-keyed table seen with int ids, as TinyDB's updates expect; notes each id it touches."""

    __slots__ = ("before", "raw")

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        # Each id read, set or deleted, and its document before (None: none): TinyDB edits the documents
        # it gets in place, and the table itself may be the storage's own, changed in place.
        self.before: dict[str, Any] = {}

    def _touch(self, doc_id: int) -> str:
        key = str(doc_id)
        if key not in self.before:
            self.before[key] = self.raw.get(key)
        return key

    def __getitem__(self, doc_id: int) -> Any:
        return self.raw[self._touch(doc_id)]

    def __setitem__(self, doc_id: int, doc: Any) -> None:
        self.raw[self._touch(doc_id)] = doc

    def __delitem__(self, doc_id: int) -> None:
        del self.raw[self._touch(doc_id)]

    def __contains__(self, doc_id: object) -> bool:
        return str(doc_id) in self.raw

    def __iter__(self) -> Iterator[int]:
        return map(int, self.raw)

    def __len__(self) -> int:
        return len(self.raw)

    def clear(self) -> None:
        for key, doc in self.raw.items():
            self.before.setdefault(key, doc)
        self.raw.clear()


class JournalStorage(Storage):
    """Append-only JSON-lines storage with a file lock, for ``TinyDB(storage=...)``."""

    # A snapshot (:mod:`.snapshot`) is kept for logs of at least this many bytes (smaller ones replay in
    # milliseconds), and taken again once the lines after it exceed this fraction of the log.
    snapshot_min_bytes = 1024 * 1024
    snapshot_stale = 0.05

    def __init__(self, path: str | os.PathLike, lock_timeout: float = 60.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
        self.backup_path = self.path.with_name(self.path.name + ".bak")
        self.head_path = self.path.with_name(self.path.name + ".head")
        self.snapshot_path = self.path.with_name(self.path.name + ".snap")
        self._epoch = 0
        self.lock = FileLock(str(self.path) + ".lock", timeout=lock_timeout, mode=PRIVATE)
        # Threads of one process share this object: one at a time reads or writes it.
        self.mutex = threading.RLock()
        self._forget()
        remove_leftovers(self.path.parent, self.path.name + ".")

    # -- TinyDB's interface ------------------------------------------------
    def read(self) -> Tables | None:
        with self.mutex:
            self._refresh()
            self._maybe_snapshot()
            # TinyDB replaces whole tables in the outer dict and never changes a
            # table dict it read, only the documents in it (noted by _Doc). The
            # table dicts are lent, not given: the storage never changes a dict
            # it lent (a refresh or a write copies it first), so a caller still
            # iterating one is not disturbed.
            self._private.clear()
            return dict(self._tables)

    def write(self, data: Tables, touched: dict[str, dict[str, Any]] | None = None) -> None:
        """TinyDB's write; ``touched`` (table -> id -> the document before, None if none), when given, names
        every document that may have changed."""
        with self.mutex:
            try:
                if not self.lock.is_locked:
                    raise RuntimeError("JournalStorage.write() called outside transaction(); wrap the change in it.")
                lines, changed = self._changed_lines(data, touched)
                if lines:
                    ids = dict(self._ids)
                    for name, doc_id in changed:
                        ids[name] = max(ids.get(name, 0), int(doc_id))
                    self._append(lines, ids)
            except BaseException:
                self._forget()  # TinyDB may have edited cached documents: reload them from the file
                raise
            for name, doc_id in changed:
                data[name][doc_id] = _new_doc(data[name][doc_id], self._ledger, int(doc_id))
            if len(lines) == len(changed) and len(self._changes) < CHANGES_MAX:  # new and edited documents only
                self._changes += changed
            else:  # deletions: readers of changes() re-read everything
                self._changes_lost()
            self._ledger.clear()
            self._tables = dict(data)
            self._private = {name: docs for name, docs in self._private.items() if data.get(name) is docs}
            self._maybe_compact()

    def close(self) -> None:
        pass

    def last_id(self, table: str, refresh: bool = False) -> int:
        """The highest document id ever written to ``table`` (0 if none): new ids go above it.
        With ``refresh``, as the file says now (inside a transaction it already is)."""
        with self.mutex:
            if refresh:
                self._refresh()
            return self._ids.get(table, 0)

    def document(self, table: str, doc_id: str) -> dict[str, Any] | None:
        """One stored document as :meth:`read` would show it (read it, never change it), or None;
        the table is not lent (see :meth:`table_for_update`)."""
        with self.mutex:
            self._refresh()
            return self._tables.get(table, {}).get(doc_id)

    def table_for_update(self, name: str) -> tuple[Tables, dict[str, Any]]:
        """For an update of table ``name`` (hold the mutex until its :meth:`write`): the tables as
        :meth:`read` gives them, and that table as a dict no caller holds, for the update to change in place.

        That dict is the storage's own when no :meth:`read` lent it since the storage made it (since the
        last write, typically), otherwise a copy: 50,000 documents take a millisecond or two to copy and
        as long to free, on every write. No reader can see it half changed: readers get tables from
        :meth:`read`, under the mutex, and a dict they got is never changed. If the update fails before
        its write, call :meth:`forget`: the storage's own table may be half changed.
        """
        self._refresh()
        self._maybe_snapshot()
        tables = dict(self._tables)
        table = tables.get(name)
        if table is None or self._private.get(name) is not table:
            table = self._private[name] = dict(table or {})
        tables[name] = table
        return tables, table

    def forget(self) -> None:
        """Drop what was read: the next read replays the file (after an update failed half-way)."""
        with self.mutex:
            self._forget()

    def changes(self, since: tuple[int, int] | None = None) -> tuple[tuple[int, int], list[tuple[str, str]] | None]:
        """A token for the documents as last read, and the ``(table, id)`` of each document written or read
        from the file since the read that gave ``since``; None when that can't be said (read everything again).

        What changed is known from the lines themselves, so that an index of the documents (the journal's
        lookup before a fit) follows them without comparing every document.
        """
        with self.mutex:
            token = (self._epoch, len(self._changes))
            if since is None or since[0] != self._epoch or since[1] > token[1]:
                return token, None
            return token, self._changes[since[1] :]

    @property
    def generation(self) -> str | None:
        """The id of the file last read (see the module docstring), None before the first write."""
        return self._generation

    def preload(self) -> bool:
        """Read the file now, if it reads cleanly: True when it did. A journal that needs recovering is left
        for the next read, which recovers it and warns where the user is looking (not on a background thread).
        """
        with self.mutex:
            if self._load() is None:
                return True
            self._forget()
            return False

    # -- transactions ------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Hold the journal's lock, with the latest state loaded."""
        with self.mutex, self.lock:
            self._refresh()
            yield

    # -- reading -----------------------------------------------------------
    def _forget(self) -> None:
        """Drop the cache: the next read replays the whole file."""
        self._tables: Tables = {}
        # The table dicts the storage made and no read() has lent since, by name: these it may change in
        # place. A dict it lent it never changes (see read()).
        self._private: dict[str, dict[str, Any]] = {}
        self._ledger: dict[int, _Doc] = {}
        self._generation: str | None = None
        self._ids: dict[str, int] = {}
        self._offset = 0
        self._lines = 0
        self._crc = 0  # CRC-32 of the file's first _offset bytes: what a snapshot is checked against
        self._snapshot_offset = 0  # where the last snapshot this object read or wrote ends
        self._changes_lost()

    def _changes_lost(self) -> None:
        self._epoch += 1
        self._changes: list[tuple[str, str]] = []

    def _refresh(self) -> None:
        problem = self._load()
        if problem is not None:
            self._recover(problem)

    def _load(self) -> str | None:
        """Apply what was appended since the last read; return a problem or None."""
        if self._ledger:  # edits TinyDB made but never wrote (its update failed)
            self._forget()
        # The head is read before the file: a writer updates it after
        # appending, so the file can only be longer than the head says.
        head = read_head(self.head_path)
        try:
            f = open(self.path, "rb")  # noqa: SIM115 - stat and read this one file, even if it is replaced
        except FileNotFoundError:
            self._forget()
            if head is not None:
                _raise_ids(self._ids, head.ids)
                if head.size > 0 and self.backup_path.exists():
                    return f"the file is missing, though {head.size} bytes were written to it"
            return None
        with f:
            stat = os.fstat(f.fileno())
            generation = _file_generation(f, stat)
            if generation is None or generation != self._generation or stat.st_size < self._offset:
                self._forget()
                self._generation = generation
            if self._offset == 0 and generation is not None and stat.st_size >= self.snapshot_min_bytes:
                self._use_snapshot(f.fileno(), generation, stat.st_size)
            if head is not None:
                _raise_ids(self._ids, head.ids)
            written = head.size if head is not None and head.generation == generation else None
            problem = None
            if written is not None and stat.st_size < written:
                problem = (
                    f"the file is shorter ({stat.st_size} bytes) than what was last written to it ({written} bytes)"
                )
            if problem is None and stat.st_size > self._offset:
                problem = self._read_from(f, self._offset)
            if problem is None and written is not None and self._offset < written:
                # Only bytes past what was last written can be a write in progress.
                problem = f"bytes {self._offset}..{written} were written whole but are not complete lines"
        return problem

    def _use_snapshot(self, fd: int, generation: str, size: int) -> None:
        """Start from the snapshot beside the log, if it is one of this log (see :mod:`.snapshot`)."""
        snapshot, why = read_snapshot(self.snapshot_path, fd, generation, size)
        if snapshot is None:
            if why != "none":
                log.info("journal snapshot %s not used: %s", self.snapshot_path, why)
            return
        ledger = self._ledger
        with gc_paused():
            for docs in snapshot.tables.values():
                for key, doc in docs.items():  # _new_doc, inlined: 50,000 documents
                    docs[key] = wrapped = _Doc(doc)
                    wrapped.ledger, wrapped.doc_id = ledger, int(key)
        self._tables, self._private = snapshot.tables, dict(snapshot.tables)
        _raise_ids(self._ids, snapshot.ids)
        self._offset, self._lines, self._crc = snapshot.offset, snapshot.lines, snapshot.crc
        self._snapshot_offset = snapshot.offset
        self._changes_lost()

    def _maybe_snapshot(self) -> None:
        """Take a snapshot of a big journal once the lines after the last one are many (a tenth of a second)."""
        if self._generation is None or self._offset < self.snapshot_min_bytes:
            return
        if self._offset - self._snapshot_offset <= self.snapshot_stale * self._offset:
            return
        head = read_head(self.head_path)
        # Only what the head says was written whole: a writer that failed half-way cuts its lines off again.
        if head is None or head.generation != self._generation or head.size != self._offset:
            return
        self._snapshot_offset = self._offset  # tried once per stretch of the log, written or not
        try:
            write_snapshot(
                self.snapshot_path,
                Snapshot(self._generation, self._offset, self._lines, self._crc, dict(self._ids), self._tables),
            )
        except OSError as error:
            log.warning("journal snapshot %s not written (%s): opening replays the log", self.snapshot_path, error)

    def _read_from(self, f: Any, offset: int) -> str | None:
        """Apply the complete lines after ``offset``; return a problem or None."""
        f.seek(offset)
        chunk = f.read()
        if offset == 0 and not _starts_like_a_header(chunk):
            return f"it does not start with the journal header: {chunk[:60]!r}"
        end = chunk.rfind(b"\n") + 1  # a partial last line is a write in progress
        if end:  # the lines change the tables: those lent are copied first
            private = self._private
            self._tables = {n: d if private.get(n) is d else dict(d) for n, d in self._tables.items()}
            self._private = dict(self._tables)
        line_no = self._lines
        with gc_paused():
            lines = chunk[:end].splitlines()
            entries = _parse_lines(lines)
            if entries is None:
                entries = []
                for raw in lines:
                    try:
                        entries.append(json.loads(raw))
                    except ValueError:
                        return f"line {line_no + len(entries) + 1} is not valid JSON: {raw[:60]!r}"
            tables, ledger, ids = self._tables, self._ledger, self._ids
            for raw, entry in zip(lines, entries, strict=True):
                line_no += 1
                if not _apply(tables, entry, ledger, ids):
                    return f"line {line_no} is not a journal entry: {raw[:60]!r}"
        self._note_read(entries, offset)
        self._crc = zlib.crc32(memoryview(chunk)[:end], self._crc)
        self._offset = offset + end
        self._lines = line_no
        return None

    def _note_read(self, entries: list[Any], offset: int) -> None:
        """Note which documents the lines just applied changed (see :meth:`changes`)."""
        if offset == 0 or len(entries) + len(self._changes) > CHANGES_MAX:
            self._changes_lost()
            return
        for entry in entries:
            name = entry.get("t")
            if name is None:
                continue  # a header
            if entry.get("drop") is True:
                self._changes_lost()
                return
            self._changes.append((name, entry["id"]))

    # -- writing -----------------------------------------------------------
    def _changed_lines(
        self, data: Tables, touched: dict[str, dict[str, Any]] | None = None
    ) -> tuple[list[str], list[tuple[str, str]]]:
        """Lines for what ``data`` changed, and the (table, id) of each new or edited document.

        With ``touched``, only those documents are compared, each with what it
        was before (a write then costs what it changes, not the size of the
        table; the table may have been changed in place), and the other tables
        are taken to be unchanged unless an in-place edit was noted on a
        document outside them: then those are compared too.
        """
        lines: list[str] = []
        changed: list[tuple[str, str]] = []
        edited = self._ledger
        touched = touched or {}
        stray = bool(edited) and not edited.keys() <= {
            id(data[n][i]) for n, ids in touched.items() for i in ids if i in data.get(n, {})
        }
        for name, docs in data.items():
            old = self._tables.get(name, {})
            if name in touched:
                for doc_id, before in touched[name].items():
                    doc = docs.get(doc_id)
                    if doc is None:
                        if before is not None:
                            lines.append(_dumps({"t": name, "id": doc_id, "del": True}))
                    elif before is not doc or id(doc) in edited:
                        lines.append(_dumps({"t": name, "id": doc_id, "doc": doc}))
                        changed.append((name, doc_id))
                if stray:  # documents edited in place that the update did not reach
                    for doc_id, doc in docs.items():
                        if id(doc) in edited and doc_id not in touched[name]:
                            lines.append(_dumps({"t": name, "id": doc_id, "doc": doc}))
                            changed.append((name, doc_id))
                continue
            if docs is old and not stray:
                continue
            kept = 0
            for doc_id, doc in docs.items():
                before = old.get(doc_id)
                if before is not doc or id(doc) in edited:
                    lines.append(_dumps({"t": name, "id": doc_id, "doc": doc}))
                    changed.append((name, doc_id))
                if before is not None:
                    kept += 1
            if kept < len(old):
                lines += [_dumps({"t": name, "id": i, "del": True}) for i in old.keys() - docs.keys()]
        lines += [_dumps({"t": name, "drop": True}) for name in self._tables.keys() - data.keys()]
        return lines, changed

    def _append(self, lines: list[str], ids: dict[str, int]) -> None:
        payload = "".join(line + "\n" for line in lines).encode()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, PRIVATE)
        try:
            size = os.fstat(fd).st_size
            if size > self._offset:
                # Bytes we did not apply: the partial line of a killed writer.
                os.ftruncate(fd, self._offset)
                size = self._offset
            generation = self._generation
            if size == 0:
                generation = new_generation()
                payload = header_line(generation, ids) + payload
            write_all(fd, payload, size)
            stat = os.fstat(fd)
        finally:
            os.close(fd)
        self._crc = zlib.crc32(payload, self._crc if size else 0)
        self._generation, self._offset, self._ids = generation, stat.st_size, ids
        self._lines += payload.count(b"\n")
        self._note_written(stat.st_size)
        self._maybe_backup(stat.st_size)

    def _note_written(self, size: int) -> None:
        """Update the head file. The lines are already durable: failing here loses no record."""
        try:
            _write_head(self.head_path, self._generation or "", size, self._ids)
        except OSError as error:
            log.warning(
                "journal head %s not updated (%s): truncation checks rely on the last one", self.head_path, error
            )

    def _maybe_backup(self, size: int) -> None:
        try:
            backup_size = self.backup_path.stat().st_size
        except FileNotFoundError:
            backup_size = 0
        if size - backup_size > max(BACKUP_MIN_BYTES, BACKUP_GROWTH * backup_size):
            try:
                self._copy_atomically(self.path, self.backup_path)
            except OSError as error:
                log.warning("journal backup %s not refreshed (%s); the last one is kept", self.backup_path, error)

    def _maybe_compact(self) -> None:
        live = sum(len(docs) for docs in self._tables.values())
        if self._lines > max(COMPACT_MIN_LINES, COMPACT_RATIO * live):
            try:
                self._rewrite(self._tables)
            except OSError:
                # What was just written is safe in the old log; a later write tries again.
                log.exception("journal %s could not be compacted", self.path)
                return
            log.info("journal %s compacted to %d documents", self.path, live)

    def _rewrite(self, tables: Tables) -> None:
        """Replace the log by one line per live document, atomically, as a new generation."""
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        generation = new_generation()
        ids = dict(self._ids)
        for name, docs in tables.items():
            _raise_ids(ids, {name: max(map(int, docs), default=0)})
        lines = [_dumps({"t": n, "id": i, "doc": d}) for n, docs in tables.items() for i, d in docs.items()]
        payload = header_line(generation, ids) + "".join(line + "\n" for line in lines).encode()
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE)
            try:
                write_all(fd, payload, 0)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        _fsync_dir(self.path.parent)
        self._generation, self._ids = generation, ids
        self._offset, self._lines, self._crc = len(payload), len(lines) + 1, zlib.crc32(payload)
        self._snapshot_offset = 0
        self._note_written(len(payload))
        try:
            self._copy_atomically(self.path, self.backup_path)
        except OSError as error:
            log.warning("journal backup %s not refreshed (%s); the last one is kept", self.backup_path, error)
        remove_leftovers(self.path.parent, self.path.name + ".")

    def _copy_atomically(self, source: Path, target: Path) -> None:
        tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE))  # copyfile keeps the mode
            shutil.copyfile(source, tmp)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise

    # -- recovery ----------------------------------------------------------
    def _recover(self, problem: str) -> None:
        with self.lock:  # reentrant: fine inside a transaction
            known = dict(self._ids)  # ids this process saw handed out: never again
            # Without the lock, a half-written line or a file being replaced
            # can look like damage: only what is still wrong under it is.
            self._forget()
            problem = self._load()
            if problem is None:
                return
            _raise_ids(known, self._ids)
            stamp = time.strftime("%Y%m%d-%H%M%S")
            aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{os.getpid()}")
            self._forget()
            damaged = _read_bytes(self.path)
            backup = _read_bytes(self.backup_path)
            tables = _merge_readable(backup, damaged, self._ledger, known)
            _write_private(aside, damaged)
            self._ids = known
            self._rewrite(tables)
            self._tables = tables
        count = sum(len(docs) for docs in tables.values())
        source = (
            f"It was rebuilt from the last good copy ({self.backup_path.name}) and every readable line"
            if backup
            else "There was no earlier copy to rebuild it from; it was rebuilt from every readable line"
        )
        message = (
            f"The Kepler journal {self.path} was damaged: {problem}. "
            f"{source} ({count} records); the damaged file is kept at {aside}."
        )
        log.error(message)
        warnings.warn(message, JournalCorruptWarning, stacklevel=4)


# -- the file format -------------------------------------------------------------------------------
class Head:
    """What the head file says: the generation and size last written, the highest ids."""

    __slots__ = ("generation", "ids", "size")

    def __init__(self, generation: str, size: int, ids: dict[str, int]) -> None:
        self.generation, self.size, self.ids = generation, size, ids


def new_generation() -> str:
    return uuid.uuid4().hex


def header_line(generation: str, ids: dict[str, int]) -> bytes:
    header: dict[str, Any] = {"kepler_journal": FORMAT, "generation": generation}
    if ids:
        header["ids"] = ids
    return (_dumps(header) + "\n").encode()


def read_head(path: Path) -> Head | None:
    """The head file, or None if it is missing or unreadable (then nothing is checked against it)."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    cached = _last_head.get(path)
    if cached is not None and cached[0] == raw:
        return cached[1]
    head = _parse_head(raw)
    _last_head[path] = (raw, head)
    return head


# The head file is read on every refresh and rarely changes between two: parse each text once.
_last_head: dict[Path, tuple[bytes, Head | None]] = {}


def _parse_head(raw: bytes) -> Head | None:
    try:
        text = raw.decode()
    except ValueError:
        return None
    try:
        head = json.loads(text)
        ids = head.get("ids") or {}
        return Head(str(head["generation"]), int(head["size"]), {str(k): int(v) for k, v in ids.items()})
    except (ValueError, TypeError, KeyError, AttributeError):
        pass
    try:  # the earlier format: "inode size", for a file whose header names no generation
        inode, size = text.split()
        return Head(f"inode-{int(inode)}", int(size), {})
    except ValueError:
        return None


def _write_head(path: Path, generation: str, size: int, ids: dict[str, int]) -> None:
    _write_private(path, (_dumps({"generation": generation, "size": size, "ids": ids}) + "\n").encode(), replace=True)


def _file_generation(f: Any, stat: os.stat_result) -> str | None:
    """The generation named by the file's header; None if it has no complete header line yet."""
    start = os.pread(f.fileno(), 512, 0)  # a header is short: one read almost always
    end = start.find(b"\n")
    if end < 0 and len(start) == 512:
        start = os.pread(f.fileno(), HEADER_MAX_BYTES, 0)
        end = start.find(b"\n")
    if end < 0:
        return None
    line = start[:end]
    cached = _last_header.get(line)
    if cached is not None:
        return cached if cached else f"inode-{stat.st_ino}"
    try:
        header = json.loads(line)
    except ValueError:
        return None
    if not isinstance(header, dict) or "kepler_journal" not in header:
        return None
    generation = header.get("generation")
    if len(_last_header) > 64:
        _last_header.clear()
    _last_header[line] = generation if isinstance(generation, str) else ""
    return generation if isinstance(generation, str) else f"inode-{stat.st_ino}"


# Header lines already parsed (to their generation; "" for a header that names none).
_last_header: dict[bytes, str] = {}


def _starts_like_a_header(chunk: bytes) -> bool:
    size = len(HEADER_PREFIX)
    return chunk.startswith(HEADER_PREFIX) or (len(chunk) < size and HEADER_PREFIX.startswith(chunk))


def _dumps(obj: Any) -> str:
    """One compact JSON line; escaped to ASCII only if it holds what UTF-8 can't encode (lone surrogates)."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    try:
        text.encode()
    except UnicodeEncodeError:
        return json.dumps(obj, separators=(",", ":"))
    return text


def _raise_ids(ids: dict[str, int], more: dict[str, int]) -> None:
    for name, value in more.items():
        if isinstance(value, int) and value > ids.get(name, 0):
            ids[name] = value


def _parse_lines(lines: list[bytes]) -> list[Any] | None:
    """Every line's JSON value, parsed in one call (a third of the time of one call per line);
    None when they are not one value each, so that the caller finds the bad line by itself."""
    if len(lines) < 2:
        return None
    try:
        entries = json.loads(b"[" + b",".join(lines) + b"]")
    except ValueError:
        return None
    return entries if len(entries) == len(lines) else None


def _apply(tables: Tables, entry: Any, ledger: dict[int, _Doc], ids: dict[str, int]) -> bool:
    """Apply one line; False if it is not one the storage writes (damage)."""
    if not isinstance(entry, dict):
        return False
    if "kepler_journal" in entry:
        known = entry.get("ids") or {}
        if not isinstance(known, dict):
            return False
        _raise_ids(ids, {str(k): v for k, v in known.items()})
        return True
    name = entry.get("t")
    if not isinstance(name, str):
        return False
    if entry.get("drop") is True:
        tables.pop(name, None)
        return True
    key = entry.get("id")
    # A positive integer in decimal without a leading zero, as a string.
    if type(key) is not str or not key.isdigit() or not key.isascii() or key[0] == "0":
        return False
    doc_id = int(key)
    doc = entry.get("doc")
    if type(doc) is dict:
        table = tables.get(name)
        if table is None:
            table = tables[name] = {}
        table[key] = _new_doc(doc, ledger, doc_id)
    elif entry.get("del") is True:
        tables.get(name, {}).pop(key, None)
    else:
        return False
    if doc_id > ids.get(name, 0):
        ids[name] = doc_id
    return True


_ID_IN_LINE = re.compile(rb'"t":"([^"\\]{1,200})","id":"(\d{1,18})"')


def _merge_readable(backup: bytes, damaged: bytes, ledger: dict[int, _Doc], ids: dict[str, int]) -> Tables:
    """Every readable line of the backup, then those of the damaged log the backup lacks.

    The backup is a copy of an earlier state of the same log (or of the log
    before its last compaction): the lines both start with are the same
    writes, the backup's further lines came before the damaged file's further
    lines. Replaying the damaged file's shared lines again would undo the
    backup's later changes to the same documents. Ids seen anywhere, even in
    lines that can't be applied, go into ``ids``: they are never handed out again.
    """
    shared = 0
    for a, b in zip(backup.splitlines(keepends=True), damaged.splitlines(keepends=True)):
        if a != b or not a.endswith(b"\n"):
            break
        shared += len(a)
    tables: Tables = {}
    for raw in backup.splitlines() + damaged[shared:].splitlines():
        try:
            applied = _apply(tables, json.loads(raw), ledger, ids)
        except ValueError:
            applied = False
        if not applied:
            for name, doc_id in _ID_IN_LINE.findall(raw):
                _raise_ids(ids, {name.decode("utf-8", "replace"): int(doc_id)})
    return tables


# -- files -----------------------------------------------------------------------------------------
def write_all(fd: int, data: bytes, at: int, sync: bool = True) -> None:
    """Write ``data`` at offset ``at`` and fsync (unless ``sync`` is false: the caller does); on failure
    (a full disk), cut the file back to ``at``.

    ``os.write`` may write only part of what it was given (the disk filled
    up): without this, a partial line would stay behind as damage.
    """
    try:
        os.lseek(fd, at, os.SEEK_SET)
        while data:
            written = os.write(fd, data)
            if written <= 0:
                raise OSError(28, "No space left on device")
            data = data[written:]
        if sync:
            os.fsync(fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, at)
        raise


def _write_private(path: Path, data: bytes, replace: bool = False) -> None:
    """Write an owner-only file; with ``replace``, through a temporary file and ``os.replace``."""
    target = path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}.tmp") if replace else path
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE)
        try:
            while data:
                data = data[os.write(fd, data) :]
        finally:
            os.close(fd)
        if replace:
            os.replace(target, path)
    except BaseException:
        if replace:
            with contextlib.suppress(OSError):
                target.unlink()
        raise


_LEFTOVER = re.compile(r"\.(\d+)(?:-\d+)?\.tmp$")


def remove_leftovers(folder: Path, prefix: str) -> int:
    """Remove the temporary files (``<prefix>...PID[-THREAD].tmp``) of writers that were killed; return how many.

    A file is a leftover when its process is gone, or when it is older than
    ``LEFTOVER_AGE`` (the pid may have been reused).
    """
    removed = 0
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        match = _LEFTOVER.search(entry.name)
        if not match or not entry.name.startswith(prefix):
            continue
        try:
            pid = int(match.group(1))
            old = now - entry.stat(follow_symlinks=False).st_mtime > LEFTOVER_AGE
            if (old or not psutil.pid_exists(pid)) and entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed += 1
        except OSError:
            continue
    if removed:
        log.info("removed %d temporary files left by killed writers in %s", removed, folder)
    return removed


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
