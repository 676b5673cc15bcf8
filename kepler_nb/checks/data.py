"""K3xx: the training data; this module judges the values of the input features (K303-K307).

Every data check reads the statistics of :mod:`.datastats`, computed in one
pass over the data the first time a check asks, and shared by all of them.
Samples compared with each other (K301, K302, K309, K310) are checked in
:mod:`.data_samples`, targets (K308, K311) in :mod:`.data_targets`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .datastats import ArrayStats, feature_names, stats_of, unusable
from .layers import SCALING_LAYERS, input_normalizer
from .registry import Report, Skip, check

if TYPE_CHECKING:
    from .context import CheckContext

TOKEN_LAYERS = ("Embedding", "IntegerLookup", "StringLookup", "CategoryEncoding", "Hashing", "TextVectorization")


def _layer_kinds(model: Any) -> set[str]:
    """Class names of every layer of ``model``, nested models included."""
    kinds: set[str] = set()
    stack = list(getattr(model, "layers", None) or [])
    while stack and len(kinds) < 10_000:
        layer = stack.pop()
        kinds.add(type(layer).__name__)
        stack.extend(getattr(layer, "layers", None) or [])
    return kinds


def _token_ids(ctx: CheckContext, stats: ArrayStats) -> bool:
    """Integer inputs that an Embedding or lookup layer reads as ids, not as quantities."""
    return np.issubdtype(stats.dtype, np.integer) and bool(_layer_kinds(ctx.model) & set(TOKEN_LAYERS))


def _scaled_in_model(ctx: CheckContext) -> str | None:
    """The layer that normalises the inputs inside the model, if any.

    A Rescaling or Normalization layer anywhere counts; any normalisation
    layer (BatchNormalization, LayerNormalization, ...) counts when it comes
    before the first layer with weights, nested models opened.
    """
    found = _layer_kinds(ctx.model) & set(SCALING_LAYERS)
    return sorted(found)[0] if found else input_normalizer(ctx.model)


# -- K303 ----------------------------------------------------------------------

NORMALIZED_MAX_SCALE = 3.0  # a feature's root mean square (typical magnitude) above this is unscaled
NORMALIZED_MAX_OFFSET_IN_STD = 3.0  # ... or its mean is this many stds from 0,
NORMALIZED_MIN_OFFSET = 1.0  # and more than this far from 0
NORMALIZED_FLAGGED_SHARE = 0.10  # report when more than this share of varying features is flagged
NORMALIZED_MAX_SCALE_ANY = 100.0  # or when any single feature's root mean square exceeds this
NORMALIZED_TINY = 0.01  # features whose values never exceed this in magnitude are tiny
NORMALIZED_TINY_SHARE = 0.5  # report when more than this share of varying features is tiny


@check(
    "K303",
    "data-not-normalized",
    stage="data",
    severity="warning",
    thresholds={
        "max_scale": NORMALIZED_MAX_SCALE,
        "max_offset_in_std": NORMALIZED_MAX_OFFSET_IN_STD,
        "min_offset": NORMALIZED_MIN_OFFSET,
        "flagged_share": NORMALIZED_FLAGGED_SHARE,
        "max_scale_any": NORMALIZED_MAX_SCALE_ANY,
        "tiny": NORMALIZED_TINY,
        "tiny_share": NORMALIZED_TINY_SHARE,
    },
)
def data_not_normalized(ctx: CheckContext):
    """Training data not normalised.

    ## What it does
    Computes every input feature's mean and standard deviation over all
    training rows. A feature is unscaled when its typical magnitude (root
    mean square, sqrt(mean² + std²)) is above 3, or when its mean is more
    than 1 from zero and more than 3 standard deviations from it. Reports
    when more than 10% of the varying features are unscaled, when any one
    feature's typical magnitude is above 100, or when most features never
    exceed 0.01 (scaled twice). Standardized features (even with outliers
    many stds out), and features scaled into [0, 1] or [-1, 1], pass.
    Inputs read by an Embedding, models with a Rescaling or Normalization
    layer, and models whose first layers (before any layer with weights, at
    any depth) include a BatchNormalization, LayerNormalization or other
    normalisation layer, are left alone: the model normalises its inputs.

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
    stats = stats_of(ctx)
    layer = _scaled_in_model(ctx)
    if layer:
        raise Skip(f"the model scales its inputs itself (a {layer} layer)")
    judged = False
    for name, s in stats.inputs.items():
        if _token_ids(ctx, s):
            continue
        varying = s.varying
        m = int(varying.sum())
        if not m:
            continue
        judged = True
        mean, std = s.mean[varying], s.std[varying]
        rms = np.sqrt(mean**2 + std**2)
        unscaled = (rms > NORMALIZED_MAX_SCALE) | (
            (np.abs(mean) > NORMALIZED_MIN_OFFSET) & (np.abs(mean) > NORMALIZED_MAX_OFFSET_IN_STD * std)
        )
        magnitude = np.maximum(np.abs(s.low[varying]), np.abs(s.high[varying]))
        tiny = magnitude < NORMALIZED_TINY
        lo, hi = np.nanmin(s.low), np.nanmax(s.high)
        where = stats.prefix(name)
        k = int(unscaled.sum())
        if k > NORMALIZED_FLAGGED_SHARE * m or rms.max() > NORMALIZED_MAX_SCALE_ANY:
            worst = int(np.argmax(rms))
            yield Report(
                f"{where}{k} of {m} varying features are far from unit scale: root mean square up to "
                f"{rms[worst]:.3g}, mean up to {mean[np.argmax(np.abs(mean))]:.3g} (values {lo:.4g}..{hi:.4g})"
                f"{stats.scope()}",
                fix="Scale to [0, 1] (x / x.max()) or standardize (keras.layers.Normalization, sklearn "
                "StandardScaler) using training statistics.",
                details={"input": name, "features": m, "unscaled": k, "max_rms": float(rms[worst])},
            )
        elif tiny.sum() > NORMALIZED_TINY_SHARE * m:
            yield Report(
                f"{where}{int(tiny.sum())} of {m} varying features are tiny: they never exceed "
                f"{magnitude.max() if tiny.all() else NORMALIZED_TINY:.2g} in magnitude (values {lo:.3g}..{hi:.3g})"
                f" — scaled twice?{stats.scope()}",
                fix="Scale once, so that features span about [0, 1] or have unit standard deviation.",
                details={"input": name, "features": m, "tiny": int(tiny.sum())},
            )
    if not judged:
        raise Skip("no input has varying numeric features to judge")


