"""A team journal on an MLflow tracking server: pushing the journal's runs to it.

The local journal stays the store of record; the server is a copy the team
shares. The mapping:

* one MLflow experiment per Kepler project (named after it);
* one MLflow run per Kepler experiment, tagged ``kepler.journal`` (a random
  id kept in ``KEPLER_HOME/journal-id``, so two people's experiment 3 stay
  two runs) and ``kepler.id``, with ``kepler.signature`` and the other
  signature hashes, ``kepler.host``, ``kepler.user`` (and ``mlflow.user``),
  and ``kepler.summary``: the few facts the similarity lookup compares, as
  JSON, so a teammate's lookup needs no second request;
* params: the model summary, the compile and fit settings, the data
  fingerprint, the main hyperparameters (and an estimator's own parameters);
  values longer than MLflow's 6,000 characters are cut, and the whole
  record is an artifact anyway;
* metrics: every metric of every epoch, ``step`` = the epoch, the timestamp
  the journal wrote when that epoch finished;
* artifacts under ``kepler/``: the cell source, the notebook snapshot, the
  findings, the record, and the HTML report (made by the caller, which owns
  presentation).

**Idempotent and resumable.** A run is created with its identity tags in the
same request, so it is found again by them; its metrics are read back before
more are logged when a push resumes, so no metric row is written twice;
``kepler.pushed`` (a digest of the record) is written last, as the commit
marker. A push killed half-way leaves a run without that marker, which the
next push completes. ``KEPLER_HOME/sync/mlflow-<server>.json`` remembers
what was committed, so pushing again touches the server only for records
that changed (a note added, say); without that file the tags still prevent
duplicates. One push at a time per journal (a file lock).

Pushing uses MLflow's client (every tracking server it supports, its
authentication and artifact stores; ``pip install kepler-nb[team]``).
``push_soon`` runs ``kepler sync`` in a process of its own after a fit, so
the training process never imports mlflow nor waits for the server; a
server that is down leaves the runs queued, and ``queued_note`` says so in
one line. Asking the server before a fit is :mod:`.team`.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock, Timeout

from .team import COMMIT_TAG, RestClient, journal_identity, problem_key, short_error

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from .journal import Journal

log = logging.getLogger("kepler")

# MLflow's limits (mlflow.utils.validation): per log_batch request, and per value.
MAX_PARAMS_PER_BATCH = 100
MAX_TAGS_PER_BATCH = 100
MAX_METRICS_PER_BATCH = 1000
MAX_ENTITIES_PER_BATCH = 1000
MAX_REQUEST_BYTES = 900_000  # MLflow takes 1 MB; room for the JSON around the values
MAX_PARAM_LENGTH = 6000
MAX_TAG_LENGTH = 8000
MAX_KEY_LENGTH = 250
CUT_MARK = " [cut; the whole record is the kepler/record.json artifact]"

# Statuses worth pushing: a running experiment is pushed once it ends; a skipped one trained nothing.
PUSHED_STATUSES = ("finished", "failed", "interrupted")
MLFLOW_STATUS = {"finished": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}
LOCK_TIMEOUT_S = 600


class SyncError(RuntimeError):
    """The push could not be done (no mlflow installed, server unreachable, bad URI)."""


# -- settings ------------------------------------------------------------------------
def current_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


# -- what is pushed ------------------------------------------------------------------------
def record_digest(summary: dict[str, Any]) -> str:
    """A digest of what a push sends for one experiment: it changes when the record does."""
    data = json.dumps(summary, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(data.encode()).hexdigest()[:16]


LOOKUP_FIELDS = (
    "id",
    "project",
    "name",
    "status",
    "created",
    "finished",
    "host",
    "user",
    "notebook_path",
    "signature",
    "arch_signature",
    "data_signature",
    "setup_signature",
    "input_shape",
    "n_classes",
    "hparams",
    "final",
    "epochs_done",
    "architecture",
    "arch",
)


def lookup_summary(summary: dict[str, Any]) -> str:
    """The ``kepler.summary`` tag: the lookup's fields as JSON, within MLflow's tag length."""
    fields = {k: summary.get(k) for k in LOOKUP_FIELDS if summary.get(k) is not None}
    for dropped in ("arch", "architecture", "notebook_path", "hparams"):  # a deep model's layer list is long
        text = json.dumps(fields, default=str, separators=(",", ":"))
        if len(text) <= MAX_TAG_LENGTH:
            return text
        fields.pop(dropped, None)
    return json.dumps({k: fields.get(k) for k in ("id", "project", "name", "signature", "arch_signature")})


def run_tags(summary: dict[str, Any], identity: str, user: str) -> dict[str, str]:
    """The tags a run is created with (its identity among them) and refreshed on every push."""
    tags = {
        "kepler.journal": identity,
        "kepler.id": str(summary["id"]),
        "kepler.project": str(summary.get("project") or "default"),
        "kepler.status": str(summary.get("status")),
        "kepler.host": str(summary.get("host") or socket.gethostname()),
        "kepler.user": user,
        "mlflow.user": user,
        "mlflow.runName": str(summary.get("name") or f"experiment {summary['id']}"),
        "kepler.summary": lookup_summary({**summary, "user": user}),
    }
    for name in ("signature", "arch_signature", "data_signature", "setup_signature"):
        if summary.get(name):
            tags[f"kepler.{name}"] = str(summary[name])
    problem = problem_key(summary)
    if problem:
        tags["kepler.problem"] = problem
    if summary.get("notebook_path"):
        tags["mlflow.source.name"] = str(summary["notebook_path"])
    if summary.get("codes"):
        tags["kepler.findings"] = " ".join(summary["codes"])
    if summary.get("conclusion"):
        tags["kepler.conclusion"] = str(summary["conclusion"])
    if summary.get("hypothesis"):
        tags["kepler.hypothesis"] = str(summary["hypothesis"])
    for tag in summary.get("tags") or []:
        tags[f"kepler.tag.{tag}"[:MAX_KEY_LENGTH]] = "1"
    return {k: _cut(v, MAX_TAG_LENGTH) for k, v in tags.items()}


def run_params(record: dict[str, Any]) -> dict[str, str]:
    """Params: the model, compile and fit settings, data fingerprint, hyperparameters (an estimator's own)."""
    params: dict[str, Any] = {
        "model.class": record.get("model_class"),
        "model.summary": record.get("architecture"),
        "model.layers": record.get("n_layers"),
        "model.params": record.get("n_params"),
        "data.fingerprint": record.get("data_fingerprint"),
        "data.samples": record.get("n_samples"),
    }
    compile_info = record.get("compile") or {}
    for key, value in compile_info.items():
        if key != "optimizer_config":
            params[f"compile.{key}"] = value
    for key, value in (compile_info.get("optimizer_config") or {}).items():
        params[f"optimizer.{key}"] = value
    for key, value in (record.get("fit") or {}).items():
        params[f"fit.{key}"] = value
    for key, value in (record.get("hparams") or {}).items():
        params[f"hparams.{key}"] = value
    estimator = record.get("estimator") or (record.get("model_config") or {}).get("params")
    if isinstance(estimator, dict):
        for key, value in estimator.items():
            params[f"estimator.{key}"] = value
    if record.get("strategy"):
        params["distribution.strategy"] = record["strategy"]
        params["distribution.replicas"] = record.get("replicas")
    out = {}
    for key, value in params.items():
        if value is None:
            continue
        text = value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
        out[_cut(key, MAX_KEY_LENGTH, mark="")] = _cut(text, MAX_PARAM_LENGTH)
    return out


def epoch_metrics(entries: Iterable[dict[str, Any]], fallback_ms: int) -> list[tuple[str, float, int, int]]:
    """(key, value, timestamp ms, step) for every metric of every recorded epoch."""
    rows = []
    for entry in entries:
        step = int(entry.get("epoch", 0))
        stamp = _millis(entry.get("time")) or fallback_ms
        for key, value in (entry.get("logs") or {}).items():
            try:
                number = float(value)
            except (TypeError, ValueError):
                continue
            rows.append((_cut(str(key), MAX_KEY_LENGTH, mark=""), number, stamp, step))
    return rows


# -- pushing -----------------------------------------------------------------------------
@dataclass
class PushResult:
    """What one push did, by experiment id."""

    server: str
    created: list[int] = field(default_factory=list)  # a new MLflow run
    completed: list[int] = field(default_factory=list)  # an existing run brought up to date (resumed or changed)
    unchanged: int = 0
    failed: dict[int, str] = field(default_factory=dict)
    runs: dict[int, str] = field(default_factory=dict)  # experiment id -> MLflow run id

    @property
    def pushed(self) -> list[int]:
        return self.created + self.completed

    def line(self) -> str:
        parts = [f"{len(self.created)} new", f"{len(self.completed)} updated", f"{self.unchanged} unchanged"]
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        return f"Pushed to {self.server}: " + ", ".join(parts) + "."


class SyncState:
    """What was committed on one server: ``{experiment id: {"run": MLflow run id, "digest": ...}}``."""

    def __init__(self, home: Path, server: str) -> None:
        folder = Path(home) / "sync"
        folder.mkdir(exist_ok=True)
        key = hashlib.sha256(server.encode()).hexdigest()[:12]
        self.path = folder / f"mlflow-{key}.json"
        self.lock = FileLock(str(folder / f"mlflow-{key}.lock"))
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            data = {}
        self.server = server
        self.runs: dict[str, dict[str, str]] = data.get("runs", {})
        self.last: dict[str, Any] = data.get("last", {})

    def committed(self, experiment_id: int, digest: str) -> bool:
        return self.runs.get(str(experiment_id), {}).get("digest") == digest

    def mark(self, experiment_id: int, run_id: str, digest: str) -> None:
        self.runs[str(experiment_id)] = {"run": run_id, "digest": digest}

    def save(self, **last: Any) -> None:
        if last:
            self.last = {**last, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"server": self.server, "runs": self.runs, "last": self.last}), encoding="utf-8")
        os.replace(tmp, self.path)


