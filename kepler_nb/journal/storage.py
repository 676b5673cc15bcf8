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

Callers must hold :meth:`transaction` around every read-modify-write so that
what TinyDB read is still the truth when it writes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import time
import warnings
from collections.abc import Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

from filelock import FileLock
from tinydb.storages import Storage
from tinydb.table import Table

log = logging.getLogger("kepler")

HEADER = {"kepler_journal": 1}
_HEADER_LINE = b'{"kepler_journal":1}\n'
# Compact once superseded lines outnumber live documents by this factor.
COMPACT_RATIO = 3
COMPACT_MIN_LINES = 2000
# Refresh the backup once the log has grown by this fraction since it was taken.
BACKUP_GROWTH = 0.25
BACKUP_MIN_BYTES = 4 * 1024  # small journals get a copy early; copying them is cheap

Tables = dict[str, dict[str, dict[str, Any]]]


class _Doc(dict):
    """A cached document that notes every in-place edit in its storage's ledger.

    TinyDB edits the documents ``read()`` returned in place and then calls
    ``write()``. Handing out the cached documents themselves (instead of a
    copy of each, on every read) needs a way to see those edits: ``write()``
    writes the documents in the ledger plus any new document object.
    """

    __slots__ = ("ledger",)

    def __init__(self, data: dict[str, Any], ledger: dict[int, _Doc]) -> None:
        super().__init__(data)
        self.ledger = ledger


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

    TinyDB's own ``_update_table`` turns every document id into an int and
    back on each write: with thousands of records, most of a write. This one
    hands the update a view that converts only the ids it touches.
    """

    def _update_table(self, updater: Callable[[Any], None]) -> None:
        tables = self._storage.read() or {}
        raw = dict(tables.get(self.name, {}))  # a new table dict: write() sees what changed
        updater(_IntKeyed(raw))
        tables[self.name] = raw
        self._storage.write(tables)
        self.clear_cache()


class _IntKeyed(MutableMapping):
    """A str-keyed table seen with int ids, as TinyDB's updates expect."""

    __slots__ = ("raw",)

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw

    def __getitem__(self, doc_id: int) -> Any:
        return self.raw[str(doc_id)]

    def __setitem__(self, doc_id: int, doc: Any) -> None:
        self.raw[str(doc_id)] = doc

    def __delitem__(self, doc_id: int) -> None:
        del self.raw[str(doc_id)]

    def __contains__(self, doc_id: object) -> bool:
        return str(doc_id) in self.raw

    def __iter__(self) -> Iterator[int]:
        return map(int, self.raw)

    def __len__(self) -> int:
        return len(self.raw)

    def clear(self) -> None:
        self.raw.clear()


