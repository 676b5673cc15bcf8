"""Which earlier experiments are like this one, and how they differ.

Similarity works on the summary documents only (the signatures and the small
facts :mod:`.signature` stores there), so looking through ten thousand
experiments loads no blob. Two experiments are *similar* when they train

* the same model (same architecture signature) on other data or with other
  hyperparameters, or
* a nearby architecture on inputs of the same shape with the same number of
  classes: the layer lists differ by a small edit (a layer wider, an
  activation changed, a layer added or removed).

Runs of the same model rank first, then nearby architectures; within each,
by a score that weighs the architecture, the data and the hyperparameters.
Each match says which of these it is (``relation``, a code) and lists every
difference as data (:class:`Difference`: what differs, the earlier
experiment's value, this run's). Putting them in words is the presentation's
job (:mod:`kepler_nb.presentation.similar`).
"""

from __future__ import annotations

import heapq
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable

# Layer edits that still make a "nearby" architecture: at least this many,
# or this fraction of the layers for deep models.
MAX_ARCH_DISTANCE = 1.5
MAX_ARCH_FRACTION = 0.1
# Statuses of the experiments worth comparing with (skipped runs have no results).
COMPARABLE = ("finished", "interrupted")
# How much each part weighs in the similarity score (they sum to 1).
WEIGHT_ARCH, WEIGHT_DATA, WEIGHT_HPARAMS = 0.6, 0.25, 0.15
# Settings the summary's hyperparameters already name (or that change nothing).
MAIN_SETTINGS = frozenset(
    {"name", "learning_rate", "epochs", "batch_size", "validation_split", "shuffle", "verbose", "compiled", "loss"}
)
# How one experiment relates to another (Match.relation).
SAME_EXPERIMENT, SAME_MODEL, NEARBY_ARCHITECTURE = "same-experiment", "same-model", "nearby-architecture"
# Kinds of difference (Difference.kind).
LAYER_CHANGED, LAYER_REMOVED, LAYER_ADDED = "layer-changed", "layer-removed", "layer-added"
DATA, HYPERPARAMETER, SETTING, OTHER_SETTINGS = "data", "hyperparameter", "setting", "other-settings"
OPTIMIZER_STEPS = "optimizer-steps"