def pending(journal: Journal, server: str, project: str | None = None) -> list[dict[str, Any]]:
    """Summaries of the experiments not yet committed on ``server`` (or changed since)."""
    state = SyncState(journal.home, server)
    return [
        s
        for s in journal.experiments(project)
        if s.get("status") in PUSHED_STATUSES and not state.committed(s["id"], record_digest(s))
    ]


def push(
    journal: Journal,
    server: str,
    project: str | None = None,
    *,
    report: Callable[[int, Path], Any] | None = None,
    progress: Callable[[str], Any] | None = None,
    client: Any = None,
) -> PushResult:
    """Push every ended experiment (of ``project``) that the server lacks, or that changed since.

    ``report(experiment_id, path)`` writes the HTML report to attach. Each
    experiment is pushed on its own: one that fails is named in the result,
    and the others go on. Raises :class:`SyncError` when mlflow is missing or
    the server can't be reached at all.
    """
    state = SyncState(journal.home, server)
    if client is None:
        try:
            probe(server)
            client = make_client(server)
        except SyncError as error:
            state.save(ok=False, error=str(error))
            raise
    result = PushResult(server)
    try:
        state.lock.acquire(timeout=LOCK_TIMEOUT_S)
    except Timeout as error:
        raise SyncError(f"another push to {server} has held {state.lock.lock_file} for {LOCK_TIMEOUT_S} s") from error
    try:
        state = SyncState(journal.home, server)  # what the push that held the lock committed
        pusher = _Pusher(journal, client, state, report)
        for summary in journal.experiments(project):
            if summary.get("status") not in PUSHED_STATUSES:
                continue
            digest = record_digest(summary)
            if state.committed(summary["id"], digest):
                result.unchanged += 1
                continue
            try:
                run_id, how = pusher.push_one(summary, digest)
            except SyncError:
                raise
            except Exception as error:
                if _unreachable(error):
                    state.save(ok=False, error=short_error(error))
                    raise SyncError(f"MLflow server {server} unreachable: {short_error(error)}") from error
                log.exception("experiment %s not pushed to %s", summary["id"], server)
                result.failed[summary["id"]] = short_error(error)
                continue
            state.mark(summary["id"], run_id, digest)
            state.save()
            result.runs[summary["id"]] = run_id
            (result.created if how == "created" else result.completed if how == "completed" else []).append(
                summary["id"]
            )
            if how == "unchanged":
                result.unchanged += 1
            if progress:
                progress(f"experiment {summary['id']} -> MLflow run {run_id} ({how})")
        state.save(ok=not result.failed, pushed=len(result.pushed), failed=len(result.failed))
    finally:
        state.lock.release()
    log.info("%s", result.line())
    return result


