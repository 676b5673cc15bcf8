"""What a report shows, as plain values: one experiment, a comparison, a project.

Each ``*_view`` turns journal records (read through :meth:`Journal.get` and
:meth:`Journal.experiments` only) into dictionaries of strings, numbers and
escaped markup that the templates lay out; nothing here writes HTML itself.
"""

from __future__ import annotations

import json
import logging
import math
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ...checks.catalogue import get_check
from ..similar import difference_text, relation_text
from . import plots
from .estimator import estimator_view
from .markup import doc_html, fact_rows, fmt, highlight

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from ...journal.journal import Journal

log = logging.getLogger("kepler")

TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
MAX_RELATED = 8
MAX_NOTEBOOK_CELLS = 200
# Metrics where a smaller value is better; every other metric is "higher is better".
LOWER_IS_BETTER = ("loss", "error", "mse", "mae", "mape", "msle", "crossentropy", "hinge", "divergence", "poisson")
STATUS_WORDS = {
    "finished": "Finished",
    "failed": "Failed",
    "interrupted": "Interrupted",
    "skipped": "Not trained",
    "running": "Running",
}


# -- several experiments ----------------------------------------------------------
def comparison_view(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Several experiments side by side: what differs, their metrics, their curves on shared axes."""
    runs = [
        {
            "id": r["id"],
            "name": r.get("name") or "",
            "status": r.get("status"),
            "status_word": STATUS_WORDS.get(r.get("status"), r.get("status")),
            "label": run_label(r),
            "color": plots.PALETTE[i % len(plots.PALETTE)],
            "created": when(r.get("created")),
        }
        for i, r in enumerate(records)
    ]
    differing, same = differences(records)
    return {
        "runs": runs,
        "differing": differing,
        "same": same,
        "metrics": metrics_side_by_side(records),
        "curves": plots.curve_images([(run_label(r), r.get("history") or {}) for r in records]),
    }


def project_view(project: str, journal: Journal) -> dict[str, Any]:
    """Every experiment of ``project``: a table of key metrics, then one section per experiment."""
    summaries = journal.experiments()
    members = [s for s in summaries if s.get("project") == project]
    if not members:
        projects = sorted({str(s.get("project")) for s in summaries})
        known = ", ".join(projects) if projects else "none yet"
        raise ValueError(f"No experiments in project {project!r} (projects: {known}). `kepler list` shows them.")
    anchors = {s["id"] for s in members}
    sections = [
        experiment_view(journal.get(s["id"]), journal, summaries=summaries, anchors=anchors, compact=True)
        for s in members
    ]
    columns = _key_metrics([s.get("final") or {} for s in members])
    table = []
    for section in sections:
        finals = {m["metric"]: m for m in section["metrics"]}
        table.append({"e": section, "metrics": [finals.get(c) for c in columns]})
    for column_index, column in enumerate(columns):
        values = [r["metrics"][column_index]["final"] for r in table if r["metrics"][column_index]]
        best = _best(column, values)
        for r in table:
            cell = r["metrics"][column_index]
            if cell is not None:
                cell["is_best_of_project"] = best is not None and cell["final"] == best and len(values) > 1
    counts: dict[str, int] = {}
    for s in members:
        counts[s.get("status") or "?"] = counts.get(s.get("status") or "?", 0) + 1
    return {
        "project": project,
        "columns": columns,
        "rows": table,
        "sections": sections,
        "counts": [(STATUS_WORDS.get(k, k), k, v) for k, v in counts.items()],
        "first": when(members[0].get("created")),
        "last": when(members[-1].get("created")),
    }


# -- one experiment ---------------------------------------------------------------
def experiment_view(
    record: dict[str, Any],
    journal: Journal | None = None,
    summaries: list[dict[str, Any]] | None = None,
    anchors: Iterable[int] = (),
    compact: bool = False,
    with_notebook: bool = False,
) -> dict[str, Any]:
    """Everything the templates show about one experiment, as plain values.

    ``compact`` leaves out the full model configuration, so a summary of
    many experiments stays small. The notebook snapshot (every other cell,
    which may hold what the user would not share) is shown only
    ``with_notebook``.
    """
    env = record.get("environment") or {}
    history = record.get("history") or {}
    findings = [f for f in record.get("findings") or [] if isinstance(f, dict)]
    status = record.get("status") or "unknown"
    notebook_path = record.get("notebook_path")
    if notebook_path is None and isinstance(record.get("notebook"), str):
        notebook_path = record["notebook"]
    snapshot = record.get("notebook") if isinstance(record.get("notebook"), dict) else None
    return {
        "id": record.get("id"),
        "anchor": f"exp-{record.get('id')}",
        "name": record.get("name") or "",
        "project": record.get("project") or "",
        "status": status,
        "status_word": STATUS_WORDS.get(status, status),
        "tags": [str(t) for t in record.get("tags") or []],
        "created": when(record.get("created")),
        "finished": when(record.get("finished")),
        "duration": _duration(record.get("created"), record.get("finished")),
        "epochs_done": record.get("epochs_done"),
        "epochs": record.get("epochs") or (record.get("fit") or {}).get("epochs"),
        "notebook_path": notebook_path,
        "git_commit": env.get("git_commit"),
        "git_dirty": env.get("git_dirty"),
        "host": env.get("hostname") or record.get("host"),
        "hypothesis": record.get("hypothesis"),
        "conclusion": record.get("conclusion"),
        "concluded": when(record.get("concluded")),
        "outcome": _outcome(record),
        "metrics": metric_rows(history, record.get("final") or {}),
        "curves": plots.curve_images([(run_label(record), history)]) if history else [],
        "findings": [_finding_view(f) for f in findings if not f.get("skipped")],
        "skipped_checks": [_finding_view(f) for f in findings if f.get("skipped")],
        "model": _model_view(record, compact),
        "fit": fact_rows((record.get("fit") or {}).items()),
        "data": _data_view(record.get("data") or {}),
        "cell": _cell_view(record),
        "snapshot": _snapshot_view(snapshot) if with_notebook and not compact else None,
        "snapshot_left_out": bool(snapshot and snapshot.get("cells")) and not with_notebook,
        "environment": fact_rows(_environment_items(env)),
        "related": related(record, journal, summaries, set(anchors)) if journal is not None else {},
        "estimator": estimator_view(record),
    }


def _outcome(record: dict[str, Any]) -> dict[str, str] | None:
    status = record.get("status")
    if status == "failed":
        return {"title": "The fit raised an exception", "text": record.get("error") or "no error was recorded"}
    if status == "skipped":
        why = record.get("reason") or "the run was not trained"
        if record.get("duplicate_of") is not None:
            why += f" (a repeat of experiment #{record['duplicate_of']})"
        return {"title": "Not trained", "text": why}
    if status == "interrupted":
        done = record.get("epochs_done") or 0
        text = record.get("error") or "the kernel stopped (or was stopped) while training"
        return {"title": f"Interrupted after {done} epoch{'s' if done != 1 else ''}", "text": text}
    if status == "running":
        return {"title": "Still running", "text": "the report shows the epochs finished so far"}
    return None


def metric_rows(history: dict[str, list[float]], final: dict[str, Any]) -> list[dict[str, Any]]:
    """Per metric: the last value, the best value and the epoch it was reached."""
    names = list(history) or list(final)
    rows = []
    for _base, train_key, val_key in plots.metric_groups(names):
        for key in (train_key, val_key):
            if key is None:
                continue
            values = [float(v) if _finite(v) else None for v in history.get(key) or []]
            last = values[-1] if values else final.get(key)
            finite = [v for v in values if v is not None]
            best = _best(key, finite)
            rows.append(
                {
                    "metric": key,
                    "final": last,
                    "best": best,
                    "best_epoch": values.index(best) + 1 if best is not None else None,
                    "validation": key == val_key,
                }
            )
    return rows


def _finding_view(finding: dict[str, Any]) -> dict[str, Any]:
    code = str(finding.get("code") or "")
    try:
        doc = get_check(code).doc
    except KeyError:
        doc = ""
    summary, _, body = doc.partition("\n")
    return {
        "code": code,
        "name": finding.get("name") or "",
        "severity": finding.get("severity") if finding.get("severity") in ("error", "warning", "info") else "info",
        "stage": finding.get("stage") or "",
        "message": finding.get("message") or "",
        "fix": finding.get("fix") or "",
        "summary": summary.strip(),
        "doc": doc_html(body) if body.strip() else None,
    }


def _model_view(record: dict[str, Any], compact: bool = False) -> dict[str, Any]:
    layers = [row for row in record.get("layers") or [] if isinstance(row, dict)]
    compile_info = record.get("compile") or {}
    optimizer_config = compile_info.get("optimizer_config") or {}
    config = record.get("model_config") or {}
    return {
        "class": record.get("model_class") or config.get("class"),
        "architecture": record.get("architecture"),
        "layers": layers,
        "n_params": sum(int(row.get("params") or 0) for row in layers) or record.get("n_params"),
        "trainable_params": sum(int(row.get("params") or 0) for row in layers if row.get("trainable")),
        "compile": fact_rows(
            [
                ("optimizer", compile_info.get("optimizer")),
                ("learning rate", compile_info.get("learning_rate")),
                ("loss", compile_info.get("loss")),
                ("metrics", compile_info.get("metrics")),
                ("compiled", compile_info.get("compiled")),
            ]
        ),
        "optimizer_config": fact_rows(
            (k, v) for k, v in optimizer_config.items() if v is not None and k not in ("name", "learning_rate")
        ),
        "config_json": highlight(json.dumps(config, indent=1, default=str), "json") if config and not compact else None,
        "config_problem": config.get("why"),
    }


def _data_view(data: dict[str, Any]) -> list[dict[str, Any]]:
    parts = []
    for title, stats in (("Training data", data), ("Validation data", data.get("validation"))):
        if not stats:
            continue
        facts = [
            ("kind", stats.get("kind")),
            ("samples", stats.get("n_samples")),
            ("features", stats.get("n_features")),
            ("fingerprint", stats.get("fingerprint")),
        ]
        if stats.get("complete") is False:
            facts.append(("statistics from", stats.get("note") or "a sample"))
        if stats.get("problem"):
            facts.append(("could not be read", stats["problem"]))
        arrays = []
        for role in ("inputs", "targets"):
            for name, array in (stats.get(role) or {}).items():
                array = array or {}
                shape = " × ".join("?" if s is None else f"{s:,}" for s in array.get("shape") or [])
                arrays.append({"role": role[:-1], "name": name, "shape": shape, "dtype": array.get("dtype")})
        counts = stats.get("class_counts") or {}
        biggest = max(counts.values(), default=0) or 1
        total = sum(counts.values()) or 1
        classes = [
            {"label": k, "count": v, "width": round(100 * v / biggest, 1), "share": 100 * v / total}
            for k, v in list(counts.items())[:100]
        ]
        parts.append(
            {
                "title": title,
                "facts": fact_rows(facts),
                "arrays": arrays,
                "classes": classes,
                "more_classes": max(0, len(counts) - 100),
            }
        )
    return parts


def _cell_view(record: dict[str, Any]) -> dict[str, Any] | None:
    cell = record.get("cell")
    if isinstance(cell, str) and cell.strip():
        # The magic gets the cell without its first line; the saved notebook has the cell whole.
        snapshot = record.get("notebook") if isinstance(record.get("notebook"), dict) else {}
        for saved in snapshot.get("cells") or []:
            source = _cell_source(saved) if isinstance(saved, dict) else ""
            first, _, body = source.partition("\n")
            if first.startswith("%%") and body.strip() == cell.strip():
                cell = source
                break
        return {"source": highlight(cell, "ipython"), "origin": "the cell that ran the fit", "lines": cell.count("\n")}
    inputs = record.get("inputs")
    sources = [_cell_source(c) for c in (inputs or {}).get("cells") or [] if isinstance(c, dict)]
    for source in reversed(sources):
        if ".fit(" in source:
            return {
                "source": highlight(source, "ipython"),
                "origin": "the last input with a fit(...) call, from the kernel's history",
                "lines": source.count("\n"),
            }
    return None


def _snapshot_view(snapshot: dict[str, Any] | None) -> dict[str, Any] | None:
    if not snapshot:
        return None
    if snapshot.get("error"):
        return {"problem": snapshot["error"], "cells": [], "more": 0}
    cells = []
    for cell in (snapshot.get("cells") or [])[:MAX_NOTEBOOK_CELLS]:
        if not isinstance(cell, dict):
            continue
        source = _cell_source(cell)
        kind = cell.get("cell_type")
        cells.append({"kind": kind, "html": highlight(source, "ipython") if kind == "code" else None, "text": source})
    return {"problem": None, "cells": cells, "more": max(0, len(snapshot.get("cells") or []) - MAX_NOTEBOOK_CELLS)}


def related(
    record: dict[str, Any],
    journal: Journal,
    summaries: list[dict[str, Any]] | None = None,
    anchors: set[int] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Similar experiments and repeats of this one, as links (in-page when the page holds them)."""
    summaries = summaries if summaries is not None else journal.experiments()
    by_id = {s["id"]: s for s in summaries}
    own = record.get("id")
    similar = _ask_similar(journal, record, by_id)
    if not similar:
        similar = [
            (s, "same project and architecture")
            for s in summaries
            if s["id"] != own
            and s.get("project") == record.get("project")
            and record.get("architecture")
            and s.get("architecture") == record.get("architecture")
        ][-MAX_RELATED:]
    duplicates = []
    if record.get("duplicate_of") in by_id:
        duplicates.append((by_id[record["duplicate_of"]], "this run repeats it"))
    duplicates += [(s, "repeats this run") for s in summaries if s.get("duplicate_of") == own and s["id"] != own]
    dup_ids = {s["id"] for s, _ in duplicates}
    return {
        "similar": [_link(s, why, anchors) for s, why in similar if s["id"] not in dup_ids],
        "duplicates": [_link(s, why, anchors) for s, why in duplicates][:MAX_RELATED],
    }


def _ask_similar(journal: Journal, record: dict[str, Any], by_id: dict[int, dict]) -> list[tuple[dict[str, Any], str]]:
    """The journal's own answer to "what is like this run?", best first, with how each differs."""
    try:
        found = journal.similar(record["id"], k=MAX_RELATED)
    except Exception:
        log.exception("could not look up experiments similar to %s", record.get("id"))
        return []
    out = []
    for item in found or []:
        summary = by_id.get(item.get("id")) if isinstance(item, dict) else None
        if summary is None or summary["id"] == record.get("id"):
            continue
        why = relation_text(item)
        if _finite(item.get("similarity")):
            why += f", similarity {float(item['similarity']):.2f}"
        differs = [difference_text(d) for d in item.get("differences") or []][:4]
        if differs:
            why += "; differs in " + "; ".join(differs)
        out.append((summary, why))
    return out


def _link(summary: dict[str, Any], why: str, anchors: set[int] | None) -> dict[str, Any]:
    final = summary.get("final") or {}
    key = next((k for k in ("val_loss", "loss") if _finite(final.get(k))), None)
    return {
        "id": summary["id"],
        "name": summary.get("name") or "",
        "project": summary.get("project") or "",
        "status": summary.get("status"),
        "status_word": STATUS_WORDS.get(summary.get("status"), summary.get("status")),
        "created": when(summary.get("created")),
        "metric": f"{key} {fmt(final[key])}" if key else "",
        "why": why,
        "href": f"#exp-{summary['id']}" if anchors and summary["id"] in anchors else None,
    }


# -- comparisons ------------------------------------------------------------------
def differences(records: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The fields of several records, split into those that differ and those that agree."""
    facts = [_facts(r) for r in records]
    keys: list[tuple[str, str]] = []
    for f in facts:
        keys += [k for k in f if k not in keys]
    differing, same = [], []
    for group, field in keys:
        values = [f.get((group, field)) for f in facts]
        texts = [fmt(v) for v in values]
        row = {
            "group": group,
            "field": field,
            "values": [{"text": t, "changed": i > 0 and t != texts[0]} for i, t in enumerate(texts)],
        }
        (same if len(set(texts)) == 1 else differing).append(row)
    return differing, same


def _facts(record: dict[str, Any]) -> dict[tuple[str, str], Any]:
    facts: dict[tuple[str, str], Any] = {}
    compile_info = record.get("compile") or {}
    data = record.get("data") or {}
    env = record.get("environment") or {}
    for field in ("name", "project", "status", "tags", "hypothesis"):
        facts[("run", field)] = record.get(field)
    facts[("run", "epochs run")] = record.get("epochs_done")
    facts[("model", "architecture")] = record.get("architecture")
    facts[("model", "parameters")] = record.get("n_params")
    for index, layer in enumerate(record.get("layers") or [], start=1):
        if isinstance(layer, dict):
            facts[("model", f"layer {index}")] = _layer_text(layer)
    for field in ("optimizer", "learning_rate", "loss", "metrics"):
        facts[("compile", field.replace("_", " "))] = compile_info.get(field)
    for key, value in (compile_info.get("optimizer_config") or {}).items():
        if key not in ("name", "learning_rate"):
            facts[("compile", f"optimizer {key}")] = value
    for key, value in (record.get("fit") or {}).items():
        facts[("fit", key)] = value
    for prefix, stats in (("", data), ("validation ", data.get("validation") or {})):
        for field in ("n_samples", "n_features", "fingerprint", "class_counts"):
            if stats.get(field) is not None:
                facts[("data", prefix + field.replace("n_", "").replace("_", " "))] = stats.get(field)
        for role in ("inputs", "targets"):
            for name, array in (stats.get(role) or {}).items():
                array = array or {}
                facts[("data", f"{prefix}{name} shape, dtype")] = f"{array.get('shape')} {array.get('dtype')}"
    for key in ("python", "tensorflow", "keras", "numpy", "devices", "platform", "hostname", "git_commit"):
        facts[("environment", key.replace("_", " "))] = env.get(key)
    codes = [f.get("code") for f in record.get("findings") or [] if isinstance(f, dict) and not f.get("skipped")]
    facts[("findings", "codes")] = sorted(set(codes))
    return facts


def metrics_side_by_side(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per metric, each run's last value (and best), the best run's marked."""
    per_run = [{m["metric"]: m for m in metric_rows(r.get("history") or {}, r.get("final") or {})} for r in records]
    names: list[str] = []
    for rows in per_run:
        names += [k for k in rows if k not in names]
    ordered = [k for base, t, v in plots.metric_groups(names) for k in (t, v) if k]
    table = []
    for name in ordered:
        cells = [rows.get(name) for rows in per_run]
        finals = [c["final"] for c in cells if c and _finite(c["final"])]
        best = _best(name, finals) if len(finals) > 1 else None
        table.append(
            {
                "metric": name,
                "cells": [
                    None if c is None else {**c, "is_best": best is not None and c["final"] == best} for c in cells
                ],
            }
        )
    return table


# -- helpers ----------------------------------------------------------------------
def _environment_items(env: dict[str, Any]) -> list[tuple[str, Any]]:
    order = ("python", "tensorflow", "keras", "numpy", "devices", "gpu", "platform", "hostname", "executable", "cwd")
    items = [(k, env.get(k)) for k in order if k in env]
    if env.get("git_commit"):
        items.append(("git commit", env["git_commit"] + (" (uncommitted changes)" if env.get("git_dirty") else "")))
    items += [(k, v) for k, v in env.items() if k not in order and k not in ("git_commit", "git_dirty")]
    return items


def _layer_text(layer: dict[str, Any]) -> str:
    parts = [str(layer.get("type") or "?")]
    parts += [str(v) for v in (layer.get("units"), layer.get("activation")) if v not in (None, "", "linear")]
    return f"{' '.join(parts)} ({fmt(layer.get('params'))} params)"


def _cell_source(cell: dict[str, Any]) -> str:
    source = cell.get("source") or ""
    return "".join(source) if isinstance(source, list) else str(source)


def run_label(record: dict[str, Any]) -> str:
    name = str(record.get("name") or "")
    label = f"#{record.get('id')} {name}".strip()
    return label if len(label) <= 32 else label[:31] + "…"


def _key_metrics(finals: list[dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for final in finals:
        names += [k for k in final if k not in names]
    ordered = [k for base, t, v in plots.metric_groups(names) for k in (t, v) if k]
    return ordered[:6]


def _lower_is_better(metric: str) -> bool:
    name = metric.lower()
    return any(word in name for word in LOWER_IS_BETTER)


def _best(metric: str, values: Sequence[float]) -> float | None:
    values = [v for v in values if _finite(v)]
    if not values:
        return None
    return min(values) if _lower_is_better(metric) else max(values)


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _parse_time(text: Any) -> datetime | None:
    try:
        return datetime.strptime(str(text), TIME_FORMAT)
    except ValueError:
        return None


def when(text: Any) -> str | None:
    moment = _parse_time(text)
    if moment is None:
        return str(text) if text else None
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _duration(start: Any, end: Any) -> str | None:
    begin, finish = _parse_time(start), _parse_time(end)
    if begin is None or finish is None:
        return None
    seconds = max(0, int((finish - begin).total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"