@dataclass(frozen=True)
class Difference:
    """One way an earlier experiment differs from this run: what, their value, this run's.

    - ``layer-changed``: layer ``index`` (theirs, 1-based) is ``theirs`` there and
      ``ours`` here, each a layer row (type, size, activation, ...);
    - ``layer-removed``: their layer ``index`` (``theirs``) is not in this run;
    - ``layer-added``: this run's layer ``index`` (``ours``) is not in theirs;
    - ``data``: other training data, ``theirs``/``ours`` the sample counts;
    - ``hyperparameter`` / ``setting``: ``name`` differs (``learning_rate``,
      ``optimizer beta_1``), from ``theirs`` to ``ours``;
    - ``optimizer-steps``: the steps its optimizer had taken before the fit, theirs
      and ours (not 0: a model fitted again without being rebuilt);
    - ``other-settings``: compile or fit settings differ that the summary can't name.
    """

    kind: str
    name: str = ""
    theirs: Any = None
    ours: Any = None
    index: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Match:
    """One earlier experiment like the target, and in what ways it differs."""

    experiment: dict[str, Any]
    score: float
    relation: str  # SAME_EXPERIMENT, SAME_MODEL or NEARBY_ARCHITECTURE
    differences: list[Difference] = field(default_factory=list)
    same_data: bool | None = None  # None: this run's data is not known

    def name_settings(self, named: list[Difference]) -> None:
        """Replace the vague "other settings" by the settings named."""
        kinds = [d.kind for d in self.differences]
        if named and OTHER_SETTINGS in kinds:
            at = kinds.index(OTHER_SETTINGS)
            self.differences[at : at + 1] = named

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.experiment,
            "similarity": round(self.score, 3),
            "relation": self.relation,
            "same_data": self.same_data,
            "differences": [d.to_dict() for d in self.differences],
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
    or a stored summary). ``summaries`` may be summaries or the journal's raw
    documents (their id is then ``doc_id``). ``exclude`` is an id not to
    return (the target itself). Earlier runs of the very same experiment are
    only in ``duplicate`` (the latest finished one), unless ``include_same``
    also ranks them first among the similar ones.
    """
    found = Lookup()
    aim = _Target(target)
    scored: list[tuple[float, int, Any, Any]] = []
    transfer_rank: tuple[float, str, int] | None = None
    # Thousands of records per lookup: the loop reads each field once, and every tie is broken by the id
    # (newest wins), so the records may come in any order.
    signature, shape, n_classes = aim.signature, aim.input_shape, aim.n_classes
    duplicate_id = -1
    for summary in summaries:
        get = summary.get
        status = get("status")
        if status not in COMPARABLE:
            continue
        arch_signature = get("arch_signature")
        if not arch_signature:
            continue
        sid = summary["id"] if "id" in summary else getattr(summary, "doc_id", None)
        if sid == exclude:
            continue
        finished = status == "finished"
        if signature is not None and get("signature") == signature:
            if finished and (found.duplicate is None or (sid or 0) > duplicate_id):
                found.duplicate, duplicate_id = summary, sid or 0
            if not include_same:
                continue
        same_problem = shape is not None and get("input_shape") == shape and get("n_classes") == n_classes
        if finished and same_problem and aim.other_data(summary) and not (get("findings") or {}).get("error"):
            rank = (_primary(get("final") or {}) or (0.0, ""))[0], str(get("created") or ""), sid or 0
            if transfer_rank is None or rank > transfer_rank:
                transfer_rank, found.transfer = rank, summary
        if arch_signature != aim.arch_signature and not same_problem:
            continue
        scoring = aim.score(summary, same_problem)
        if scoring is not None:
            scored.append((scoring[0], sid or 0, summary, scoring[1]))
    # The same model first (whatever else changed), then the closest architectures; newest first on ties.
    best = heapq.nsmallest(k, scored, key=lambda item: (item[3][0] > 0, -item[0], -item[1]))  # a sort's first k
    found.similar = [aim.describe(summary, score, arch) for score, _sid, summary, arch in best]
    return found


def find_duplicate(summaries: Iterable[dict[str, Any]], signature: str | None) -> dict[str, Any] | None:
    """The latest finished experiment with this exact signature, if any."""
    if not signature:
        return None
    return lookup(summaries, {"signature": signature}, k=0).duplicate


def compare(target: dict[str, Any], other: dict[str, Any]) -> Match | None:
    """How ``other`` relates to ``target``, or None when they are not alike."""
    aim = _Target(target)
    scoring = aim.score(other)
    return None if scoring is None else aim.describe(other, *scoring)


class _Target:
    """The run being compared with, its facts read once; caches layer-list distances."""

    def __init__(self, target: dict[str, Any]) -> None:
        self.fields = target
        self.signature = target.get("signature") or None
        self.arch_signature = target.get("arch_signature")
        self.data = target.get("data_signature") or None
        shape = target.get("input_shape")
        self.input_shape = list(shape) if shape is not None else None
        self.n_classes = target.get("n_classes")
        self.hparams = target.get("hparams") or {}
        self.arch = _arch_key(target.get("arch"))
        # Keyed by architecture signature: one edit distance per distinct model.
        self.distances: dict[str, tuple[float, list[Difference]] | None] = {}
        self.arch_scores: dict[str, tuple[float, tuple[float, list[Difference]]]] = {}

    def same_problem(self, other: dict[str, Any]) -> bool:
        """Inputs of one shape and as many classes: models for the same kind of problem."""
        return (
            self.input_shape is not None
            and other.get("input_shape") == self.input_shape
            and other.get("n_classes") == self.n_classes
        )

    def other_data(self, other: dict[str, Any]) -> bool:
        """Trained on other training data (not only another validation set): a candidate to start from."""
        if self.data is None or other.get("data_signature") in (None, self.data):
            return False
        ours, theirs = self.fields.get("data_fingerprint"), other.get("data_fingerprint")
        return not (ours and ours == theirs)

    def arch_distance(
        self, other: dict[str, Any], same_problem: bool | None = None
    ) -> tuple[float, list[Difference]] | None:
        """The edit distance to ``other``'s layers (``same_problem``: :meth:`same_problem`, if known)."""
        signature = other.get("arch_signature")
        if signature == self.arch_signature:
            return 0.0, []
        if not self.arch or not (self.same_problem(other) if same_problem is None else same_problem):
            return None
        if signature not in self.distances:
            self.distances[signature] = _arch_distance(_arch_key(other.get("arch")), self.arch)
        return self.distances[signature]

    def score(
        self, other: dict[str, Any], same_problem: bool | None = None
    ) -> tuple[float, tuple[float, list[Difference]]] | None:
        # Of the same problem, one architecture signature is one layer list: its score is computed once.
        signature = other.get("arch_signature")
        cacheable = same_problem is True and type(signature) is str
        known = self.arch_scores.get(signature) if cacheable else None
        if known is None:
            arch = self.arch_distance(other, same_problem)
            if arch is None:
                return None
            known = (1.0 - arch[0] / max(len(self.arch), len(other.get("arch") or ()), 1), arch)
            if cacheable:
                self.arch_scores[signature] = known
        arch_score, arch = known
        data_score = 1.0 if self.data is None or other.get("data_signature") == self.data else 0.0
        theirs, ours = other.get("hparams"), self.hparams
        if theirs and ours:
            same = 0
            for key, value in ours.items():  # a loop, not sum(): thousands of records per lookup
                if theirs.get(key) == value:
                    same += 1
            hp_score = same / len(ours)
        else:
            hp_score = 1.0
        return WEIGHT_ARCH * arch_score + WEIGHT_DATA * data_score + WEIGHT_HPARAMS * hp_score, arch

    def describe(self, other: dict[str, Any], score: float, arch: tuple[float, list[Difference]]) -> Match:
        same_model = other.get("arch_signature") == self.arch_signature
        same_data = self.data is not None and other.get("data_signature") == self.data
        new_data = self.data is not None and not same_data
        differences = list(arch[1])
        if new_data:
            differences.append(Difference(DATA, theirs=other.get("n_samples"), ours=self.fields.get("n_samples")))
        differences += _hparam_differences(other.get("hparams") or {}, self.hparams)
        if same_model and self.signature is not None and other.get("signature") == self.signature:
            relation = SAME_EXPERIMENT
        elif same_model:
            relation = SAME_MODEL
        else:
            relation = NEARBY_ARCHITECTURE
        return Match(other, score, relation, differences, same_data=None if self.data is None else same_data)


