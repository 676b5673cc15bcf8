"""The journal: experiments recorded in TinyDB, their large parts beside them.

One journal holds every project (``KEPLER_HOME/journal.jsonl``): "have I
tried this already?" crosses projects, and one lock keeps one order.
"""

from __future__ import annotations

import atexit
import getpass
import json
import logging
import operator
import os
import socket
import time
import weakref
from typing import TYPE_CHECKING, Any

import psutil
from tinydb import TinyDB

from .blobs import BlobStore, DamagedBlobError
from .eventlog import attach_event_log
from .home import kepler_home
from .index import LookupIndex
from .privacy import clean, load_record_settings
from .snapshot import gc_paused
from .storage import PRIVATE, PRIVATE_DIR, FreshIdTable, JournalStorage, write_all

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from .privacy import RecordSettings

log = logging.getLogger("kepler")

STATUSES = ("running", "finished", "failed", "interrupted", "skipped")
# Parts of a record stored as blobs; ``get`` puts each back under its name.
BLOB_PARTS = (
    "model_config",
    "layers",
    "compile",
    "fit",
    "data",
    "findings",
    "cell",
    "notebook",
    "inputs",
    "environment",
    # scikit-learn estimators: the description, what the fit left, every search candidate, the scores after it
    "estimator_description",
    "fitted",
    "cv_results",
    "scores",
)


# Journals holding fields that could not be written yet: tried once more when the process exits.
_unwritten: weakref.WeakSet[Journal] = weakref.WeakSet()


@atexit.register
def _write_pending_at_exit() -> None:
    for journal in list(_unwritten):
        try:
            journal.write_pending()
        except Exception:  # noqa: BLE001 - at exit, a journal that still can't be written stays as it is
            log.warning("fields of %s kept since a failed write could not be written at exit", journal.path)


class UnknownExperimentError(LookupError):
    """No experiment has the id that was asked for."""


class JournalDB(TinyDB):
    table_class = FreshIdTable