def probe(server: str, timeout: float = 5.0) -> None:
    """Raise :class:`SyncError` unless ``server`` answers an MLflow request (fast, unlike the client's retries)."""
    if not server.startswith(("http://", "https://")):
        return  # databricks://, file: and other stores: the client knows how to reach them
    try:
        RestClient(server).call("experiments/search", {"max_results": 1}, timeout)
    except urllib.error.HTTPError as error:
        if error.code in (401, 403):
            raise SyncError(
                f"MLflow server {server} refused the request ({error.code}): "
                "set MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD"
            ) from error
        raise SyncError(
            f"{server} is not an MLflow tracking server? It answered {error.code} {error.reason}"
        ) from error
    except (OSError, ValueError, urllib.error.URLError) as error:
        raise SyncError(f"MLflow server {server} unreachable: {short_error(error)}") from error


def make_client(server: str) -> Any:
    try:
        from mlflow.tracking import MlflowClient
    except ImportError as error:
        raise SyncError(
            "pushing to MLflow needs the mlflow package: pip install 'kepler-nb[team]' (or pip install mlflow)"
        ) from error
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # "View run at ..." per run
    return MlflowClient(tracking_uri=server)


class _Pusher:
    """Pushes single experiments with one client; knows the server's experiment ids by project."""

    def __init__(self, journal: Journal, client: Any, state: SyncState, report: Any) -> None:
        self.journal, self.client, self.state, self.report = journal, client, state, report
        self.identity = journal_identity(journal.home)
        self.experiments: dict[str, str] = {}

    def experiment_id(self, project: str) -> str:
        if project not in self.experiments:
            found = self.client.get_experiment_by_name(project)
            if found is None:
                try:
                    self.experiments[project] = self.client.create_experiment(project)
                except Exception:
                    found = self.client.get_experiment_by_name(project)
                    if found is None:
                        raise
                    self.experiments[project] = found.experiment_id
            else:
                if found.lifecycle_stage == "deleted":
                    self.client.restore_experiment(found.experiment_id)
                self.experiments[project] = found.experiment_id
        return self.experiments[project]

    def find_run(self, experiment_id: str, kepler_id: int) -> Any:
        known = self.state.runs.get(str(kepler_id), {}).get("run")
        if known:
            try:
                run = self.client.get_run(known)
                if run.info.lifecycle_stage == "active":
                    return run
            except Exception:  # noqa: BLE001 - deleted on the server: look it up by its tags
                pass
        query = f"tags.`kepler.journal` = '{self.identity}' and tags.`kepler.id` = '{kepler_id}'"
        runs = self.client.search_runs([experiment_id], filter_string=query, max_results=5)
        return runs[0] if runs else None

    def push_one(self, summary: dict[str, Any], digest: str) -> tuple[str, str]:
        """Create or complete the run of one experiment; the commit marker last. Returns (run id, how)."""
        from mlflow.entities import Metric, Param, RunTag

        client, kepler_id = self.client, summary["id"]
        user = str(summary.get("user") or current_user())
        experiment_id = self.experiment_id(str(summary.get("project") or "default"))
        run = self.find_run(experiment_id, kepler_id)
        if run is not None and run.data.tags.get(COMMIT_TAG) == digest:
            return run.info.run_id, "unchanged"
        tags = run_tags(summary, self.identity, user)
        created_ms = _millis(summary.get("created")) or int(time.time() * 1000)
        if run is None:
            identity_tags = {k: tags[k] for k in ("kepler.journal", "kepler.id", "mlflow.user")}
            run = client.create_run(experiment_id, start_time=created_ms, tags=identity_tags)
            how, logged = "created", {}
        else:
            how = "completed"
            logged = {key: self._steps(run.info.run_id, key) for key in run.data.metrics}
        run_id = run.info.run_id
        record = self.journal.get(kepler_id)
        record["user"] = user
        metrics = [
            Metric(key, value, stamp, step)
            for key, value, stamp, step in epoch_metrics(self.journal.epochs(kepler_id), created_ms)
            if step not in logged.get(key, ())
        ]
        params = [Param(k, v) for k, v in run_params(record).items()]
        existing = run.data.params
        params = [p for p in params if existing.get(p.key) != p.value]
        tag_list = [RunTag(k, v) for k, v in tags.items()]
        for batch in _batches(metrics, params, tag_list):
            client.log_batch(run_id, **batch)
        self._artifacts(run_id, record)
        end_ms = _millis(summary.get("finished")) or created_ms
        client.set_terminated(run_id, status=MLFLOW_STATUS.get(summary.get("status"), "FINISHED"), end_time=end_ms)
        client.set_tag(run_id, COMMIT_TAG, digest)  # last: the run is complete
        return run_id, how

    def _steps(self, run_id: str, key: str) -> set[int]:
        return {m.step for m in self.client.get_metric_history(run_id, key)}

    def _artifacts(self, run_id: str, record: dict[str, Any]) -> None:
        with tempfile.TemporaryDirectory(prefix="kepler-push-") as tmp:
            folder = Path(tmp)
            if record.get("cell"):
                (folder / "cell.py").write_text(str(record["cell"]), encoding="utf-8")
            if record.get("notebook"):
                (folder / "notebook.ipynb").write_text(json.dumps(record["notebook"]), encoding="utf-8")
            (folder / "findings.json").write_text(json.dumps(record.get("findings") or [], indent=1), encoding="utf-8")
            (folder / "record.json").write_text(json.dumps(record, default=str, indent=1), encoding="utf-8")
            if self.report is not None:
                try:
                    self.report(record["id"], folder / "report.html")
                except Exception:
                    log.exception("report of experiment %s not attached", record["id"])
            self.client.log_artifacts(run_id, str(folder), artifact_path="kepler")


