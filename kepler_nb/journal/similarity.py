"""Which earlier experiments are like this one, and how they differ.

Similarity works on the summary documents only (the signatures and the small
facts :mod:`.signature` stores there), so looking through ten thousand
experiments loads no blob. Two experiments are *similar* when they train

* the same model (same architecture signature) on other data or with other
  hyperparameters, or
* a nearby architecture on inputs of the same shape with the same number of
  classes: the layer lists differ by a small edit (a layer wider, an
  activation changed, a layer added or removed).

Each match says which of these it is and spells out every difference, from
the earlier experiment's side, with this run's value in brackets:
``learning_rate 0.01 (this run: 0.001)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

# Layer edits that still make a "nearby" architecture: at least this many,
# or this fraction of the layers for deep models.
MAX_ARCH_DISTANCE = 1.5
MAX_ARCH_FRACTION = 0.1
# Statuses of the experiments worth comparing with (skipped runs have no results).
COMPARABLE = ("finished", "interrupted")
# How much each part weighs in the similarity score (they sum to 1).
WEIGHT_ARCH, WEIGHT_DATA, WEIGHT_HPARAMS = 0.6, 0.25, 0.15
HPARAM_NAMES = {"learning_rate": "learning rate", "batch_size": "batch size", "validation_split": "validation split"}


@dataclass
class Match:
    """One earlier experiment like the target, and in what ways it differs."""

    experiment: dict[str, Any]
    score: float
    relation: str
    differences: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.experiment,
            "similarity": round(self.score, 3),
            "relation": self.relation,
            "differences": list(self.differences),
        }


@dataclass
class Lookup:
    """What the journal already knows about a run that is about to start."""

    duplicate: dict[str, Any] | None = None
    similar: list[Match] = field(default_factory=list)
    transfer: dict[str, Any] | None = None


def lookup(
    summaries: Iterable[dict[str, Any]],
    target: dict[str, Any],
    k: int = 5,
    exclude: Any = None,
    include_same: bool = False,
) -> Lookup:
    """Duplicate, similar experiments and a transfer candidate for ``target``, in one pass.

    ``target`` holds the signature fields of a run (:meth:`Signature.summary_fields`
    or a stored summary). ``exclude`` is an id not to return (the target itself).
    Earlier runs of the very same experiment are only in ``duplicate`` (the
    latest finished one), unless ``include_same`` also ranks them first among
    the similar ones.
    """
    found = Lookup()
    matches: list[Match] = []
    distances: dict[Any, tuple[float, list[str]] | None] = {}
    target_arch = _arch_key(target.get("arch"))
    transfer_best: tuple[float, str] | None = None
    for summary in summaries:
        if summary.get("id") == exclude or summary.get("status") not in COMPARABLE or not summary.get("arch_signature"):
            continue
        same_experiment = target.get("signature") and summary.get("signature") == target.get("signature")
        if (
            same_experiment
            and summary.get("status") == "finished"
            and (found.duplicate is None or summary["id"] > found.duplicate["id"])
        ):
            found.duplicate = summary
        if same_experiment and not include_same:
            continue
        if (
            summary.get("status") == "finished"
            and target.get("data_signature")
            and summary.get("data_signature") not in (None, target.get("data_signature"))
            and _same_problem(target, summary)
        ):
            rank = (_primary(summary.get("final") or {}) or (0.0, ""))[0], str(summary.get("created") or "")
            if transfer_best is None or rank > transfer_best:
                transfer_best, found.transfer = rank, summary
        match = compare(target, summary, distances, target_arch)
        if match is not None:
            matches.append(match)
    matches.sort(key=lambda m: (-m.score, -int(m.experiment.get("id") or 0)))
    found.similar = matches[:k]
    return found


def find_duplicate(summaries: Iterable[dict[str, Any]], signature: str | None) -> dict[str, Any] | None:
    """The latest finished experiment with this exact signature, if any."""
    if not signature:
        return None
    return lookup(summaries, {"signature": signature}, k=0).duplicate


def compare(
    target: dict[str, Any],
    other: dict[str, Any],
    distances: dict[Any, Any] | None = None,
    target_arch: tuple | None = None,
) -> Match | None:
    """How ``other`` relates to ``target``, or None when they are not alike."""
    distances = {} if distances is None else distances
    target_arch = _arch_key(target.get("arch")) if target_arch is None else target_arch
    same_model = target.get("arch_signature") == other.get("arch_signature")
    if same_model:
        arch_distance, arch_diffs = 0.0, []
    else:
        if not target_arch or not _same_problem(target, other):
            return None
        key = _arch_key(other.get("arch"))
        if key not in distances:
            distances[key] = _arch_distance(key, target_arch)
        if distances[key] is None:
            return None
        arch_distance, arch_diffs = distances[key]
    data_known = bool(target.get("data_signature"))
    same_data = data_known and other.get("data_signature") == target.get("data_signature")
    hp_diffs, hp_total = _hparam_differences(other.get("hparams") or {}, target.get("hparams") or {})

    differences = list(arch_diffs)
    if data_known and not same_data:
        differences.append(_data_difference(other, target))
    differences += hp_diffs
    if same_model and target.get("signature") and other.get("signature") == target.get("signature"):
        relation = "the same experiment"
    elif same_model:
        parts = [p for p, differ in (("data", data_known and not same_data), ("hyperparameters", hp_diffs)) if differ]
        relation = "same model, different " + " and ".join(parts) if parts else "same model"
    else:
        relation = "nearby architecture" + (", same data" if same_data else ", different data" if data_known else "")

    arch_score = 1.0 - arch_distance / max(len(target_arch or ()), len(_arch_key(other.get("arch"))), 1)
    hp_score = 1.0 - len(hp_diffs) / hp_total if hp_total else 1.0
    data_score = 1.0 if same_data or not data_known else 0.0
    score = WEIGHT_ARCH * arch_score + WEIGHT_DATA * data_score + WEIGHT_HPARAMS * hp_score
    return Match(other, score, relation, differences)


def setting_differences(theirs: dict[str, Any], ours: dict[str, Any], prefix: str = "") -> list[str]:
    """Name every differing setting of two flat-ish dicts (compile or fit parts of two records)."""
    found = []
    for key in sorted(set(theirs) | set(ours)):
        a, b = theirs.get(key), ours.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            found += setting_differences(a, b, prefix=f"{prefix}{key}.")
        else:
            found.append(f"{prefix}{key} {_show(a)} (this run: {_show(b)})")
    return found


# -- parts ----------------------------------------------------------------------
def _same_problem(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Inputs of one shape and as many classes: models for the same kind of problem."""
    return (
        a.get("input_shape") is not None
        and _as_tuple(a.get("input_shape")) == _as_tuple(b.get("input_shape"))
        and a.get("n_classes") == b.get("n_classes")
    )


