"""Where the journal lives: ``KEPLER_HOME``, else ``~/.kepler``."""

from __future__ import annotations

import os
from pathlib import Path


def kepler_home(home: str | os.PathLike | None = None) -> Path:
    """The journal folder, created owner-only (0700) if missing."""
    path = Path(home or os.environ.get("KEPLER_HOME") or Path.home() / ".kepler").expanduser()
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path
