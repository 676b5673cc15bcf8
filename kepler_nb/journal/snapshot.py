"""A snapshot of a big journal beside its log, so that opening it reads one file instead of every line.

Replaying the log means parsing every JSON line ever kept: seconds for
tens of thousands of experiments. The snapshot (``journal.jsonl.snap``)
holds the documents the log's first ``offset`` bytes add up to, in
:mod:`marshal` format (no code is ever run to load it, unlike pickle), so
that opening reads the snapshot and replays only the lines after it.

It is a cache, never the truth. The first line names what it was taken
from: the log's generation, the ``offset`` and line count it covers, the
CRC-32 of the log's first ``offset`` bytes, the highest ids, and the length
and a CRC-32 of these fields and the marshal payload that follows. A snapshot is used only when
all of these hold for the log as it is now: the same generation (a
compaction, a recovery or a replaced file makes another), at least
``offset`` bytes, the same bytes before it (a damaged line, a copy of
another journal with the same generation, a file cut back are not the same
bytes), and a whole, undamaged payload. Anything else, the snapshot is
ignored and the log replayed as before (which then finds any damage of the
log itself).

It is written through a temporary file and ``os.replace``, without
``fsync``: a writer killed mid-snapshot leaves the previous snapshot (or
none) and a temporary file removed at the next open; a snapshot torn by a
power loss fails its checksum. Readers never need a lock for it.
"""

from __future__ import annotations

import contextlib
import gc
import json
import marshal
import os
import threading
import zlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

FORMAT = 1
MAGIC = b"kepler-journal-snapshot\n"
HEADER_MAX_BYTES = 64 * 1024
PRIVATE = 0o600


class Snapshot:
    """What a snapshot holds: the documents of the log's first ``offset`` bytes."""

    __slots__ = ("crc", "generation", "ids", "lines", "offset", "tables")

    def __init__(
        self,
        generation: str,
        offset: int,
        lines: int,
        crc: int,
        ids: dict[str, int],
        tables: dict[str, dict[str, dict[str, Any]]],
    ) -> None:
        self.generation, self.offset, self.lines, self.crc = generation, offset, lines, crc
        self.ids, self.tables = ids, tables


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while millions of objects are built at once.

    Each collection would scan every object built so far: loading 50,000
    documents spent two thirds of its time in the collector. Nothing built
    here is garbage, so nothing is lost by waiting. Afterwards the objects
    go straight to the oldest generation (``freeze`` then ``unfreeze``
    does that, documented): otherwise the next young collections would scan
    all of them again, three times over.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        if enabled:
            gc.enable()


def write_snapshot(path: Path, snapshot: Snapshot) -> None:
    """Write ``snapshot`` atomically (a reader sees the old one or the new one, whole)."""
    plain = {name: {key: dict(doc) for key, doc in docs.items()} for name, docs in snapshot.tables.items()}
    payload = marshal.dumps(plain, 4)
    header = {
        "format": FORMAT,
        "generation": snapshot.generation,
        "offset": snapshot.offset,
        "lines": snapshot.lines,
        "log_crc": snapshot.crc,
        "ids": snapshot.ids,
        "size": len(payload),
    }
    header["crc"] = zlib.crc32(payload, zlib.crc32(_header_bytes(header)))  # the header's fields and the payload
    data = MAGIC + _header_bytes(header) + b"\n" + payload
    tmp = path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def read_snapshot(path: Path, log_fd: int, generation: str, log_size: int) -> tuple[Snapshot | None, str]:
    """The snapshot at ``path`` if it matches the open log ``log_fd`` (see the module docstring); else None and why."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None, "none"
    except OSError as error:
        return None, f"unreadable ({error})"
    if not data.startswith(MAGIC):
        return None, "not a snapshot"
    end = data.find(b"\n", len(MAGIC), len(MAGIC) + HEADER_MAX_BYTES)
    if end < 0:
        return None, "no header"
    try:
        header = json.loads(data[len(MAGIC) : end])
        crc = int(header.pop("crc"))
        offset, lines, log_crc = int(header["offset"]), int(header["lines"]), int(header["log_crc"])
        size, format_ = int(header["size"]), header["format"]
        ids = {str(k): int(v) for k, v in (header.get("ids") or {}).items()}
        taken_from = str(header["generation"])
    except (ValueError, TypeError, KeyError, AttributeError):
        return None, "a damaged header"
    if format_ != FORMAT:  # (checked before the CRC: another format may have other fields)
        return None, f"format {format_!r}"
    if taken_from != generation:
        return None, "taken from another generation of the log"
    if not 0 < offset <= log_size:
        return None, f"covers {offset} bytes of a log of {log_size}"
    payload = memoryview(data)[end + 1 :]
    if len(payload) != size or zlib.crc32(payload, zlib.crc32(_header_bytes(header))) != crc:
        return None, "a damaged header or payload"
    prefix = os.pread(log_fd, offset, 0)
    if len(prefix) != offset or zlib.crc32(prefix) != log_crc:
        return None, "the log's first bytes are not the ones it was taken from"
    del prefix
    try:
        with gc_paused():
            tables = marshal.loads(payload)
    except (ValueError, EOFError, TypeError):
        return None, "a payload marshal can't read"
    if not isinstance(tables, dict) or not all(
        isinstance(name, str) and isinstance(docs, dict) for name, docs in tables.items()
    ):
        return None, "a payload that is not tables of documents"
    return Snapshot(taken_from, offset, lines, log_crc, ids, tables), "used"


def _header_bytes(header: dict[str, Any]) -> bytes:
    return json.dumps(header, separators=(",", ":")).encode()