class Journal:
    """Read and write the experiments recorded in ``home`` (``KEPLER_HOME``)."""

    def __init__(self, home: str | os.PathLike | None = None) -> None:
        self.home = kepler_home(home)
        attach_event_log(self.home)
        self.path = self.home / "journal.jsonl"
        self.db = JournalDB(str(self.path), storage=JournalStorage)
        self.storage: JournalStorage = self.db.storage
        self.table = self.db.table("experiments")
        self.blobs = BlobStore(self.home / "blobs")
        self.runs = self.home / "runs"
        self.settings: RecordSettings = load_record_settings(self.home)
        # Summary fields that could not be written (a full disk): shown by this
        # journal's reads, written by its next write or when the process exits.
        self._pending: dict[int, dict[str, Any]] = {}
        self._index = LookupIndex()
        # Each document's searchable text and cell address, while it is the same document.
        self._texts: dict[int, tuple[Any, str, str | None]] = {}

    # -- writing -----------------------------------------------------------
    def start(self, summary: dict[str, Any], parts: dict[str, Any]) -> int:
        """Record a new experiment (status ``running`` unless given); return its id."""
        doc = clean(dict(summary), self.settings.redact)
        doc.setdefault("status", "running")
        doc.setdefault("created", _now())
        doc.update(host=socket.gethostname(), pid=os.getpid(), pid_started=_process_started(os.getpid()))
        doc.setdefault("user", _user())
        doc["blobs"] = self._store_parts(parts)
        with self.storage.transaction():
            self._write_pending()
            experiment_id = self.table.insert(doc)
        stale = self._epochs_path(experiment_id)
        if stale.exists():  # left by a record lost to a damaged journal: not this run's epochs
            aside = stale.rename(stale.with_name(f"{experiment_id}.epochs.orphan-{time.time_ns()}.jsonl"))
            log.warning("epochs of a lost experiment %d kept aside as %s", experiment_id, aside.name)
        log.info(
            "experiment %d recorded (%s/%s, %s)", experiment_id, doc.get("project"), doc.get("name"), doc["status"]
        )
        return experiment_id

    def update(
        self, experiment_id: int, summary: dict[str, Any] | None = None, parts: dict[str, Any] | None = None
    ) -> None:
        """Change summary fields and replace stored parts of an experiment."""
        with self.storage.transaction():
            self._write_pending()
            doc = self._doc(experiment_id)
            fields = clean(dict(summary or {}), self.settings.redact)
            if parts:
                fields["blobs"] = {**doc.get("blobs", {}), **self._store_parts(parts)}
            self.table.update(fields, doc_ids=[doc.doc_id])
            self._pending.pop(doc.doc_id, None)
        log.debug("experiment %d updated: %s", doc.doc_id, sorted(fields))

    def update_later(self, experiment_id: int, summary: dict[str, Any]) -> None:
        """Summary fields that could not be written now (a full disk): written by this journal's next
        write, or when the process exits; meanwhile this journal's reads show them."""
        self._pending.setdefault(int(experiment_id), {}).update(clean(dict(summary), self.settings.redact))
        _unwritten.add(self)

    def write_pending(self) -> bool:
        """Write what :meth:`update_later` kept; True if nothing is left to write."""
        if not self._pending:
            return True
        with self.storage.transaction():
            self._write_pending()
        return not self._pending

    def _write_pending(self) -> None:
        """Inside a transaction: write the kept fields; on failure keep them for the next try."""
        for experiment_id, fields in list(self._pending.items()):
            try:
                if self.table.contains(doc_id=experiment_id):
                    self.table.update(fields, doc_ids=[experiment_id])
                    log.info(
                        "experiment %d: fields kept since a failed write are written: %s", experiment_id, sorted(fields)
                    )
            except OSError as error:
                log.warning("experiment %d: kept fields still can't be written (%s)", experiment_id, error)
                return
            del self._pending[experiment_id]

    def append_epoch(self, experiment_id: int, epoch: int, logs: dict[str, float]) -> None:
        """Append one finished epoch; cheap, and durable if the kernel dies next.

        A write that fails (a full disk) leaves the file as it was, so the
        epochs already there stay readable; the OSError says why.
        """
        self.runs.mkdir(exist_ok=True, mode=PRIVATE_DIR)
        line = (json.dumps({"epoch": epoch, "logs": logs, "time": _now()}, default=float) + "\n").encode()
        fd = os.open(self._epochs_path(experiment_id), os.O_RDWR | os.O_CREAT, PRIVATE)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line  # after the partial line of a killed kernel, not onto it
            write_all(fd, line, size)
        finally:
            os.close(fd)

    def note(self, experiment_id: int | str, text: str) -> None:
        """Write (or replace) the conclusion a person drew from an experiment."""
        doc = self._doc(experiment_id)
        text = text.strip()
        self.update(doc.doc_id, {"conclusion": text or None, "concluded": _now() if text else None})

    # -- reading -----------------------------------------------------------
    def experiments(self, project: str | None = None, newest: int | None = None) -> list[dict[str, Any]]:
        """Every experiment's summary (optionally of one project; only the ``newest`` N), oldest first."""
        docs = self._stored()
        if project is not None:
            docs = [d for d in docs if d.get("project") == project]
        if newest is not None:
            docs = docs[-newest:] if newest > 0 else []
        with gc_paused():  # 50,000 new summaries, none of them garbage
            return [self._summary(d) for d in docs]

    def count(self, project: str | None = None) -> int:
        """How many experiments are recorded (in one project)."""
        docs = self._stored_by_id().values()
        return len(docs) if project is None else sum(d.get("project") == project for d in docs)

    def _stored(self) -> list[Any]:
        """Every experiment's document as the storage holds it (each with its ``doc_id``), oldest first:
        not copied once for TinyDB and again for the summary. Read them; never change them."""
        docs = self._stored_by_id().values()
        return sorted(docs, key=_DOC_ID)  # already in order, but for records rewritten by a recovery

    def _stored_by_id(self) -> dict[str, Any]:
        return (self.storage.read() or {}).get(self.table.name, {})

    def get(self, experiment_id: int | str) -> dict[str, Any]:
        """The full record of one experiment, as plain JSON-able data."""
        doc = self._doc(experiment_id)
        record = self._summary(doc)
        record.update(self._parts(doc, BLOB_PARTS, damaged=record))
        record["history"] = self.history(doc.doc_id)
        if self.runs.exists() and not self.runs.is_dir():
            record.setdefault("damaged", {})["history"] = (
                f"{self.runs} is a file where the folder of epochs should be; move it aside"
            )
        return record

    def latest(self, **fields: Any) -> dict[str, Any] | None:
        """The full record of the newest experiment whose summary has these field values."""
        wanted = list(fields.items())
        for doc in reversed(self._stored()):  # ids grow with time; a new architecture reads every record
            for key, value in wanted:  # a loop, not all(): 50,000 records take 15 ms, not 50
                if doc.get(key) != value:
                    break
            else:
                return self.get(doc.doc_id)
        return None

    def history(self, experiment_id: int) -> dict[str, list[float]]:
        """Every metric per epoch, as recorded when each epoch finished."""
        history: dict[str, list[float]] = {}
        for entry in self._epochs(experiment_id):
            for key, value in entry["logs"].items():
                history.setdefault(key, []).append(value)
        return history

    def epochs(self, experiment_id: int | str) -> list[dict[str, Any]]:
        """Every finished epoch as recorded: ``{"epoch": 0, "logs": {...}, "time": "2026-...+0000"}``."""
        return list(self._epochs(self._doc(experiment_id).doc_id))

    def search(self, query: str | dict[str, Any] = "") -> list[dict[str, Any]]:
        """Experiments matching ``query``.

        A dict matches fields exactly (``{"project": "digits"}``). A string is
        a query in Kepler's search language (:mod:`kepler_nb.journal.query`),
        e.g. ``val_accuracy > 0.9 and optimizer = adam sort val_accuracy desc
        limit 5``; a malformed one raises ``QuerySyntaxError`` (a ValueError)
        that says where, and what was expected.
        """
        if isinstance(query, dict):
            filters, _ = _parse_simple_query(query)
            return [s for s in self.experiments() if all(_field_matches(s.get(k), v) for k, v in filters.items())]
        from .query import parse, record_text

        parsed = parse(query) if isinstance(query, str) else query
        # Matched on the stored documents; only the matches become summaries (a
        # running one first, since its status may really be "interrupted").
        view: list[Any] = self._stored()
        cells: dict[int, Any] = {}  # of the running ones, whose summaries have no blobs
        for at, doc in enumerate(view):
            if doc.get("status") == "running" or doc.doc_id in self._pending:  # fields a summary changes
                cells[doc.doc_id] = (doc.get("blobs") or {}).get("cell")
                view[at] = self._summary(doc)

        def cell(d: Any) -> Any:
            return (d.get("blobs") or {}).get("cell") if hasattr(d, "doc_id") else cells.get(d["id"])

        def source(d: Any) -> str:
            return self._cell_source(cell(d))

        lowered = self.__dict__.setdefault("_cell_lower_cache", {})

        def source_lower(d: Any) -> str:
            address = cell(d)
            known = lowered.get(address)  # most records share their cell's source with others
            return known if known is not None else self._cell_source(address, lower=True)

        source.lower = source_lower  # type: ignore[attr-defined]
        kept = self._texts

        def contains(d: Any, needle: str) -> bool:
            """In the record's text or its cell's source; a stored document's text and cell are kept while
            it is the same document (an edit makes a new one). Runs once per record: kept to a few lookups."""
            doc_id = getattr(d, "doc_id", None)
            if doc_id is None:  # a running record's summary
                return needle in record_text(d) or needle in source_lower(d)
            known = kept.get(doc_id)
            if known is None or known[0] is not d:
                known = kept[doc_id] = (d, record_text(d), (d.get("blobs") or {}).get("cell"))
            if needle in known[1]:
                return True
            source_text = lowered.get(known[2])
            if source_text is None:
                source_text = self._cell_source(known[2], lower=True)
            return needle in source_text

        with gc_paused():
            return parsed.apply(
                view,
                source=source,
                convert=lambda d: self._summary(d) if hasattr(d, "doc_id") else d,
                contains=contains,
            )

    def similar(self, model_or_experiment: Any, k: int = 5) -> list[dict[str, Any]]:
        """The ``k`` earlier experiments most like a model or an experiment, best first.

        Takes an experiment id, a summary, a Keras model (its architecture
        only) or a :class:`~kepler_nb.fit.signature.Signature`. Each result
        is the experiment's summary with ``similarity`` (0..1), ``relation``
        (``same-model``, ``nearby-architecture``...), ``same_data`` and
        ``differences``, each a :class:`~kepler_nb.journal.similarity.Difference`
        as a dict (``{"kind": "hyperparameter", "name": "learning_rate",
        "theirs": 0.01, "ours": 0.001, ...}``);
        :func:`kepler_nb.presentation.similar.in_words` says them in words.
        """
        from ..fit.signature import Signature, model_signature
        from .similarity import setting_differences_of_parts

        exclude, own_parts = None, None
        if isinstance(model_or_experiment, Signature):
            target = model_or_experiment.summary_fields()
        elif isinstance(model_or_experiment, dict):
            target, exclude = model_or_experiment, model_or_experiment.get("id")
        elif isinstance(model_or_experiment, (int, str)):
            doc = self._doc(model_or_experiment)
            target, exclude = self._summary(doc), doc.doc_id
            own_parts = self._parts(doc, ("compile", "fit"))
        else:
            target = model_signature(model_or_experiment).summary_fields()
        matches = self.lookup(target, k=k, exclude=exclude, include_same=True).similar
        if own_parts is not None:
            for match in matches:
                theirs = self._parts(self._doc(match.experiment["id"]), ("compile", "fit"))
                match.name_settings(setting_differences_of_parts(theirs, own_parts))
        return [m.to_dict() for m in matches]

    def warm(self) -> bool:
        """Read the journal and index it for the lookup now, so that the first fit of a kernel need not
        (0.7 s with 50,000 experiments); False when the journal needs recovering first (left to that fit)."""
        with self.storage.mutex:
            if not self.storage.preload():
                return False
            self._followed()
        return True

    # -- internals -----------------------------------------------------------
    def _followed(self) -> dict[str, Any]:
        """The stored documents by id, with the lookup's index brought up to date with them (hold the mutex)."""
        stored = self._stored_by_id()
        token, changed = self.storage.changes(self._index.token)
        self._index.follow(token, changed, self.table.name, stored)
        return stored

    def _doc(self, experiment_id: int | str):
        try:
            doc = self.table.get(doc_id=int(experiment_id))
        except (TypeError, ValueError):
            doc = None
        if doc is None:
            known = len(self.table)
            raise UnknownExperimentError(
                f"No experiment with id {experiment_id!r} in {self.path} ({known} recorded). "
                "`kepler list` shows the ids."
            )
        return doc

    def _summary(self, doc, doc_id: int | None = None) -> dict[str, Any]:
        doc_id = doc.doc_id if doc_id is None else doc_id
        summary = dict(doc)  # a C-level copy: listing 10,000 records is mostly this
        summary.pop("blobs", None)
        summary.pop("pid", None)
        summary.pop("pid_started", None)
        summary["id"] = doc_id
        if doc_id in self._pending:
            summary.update(self._pending[doc_id])
        if summary.get("status") == "running" and _is_dead(doc):
            summary["status"] = "interrupted"
            summary["epochs_done"] = len(self._epochs(doc_id))
        return summary

    def lookup(self, target: dict[str, Any], k: int = 5, exclude: Any = None, include_same: bool = False) -> Any:
        """What the journal knows of a run about to start: its duplicate, similar runs, a transfer candidate.

        ``target`` holds a run's signature fields; see
        :func:`kepler_nb.journal.similarity.lookup`. Only the summary documents
        it could return are read (:mod:`.index` knows which), and only the
        experiments returned become summaries.
        """
        from .similarity import lookup

        with self.storage.mutex:
            stored = self._followed()
            ids = self._index.candidates(target)
        chosen = self._stored() if ids is None else [d for d in map(stored.get, ids) if d is not None]
        docs = (self._summary(d) if d.get("status") == "running" else d for d in chosen)
        found = lookup(docs, target, k=k, exclude=exclude, include_same=include_same)

        def summary(doc: Any) -> Any:
            return self._summary(doc) if hasattr(doc, "doc_id") else doc

        found.duplicate = summary(found.duplicate) if found.duplicate is not None else None
        found.transfer = summary(found.transfer) if found.transfer is not None else None
        for match in found.similar:
            match.experiment = summary(match.experiment)
        return found

    def _parts(self, doc: Any, names: Iterable[str], damaged: dict[str, Any] | None = None) -> dict[str, Any]:
        """Some stored parts of one record (not the whole record: notebooks can be large).

        A damaged part reads as None; why goes to the log and, given a
        ``damaged`` record, into its ``damaged`` field ({part: reason}).
        """
        blobs = doc.get("blobs") or {}
        parts = {}
        for name in names:
            address = blobs.get(name)
            try:
                parts[name] = self.blobs.get(address) if isinstance(address, str) and address else None
            except (DamagedBlobError, ValueError) as error:
                parts[name] = None
                log.warning("experiment %s: %s", doc.doc_id, error)
                if damaged is not None:
                    damaged.setdefault("damaged", {})[name] = str(error)
        return parts

    def _cell_source(self, address: str | None, lower: bool = False) -> str:
        """The cell's source from its blob (``lower``: lowercased); blobs never change, so each is read once."""
        if not address:
            return ""
        cache = self.__dict__.setdefault("_cell_cache", {})
        if lower:
            lowered = self.__dict__.setdefault("_cell_lower_cache", {})
            if address not in lowered:
                lowered[address] = self._cell_source(address).lower()
            return lowered[address]
        if address not in cache:
            try:
                value = self.blobs.get(address)
            except ValueError as error:  # a damaged blob (DamagedBlobError) or address
                log.warning("a cell source is unreadable: %s", error)
                value = ""
            cache[address] = value if isinstance(value, str) else ""
        return cache[address]

    def _store_parts(self, parts: dict[str, Any]) -> dict[str, str]:
        """Store each part the settings keep (credentials redacted); return their addresses."""
        unknown = set(parts) - set(BLOB_PARTS)
        if unknown:
            raise ValueError(f"unknown record parts {sorted(unknown)}; known: {BLOB_PARTS}")
        redact = self.settings.redact
        return self.blobs.put_many(
            {
                name: clean(value, redact)
                for name, value in parts.items()
                if value is not None and self.settings.keeps(name)
            }
        )

    def _epochs_path(self, experiment_id: int) -> Path:
        return self.runs / f"{int(experiment_id)}.epochs.jsonl"

    def _epochs(self, experiment_id: int) -> list[dict[str, Any]]:
        """The epochs recorded for an experiment; lines that aren't epochs (damage, a dying kernel's) are skipped."""
        path = self._epochs_path(experiment_id)
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return []
        except OSError as error:
            log.warning("epochs of experiment %s unreadable (%s): %s", experiment_id, path, error)
            return []
        entries = []
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:  # the line a dying kernel was writing
                continue
            if isinstance(entry, dict) and isinstance(entry.get("logs"), dict):
                entry["logs"] = {
                    str(k): v
                    for k, v in entry["logs"].items()
                    if isinstance(v, (int, float)) and not isinstance(v, bool)
                }
                entries.append(entry)
        return entries


