"""K4xx, training against validation: overfitting (K406), validation suspiciously better (K407).

Epoch-end checks of :mod:`.training`'s kind: they read the per-epoch history
of ``loss`` and ``val_loss`` only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .layers import NOISE_TYPES
from .registry import Report, Skip, check

if TYPE_CHECKING:
    from .training import TrainingContext

# Layers that behave differently in training: the training loss is measured with them active.
TRAINING_ONLY_LAYERS = NOISE_TYPES | {"ActivityRegularization", "BatchNormalization"}

# -- K406 ---------------------------------------------------------------------------
OVERFIT_EPOCHS = 3  # val_loss rose this many epochs in a row
OVERFIT_MIN_RISE = 0.05  # ... to at least 5% above its best
OVERFIT_MIN_TRAIN_FALL = 0.10  # while the training loss fell at least 10% since that best epoch


@check(
    "K406",
    "overfitting",
    stage="training",
    severity="warning",
    thresholds={
        "rises_in_a_row": OVERFIT_EPOCHS,
        "min_val_loss_rise": OVERFIT_MIN_RISE,
        "min_training_loss_fall": OVERFIT_MIN_TRAIN_FALL,
    },
)
def overfitting(ctx: TrainingContext):
    """Overfitting: validation loss rising while the training loss falls.

    ## What it does
    Flags a validation loss that rose 3 epochs in a row and stands 5% or
    more above its best, while the training loss fell by 10% or more since
    that best epoch.

    ## Why is this bad?
    From there on the model memorises the training set: each epoch makes it
    better on data it has seen and worse on data it hasn't. The weights
    worth keeping are those of the epoch before the rise.

    ## Example
    ```python
    model.fit(x, y, epochs=200, validation_split=0.2)
    ```

    ## Use instead
    ```python
    stop = keras.callbacks.EarlyStopping(patience=3, restore_best_weights=True)
    model.fit(x, y, epochs=200, validation_split=0.2, callbacks=[stop])
    # and/or more data, augmentation, dropout, weight decay, a smaller model
    ```
    """
    if "val_loss" not in ctx.history:
        raise Skip("no validation loss (no validation data)")
    val, loss = ctx.losses("val_loss"), ctx.losses()
    if len(val) < OVERFIT_EPOCHS + 1:
        raise Skip(f"needs {OVERFIT_EPOCHS + 1} epochs, has {len(val)}")
    v = val[-(OVERFIT_EPOCHS + 1) :]
    rising = all(b > a for a, b in zip(v, v[1:]))
    best_epoch = int(np.argmin(val))
    best = val[best_epoch]
    above = (val[-1] - best) / best if best > 0 else 0.0
    fell = loss[-1] <= (1 - OVERFIT_MIN_TRAIN_FALL) * loss[best_epoch]
    if rising and above >= OVERFIT_MIN_RISE and fell:
        yield Report(
            f"val_loss rose {OVERFIT_EPOCHS} epochs in a row ({v[0]:.4g} → {v[-1]:.4g}) and is {above:.0%} above "
            f"its best ({best:.4g} at epoch {best_epoch + 1}), while loss fell {loss[best_epoch]:.4g} → {loss[-1]:.4g}",
            fix="Stop earlier: keras.callbacks.EarlyStopping(patience=3, restore_best_weights=True); "
            "or regularise (more data, augmentation, dropout, weight decay).",
            details={"val_loss": v, "best_epoch": best_epoch + 1, "above_best": above},
        )


# -- K407 ---------------------------------------------------------------------------
VAL_BETTER_EPOCHS = 3  # epochs in a row, the first epoch not counted
VAL_BETTER_RATIO = 0.5  # val_loss below half the training loss ...
VAL_BETTER_RATIO_REGULARISED = 0.25  # ... or a quarter, with dropout/noise/batch norm active in training
VAL_BETTER_MIN_GAP = 0.05  # and the gap at least 5% of the first epoch's loss


@check(
    "K407",
    "validation-better-than-training",
    stage="training",
    severity="warning",
    thresholds={
        "epochs_in_a_row": VAL_BETTER_EPOCHS,
        "max_ratio": VAL_BETTER_RATIO,
        "max_ratio_with_dropout": VAL_BETTER_RATIO_REGULARISED,
        "min_gap_share_of_first_loss": VAL_BETTER_MIN_GAP,
    },
)
def validation_better_than_training(ctx: TrainingContext):
    """Validation loss suspiciously better than the training loss.

    ## What it does
    From the second epoch on, flags a validation loss below half the
    training loss for 3 epochs in a row (below a quarter when the model has
    dropout, noise or batch-normalisation layers, which make the training
    loss higher by design), when the gap is more than a rounding matter.

    ## Why is this bad?
    A model should not do much better on data it never trained on. When it
    does, the validation set is easier than the training set: the split took
    one class or one easy slice (`validation_split` takes the tail of the
    data), the validation samples are copies of training ones, or the
    training inputs were augmented/corrupted but the validation ones weren't.
    Every conclusion drawn from that validation loss is then wrong.

    ## Example
    ```python
    model.fit(x_sorted_by_label, y_sorted, validation_split=0.2)  # validation = the last classes only
    ```

    ## Use instead
    ```python
    x_tr, x_val, y_tr, y_val = train_test_split(x, y, test_size=0.2, stratify=y, shuffle=True)
    model.fit(x_tr, y_tr, validation_data=(x_val, y_val))
    ```
    """
    if "val_loss" not in ctx.history:
        raise Skip("no validation loss (no validation data)")
    val, loss = ctx.losses("val_loss"), ctx.losses()
    if len(val) < VAL_BETTER_EPOCHS + 1:
        raise Skip(f"needs {VAL_BETTER_EPOCHS + 1} epochs, has {len(val)}")
    layers = _training_only_layers(ctx.model)
    ratio = VAL_BETTER_RATIO_REGULARISED if layers else VAL_BETTER_RATIO
    min_gap = VAL_BETTER_MIN_GAP * abs(loss[0])
    pairs = list(zip(loss, val))[1:][-VAL_BETTER_EPOCHS:]
    if len(pairs) == VAL_BETTER_EPOCHS and all(v < ratio * t and t - v >= min_gap for t, v in pairs):
        because = f" (with {', '.join(layers)} active in training)" if layers else ""
        shown = ", ".join(f"{v:.3g} vs {t:.3g}" for t, v in pairs)
        yield Report(
            f"val_loss below {ratio:.0%} of loss{because} for {VAL_BETTER_EPOCHS} epochs in a row "
            f"(val_loss vs loss: {shown}): the validation set looks easier than the training set",
            fix="Split at random and stratified (train_test_split(..., stratify=y)) rather than taking the tail; "
            "look for validation samples that also occur in training (K310).",
            details={"pairs": pairs, "ratio": ratio, "training_only_layers": layers},
        )


def _training_only_layers(model: Any) -> list[str]:
    found: list[str] = []
    stack = list(getattr(model, "layers", []) or [])
    while stack:
        layer = stack.pop(0)
        name = type(layer).__name__
        if (name in TRAINING_ONLY_LAYERS or name.startswith("Random")) and name not in found:
            found.append(name)
        stack.extend(getattr(layer, "layers", []) or [])
    return found
