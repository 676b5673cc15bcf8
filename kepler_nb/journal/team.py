"""Asking a team's MLflow tracking server, before a fit, about runs like it.

With ``[sync] mlflow = "URI"`` in ``KEPLER_HOME/config.toml``, the duplicate
and similar lookups before a fit also ask the server for teammates' runs
(pushed by ``kepler sync`` or in the background, see :mod:`.mlflow_sync`).
Each pushed run carries ``kepler.summary``, the few facts the similarity
lookup compares, so two searches answer: runs of the same architecture
(duplicates; the same model on other data) and runs for the same problem
(nearby architectures); :func:`kepler_nb.journal.similarity.lookup` then
ranks them as it ranks the local journal's.

Bounded: the whole conversation gets ``LOOKUP_BUDGET_S`` (300 ms); a slow or
unreachable server costs at most that, and the fit goes on with a note. It
speaks MLflow's REST API with the standard library (importing mlflow takes
seconds), sending ``MLFLOW_TRACKING_TOKEN`` or ``MLFLOW_TRACKING_USERNAME``
and ``MLFLOW_TRACKING_PASSWORD`` when set. Runs still being pushed (no
commit marker yet) are left out.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable

log = logging.getLogger("kepler")

COMMIT_TAG = "kepler.pushed"  # written last by a push: the run is complete
# The lookup before a fit: the whole conversation with the server, at most.
LOOKUP_BUDGET_S = 0.3
LOOKUP_MAX_RUNS = 20  # the newest runs for the same problem: enough to name the closest
# Experiment ids are asked once a minute at most (a new project appears rarely).
EXPERIMENTS_TTL_S = 60.0


def sync_settings(home: Path) -> dict[str, Any]:
    """The ``[sync]`` table of ``home/config.toml`` (``{}`` when there is none).

    A file that can't be read or parsed is logged and means "no server":
    the checks' own reading of the file reports its syntax errors.
    """
    path = Path(home) / "config.toml"
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        log.warning("config %s not read for [sync]: %s", path, error)
        return {}
    settings = config.get("sync")
    return settings if isinstance(settings, dict) else {}


def configured_server(home: Path) -> str | None:
    """The server of ``[sync] mlflow = "URI"`` in ``home/config.toml``, or None."""
    uri = sync_settings(home).get("mlflow")
    return uri.strip() or None if isinstance(uri, str) else None


def lookup_budget(home: Path) -> float:
    """Seconds the lookup before a fit may spend on the server: ``[sync] lookup_timeout`` (default 0.3)."""
    value = sync_settings(home).get("lookup_timeout", LOOKUP_BUDGET_S)
    return float(value) if isinstance(value, (int, float)) and 0 < value <= 30 else LOOKUP_BUDGET_S


def journal_identity(home: Path) -> str:
    """This journal's id on servers: a random one made on first use, kept in ``home/journal-id``."""
    path = Path(home) / "journal-id"
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    identity = uuid.uuid4().hex
    tmp = path.with_name(f"journal-id.{os.getpid()}.tmp")
    tmp.write_text(identity + "\n", encoding="utf-8")
    try:
        os.link(tmp, path)  # first writer wins: two kernels never get two ids
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_text(encoding="utf-8").strip()


def problem_key(summary: dict[str, Any]) -> str | None:
    """Runs for the same kind of problem (input shape and classes) share it: the lookup asks for them."""
    shape = summary.get("input_shape")
    if shape is None:
        return None
    data = json.dumps([shape, summary.get("n_classes")], separators=(",", ":"))
    return hashlib.sha256(data.encode()).hexdigest()[:16]


# Summary fields the team lookup compares and shows.
# -- asking the server before a fit -------------------------------------------------------
@dataclass
class TeamRuns:
    """Teammates' runs the server holds that are like a run about to start (summaries from ``kepler.summary``)."""

    runs: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None  # why the server was not asked, or gave no answer in time
    seconds: float = 0.0