# -- K304 / K305 -----------------------------------------------------------------


@check("K304", "integer-inputs", stage="data", severity="warning")
def integer_inputs(ctx: CheckContext):
    """Integer inputs (e.g. uint8 images not cast to float).

    ## What it does
    Flags inputs stored as integers (uint8 images, int64 counts) that go
    into layers expecting real numbers. Inputs read by an Embedding or a
    lookup layer (token ids), and models that rescale their inputs with a
    Rescaling or Normalization layer, are fine.

    ## Why is this bad?
    Integer inputs usually mean the preprocessing step was skipped: uint8
    pixels reach the network as 0..255, and integer arithmetic done before
    the cast (`x // 255`, overflow in uint8 sums) silently destroys the data.

    ## Example
    ```python
    model.fit(images_uint8, labels)
    ```

    ## Use instead
    ```python
    model.fit(images_uint8.astype("float32") / 255.0, labels)
    ```
    """
    view = ctx.readable_train()
    layer = _scaled_in_model(ctx)
    tokens = bool(_layer_kinds(ctx.model) & set(TOKEN_LAYERS))
    for name, x in view.inputs.items():
        dtype = getattr(x, "dtype", None)
        if unusable(x) or not np.issubdtype(dtype, np.integer) or tokens or layer:
            continue
        where = "" if len(view.inputs) == 1 else f"input '{name}' "
        stats = stats_of(ctx)
        s = stats.inputs.get(name) if name not in stats.skipped_inputs else None
        values = f" (values {np.nanmin(s.low):.0f}..{np.nanmax(s.high):.0f})" if s is not None else ""
        binary = s is not None and np.nanmin(s.low) >= 0 and np.nanmax(s.high) <= 1
        yield Report(
            f"{where or 'inputs '}{'are' if not where else 'is'} {dtype}{values}, shape {tuple(x.shape)}: "
            "integers were not cast to float32 and scaled before training",
            fix="Cast once and scale: x.astype('float32') / 255.0 for images (or add a Rescaling layer).",
            severity="info" if binary else None,
            details={"input": name, "dtype": str(dtype)},
        )