def _arch_key(layers: Any) -> tuple:
    return tuple(tuple(row) if isinstance(row, list) else row for row in layers or ())


def _as_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _arch_distance(theirs: tuple, ours: tuple) -> tuple[float, list[str]] | None:
    """Edit distance between two layer lists, with the edits named; None when too far apart."""
    limit = max(MAX_ARCH_DISTANCE, MAX_ARCH_FRACTION * max(len(theirs), len(ours)))
    if abs(len(theirs) - len(ours)) > limit:
        return None
    n, m = len(theirs), len(ours)
    cost = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        cost[i][0] = float(i)
    for j in range(1, m + 1):
        cost[0][j] = float(j)
    for i in range(1, n + 1):
        row_min = cost[i][0]
        for j in range(1, m + 1):
            cost[i][j] = min(
                cost[i - 1][j] + 1.0,
                cost[i][j - 1] + 1.0,
                cost[i - 1][j - 1] + _layer_cost(theirs[i - 1], ours[j - 1]),
            )
            row_min = min(row_min, cost[i][j])
        if row_min > limit:
            return None
    if cost[n][m] > limit:
        return None
    return cost[n][m], _edits(theirs, ours, cost)


def _layer_cost(a: tuple, b: tuple) -> float:
    if a == b:
        return 0.0
    if a[0] != b[0]:
        return 1.0
    cost = 0.5 * (a[1] != b[1]) + 0.5 * (a[2] != b[2])
    return cost or 0.25  # same size and activation: other settings differ