def setting_differences(theirs: dict[str, Any], ours: dict[str, Any], prefix: str = "") -> list[Difference]:
    """Every differing setting of two flat-ish dicts (compile or fit parts of two records)."""
    found = []
    for key in sorted(set(theirs) | set(ours)):
        a, b = theirs.get(key), ours.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            found += setting_differences(a, b, prefix=f"{prefix}{key}.")
        else:
            found.append(Difference(SETTING, f"{prefix}{key}", a, b))
    return found


def setting_differences_of_parts(theirs: dict[str, Any], ours: dict[str, Any]) -> list[Difference]:
    """The optimizer, metric and fit settings that differ, read from two records' ``compile`` and ``fit`` parts."""

    def rest(part: Any) -> dict[str, Any]:
        return {k: v for k, v in (part or {}).items() if k not in MAIN_SETTINGS}

    their_compile, our_compile = theirs.get("compile") or {}, ours.get("compile") or {}
    if not (their_compile and our_compile and theirs.get("fit") and ours.get("fit")):
        return []
    found = setting_differences(
        rest(their_compile.get("optimizer_config")), rest(our_compile.get("optimizer_config")), prefix="optimizer "
    )
    if their_compile.get("metrics") != our_compile.get("metrics"):
        found.append(Difference(SETTING, "metrics", their_compile.get("metrics"), our_compile.get("metrics")))
    return found + setting_differences(rest(theirs.get("fit")), rest(ours.get("fit")))


# -- parts ----------------------------------------------------------------------
def _arch_key(layers: Any) -> tuple:
    return tuple(tuple(row) if isinstance(row, list) else row for row in layers or ())


def _arch_distance(theirs: tuple, ours: tuple) -> tuple[float, list[Difference]] | None:
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


def _edits(theirs: tuple, ours: tuple, cost: list[list[float]]) -> list[Difference]:
    edits = []
    i, j = len(theirs), len(ours)
    while i or j:
        if i and j and cost[i][j] == cost[i - 1][j - 1] + _layer_cost(theirs[i - 1], ours[j - 1]):
            a, b = theirs[i - 1], ours[j - 1]
            if a != b:
                edits.append(Difference(LAYER_CHANGED, theirs=list(a), ours=list(b), index=i))
            i, j = i - 1, j - 1
        elif i and cost[i][j] == cost[i - 1][j] + 1.0:
            edits.append(Difference(LAYER_REMOVED, theirs=list(theirs[i - 1]), index=i))
            i -= 1
        else:
            edits.append(Difference(LAYER_ADDED, ours=list(ours[j - 1]), index=j))
            j -= 1
    return edits[::-1]


def _hparam_differences(theirs: dict[str, Any], ours: dict[str, Any]) -> list[Difference]:
    if not theirs or not ours:  # a model alone has no hyperparameters to compare
        return []
    keys = [k for k in dict.fromkeys([*ours, *theirs]) if k not in ("other", "optimizer_steps")]
    found = [Difference(HYPERPARAMETER, k, theirs.get(k), ours.get(k)) for k in keys if theirs.get(k) != ours.get(k)]
    steps = theirs.get("optimizer_steps"), ours.get("optimizer_steps")
    if None not in steps and steps[0] != steps[1]:  # a model fitted again, not rebuilt, continues its training
        found.append(Difference(OPTIMIZER_STEPS, "optimizer_steps", *steps))
    if theirs.get("other") != ours.get("other"):
        found.append(Difference(OTHER_SETTINGS))
    return found


def _primary(final: dict[str, Any]) -> tuple[float, str] | None:
    """The metric a reader compares first, as a number where higher is better."""
    for name, sign in _PRIMARY_ORDER:
        value = final.get(name)
        if isinstance(value, (int, float)):
            return sign * float(value), name
    return None


_PRIMARY_ORDER = (("val_accuracy", 1.0), ("accuracy", 1.0), ("val_loss", -1.0), ("loss", -1.0))


def primary_metric(final: dict[str, Any]) -> tuple[str, float] | None:
    """``("val_accuracy", 0.93)``: the metric to quote for an experiment."""
    found = _primary(final or {})
    if found is None:
        return None
    value, name = found
    return name, value if "accuracy" in name else -value
