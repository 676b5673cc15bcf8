"""What a report shows of a scikit-learn estimator's run: its parameters, the search's candidates, the scores."""

from __future__ import annotations

from typing import Any

# Candidates of a search shown in a report, at most (the record keeps them all).
MAX_CANDIDATES = 200


def estimator_view(record: dict[str, Any]) -> dict[str, Any] | None:
    """The estimator part of an experiment's report, or None for a Keras run."""
    description = record.get("estimator_description")
    if record.get("framework") in (None, "keras") or not isinstance(description, dict):
        return None
    candidates = [c for c in record.get("cv_results") or [] if isinstance(c, dict)]
    return {
        "framework": f"{description.get('framework')} {description.get('framework_version') or ''}".strip(),
        "class": description.get("class"),
        "kind": description.get("kind"),
        "architecture": description.get("architecture"),
        "steps": list(_steps(description.get("tree") or {})),
        "search_space": description.get("search_space"),
        "best_params": record.get("best_params"),
        "candidates": [_candidate(c) for c in candidates[:MAX_CANDIDATES]],
        "more_candidates": max(0, len(candidates) - MAX_CANDIDATES),
        "folds": _folds(candidates),
        "scores": [s for s in record.get("scores") or [] if isinstance(s, dict)],
        "fitted": record.get("fitted") or {},
        "fit_seconds": record.get("fit_seconds"),
    }


def _steps(node: dict[str, Any], path: str = "", depth: int = 0):
    """One row per estimator in the tree: where it sits, its class, its changed parameters."""
    name = node.get("name")
    where = f"{path}{name}" if name else path.rstrip(" ›") or "(the estimator)"
    params = node.get("params") or {}
    yield {"where": where, "class": node.get("class"), "depth": depth, "params": sorted(params.items())}
    for child in node.get("children") or []:
        yield from _steps(child, f"{where} › " if name else "", depth + 1)


def _candidate(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "params": ", ".join(f"{k}={v!r}" for k, v in (row.get("params") or {}).items()),
        "mean": row.get("mean_test_score"),
        "std": row.get("std_test_score"),
        "rank": row.get("rank_test_score"),
        "train": row.get("mean_train_score"),
        "fit_time": row.get("mean_fit_time"),
        "splits": [row[k] for k in sorted(k for k in row if k.startswith("split") and k.endswith("_test_score"))],
    }


def _folds(candidates: list[dict[str, Any]]) -> int:
    return max((len(_candidate(c)["splits"]) for c in candidates), default=0)
