"""K1xx: the training setup (fit and compile arguments)."""

from __future__ import annotations

from .context import CheckContext
from .registry import Report, check


@check("K104", "no-validation-data", stage="setup", severity="info")
def no_validation_data(ctx: CheckContext):
    """No validation data, so overfitting cannot be seen.

    ## What it does
    Notices a fit with neither `validation_data` nor `validation_split`.

    ## Why is this bad?
    Without a held-out set, the training loss is the only curve: it keeps
    falling while the model memorises, and nothing shows when to stop.

    ## Example
    ```python
    model.fit(x, y, epochs=20)
    ```

    ## Use instead
    ```python
    model.fit(x, y, epochs=20, validation_split=0.2)  # after shuffling x, y
    ```
    """
    if ctx.fit("validation_data") is None and not ctx.fit("validation_split"):
        yield Report(
            "no validation data (neither validation_data nor validation_split): overfitting will not show",
            fix="Pass validation_data=(x_val, y_val), or validation_split=0.2 on shuffled data.",
        )
