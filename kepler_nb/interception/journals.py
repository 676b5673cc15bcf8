"""The journals a kernel keeps open: one per journal folder, shared by every fit."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from ..journal.home import kepler_home
from ..journal.journal import Journal

if TYPE_CHECKING:
    from pathlib import Path

_journals: dict[Path, Journal] = {}
_opening = threading.Lock()  # the warm-up thread and the first fit may both ask first


def shared_journal() -> Journal:
    """One open Journal per journal folder in this process: it rereads only what other kernels appended."""
    home = kepler_home(None).resolve()
    with _opening:
        if home not in _journals:
            _journals[home] = Journal(home)
        return _journals[home]


def warm_shared_journal() -> None:
    """Open and index this kernel's journal ahead of its first fit, if it has one (nothing is created)."""
    if (kepler_home(None) / "journal.jsonl").is_file():
        shared_journal().warm()


def reset_shared_journals() -> None:
    """Forget the open journals (tests that move ``KEPLER_HOME`` around)."""
    _journals.clear()
