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
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
        try:
            data = text.encode()
        except UnicodeEncodeError:  # lone surrogates: escaped, so the blob is valid UTF-8 JSON
            data = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()
        address = hashlib.sha256(data).hexdigest()
        path = self._path(address)
        if not path.exists():
            self.root.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
            path.parent.mkdir(exist_ok=True, mode=PRIVATE_DIR)
            tmp = self.root / f"{TMP_PREFIX}{address[:16]}.{os.getpid()}-{threading.get_ident()}.tmp"
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE)
                try:
                    write_all(fd, data, 0)
                finally:
                    os.close(fd)
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    tmp.unlink()
                raise
        return address

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