class RestClient:
    """The few MLflow REST calls the lookup needs, with the standard library and a deadline."""

    def __init__(self, server: str) -> None:
        self.server = server.rstrip("/")
        self.headers = {"Content-Type": "application/json"}
        token = os.environ.get("MLFLOW_TRACKING_TOKEN")
        user, password = os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get("MLFLOW_TRACKING_PASSWORD")
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        elif user and password:
            self.headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def call(self, path: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
        if timeout <= 0:
            raise TimeoutError("no time left")
        request = urllib.request.Request(
            f"{self.server}/api/2.0/mlflow/{path}", data=json.dumps(body).encode(), headers=self.headers
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read() or b"{}")


_experiment_ids: dict[str, tuple[float, list[str]]] = {}


def reset_lookup_cache() -> None:
    """Forget the experiment ids asked of servers (tests; a server that was recreated)."""
    _experiment_ids.clear()


def team_runs(
    server: str, target: dict[str, Any], own_journal: str | None = None, budget: float = LOOKUP_BUDGET_S
) -> TeamRuns:
    """Teammates' runs on ``server`` like ``target`` (a signed summary), within ``budget`` seconds.

    Two searches at once (MLflow's filter has no ``or``): the newest run of
    the very same experiment (its signature), and the newest runs for the
    same problem (input shape and classes: the same model, nearby
    architectures). Runs of ``own_journal`` are left out: the local journal
    has them already. Never raises: a slow or unreachable server gives no
    runs and a ``note``.
    """
    started = time.perf_counter()
    deadline = started + budget
    rest = RestClient(server)
    found: dict[str, dict[str, Any]] = {}
    try:
        ids = _experiments(rest, deadline)
        mine = f" and tags.`kepler.journal` != '{own_journal}'" if own_journal else ""
        searches = [
            (f"tags.`kepler.signature` = '{target.get('signature')}'", 1) if target.get("signature") else None,
            (f"tags.`kepler.problem` = '{problem_key(target)}'", LOOKUP_MAX_RUNS) if problem_key(target) else None,
        ]
        bodies = [
            {
                "experiment_ids": ids,
                "filter": query + mine,
                "max_results": n,
                "order_by": ["attributes.start_time DESC"],
            }
            for query, n in filter(None, searches)
        ]
        if ids and bodies:
            calls = [_pool().submit(rest.call, "runs/search", body, deadline - time.perf_counter()) for body in bodies]
            done, _ = wait(calls, timeout=max(0.0, deadline - time.perf_counter()))
            if len(done) < len(calls):
                raise TimeoutError("no answer in time")
            for call in calls:
                for run in call.result().get("runs", []):
                    summary = _team_summary(run, own_journal)
                    if summary is not None:
                        found[summary["mlflow_run"]] = summary
    except (OSError, TimeoutError, ValueError, urllib.error.URLError) as error:
        seconds = time.perf_counter() - started
        why = "no answer in time" if is_timeout(error) else short_error(error)
        return TeamRuns(
            runs=list(found.values()),
            note=f"the MLflow server {server} was not asked ({why}, {seconds * 1000:.0f} ms); only this journal was.",
            seconds=seconds,
        )
    return TeamRuns(runs=list(found.values()), seconds=time.perf_counter() - started)


_searches: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _searches
    if _searches is None:
        _searches = ThreadPoolExecutor(max_workers=4, thread_name_prefix="kepler-team-lookup")
    return _searches


def run_history(server: str, run_id: str, keys: Iterable[str], timeout: float = 2.0) -> dict[str, list[float]]:
    """A teammate's curves (metric per epoch), for returning their History instead of training; {} on failure."""
    rest = RestClient(server)
    curves: dict[str, list[float]] = {}
    try:
        for key in keys:
            query = urllib.parse.urlencode({"run_id": run_id, "metric_key": key})
            request = urllib.request.Request(f"{rest.server}/api/2.0/mlflow/metrics/get-history?{query}")
            for name, value in rest.headers.items():
                request.add_header(name, value)
            with urllib.request.urlopen(request, timeout=timeout) as response:
                metrics = json.loads(response.read() or b"{}").get("metrics", [])
            curves[key] = [float(m["value"]) for m in sorted(metrics, key=lambda m: int(m.get("step", 0)))]
    except (OSError, ValueError, urllib.error.URLError) as error:
        log.warning("curves of MLflow run %s not read: %s", run_id, error)
        return {}
    return curves


def _experiments(rest: RestClient, deadline: float) -> list[str]:
    cached = _experiment_ids.get(rest.server)
    if cached and time.monotonic() - cached[0] < EXPERIMENTS_TTL_S:
        return cached[1]
    answer = rest.call("experiments/search", {"max_results": 1000}, deadline - time.perf_counter())
    ids = [e["experiment_id"] for e in answer.get("experiments", [])]
    _experiment_ids[rest.server] = (time.monotonic(), ids)
    return ids


def _team_summary(run: dict[str, Any], own_journal: str | None) -> dict[str, Any] | None:
    tags = {t["key"]: t.get("value") for t in (run.get("data") or {}).get("tags", [])}
    if own_journal and tags.get("kepler.journal") == own_journal:
        return None
    try:
        summary = json.loads(tags.get("kepler.summary") or "")
    except ValueError:
        return None
    if not isinstance(summary, dict) or COMMIT_TAG not in tags:
        return None  # a push still under way (or killed): its facts may be incomplete
    info = run.get("info") or {}
    summary.update(
        mlflow_run=info.get("run_id") or info.get("run_uuid"),
        kepler_id=summary.get("id"),
        team=True,
        user=summary.get("user") or tags.get("kepler.user") or info.get("user_id"),
        host=summary.get("host") or tags.get("kepler.host"),
    )
    # Ids of other journals collide with this one's: the similarity ranking breaks ties by start time instead.
    summary["id"] = int(info.get("start_time") or 0)
    return summary


def short_error(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:200]}" if text else type(error).__name__


def is_timeout(error: BaseException) -> bool:
    return isinstance(error, TimeoutError) or isinstance(getattr(error, "reason", None), TimeoutError)