def _edits(theirs: tuple, ours: tuple, cost: list[list[float]]) -> list[str]:
    edits = []
    i, j = len(theirs), len(ours)
    while i or j:
        if i and j and cost[i][j] == cost[i - 1][j - 1] + _layer_cost(theirs[i - 1], ours[j - 1]):
            a, b = theirs[i - 1], ours[j - 1]
            if a != b:
                edits.append(_layer_change(i, a, b))
            i, j = i - 1, j - 1
        elif i and cost[i][j] == cost[i - 1][j] + 1.0:
            edits.append(f"layer {i} {_layer_text(theirs[i - 1])} (not in this run)")
            i -= 1
        else:
            edits.append(f"no layer {_layer_text(ours[j - 1])} (this run has it as layer {j})")
            j -= 1
    return edits[::-1]


def _layer_change(index: int, a: tuple, b: tuple) -> str:
    if a[0] != b[0]:
        return f"layer {index} {_layer_text(a)} (this run: {_layer_text(b)})"
    changes = []
    if a[1] != b[1]:
        changes.append(f"{_show(a[1])} {_size_word(a[0])} (this run: {_show(b[1])})")
    if a[2] != b[2]:
        changes.append(f"{_show(a[2])} activation (this run: {_show(b[2])})")
    return f"layer {index} {a[0]}: " + (", ".join(changes) if changes else "other layer settings")


def _layer_text(row: tuple) -> str:
    args = [str(v) for v in row[1:3] if v not in (None, "", "linear")]
    return f"{row[0]}({', '.join(args)})" if args else str(row[0])


def _size_word(layer_type: str) -> str:
    if "Conv" in layer_type:
        return "filters"
    if "Dropout" in layer_type:
        return "rate"
    if "Pool" in layer_type:
        return "pool size"
    return "units"


def _hparam_differences(theirs: dict[str, Any], ours: dict[str, Any]) -> tuple[list[str], int]:
    if not theirs or not ours:  # a model alone has no hyperparameters to compare
        return [], 0
    keys = [k for k in dict.fromkeys([*ours, *theirs]) if k != "other"]
    found = [
        f"{HPARAM_NAMES.get(k, k)} {_show(theirs.get(k))} (this run: {_show(ours.get(k))})"
        for k in keys
        if theirs.get(k) != ours.get(k)
    ]
    if theirs.get("other") != ours.get("other"):
        found.append("other compile or fit settings")
    return found, len(keys) + 1


def _data_difference(other: dict[str, Any], target: dict[str, Any]) -> str:
    a, b = other.get("n_samples"), target.get("n_samples")
    if a is not None and b is not None and a != b:
        return f"other training data ({a} samples; this run: {b})"
    return "other training data (same size, different content)"


def _primary(final: dict[str, Any]) -> tuple[float, str] | None:
    """The metric a reader compares first, as a number where higher is better."""
    for name in ("val_accuracy", "accuracy"):
        if isinstance(final.get(name), (int, float)):
            return float(final[name]), name
    for name in ("val_loss", "loss"):
        if isinstance(final.get(name), (int, float)):
            return -float(final[name]), name
    return None


def primary_metric(final: dict[str, Any]) -> tuple[str, float] | None:
    """``("val_accuracy", 0.93)``: the metric to quote for an experiment."""
    found = _primary(final or {})
    if found is None:
        return None
    value, name = found
    return name, value if "accuracy" in name else -value


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "none" if value is None else str(value)
