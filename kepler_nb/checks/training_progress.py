"""K4xx, how far the run got: stopped while still improving (K408), a widening gap in a short run (K409).

Both are info: they read the per-epoch history only, like the other
training checks (:mod:`.training`), and suggest what the next run should
change rather than warn about this one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .registry import Report, Skip, check

if TYPE_CHECKING:
    from .training import TrainingContext

# -- K408 ---------------------------------------------------------------------------
UNDERTRAINED_MIN_EPOCHS = 2  # a curve needs two points
UNDERTRAINED_MIN_FALL = 0.05  # the last epoch lowered the loss by at least 5% ...
UNDERTRAINED_MIN_VAL_FALL = 0.02  # ... and the validation loss (when there is one) by at least 2%, to a new best


@check(
    "K408",
    "stopped-while-improving",
    stage="training",
    severity="info",
    thresholds={
        "min_epochs": UNDERTRAINED_MIN_EPOCHS,
        "min_last_epoch_fall": UNDERTRAINED_MIN_FALL,
        "min_last_epoch_val_fall": UNDERTRAINED_MIN_VAL_FALL,
    },
)
def stopped_while_improving(ctx: TrainingContext):
    """Training stopped while the loss was still falling fast (under-trained).

    ## What it does
    At the last epoch the fit asked for, reports a training loss that fell
    by 5% or more in that epoch, with the validation loss (when there is
    one) also falling by 2% or more to its best value yet. A run stopped
    early by a callback is not judged.

    ## Why is this bad?
    The model had not converged: its scores say more about the epoch budget
    than about the model. Comparing it with a converged run, or drawing
    conclusions about the architecture, is comparing unequal things.

    ## Example
    ```python
    model.fit(x, y, epochs=3, validation_split=0.2)  # loss 0.9 → 0.6 → 0.41
    ```

    ## Use instead
    ```python
    stop = keras.callbacks.EarlyStopping(patience=3, restore_best_weights=True)
    model.fit(x, y, epochs=100, validation_split=0.2, callbacks=[stop])
    ```
    """
    loss = ctx.losses()
    if not ctx.finished:
        raise Skip("judged at the last epoch of the fit")
    if len(loss) < UNDERTRAINED_MIN_EPOCHS:
        raise Skip(f"needs {UNDERTRAINED_MIN_EPOCHS} epochs, has {len(loss)}")
    fall = (loss[-2] - loss[-1]) / abs(loss[-2]) if loss[-2] else 0.0
    if fall < UNDERTRAINED_MIN_FALL:
        return
    also = ""
    if "val_loss" in ctx.history:
        val = ctx.losses("val_loss")
        val_fall = (val[-2] - val[-1]) / abs(val[-2]) if val[-2] else 0.0
        if val_fall < UNDERTRAINED_MIN_VAL_FALL or val[-1] > min(val):
            return
        also = f", val_loss {val[-2]:.4g} → {val[-1]:.4g} (-{val_fall:.0%}, its best)"
    yield Report(
        f"the run stopped after epoch {ctx.last_epoch + 1} while still improving fast: loss "
        f"{loss[-2]:.4g} → {loss[-1]:.4g} (-{fall:.0%}) in the last epoch{also}",
        fix="Train longer, with keras.callbacks.EarlyStopping(patience=3, restore_best_weights=True) to stop "
        "at the right time.",
        details={"last_epoch_fall": fall, "epochs": ctx.last_epoch + 1},
    )


# -- K409 ---------------------------------------------------------------------------
GAP_EPOCHS = 4  # the gap val_loss - loss widened at each of the last 3 epoch ends
GAP_MIN_SHARE = 0.10  # ... to at least 10% of the validation loss


@check(
    "K409",
    "generalisation-gap-widening",
    stage="training",
    severity="info",
    thresholds={"epochs": GAP_EPOCHS, "min_gap_share_of_val_loss": GAP_MIN_SHARE},
)
def generalisation_gap_widening(ctx: TrainingContext):
    """Overfitting starting: the validation/training gap widens every epoch.

    ## What it does
    Over the last 4 epochs, reports a gap between validation and training
    loss that widened at every epoch and reached 10% of the validation
    loss, once the validation loss has stopped improving (its latest value
    is above its best). It catches the start of overfitting in short runs,
    where K406's three rises in a row of the validation loss can't happen.

    ## Why is this bad?
    The model is beginning to memorise the training set: more epochs of the
    same will make the validation loss worse, not better.

    ## Example
    ```python
    model.fit(x_small, y_small, epochs=4, validation_split=0.2)  # gap 0.02 → 0.09 → 0.21 → 0.35
    ```

    ## Use instead
    ```python
    # regularise (dropout, weight decay, augmentation), get more data, or stop earlier:
    keras.callbacks.EarlyStopping(patience=2, restore_best_weights=True)
    ```
    """
    if "val_loss" not in ctx.history:
        raise Skip("no validation loss (no validation data)")
    val, loss = ctx.losses("val_loss"), ctx.losses()
    if len(val) < GAP_EPOCHS:
        raise Skip(f"needs {GAP_EPOCHS} epochs, has {len(val)}")
    gaps = [v - t for t, v in zip(loss[-GAP_EPOCHS:], val[-GAP_EPOCHS:])]
    widening = all(b > a for a, b in zip(gaps, gaps[1:]))
    if widening and gaps[-1] >= GAP_MIN_SHARE * abs(val[-1]) and val[-1] > min(val):
        yield Report(
            f"the gap val_loss - loss widened every epoch for {GAP_EPOCHS - 1} epochs "
            f"({' → '.join(f'{g:.3g}' for g in gaps)}) while val_loss stopped improving (best {min(val):.4g}, "
            f"now {val[-1]:.4g}): overfitting is starting",
            fix="Regularise (dropout, weight decay, augmentation) or get more data, and stop at the best epoch "
            "(keras.callbacks.EarlyStopping(restore_best_weights=True)).",
            details={"gaps": gaps, "best_val_loss": min(val)},
        )
