"""Loss families and target encodings: what the loss expects, and what the targets are."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..fit.fingerprint import integer_counts
from .heads import snake_case

if TYPE_CHECKING:
    from .context import CheckContext

# -- losses --------------------------------------------------------------------------

LOSS_ALIASES = {
    "mse": "mean_squared_error",
    "mae": "mean_absolute_error",
    "mape": "mean_absolute_percentage_error",
    "msle": "mean_squared_logarithmic_error",
    "bce": "binary_crossentropy",
    "kld": "kl_divergence",
    "kullback_leibler_divergence": "kl_divergence",
    "huber_loss": "huber",
    "logcosh": "log_cosh",
}
CATEGORICAL_LOSSES = ("categorical_crossentropy", "sparse_categorical_crossentropy", "categorical_focal_crossentropy")
BINARY_LOSSES = ("binary_crossentropy", "binary_focal_crossentropy")
SPARSE_LOSSES = ("sparse_categorical_crossentropy",)
# Losses that read the output as probabilities unless `from_logits=True`.
PROBABILITY_LOSSES = CATEGORICAL_LOSSES + BINARY_LOSSES
REGRESSION_LOSSES = (
    "mean_squared_error",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error",
    "huber",
    "log_cosh",
)
KNOWN_LOSSES = PROBABILITY_LOSSES + REGRESSION_LOSSES

# Output activations whose values already lie in [0, 1].
SQUASHING_ACTIVATIONS = ("sigmoid", "hard_sigmoid", "softmax")
LINEAR_ACTIVATIONS = ("linear", None)


def canonical_loss(ctx: CheckContext) -> str | None:
    """The loss's canonical snake_case name (``mse`` -> ``mean_squared_error``), or None."""
    name = ctx.loss_name
    if name is None:
        return None
    name = LOSS_ALIASES.get(name, name)
    if name not in KNOWN_LOSSES:
        # A loss object renamed by the user still wraps a known function.
        fn = getattr(ctx.loss_object, "fn", None)
        inner = snake_case(getattr(fn, "__name__", "") or "")
        name = LOSS_ALIASES.get(inner, inner) if inner in KNOWN_LOSSES or inner in LOSS_ALIASES else name
    return name


def uses_logits(ctx: CheckContext) -> bool:
    """Whether the loss was told its inputs are logits (a string loss never is)."""
    return bool(ctx.loss_config.get("from_logits", False))


# -- targets -------------------------------------------------------------------------


@dataclass(frozen=True)
class Labels:
    """How the targets are encoded.

    ``kind`` is ``integer`` (class ids, 1-D or one column), ``onehot``,
    ``multilabel`` (several 0/1 columns), ``distribution`` (rows of
    probabilities summing to 1), ``continuous`` or ``other``.
    """

    kind: str
    columns: int
    values: np.ndarray | None = None  # distinct values, for integer labels

    @property
    def name(self) -> str:
        return ENCODING_NAMES.get(self.kind, self.kind)

    @property
    def lo(self) -> Any:
        return self.values.min() if self.values is not None and self.values.size else None

    @property
    def hi(self) -> Any:
        return self.values.max() if self.values is not None and self.values.size else None


# The first rows are looked at first: most continuous targets are told apart there.
LABEL_HEAD_ROWS = 1000
ENCODING_NAMES = {"onehot": "one-hot", "multilabel": "multi-label", "distribution": "probability-row"}


def train_labels(ctx: CheckContext) -> Labels:
    """The encoding of the training targets (Skip when there are none), computed once per context."""
    global _last_labels
    if _last_labels is not None and _last_labels[0]() is ctx:
        return _last_labels[1]
    labels = label_encoding(ctx.train_y())
    _last_labels = (weakref.ref(ctx), labels)
    return labels


_last_labels: tuple[weakref.ref, Labels] | None = None


def label_encoding(y: Any) -> Labels:
    """How ``y`` encodes its targets, looked at without copying large arrays."""
    if hasattr(y, "tocsr"):
        return Labels("other", int(y.shape[1]) if len(y.shape) > 1 else 1)
    y = np.asarray(y)
    if y.ndim == 0 or y.size == 0 or not (np.issubdtype(y.dtype, np.number) or y.dtype == bool):
        return Labels("other", 1)
    columns = 1 if y.ndim == 1 else int(np.prod(y.shape[1:]))
    if y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1):
        flat = y.reshape(-1)
        if np.issubdtype(flat.dtype, np.integer):
            return Labels("integer", 1, integer_counts(flat)[0])
        if flat.dtype == bool:
            return Labels("integer", 1, np.unique(flat))
        if np.isfinite(flat).all() and (flat == np.round(flat)).all():
            values = np.unique(flat)
            if len(values) <= max(2, len(flat) // 2):
                return Labels("integer", 1, values.astype(np.int64))
        return Labels("continuous", 1)
    if y.ndim == 2:
        head = y[:LABEL_HEAD_ROWS]
        binary = bool(((head == 0) | (head == 1)).all()) and bool(((y == 0) | (y == 1)).all())
        sums = y.sum(axis=1)
        if binary and (sums == 1).all():
            return Labels("onehot", columns)
        if binary:
            return Labels("multilabel", columns)
        if (y >= 0).all() and np.allclose(sums, 1.0, atol=1e-3):
            return Labels("distribution", columns)
        return Labels("continuous", columns)
    return Labels("other", columns)


def values_text(labels: Labels, limit: int = 6) -> str:
    values = [str(v) for v in labels.values[:limit]] if labels.values is not None else []
    if labels.values is not None and len(labels.values) > limit:
        values.append(f"... {labels.hi}")
    return ", ".join(values)
