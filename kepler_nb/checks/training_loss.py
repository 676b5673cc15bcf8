"""K4xx, the shape of the training loss over epochs: not decreasing or stuck (K403), diverging (K404),
oscillating (K405).

Epoch-end checks of :mod:`.training`'s kind: they read the per-epoch history
only, judged against the loss's own scale (its first value, its best, the
constant-prediction baseline) and the number of batches an epoch averages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .registry import Report, Skip, check

if TYPE_CHECKING:
    from .training import TrainingContext

# -- K403 ---------------------------------------------------------------------------
NOT_DECREASING_MIN_EPOCHS = 3  # judged on the last this-many epochs, from this many on
NOT_DECREASING_MIN_RATE = 0.001  # progress under 0.1% of the loss per epoch is no progress
NOT_DECREASING_NEAR_BASELINE = 0.9  # a best loss above 90% of the constant-prediction loss learned nothing
NOT_DECREASING_LEARNED_FRACTION = 0.5  # a first epoch under half the constant-prediction loss already learned
STUCK_MIN_EPOCHS = 5  # a run this long ...
STUCK_NEAR_BASELINE = 0.97  # ... whose best loss is still within 3% of the constant-prediction loss ...
STUCK_MAX_RATE = 0.01  # ... and falls under 1% per epoch over the window is stuck, however steadily it falls


@check(
    "K403",
    "loss-not-decreasing",
    stage="training",
    severity="warning",
    thresholds={
        "window_epochs": NOT_DECREASING_MIN_EPOCHS,
        "min_relative_improvement_per_epoch": NOT_DECREASING_MIN_RATE,
        "near_baseline_fraction": NOT_DECREASING_NEAR_BASELINE,
        "learned_fraction_of_baseline": NOT_DECREASING_LEARNED_FRACTION,
        "stuck_min_epochs": STUCK_MIN_EPOCHS,
        "stuck_near_baseline_fraction": STUCK_NEAR_BASELINE,
        "stuck_max_relative_improvement_per_epoch": STUCK_MAX_RATE,
    },
)
def loss_not_decreasing(ctx: TrainingContext):
    """Training loss not decreasing.

    ## What it does
    Looks at the last 3 epochs: when the training loss gained less than
    0.1% per epoch there, flags the run if it never made real progress (its
    best loss is under 0.1% per epoch below the first epoch's), or if its
    best loss is still no better than a constant prediction would score
    (above 90% of the loss of predicting the class frequencies or the mean
    target). From 5 epochs on, a loss still within 3% of that constant
    prediction's and falling under 1% per epoch is flagged too, however
    steadily it falls (0.6867 → 0.6817 against ln 2 = 0.693). A slow but
    steady start, well below the constant prediction, passes; so does a
    plateau reached after learning.

    ## Why is this bad?
    A loss that does not move is a model that does not learn: a learning
    rate far too small, gradients that vanish (saturated sigmoids, dead
    ReLUs after a step too large), frozen layers, or labels with no relation
    to the inputs. More epochs will not help.

    ## Example
    ```python
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1e-7), loss="sparse_categorical_crossentropy")
    ```

    ## Use instead
    ```python
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="sparse_categorical_crossentropy")
    # then overfit one small batch to prove the model can learn at all
    ```
    """
    loss = ctx.losses()
    n = NOT_DECREASING_MIN_EPOCHS
    if len(loss) < n:
        raise Skip(f"needs {n} epochs, has {len(loss)}")
    window = loss[-n:]
    gain = (window[0] - min(window[1:])) / abs(window[0]) if window[0] else 0.0
    baseline = ctx.baseline
    first, best = loss[0], min(loss)
    if gain >= NOT_DECREASING_MIN_RATE * (n - 1):
        stuck = (
            baseline is not None
            and baseline[0] > 0
            and len(loss) >= STUCK_MIN_EPOCHS
            and best >= STUCK_NEAR_BASELINE * baseline[0]
            and gain < STUCK_MAX_RATE * (n - 1)
        )
        if stuck:
            yield Report(
                f"loss {first:.4g} → {loss[-1]:.4g} in {len(loss)} epochs is still within "
                f"{1 - best / baseline[0]:.1%} of a model that learned nothing ({baseline[1]} scores "
                f"{baseline[0]:.4g}), falling only {gain / (n - 1):.2%} per epoch",
                fix="Raise the learning rate, check that the labels belong to the inputs, that inputs are "
                "scaled and layers trainable; try to overfit one small batch first.",
                details={"first": first, "best": best, "baseline": baseline[0], "rate": gain / (n - 1)},
            )
        return  # still improving
    if baseline is not None and first < NOT_DECREASING_LEARNED_FRACTION * baseline[0]:
        return  # learned during the first epoch, then levelled off: converged
    overall = (first - best) / abs(first) if first else 0.0
    prior = f"{baseline[1]} scores {baseline[0]:.4g}" if baseline is not None else ""
    if overall < NOT_DECREASING_MIN_RATE * (len(loss) - 1):
        message = (
            f"loss barely moved in {len(loss)} epochs: {first:.4g} → best {best:.4g} "
            f"({overall:+.3%} in {len(loss) - 1} epochs, under {NOT_DECREASING_MIN_RATE:.1%} per epoch)"
        )
        yield Report(
            message + (f"; {prior}" if prior else ""),
            fix="Raise the learning rate, check that layers are trainable and activations don't saturate, "
            "and try to overfit one small batch first.",
            details={"first": first, "best": best, "improvement": overall},
        )
    elif baseline is not None and best >= NOT_DECREASING_NEAR_BASELINE * baseline[0]:
        yield Report(
            f"loss stopped improving at {window[-1]:.4g} (best {best:.4g} in {len(loss)} epochs), no better "
            f"than a model that learned nothing: {prior}",
            fix="Lower the learning rate if the loss jumped first (dead ReLUs), else raise it; check that the "
            "labels belong to the inputs and that layers are trainable.",
            details={"first": first, "best": best, "baseline": baseline[0]},
        )


# -- K404 ---------------------------------------------------------------------------
DIVERGING_RISES = 3  # epochs in a row with a higher loss
DIVERGING_MIN_RISE = 0.10  # ... adding up to at least 10%
DIVERGING_MIN_SHARE_OF_PROGRESS = 0.25  # ... and to a quarter of the progress made so far (first - best)
DIVERGING_MIN_STEPS = 8  # with fewer batches per epoch, the rises-in-a-row rule is noise
DIVERGING_FACTOR = 2.0  # or a loss above twice its best and above the first epoch's


@check(
    "K404",
    "loss-diverging",
    stage="training",
    severity="warning",
    thresholds={
        "rises_in_a_row": DIVERGING_RISES,
        "min_rise": DIVERGING_MIN_RISE,
        "min_share_of_progress": DIVERGING_MIN_SHARE_OF_PROGRESS,
        "min_steps_per_epoch_for_rises": DIVERGING_MIN_STEPS,
        "factor_over_best": DIVERGING_FACTOR,
    },
)
def loss_diverging(ctx: TrainingContext):
    """Training loss diverging.

    ## What it does
    Flags a training loss that rose 3 epochs in a row by 10% or more in
    total and by at least a quarter of the progress the run had made (its
    first epoch's loss minus its best), or that climbed back above its
    first epoch's value and to more than twice its best. Rises are judged
    against the loss's own scale: a loss that wobbles 1e-6 → 5e-6 a million
    times below where it started, or 0.042 → 0.053 at the end of a run that
    came down from 0.7, is noise, not divergence. When an epoch averages
    fewer than 8 batches, its loss is noisy by nature and only the second
    rule applies.

    ## Why is this bad?
    Gradient descent with a sane step size lowers the training loss; a
    loss that climbs steadily means the steps overshoot (a learning rate too
    high, a schedule that raises it, no gradient clipping on exploding
    gradients). It ends in NaN or in a model worse than where it started.

    ## Example
    ```python
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=5.0), loss="mse")
    ```

    ## Use instead
    ```python
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01, clipnorm=1.0), loss="mse")
    ```
    """
    loss = ctx.losses()
    if len(loss) < 2:
        raise Skip(f"needs 2 epochs, has {len(loss)}")
    tail = loss[-(DIVERGING_RISES + 1) :]
    rising = len(tail) == DIVERGING_RISES + 1 and all(b > a for a, b in zip(tail, tail[1:]))
    rise = tail[-1] - tail[0]
    progress = loss[0] - min(loss)
    if (
        rising
        and ctx.few_steps(DIVERGING_MIN_STEPS) is None
        and tail[0] > 0
        and rise / tail[0] >= DIVERGING_MIN_RISE
        and rise >= DIVERGING_MIN_SHARE_OF_PROGRESS * progress
    ):
        yield Report(
            f"loss rose {DIVERGING_RISES} epochs in a row: {' → '.join(f'{v:.4g}' for v in tail)} "
            f"(+{rise / tail[0]:.0%})",
            fix="Lower the learning rate (try 10x lower), or clip gradients (clipnorm=1.0).",
            details={"values": tail},
        )
        return
    best, last = min(loss), loss[-1]
    if best > 0 and last > DIVERGING_FACTOR * best and last > loss[0]:
        yield Report(
            f"loss is {last:.4g} at epoch {len(loss)}: {last / best:.1f}x its best ({best:.4g} at epoch "
            f"{loss.index(best) + 1}) and above where it started ({loss[0]:.4g})",
            fix="Lower the learning rate (try 10x lower), or clip gradients (clipnorm=1.0); "
            "keras.callbacks.ModelCheckpoint(save_best_only=True) keeps the best weights.",
            details={"best": best, "last": last, "first": loss[0]},
        )


# -- K405 ---------------------------------------------------------------------------
OSCILLATION_WINDOW = 6  # the last epochs looked at
OSCILLATION_MIN_FLIPS = 3  # of the 4 possible changes of direction in the window
OSCILLATION_MIN_AMPLITUDE = 0.10  # typical step at least 10% of the window's mean loss ...
OSCILLATION_MIN_SHARE_OF_START = 0.02  # ... and 2% of the first epoch's loss (a converged wobble is fine)
OSCILLATION_MIN_STEPS = 8  # an epoch of fewer batches has a noisy loss by nature


@check(
    "K405",
    "loss-oscillating",
    stage="training",
    severity="warning",
    thresholds={
        "window_epochs": OSCILLATION_WINDOW,
        "min_direction_changes": OSCILLATION_MIN_FLIPS,
        "min_amplitude": OSCILLATION_MIN_AMPLITUDE,
        "min_share_of_first_loss": OSCILLATION_MIN_SHARE_OF_START,
        "min_steps_per_epoch": OSCILLATION_MIN_STEPS,
    },
)
def loss_oscillating(ctx: TrainingContext):
    """Training loss oscillating.

    ## What it does
    Over the last 6 epochs, counts the changes of direction of the training
    loss (up, down, up...). Flags 3 or more of the 4 possible when the
    typical epoch-to-epoch step (the median) is at least 10% of the mean
    loss and 2% of the first epoch's loss. Runs whose epochs average fewer
    than 8 batches are not judged: their epoch loss is noisy by nature.

    ## Why is this bad?
    A loss that jumps up and down by large amounts, instead of settling,
    means the optimizer bounces across a valley: the learning rate is too
    high for this batch size, or the batches are so small or unshuffled that
    each epoch pulls the weights somewhere else.

    ## Example
    ```python
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.1), loss="mse")
    ```

    ## Use instead
    ```python
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="mse")
    # or keras.callbacks.ReduceLROnPlateau(); or a larger batch size
    ```
    """
    loss = ctx.losses()
    noisy = ctx.few_steps(OSCILLATION_MIN_STEPS)
    if noisy:
        raise Skip(f"{noisy}: its loss is noisy by nature")
    if len(loss) < OSCILLATION_WINDOW:
        raise Skip(f"needs {OSCILLATION_WINDOW} epochs, has {len(loss)}")
    window = np.asarray(loss[-OSCILLATION_WINDOW:])
    steps = np.diff(window)
    flips = int(np.sum(np.sign(steps[1:]) * np.sign(steps[:-1]) < 0))
    amplitude = float(np.median(np.abs(steps)))
    mean = float(window.mean())
    if (
        flips >= OSCILLATION_MIN_FLIPS
        and amplitude >= OSCILLATION_MIN_AMPLITUDE * abs(mean)
        and amplitude >= OSCILLATION_MIN_SHARE_OF_START * abs(loss[0])
    ):
        yield Report(
            f"loss changed direction {flips} times in the last {OSCILLATION_WINDOW} epochs "
            f"({' '.join(f'{v:.4g}' for v in window)}), typical step {amplitude:.3g} "
            f"({amplitude / abs(mean):.0%} of the mean loss)",
            fix="Lower the learning rate (or add keras.callbacks.ReduceLROnPlateau), use larger batches, "
            "and shuffle the training data.",
            details={"window": window.tolist(), "direction_changes": flips, "amplitude": amplitude},
        )
