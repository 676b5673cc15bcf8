"""K2xx: the model and its compile configuration."""

from __future__ import annotations

from .context import CheckContext
from .registry import Report, Skip, check

CATEGORICAL_LOSSES = ("categorical_crossentropy", "sparse_categorical_crossentropy")


@check("K201", "activation-loss-mismatch", stage="model", severity="error")
def activation_loss_mismatch(ctx: CheckContext):
    """Output activation does not fit the loss.

    ## What it does
    Flags a sigmoid output with categorical cross-entropy, a softmax on a
    single unit, and a linear or relu output into a probability loss
    without `from_logits=True`.

    ## Why is this bad?
    Categorical cross-entropy expects a probability distribution over the
    classes. Sigmoid outputs don't sum to one, so the loss rewards pushing
    every output up; a softmax over one unit is always 1.0 and never learns.

    ## Example
    ```python
    Dense(10, activation="sigmoid"); model.compile(loss="categorical_crossentropy")
    ```

    ## Use instead
    ```python
    Dense(10, activation="softmax"); model.compile(loss="categorical_crossentropy")
    ```
    """
    loss, activation, units = ctx.loss_name, ctx.output_activation, ctx.output_units
    if loss is None:
        raise Skip("the model has no single named loss")
    if loss in CATEGORICAL_LOSSES and activation == "sigmoid" and (units or 0) > 1:
        yield Report(
            f"output activation 'sigmoid' with loss '{loss}': the {units} outputs will not sum to 1",
            fix="Use activation='softmax' on the output layer (or binary_crossentropy for multi-label targets).",
            details={"activation": activation, "loss": loss, "units": units},
        )
    elif activation == "softmax" and units == 1:
        yield Report(
            "softmax on a single output unit always outputs 1.0: the model cannot learn",
            fix="Use Dense(1, activation='sigmoid') with binary_crossentropy, or one unit per class with softmax.",
            details={"activation": activation, "units": units},
        )