@check("K305", "float64-inputs", stage="data", severity="info")
def float64_inputs(ctx: CheckContext):
    """float64 inputs (cast to float32).

    ## What it does
    Flags float64 inputs when the model computes in float32 (Keras'
    default): pandas frames and NumPy arithmetic produce float64 unless
    told otherwise.

    ## Why is this bad?
    Keras casts every batch to float32 anyway: the float64 copy costs twice
    the memory and a conversion per batch, and buys no precision.

    ## Example
    ```python
    x = df.to_numpy()  # float64
    ```

    ## Use instead
    ```python
    x = df.to_numpy(dtype="float32")
    ```
    """
    view = ctx.readable_train()
    compute = _compute_dtype(ctx.model)
    if compute == "float64":
        return
    for name, x in view.inputs.items():
        if unusable(x) or x.dtype != np.float64:
            continue
        where = "inputs are" if len(view.inputs) == 1 else f"input '{name}' is"
        size = _nbytes(x)
        shown = f"{size / 2**20:,.0f} MB" if size >= 2**20 else f"{size / 2**10:,.0f} KB"
        yield Report(
            f"{where} float64 ({shown}, shape {tuple(x.shape)}) while the model computes in "
            f"{compute}: every batch is converted",
            fix="Cast once: x.astype('float32') (or df.to_numpy(dtype='float32')).",
            details={"input": name, "megabytes": size / 2**20},
        )


def _compute_dtype(model: Any) -> str:
    policy = getattr(model, "dtype_policy", None)
    name = getattr(policy, "compute_dtype", None)
    if name:
        return str(name)
    try:
        import keras

        return keras.config.floatx()
    except Exception:  # noqa: BLE001
        return "float32"


def _nbytes(x: Any) -> int:
    if hasattr(x, "nnz"):
        return int(x.data.nbytes + x.indices.nbytes + x.indptr.nbytes) if hasattr(x, "indptr") else 0
    return int(x.nbytes)


# -- K306 ----------------------------------------------------------------------