_DOC_ID = operator.attrgetter("doc_id")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no name for this uid (a container)
        return None


_host: list[tuple[float, str]] = []


def _hostname() -> str:
    """This machine's name, asked again at most once a second (a search looks at every running record)."""
    now = time.monotonic()
    if not _host or now - _host[0][0] > 1.0:
        _host[:] = [(now, socket.gethostname())]
    return _host[0][1]


def _process_started(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def _is_dead(doc: dict[str, Any]) -> bool:
    """A ``running`` record whose process is gone (same host only: others can't be seen)."""
    if doc.get("host") != _hostname() or not doc.get("pid"):
        return False
    started = _process_started(doc["pid"])
    return started is None or (doc.get("pid_started") is not None and abs(started - doc["pid_started"]) > 1)


def _parse_simple_query(query: str | dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    if isinstance(query, dict):
        return dict(query), []
    filters, words = {}, []
    for term in query.split():
        key, sep, value = term.partition("=")
        if sep and key:
            filters[key] = value
        else:
            words.append(term.lower())
    return filters, words


def _field_matches(actual: Any, wanted: Any) -> bool:
    if isinstance(actual, list):
        return any(_field_matches(a, wanted) for a in actual)
    return actual == wanted or (isinstance(wanted, str) and str(actual) == wanted)