def _batches(metrics: list[Any], params: list[Any], tags: list[Any]) -> Iterable[dict[str, list[Any]]]:
    """log_batch requests within MLflow's limits: counts per kind, entities, bytes."""
    limits = {"metrics": MAX_METRICS_PER_BATCH, "params": MAX_PARAMS_PER_BATCH, "tags": MAX_TAGS_PER_BATCH}
    batch: dict[str, list[Any]] = {"metrics": [], "params": [], "tags": []}
    size = count = 0
    for kind, items in (("params", params), ("tags", tags), ("metrics", metrics)):
        for item in items:
            item_size = len(item.key) + len(str(item.value)) + 64
            if (
                len(batch[kind]) >= limits[kind]
                or count >= MAX_ENTITIES_PER_BATCH
                or size + item_size > MAX_REQUEST_BYTES
            ):
                yield batch
                batch, size, count = {"metrics": [], "params": [], "tags": []}, 0, 0
            batch[kind].append(item)
            size += item_size
            count += 1
    if count:
        yield batch


# -- pushing in the background ------------------------------------------------------------
def push_soon(home: Path, server: str) -> subprocess.Popen | None:
    """Start ``kepler sync`` for ``server`` in its own process, at low priority; never raises.

    The training process only spawns it: importing mlflow, talking to the
    server and rendering reports happen elsewhere, and a server that is down
    leaves the runs queued for the next push (the state file says so).
    """
    folder = Path(home) / "sync"
    try:
        folder.mkdir(exist_ok=True)
        out = open(folder / "push.log", "ab")  # noqa: SIM115 - handed to the child, closed here right after
        try:
            command = [sys.executable, "-m", "kepler_nb", "--home", str(home), "sync", "--mlflow", server, "--quiet"]
            return subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
                preexec_fn=_lower_priority if os.name == "posix" else None,
                close_fds=True,
            )
        finally:
            out.close()
    except Exception as error:  # noqa: BLE001 - a push that can't start leaves the run queued, never fails the fit
        log.warning("background push to %s not started: %s", server, error)
        return None