@check("K306", "non-finite-values", stage="data", severity="error")
def non_finite_values(ctx: CheckContext):
    """NaN or Inf in inputs or targets.

    ## What it does
    Counts NaN and ±Inf values in every training and validation input and
    target, and says in which features and samples they are.

    ## Why is this bad?
    One NaN in a batch makes that batch's loss NaN; the gradient carries it
    into every weight, and the model is lost after the first step.

    ## Example
    ```python
    x = df[["age", "income"]].to_numpy()  # income has missing values
    ```

    ## Use instead
    ```python
    x = df[["age", "income"]].fillna(df.median()).to_numpy()  # or drop the rows
    ```
    """
    parts: list[str] = []
    details: dict[str, Any] = {}
    judged = False
    why: list[str] = []
    sets = [("", stats_of(ctx))]
    if ctx.fit("validation_data") is not None and ctx.validation is not None:
        sets.append(("validation ", stats_of(ctx, "validation")))
    scope = sets[0][1].scope()
    for prefix, stats in sets:
        for kind in ("inputs", "targets"):
            try:
                arrays, unusable = stats.parts(kind)
            except Skip as reason:
                why.append(f"{prefix}{reason}")
                break
            judged = judged or bool(arrays)
            why += [f"{prefix}{kind[:-1]} '{k}' can't be inspected: {v}" for k, v in unusable.items()]
            for name, s in arrays.items():
                nan, inf = int(s.nan.sum()), int(s.inf.sum())
                if not (nan or inf):
                    continue
                rows = np.flatnonzero(~np.isfinite(s.hashes))
                counts = " and ".join(p for p in (f"{nan:,} NaN" * bool(nan), f"{inf:,} Inf" * bool(inf)) if p)
                where = f"{prefix}{kind[:-1]} '{name}'" if len(arrays) > 1 else f"{prefix}{kind}"
                features = np.flatnonzero(s.nan + s.inf)
                inside = ""
                if s.features > 1:
                    shown = ", ".join(s.position(f) for f in features[:5]) + (", ..." if len(features) > 5 else "")
                    inside = (
                        f" in feature {shown}" if len(features) == 1 else f" in {len(features):,} features ({shown})"
                    )
                parts.append(
                    f"{where}: {counts}{inside}, in {len(rows):,} of {s.n:,} samples (first: sample {rows[0]:,})"
                    if len(rows)
                    else f"{where}: {counts}{inside}"
                )
                details[f"{prefix}{kind}:{name}"] = {"nan": nan, "inf": inf, "samples": int(len(rows))}
    if not parts and why:
        raise Skip("; ".join(why))
    if not judged:
        raise Skip("neither inputs nor targets were given")
    if parts:
        yield Report(
            "; ".join(parts) + scope,
            fix="Impute or drop the missing values (pandas fillna/dropna, sklearn SimpleImputer) and check "
            "divisions and logs in preprocessing.",
            details=details,
        )


# -- K307 ----------------------------------------------------------------------


@check("K307", "constant-features", stage="data", severity="info")
def constant_features(ctx: CheckContext):
    """Constant features.

    ## What it does
    Finds input features that take the same value in every training
    sample (ignoring NaN).

    ## Why is this bad?
    A constant feature carries no information; it only adds weights. When
    the data is standardized its std is 0, and dividing by it gives NaN.
    A column that is constant by mistake (a join that failed, a sensor that
    was off) often means the data is not what you think.

    ## Example
    ```python
    x = np.c_[features, np.ones(len(features))]  # a bias column: Dense has one already
    ```

    ## Use instead
    ```python
    x = features[:, features.std(axis=0) > 0]
    ```
    """
    stats = stats_of(ctx)
    if stats.n < 2:
        raise Skip("a single sample: every feature is constant")
    for name, s in stats.inputs.items():
        constant = np.flatnonzero(s.low == s.high)
        if not len(constant):
            continue
        names = feature_names(ctx, name)
        k = len(constant)
        shown = ", ".join(names[i] if names else s.position(i) for i in constant[:3]) + (", ..." if k > 3 else "")
        values = np.unique(s.low[constant])
        value = f"always {values[0]:g}" if len(values) == 1 else "each always the same value"
        what = "position" if len(s.shape) > 2 else "feature"
        where = stats.prefix(name)
        everything = k == s.features
        yield Report(
            f"{where}{k:,} of {s.features:,} features {'is' if k == 1 else 'are'} constant: "
            f"{what}{'s' if k > 1 else ''} {shown} ({value})"
            + (": the inputs carry no information" if everything else "")
            + stats.scope(),
            fix="Drop constant features (x[:, x.std(axis=0) > 0]), or find out why they don't vary.",
            severity="warning" if everything else None,
            details={"input": name, "constant": int(len(constant)), "features": s.features},
        )
