"""K4xx: during training, from a callback, once per epoch.

Stage ``training_begin`` checks run once when training starts (the model is
built then); stage ``training`` checks run at every epoch end on the
history so far. Each finding is reported once per run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .registry import Report, check


@dataclass
class TrainingContext:
    """The run so far, as the training checks see it."""

    call: Any  # the FitCall
    loss_name: str | None = None
    n_classes: int | None = None
    model: Any = None
    history: dict[str, list[float]] = field(default_factory=dict)
    epochs: int = 0

    def add_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)
        self.epochs += 1


@check("K401", "loss-not-finite", stage="training", severity="error")
def loss_not_finite(ctx: TrainingContext):
    """Loss became NaN or Inf.

    ## What it does
    Looks at the epoch's training and validation loss.

    ## Why is this bad?
    Once the loss is NaN, every weight it touches becomes NaN: the rest of the
    run computes nothing. Usual causes: a learning rate too high, NaN in the
    data, `log(0)` in a hand-written loss, integer overflow of unscaled inputs.

    ## Example
    ```python
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=10.0), loss="mse")
    ```

    ## Use instead
    ```python
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss="mse")
    # and check the data for NaN (K306); --stop-on-error stops the run here
    ```
    """
    for key in ("loss", "val_loss"):
        values = ctx.history.get(key)
        if values and not np.isfinite(values[-1]):
            yield Report(
                f"{key} is {values[-1]} at epoch {len(values)}",
                fix="Lower the learning rate, look for NaN/Inf in the data (K306), or clip gradients (clipnorm=1.0).",
                details={"metric": key, "epoch": len(values)},
            )
            return
