"""The verbose event log: everything Kepler did, in one rotating file."""

from __future__ import annotations

import logging
import os
import threading
from logging.handlers import RotatingFileHandler
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

LOG_NAME = "kepler.log"
MAX_BYTES = 2 * 1024 * 1024
BACKUPS = 3

log = logging.getLogger("kepler")


class EventLogHandler(RotatingFileHandler):
    """Kepler's own handler (the only kind ``attach_event_log`` replaces); its files are owner-only (0600)."""

    def _open(self):
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return open(fd, "a", encoding=self.encoding, errors=self.errors)

    def handleError(self, record: logging.LogRecord) -> None:
        """A log line that can't be written (full disk, read-only home) is dropped silently.

        logging's default prints a traceback to stderr for each failed line:
        in the middle of a user's cell, for a diagnostic file. Whatever
        failed the write is already told to the user where it matters
        (the journal's own "trains unrecorded" line).
        """


_lock = threading.Lock()


def attach_event_log(home: Path) -> None:
    """Send Kepler's log records to ``home/kepler.log`` (one file at a time: the latest home's).

    Only Kepler's own handler is replaced when the home changes; handlers
    others added stay. If nobody set the "kepler" logger's level, it becomes
    DEBUG (the event log keeps everything) and stops propagating, so the
    root logger's handlers don't print the event log in the notebook; a
    level someone set is kept, and so is their ``propagate``.
    """
    path = str(home / LOG_NAME)
    with _lock:
        ours = [h for h in log.handlers if isinstance(h, EventLogHandler)]
        if [h.baseFilename for h in ours] == [path]:
            return
        for handler in ours:
            log.removeHandler(handler)
            handler.close()
        handler = EventLogHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=True)
        handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(message)s"))
        log.addHandler(handler)
        if log.level == logging.NOTSET:
            log.setLevel(logging.DEBUG)
            log.propagate = False