def queued_note(home: Path, server: str) -> str | None:
    """One line when the last push to ``server`` found it down (since when), else None."""
    state = SyncState(home, server)
    if state.last.get("ok", True):
        return None
    return (
        f"Kepler: the MLflow server {server} was unreachable at {state.last.get('time')}; "
        "runs stay queued and are pushed with the next run or `kepler sync`."
    )


def _lower_priority() -> None:  # pragma: no cover - runs in the child
    os.nice(10)


# -- small parts --------------------------------------------------------------------------
def _cut(text: str, limit: int, mark: str = CUT_MARK) -> str:
    return text if len(text) <= limit else text[: limit - len(mark)] + mark


def _millis(stamp: Any) -> int | None:
    if not stamp:
        return None
    try:
        return int(datetime.strptime(str(stamp), "%Y-%m-%dT%H:%M:%S%z").timestamp() * 1000)
    except ValueError:
        return None


def _unreachable(error: BaseException) -> bool:
    """The server can't be reached at all (every other run would fail the same way)."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, (ConnectionError, TimeoutError, socket.gaierror)):
            return True
        name = type(error).__name__
        if name in ("ConnectionError", "MaxRetryError", "NewConnectionError", "ConnectTimeout"):
            return True
        if "Max retries exceeded" in str(error) or "Connection refused" in str(error):
            return True
        error = error.__cause__ or error.__context__
    return False
