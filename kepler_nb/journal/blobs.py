"""Content-addressed storage for the large parts of a record.

Histories, cell sources, notebook snapshots and model configurations live
beside the journal, named by the SHA-256 of their JSON, so the TinyDB
documents stay small and an unchanged notebook is stored once.

A blob is written to a temporary file in the store's root (named by process
and thread, so two threads storing the same value don't collide) and renamed
into place: a reader sees a whole blob or none. Temporary files of killed
writers are removed when the store is opened. Blobs are owner-only (0600).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .storage import PRIVATE, PRIVATE_DIR, remove_leftovers, write_all

TMP_PREFIX = ".blob-"


class DamagedBlobError(ValueError):
    """A stored blob can't be read back (cut short, overwritten)."""

    def __init__(self, path: Path, why: str) -> None:
        super().__init__(f"the stored part {path} is damaged ({why})")
        self.path = path


class BlobStore:
    """Immutable JSON blobs under ``root/ab/abcdef....json``."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        remove_leftovers(self.root, TMP_PREFIX)

    def put(self, value: Any) -> str:
        """Store ``value`` (JSON-able) and return its address."""
        return self.put_many({"value": value})["value"]

    def put_many(self, values: dict[str, Any]) -> dict[str, str]:
        """Store each value (JSON-able) and return their addresses, by the same names.

        The new blobs are written first and made durable together: their
        ``fsync`` calls run at once, so the file system commits them in one
        go instead of one after the other (a record's parts are several
        blobs). Only then is each renamed into place.
        """
        addresses, new = {}, {}
        for name, value in values.items():
            data = _encode(value)
            address = hashlib.sha256(data).hexdigest()
            addresses[name] = address
            if address not in new and not self._path(address).exists():
                new[address] = data
        if not new:
            return addresses
        self.root.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
        written: list[tuple[Path, Path, int]] = []  # (temporary file, blob path, open descriptor)
        try:
            for address, data in new.items():
                path = self._path(address)
                path.parent.mkdir(exist_ok=True, mode=PRIVATE_DIR)
                tmp = self.root / f"{TMP_PREFIX}{address[:16]}.{os.getpid()}-{threading.get_ident()}.tmp"
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE)
                written.append((tmp, path, fd))
                write_all(fd, data, 0, sync=False)
            _fsync_together([fd for _, _, fd in written])
            while written:
                tmp, path, fd = written[0]
                written[0] = (tmp, path, -1)
                os.close(fd)
                os.replace(tmp, path)
                written.pop(0)
        finally:
            for tmp, _, fd in written:  # a failure: no blob half there
                if fd >= 0:
                    with contextlib.suppress(OSError):
                        os.close(fd)
                with contextlib.suppress(OSError):
                    tmp.unlink()
        return addresses

    def get(self, address: str) -> Any:
        """Load a blob; a missing one is ``None`` (the record says what it was); a damaged one raises."""
        path = self._path(address)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            raise DamagedBlobError(path, "a folder where a file should be") from None
        try:
            return json.loads(data)
        except ValueError as error:
            raise DamagedBlobError(path, f"{len(data)} bytes that are not whole JSON: {error}") from None

    def _path(self, address: str) -> Path:
        if not address.isalnum():
            raise ValueError(f"not a blob address: {address!r}")
        return self.root / address[:2] / f"{address}.json"


def _encode(value: Any) -> bytes:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    try:
        return text.encode()
    except UnicodeEncodeError:  # lone surrogates: escaped, so the blob is valid UTF-8 JSON
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()


_fsyncs: list[ThreadPoolExecutor] = []
_fsyncs_lock = threading.Lock()


def _fsync_together(fds: list[int]) -> None:
    """``fsync`` every descriptor, at the same time (threads wait for the disk without the GIL); raise the
    first failure."""
    if len(fds) == 1:
        os.fsync(fds[0])
        return
    with _fsyncs_lock:
        if not _fsyncs:
            _fsyncs.append(ThreadPoolExecutor(max_workers=8, thread_name_prefix="kepler-fsync"))
    for future in [_fsyncs[0].submit(os.fsync, fd) for fd in fds]:
        future.result()
