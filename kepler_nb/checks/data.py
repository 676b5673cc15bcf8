"""K3xx: the training data."""

from __future__ import annotations

import numpy as np

from .context import CheckContext
from .registry import Report, check

NORMALIZED_MAX_ABS_MEAN = 3.0  # in units of the feature's std
NORMALIZED_MAX_RANGE = 10.0  # a feature whose values span more than this is not scaled


@check(
    "K303",
    "data-not-normalized",
    stage="data",
    severity="warning",
    thresholds={"max_abs_mean_in_std": NORMALIZED_MAX_ABS_MEAN, "max_range": NORMALIZED_MAX_RANGE},
)
def data_not_normalized(ctx: CheckContext):
    """Training data not normalised.

    ## What it does
    Looks at every input feature's mean, spread and range; standardized
    features, and features scaled into [0, 1] or [-1, 1], pass.

    ## Why is this bad?
    Features far from zero, or on wildly different scales, make the loss
    surface ill-conditioned: gradient descent zig-zags, saturating
    activations stall, and the learning rate that suits one feature is wrong
    for another.

    ## Example
    ```python
    model.fit(images, labels)  # pixels 0..255
    ```

    ## Use instead
    ```python
    model.fit(images / 255.0, labels)  # or keras.layers.Normalization
    ```
    """
    x = ctx.x_rows
    lo, hi = np.nanmin(x, axis=0), np.nanmax(x, axis=0)
    mean, std = np.nanmean(x, axis=0), np.nanstd(x, axis=0)
    varying = std > 0
    if not varying.any():
        return
    off_center = np.abs(mean[varying]) > NORMALIZED_MAX_ABS_MEAN * std[varying]
    wide = (hi - lo)[varying] > NORMALIZED_MAX_RANGE
    bad = off_center | wide
    if bad.sum() > 0.1 * varying.sum():
        yield Report(
            f"training data not normalized: {bad.sum()} of {varying.sum()} varying features are off-centre "
            f"or unscaled (range {lo.min():.3g}..{hi.max():.3g}, largest |mean|/std "
            f"{np.max(np.abs(mean[varying]) / std[varying]):.3g})",
            fix="Scale to [0, 1] or standardize (keras.layers.Normalization, sklearn StandardScaler).",
            details={"features": int(varying.sum()), "flagged": int(bad.sum())},
        )
