"""Content-addressed storage for the large parts of a record.

Histories, cell sources, notebook snapshots and model configurations live
beside the journal, named by the SHA-256 of their JSON, so the TinyDB
documents stay small and an unchanged notebook is stored once.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any


class BlobStore:
    """Immutable JSON blobs under ``root/ab/abcdef....json``."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def put(self, value: Any) -> str:
        """Store ``value`` (JSON-able) and return its address."""
        data = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()
        address = hashlib.sha256(data).hexdigest()
        path = self._path(address)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)
        return address

    def get(self, address: str) -> Any:
        """Load a blob; a missing one is ``None`` (the record says what it was)."""
        try:
            return json.loads(self._path(address).read_bytes())
        except FileNotFoundError:
            return None

    def _path(self, address: str) -> Path:
        if not address.isalnum():
            raise ValueError(f"not a blob address: {address!r}")
        return self.root / address[:2] / f"{address}.json"
