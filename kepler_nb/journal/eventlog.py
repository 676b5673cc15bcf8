"""The verbose event log: everything Kepler did, in one rotating file."""

from __future__ import annotations

import logging
import os
from logging.handlers import RotatingFileHandler
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

LOG_NAME = "kepler.log"
MAX_BYTES = 2 * 1024 * 1024
BACKUPS = 3

log = logging.getLogger("kepler")


class PrivateRotatingFileHandler(RotatingFileHandler):
    """A rotating log whose files are owner-only (0600), whatever the umask."""

    def _open(self):
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return open(fd, "a", encoding=self.encoding, errors=self.errors)


def attach_event_log(home: Path) -> None:
    """Send Kepler's log records to ``home/kepler.log`` (once per home)."""
    path = str(home / LOG_NAME)
    if any(getattr(h, "baseFilename", None) == path for h in log.handlers):
        return
    for handler in [h for h in log.handlers if isinstance(h, RotatingFileHandler)]:
        log.removeHandler(handler)
        handler.close()
    handler = PrivateRotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=True)
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    log.propagate = False