class JournalStorage(Storage):
    """Append-only JSON-lines storage with a file lock, for ``TinyDB(storage=...)``."""

    def __init__(self, path: str | os.PathLike, lock_timeout: float = 60.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.backup_path = self.path.with_name(self.path.name + ".bak")
        self.head_path = self.path.with_name(self.path.name + ".head")
        self.lock = FileLock(str(self.path) + ".lock", timeout=lock_timeout)
        self._forget()

    # -- TinyDB's interface ------------------------------------------------
    def read(self) -> Tables | None:
        self._refresh()
        # TinyDB replaces whole tables in the outer dict and never changes a
        # table dict it read, only the documents in it (noted by _Doc). The
        # table dicts are lent, not given: a refresh copies them before
        # changing them, so a caller still iterating one is not disturbed.
        self._lent = True
        return dict(self._tables)

    def write(self, data: Tables) -> None:
        try:
            if not self.lock.is_locked:
                raise RuntimeError("JournalStorage.write() called outside transaction(); wrap the change in it.")
            lines, changed = self._changed_lines(data)
            if lines:
                self._append(lines)
        except BaseException:
            self._forget()  # TinyDB may have edited cached documents: reload them from the file
            raise
        for name, doc_id in changed:
            data[name][doc_id] = _Doc(data[name][doc_id], self._ledger)
        self._ledger.clear()
        self._tables = dict(data)
        self._maybe_compact()

    def close(self) -> None:
        pass

    # -- transactions ------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Hold the journal's lock, with the latest state loaded."""
        with self.lock:
            self._refresh()
            yield

    # -- reading -----------------------------------------------------------
    def _forget(self) -> None:
        """Drop the cache: the next read replays the whole file."""
        self._tables: Tables = {}
        self._lent = False
        self._ledger: dict[int, _Doc] = {}
        self._inode: int | None = None
        self._offset = 0
        self._lines = 0

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
        head = _read_head(self.head_path)
        try:
            f = open(self.path, "rb")  # noqa: SIM115 - stat and read this one file, even if it is replaced
        except FileNotFoundError:
            self._forget()
            if head and head[1] > len(_HEADER_LINE) and self.backup_path.exists():
                return f"the file is missing, though {head[1]} bytes were written to it"
            return None
        with f:
            stat = os.fstat(f.fileno())
            if stat.st_ino != self._inode or stat.st_size < self._offset:
                self._forget()
                self._inode = stat.st_ino
            problem = _truncation(head, stat)
            if problem is None and stat.st_size > self._offset:
                problem = self._read_from(f, self._offset)
            if problem is None and head and head[0] == stat.st_ino and self._offset < head[1]:
                # Only bytes past what was last written can be a write in progress.
                problem = f"bytes {self._offset}..{head[1]} were written whole but are not complete lines"
        return problem

    def _read_from(self, f: Any, offset: int) -> str | None:
        """Apply the complete lines after ``offset``; return a problem or None."""
        f.seek(offset)
        chunk = f.read()
        if offset == 0 and not _HEADER_LINE.startswith(chunk[: len(_HEADER_LINE)]):
            # Even a first write killed half-way leaves the start of the header.
            return f"it does not start with the journal header: {chunk[:60]!r}"
        end = chunk.rfind(b"\n") + 1  # a partial last line is a write in progress
        if end and self._lent:
            self._tables = {name: dict(docs) for name, docs in self._tables.items()}
            self._lent = False
        line_no = self._lines
        for raw in chunk[:end].splitlines():
            line_no += 1
            try:
                entry = json.loads(raw)
            except ValueError:
                return f"line {line_no} is not valid JSON: {raw[:60]!r}"
            if not _apply(self._tables, entry, self._ledger):
                return f"line {line_no} is not a journal entry: {raw[:60]!r}"
        self._offset = offset + end
        self._lines = line_no
        return None

    # -- writing -----------------------------------------------------------
    def _changed_lines(self, data: Tables) -> tuple[list[str], list[tuple[str, str]]]:
        """Lines for what ``data`` changed, and the (table, id) of each new or edited document."""
        lines: list[str] = []
        changed: list[tuple[str, str]] = []
        edited = self._ledger
        for name, docs in data.items():
            old = self._tables.get(name, {})
            if docs is old and not edited:
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

    def _append(self, lines: list[str]) -> None:
        payload = "".join(line + "\n" for line in lines).encode()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size > self._offset:
                # Bytes we did not apply: the partial line of a killed writer.
                os.ftruncate(fd, self._offset)
                size = self._offset
            if size == 0:
                payload = _HEADER_LINE + payload
            os.lseek(fd, size, os.SEEK_SET)
            os.write(fd, payload)
            os.fsync(fd)
            stat = os.fstat(fd)
        finally:
            os.close(fd)
        self._inode, self._offset = stat.st_ino, stat.st_size
        self._lines += payload.count(b"\n")
        _write_head(self.head_path, stat.st_ino, stat.st_size)
        self._maybe_backup(stat.st_size)

    def _maybe_backup(self, size: int) -> None:
        try:
            backup_size = self.backup_path.stat().st_size
        except FileNotFoundError:
            backup_size = 0
        if size - backup_size > max(BACKUP_MIN_BYTES, BACKUP_GROWTH * backup_size):
            self._copy_atomically(self.path, self.backup_path)

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
        """Replace the log by one line per live document, atomically."""
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        lines = [_dumps(HEADER)]
        lines += [_dumps({"t": n, "id": i, "doc": d}) for n, docs in tables.items() for i, d in docs.items()]
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write("\n".join(lines) + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        _fsync_dir(self.path.parent)
        stat = self.path.stat()
        self._inode, self._offset, self._lines = stat.st_ino, stat.st_size, len(lines)
        _write_head(self.head_path, stat.st_ino, stat.st_size)
        self._copy_atomically(self.path, self.backup_path)

    def _copy_atomically(self, source: Path, target: Path) -> None:
        tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)

    # -- recovery ----------------------------------------------------------
    def _recover(self, problem: str) -> None:
        with self.lock:  # reentrant: fine inside a transaction
            # Without the lock, a half-written line or a file being replaced
            # can look like damage: only what is still wrong under it is.
            self._forget()
            problem = self._load()
            if problem is None:
                return
            stamp = time.strftime("%Y%m%d-%H%M%S")
            aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{os.getpid()}")
            self._forget()
            damaged = _read_bytes(self.path)
            tables = _merge_readable(_read_bytes(self.backup_path), damaged, self._ledger)
            aside.write_bytes(damaged)
            self._rewrite(tables)
            self._tables = tables
        count = sum(len(docs) for docs in tables.values())
        message = (
            f"The Kepler journal {self.path} was damaged: {problem}. "
            f"It was rebuilt from the last good copy ({self.backup_path.name}) and every readable line "
            f"({count} records); the damaged file is kept at {aside}."
        )
        log.error(message)
        warnings.warn(message, JournalCorruptWarning, stacklevel=4)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _apply(tables: Tables, entry: Any, ledger: dict[int, _Doc]) -> bool:
    if not isinstance(entry, dict):
        return False
    if "kepler_journal" in entry:
        return True
    name = entry.get("t")
    if not isinstance(name, str):
        return False
    if entry.get("drop"):
        tables.pop(name, None)
    elif entry.get("del"):
        tables.get(name, {}).pop(str(entry.get("id")), None)
    elif isinstance(entry.get("doc"), dict):
        tables.setdefault(name, {})[str(entry.get("id"))] = _Doc(entry["doc"], ledger)
    else:
        return False
    return True


def _merge_readable(backup: bytes, damaged: bytes, ledger: dict[int, _Doc]) -> Tables:
    """Every readable line of the backup, then those of the damaged log the backup lacks.

    The backup is a copy of an earlier state of the same log (or of the log
    before its last compaction): the lines both start with are the same
    writes, the backup's further lines came before the damaged file's further
    lines. Replaying the damaged file's shared lines again would undo the
    backup's later changes to the same documents.
    """
    shared = 0
    for a, b in zip(backup.splitlines(keepends=True), damaged.splitlines(keepends=True)):
        if a != b or not a.endswith(b"\n"):
            break
        shared += len(a)
    tables: Tables = {}
    for raw in backup.splitlines() + damaged[shared:].splitlines():
        try:
            _apply(tables, json.loads(raw), ledger)
        except ValueError:
            continue
    return tables


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


def _truncation(head: tuple[int, int] | None, stat: os.stat_result) -> str | None:
    if head and head[0] == stat.st_ino and stat.st_size < head[1]:
        return f"the file is shorter ({stat.st_size} bytes) than what was last written to it ({head[1]} bytes)"
    return None


def _read_head(path: Path) -> tuple[int, int] | None:
    try:
        inode, size = path.read_text().split()
        return int(inode), int(size)
    except (OSError, ValueError):
        return None


def _write_head(path: Path, inode: int, size: int) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(f"{inode} {size}\n")
    os.replace(tmp, path)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
