"""K7xx before the fit: scikit-learn estimators and the data they are given (K701, K702, K706, K707, K710).

These checks read the estimator's parameters (``get_params``) and the data,
never fit or change the estimator. Which estimators care about the scale of
their features is a list of class names (beside K701), so third-party
estimators are judged only when they subclass one of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..fit import estimator as est
from .registry import Report, Skip, check

if TYPE_CHECKING:
    from .context import CheckContext

# Estimators whose result depends on the scale of the features: distances, kernels, penalties, gradients.
SCALE_SENSITIVE = frozenset(
    {
        "SVC", "SVR", "NuSVC", "NuSVR", "LinearSVC", "LinearSVR", "OneClassSVM",
        "KNeighborsClassifier", "KNeighborsRegressor", "RadiusNeighborsClassifier", "RadiusNeighborsRegressor",
        "NearestNeighbors", "NearestCentroid", "LocalOutlierFactor",
        "LogisticRegression", "LogisticRegressionCV", "Ridge", "RidgeCV", "RidgeClassifier", "RidgeClassifierCV",
        "Lasso", "LassoCV", "ElasticNet", "ElasticNetCV", "LassoLars", "Lars", "SGDClassifier", "SGDRegressor",
        "Perceptron", "PassiveAggressiveClassifier", "PassiveAggressiveRegressor", "HuberRegressor",
        "KernelRidge", "GaussianProcessClassifier", "GaussianProcessRegressor",
        "MLPClassifier", "MLPRegressor", "PCA", "KernelPCA", "KMeans", "MiniBatchKMeans", "DBSCAN",
        "SpectralClustering", "AgglomerativeClustering", "MeanShift",
    }
)  # fmt: skip
# Steps after which every feature is on a comparable scale.
SCALERS = frozenset(
    {
        "StandardScaler", "MinMaxScaler", "MaxAbsScaler", "RobustScaler", "Normalizer", "QuantileTransformer",
        "PowerTransformer", "OneHotEncoder", "KBinsDiscretizer", "SplineTransformer", "TargetEncoder",
    }
)  # fmt: skip
# Steps that keep each feature's values (so their scale): the data stay as raw as they came.
KEEPS_SCALE = frozenset(
    {"SimpleImputer", "IterativeImputer", "KNNImputer", "MissingIndicator", "VarianceThreshold", "SelectKBest",
     "SelectPercentile", "SelectFromModel", "RFE", "RFECV", "SequentialFeatureSelector", "SelectFpr", "SelectFdr",
     "SelectFwe", "GenericUnivariateSelect"}
)  # fmt: skip
UNSCALED_RMS = 3.0  # a feature whose root mean square is above this is unscaled (K303's rule)
UNSCALED_OFFSET_IN_STD = 3.0  # ... or whose mean is this many stds from 0
UNSCALED_MIN_OFFSET = 1.0  # and more than this far from it
UNSCALED_SHARE = 0.10  # report when more than this share of the varying features is unscaled
UNSCALED_RMS_ANY = 100.0  # or when any one feature's root mean square is above this
STATS_ROWS = 20_000  # feature statistics are computed on at most this many rows


def estimator_of(ctx: CheckContext) -> Any:
    """The estimator being fitted, or Skip for a Keras model."""
    if not est.is_estimator(ctx.model):
        raise Skip("the model is not a scikit-learn estimator")
    return ctx.model


def _mro_names(obj: Any) -> set[str]:
    return {c.__name__ for c in type(obj).__mro__}


def is_scale_sensitive(estimator: Any) -> bool:
    names = _mro_names(estimator)
    if not names & SCALE_SENSITIVE:
        return False
    params = est.flat_params(estimator)
    # An unpenalised logistic regression is invariant to the scale of the features.
    return not ("LogisticRegression" in names and "penalty" in params and params["penalty"] is None)


# -- K701 ------------------------------------------------------------------------------------


def _raw_matrix(x: Any, columns: Any = None) -> np.ndarray | None:
    """The numeric columns of ``x`` (array or DataFrame; a ColumnTransformer's column spec) as float64 rows."""
    try:
        if columns is not None:
            if callable(columns):
                columns = columns(x)
            if hasattr(x, "iloc"):
                is_names = isinstance(columns, str) or (
                    isinstance(columns, (list, tuple, np.ndarray))
                    and len(columns)
                    and isinstance(list(columns)[0], str)
                )
                x = x[columns] if is_names else x.iloc[:, columns]
            else:
                x = np.asarray(x)[:, columns]
        if hasattr(x, "select_dtypes"):
            x = x.select_dtypes(include=["number", "bool"]).to_numpy(dtype=np.float64, na_value=np.nan)
        x = np.asarray(x)
        if hasattr(x, "tocsr") or x.dtype.kind not in "biuf" or x.ndim == 0:
            return None
        x = x.reshape(len(x), -1) if x.ndim != 2 else x
        step = max(1, len(x) // STATS_ROWS)
        return np.asarray(x[::step], dtype=np.float64)
    except Exception:  # noqa: BLE001 - an unreadable column spec: can't judge
        return None


def unscaled_features(x: np.ndarray) -> tuple[list[int], np.ndarray]:
    """Indexes of unscaled varying features, and every feature's root mean square."""
    with np.errstate(all="ignore"):
        mean, std = np.nanmean(x, axis=0), np.nanstd(x, axis=0)
    mean, std = np.nan_to_num(mean), np.nan_to_num(std)
    rms = np.sqrt(mean**2 + std**2)
    varying = std > 0
    flagged = varying & (
        (rms > UNSCALED_RMS) | ((np.abs(mean) > UNSCALED_MIN_OFFSET) & (np.abs(mean) > UNSCALED_OFFSET_IN_STD * std))
    )
    return [int(i) for i in np.flatnonzero(flagged)], rms


def _judge(x: np.ndarray | None) -> dict[str, Any] | None:
    if x is None or x.size == 0:
        return None
    flagged, rms = unscaled_features(x)
    varying = int((np.nan_to_num(np.nanstd(x, axis=0)) > 0).sum())
    if not flagged or not (len(flagged) > UNSCALED_SHARE * max(varying, 1) or rms.max() > UNSCALED_RMS_ANY):
        return None
    return {"unscaled": len(flagged), "varying": varying, "largest_rms": float(np.nanmax(rms)), "flagged": flagged}


class _Raw:
    """Data reaching a step unscaled: the whole input, or some columns of it (one branch of a ColumnTransformer)."""

    def __init__(self, label: str, columns: Any = None) -> None:
        self.label, self.columns = label, columns


def _branch_state(transformer: Any) -> str:
    """ "scaled", "raw" or "unknown": what one transformer (or a pipeline of them) does to the scale."""
    if transformer == "passthrough":
        return "raw"
    if transformer is None or transformer == "drop":
        return "scaled"  # nothing reaches the estimator
    state = "raw"
    steps = getattr(transformer, "steps", None)
    for _name, step in steps if isinstance(steps, list) else [("", transformer)]:
        names = _mro_names(step)
        if names & SCALERS:
            state = "scaled"
        elif names & KEEPS_SCALE or step in (None, "passthrough"):
            continue
        else:
            return state if state == "scaled" else "unknown"
    return state


def scale_findings(estimator: Any, x: Any) -> list[dict[str, Any]]:
    """Every scale-sensitive estimator inside ``estimator`` that receives unscaled features, with what was seen."""
    found: list[dict[str, Any]] = []

    def visit(node: Any, raw: list[_Raw] | None, path: str) -> None:
        # raw: the unscaled data reaching ``node``; None when its scale is unknown.
        if not est.is_estimator(node):
            return
        name = type(node).__name__
        if est.is_search(node):
            inner = node.get_params(deep=False).get("estimator")
            visit(inner, raw, path)
            return
        steps = getattr(node, "steps", None)
        if isinstance(steps, list):
            state = raw
            for step_name, step in steps:
                if step in (None, "passthrough"):
                    continue
                visit(step, state, f"{path}{step_name} > ")
                state = _after(step, state)
            return
        if raw and is_scale_sensitive(node):
            for part in raw:
                seen = _judge(_raw_matrix(x, part.columns))
                if seen:
                    found.append({"estimator": name, "where": path, "branch": part.label, **seen})
        for _child_name, child in est.children(node):
            if name != "ColumnTransformer":
                visit(child, raw, f"{path}{name}: ")

    visit(estimator, [_Raw("input")], "")
    return found


def _after(step: Any, raw: list[_Raw] | None) -> list[_Raw] | None:
    if raw is None:
        return None
    names = _mro_names(step)
    if type(step).__name__ == "ColumnTransformer":
        if raw and raw[0].columns is not None:
            return None  # a ColumnTransformer on some columns of a ColumnTransformer: not followed
        branches = []
        for label, transformer, columns in step.transformers:
            state = _branch_state(transformer)
            if state == "unknown":
                return None
            if state == "raw":
                branches.append(_Raw(f"branch '{label}'", columns))
        if step.remainder == "passthrough":
            return None  # its columns are only known once fitted
        return branches
    if names & SCALERS:
        return []
    if names & KEEPS_SCALE:
        return raw
    if names & {"PCA", "TruncatedSVD"}:
        return []  # judged as an estimator itself: reported there, not again downstream
    return None


@check(
    "K701",
    "unscaled-features-into-scale-sensitive-estimator",
    stage="model",
    severity="warning",
    thresholds={
        "max_rms": UNSCALED_RMS,
        "max_offset_in_std": UNSCALED_OFFSET_IN_STD,
        "min_offset": UNSCALED_MIN_OFFSET,
        "unscaled_share": UNSCALED_SHARE,
        "max_rms_any": UNSCALED_RMS_ANY,
    },
)
def unscaled_features_into_scale_sensitive(ctx: CheckContext):
    """Unscaled features into a scale-sensitive estimator.

    ## What it does
    Follows the data through the estimator (a pipeline's steps, each branch
    of a `ColumnTransformer`, the estimator a search tunes) and, where it
    reaches an estimator that depends on the scale of its features (SVMs,
    k-NN, penalised linear models, MLPs, PCA, k-means...) without a scaler on
    the way, looks at those features. A feature is unscaled when its typical
    magnitude (root mean square) is above 3, or its mean is more than 1 from
    zero and 3 standard deviations from it; reports when more than 10% of the
    varying features are, or any one is above 100. Trees, forests and
    boosting never are reported: they split on thresholds, whatever the scale.

    ## Why is this bad?
    An RBF kernel, a k-NN distance or an L2 penalty sees a feature measured
    in thousands as a thousand times more important than one measured in
    units: the model effectively ignores the small features, and gradient
    solvers converge slowly or not at all. The default `C` and `gamma` assume
    standardised features.

    ## Example
    ```python
    SVC().fit(X_train, y_train)  # breast cancer: 'mean area' ~ 650, 'smoothness' ~ 0.1
    ```

    ## Use instead
    ```python
    make_pipeline(StandardScaler(), SVC()).fit(X_train, y_train)
    ```
    """
    estimator = estimator_of(ctx)
    x = ctx.fit("x")
    if x is None:
        raise Skip("no training inputs were given")
    for seen in scale_findings(estimator, x):
        where = f" ({seen['branch']} of a ColumnTransformer)" if seen["branch"] != "input" else ""
        inside = f" in {seen['where'].rstrip(' >:')}" if seen["where"] else ""
        yield Report(
            f"{seen['unscaled']} of {seen['varying']} features reach {seen['estimator']}{inside} unscaled{where} "
            f"(largest typical magnitude {seen['largest_rms']:.3g}); {seen['estimator']} depends on feature scale",
            fix=f"Put a StandardScaler before {seen['estimator']}: make_pipeline(StandardScaler(), "
            f"{seen['estimator']}(...)){' (in that branch)' if where else ''}.",
            details={k: v for k, v in seen.items() if k != "flagged"} | {"features": seen["flagged"][:20]},
        )


# -- K702 ------------------------------------------------------------------------------------

IMBALANCE_RATIO = 10.0  # largest class / smallest class above this is severe (K308's threshold)


def class_counts(y: Any) -> dict[Any, int] | None:
    y = np.asarray(y)
    if y.ndim != 1 or not len(y) or y.dtype.kind == "f" and not np.all(np.isfinite(y) & (y == np.round(y))):
        return None
    values, counts = np.unique(y, return_counts=True)
    if len(values) > max(100, len(y) // 2):
        return None
    return {v.item() if hasattr(v, "item") else v: int(c) for v, c in zip(values, counts)}


@check(
    "K702",
    "imbalance-without-class-weight",
    stage="model",
    severity="warning",
    thresholds={"max_ratio": IMBALANCE_RATIO},
)
def imbalance_without_class_weight(ctx: CheckContext):
    """Severe class imbalance without `class_weight` (or sample weights).

    ## What it does
    For a classifier, counts the training labels; when the largest class has
    more than 10 times the samples of the smallest, and neither the
    classifier's `class_weight` nor `sample_weight` in `fit` compensates,
    reports it.

    ## Why is this bad?
    A classifier minimising the average loss on 95% negatives can score 95%
    accuracy by never predicting the positive class. Weighting the classes
    makes each class count as much as the others.

    ## Example
    ```python
    LogisticRegression().fit(X, y)  # 950 negatives, 50 positives
    ```

    ## Use instead
    ```python
    LogisticRegression(class_weight="balanced").fit(X, y)
    ```
    """
    estimator = estimator_of(ctx)
    if est.kind(estimator) != "classifier":
        return  # imbalance weighting is for classifiers
    y = ctx.fit("y")
    if y is None:
        raise Skip("no targets were given")
    counts = class_counts(y)
    if not counts or len(counts) < 2:
        raise Skip("the targets are not class labels of two classes or more")
    if ctx.fit("sample_weight") is not None:
        return
    weights = {k: v for k, v in est.flat_params(estimator).items() if k.rsplit("__", 1)[-1] == "class_weight"}
    if any(v is not None for v in weights.values()):
        return
    big, small = max(counts, key=counts.get), min(counts, key=counts.get)
    ratio = counts[big] / counts[small]
    if ratio > IMBALANCE_RATIO:
        name = type(est.final_estimator(estimator)).__name__
        fix = (
            f"Pass class_weight='balanced' to {name}."
            if weights
            else "Pass sample_weight=compute_sample_weight('balanced', y) to fit (sklearn.utils.class_weight)."
        )
        yield Report(
            f"class {big!r} has {counts[big]} samples, class {small!r} only {counts[small]} ({ratio:.0f}x), "
            f"and {name} weighs every sample alike",
            fix=fix,
            details={"counts": {str(k): v for k, v in counts.items()}, "ratio": ratio},
        )


# -- K706 ------------------------------------------------------------------------------------

ORDERED_SHARE = 0.95  # labels are ordered when at least this share of neighbours agree in order


def label_order(y: Any) -> str | None:
    """ "sorted" or "blocks" when the labels come in order, else None."""
    y = np.asarray(y)
    if y.ndim != 1 or len(y) < 10:
        return None
    if y.dtype.kind in "biuf":
        steps = np.diff(y.astype(np.float64))
        rising = (steps >= 0).mean() >= ORDERED_SHARE and (steps > 0).any()
        falling = (steps <= 0).mean() >= ORDERED_SHARE and (steps < 0).any()
        if (rising or falling) and (steps == 0).mean() < 0.5:
            return "sorted"
    counts = class_counts(y)
    if counts and 1 < len(counts) <= 50:
        changes = int((y[1:] != y[:-1]).sum())
        if changes <= 2 * len(counts):
            return "blocks"
    return None


def _cv_splitter(estimator: Any) -> tuple[str, Any] | None:
    params = est.flat_params(estimator)
    if "cv" not in params:
        return None
    return "cv", estimator.get_params(deep=False).get("cv")


@check("K706", "cross-validation-on-ordered-labels", stage="setup", severity="warning")
def cross_validation_on_ordered_labels(ctx: CheckContext):
    """Cross-validation on label-ordered data without shuffling.

    ## What it does
    For a search object or an estimator with a `cv` parameter, reports when
    the targets are ordered (sorted, or in blocks of one class) and the
    folds are cut in order: `KFold` without `shuffle=True` (the default for
    regressors and for `cv=5` on a non-classifier), or an explicit unshuffled
    `KFold` for a classifier. (`StratifiedKFold`, the default for classifiers,
    takes every class into every fold.)

    ## Why is this bad?
    Unshuffled folds of sorted data hold out one end of the target range, or
    whole classes: every fold is scored on targets the model never saw, the
    scores are pessimistic and noisy, and the search picks its parameters on
    that noise.

    ## Example
    ```python
    GridSearchCV(Ridge(), {"alpha": [0.1, 1, 10]}, cv=5).fit(X_sorted_by_y, y_sorted)
    ```

    ## Use instead
    ```python
    GridSearchCV(Ridge(), {"alpha": [0.1, 1, 10]}, cv=KFold(5, shuffle=True, random_state=0))
    ```
    """
    estimator = estimator_of(ctx)
    found = _cv_splitter(estimator)
    if found is None:
        return  # nothing cross-validated
    _key, cv = found
    y = ctx.fit("y")
    if y is None:
        raise Skip("no targets were given")
    order = label_order(y)
    if order is None:
        return
    classifier = est.kind(estimator) == "classifier"
    cv_name = type(cv).__name__
    if cv is None or isinstance(cv, int):
        unshuffled = not classifier
        shown = f"cv={cv!r} (KFold without shuffling)"
    elif cv_name in ("KFold", "GroupKFold", "TimeSeriesSplit"):
        unshuffled = cv_name == "KFold" and not getattr(cv, "shuffle", False)
        shown = f"{cv_name}(shuffle=False)"
    else:
        return
    if unshuffled:
        what = "sorted by value" if order == "sorted" else "grouped by class"
        yield Report(
            f"the targets are {what} and {type(estimator).__name__} cuts its folds in order with {shown}: "
            "each fold is scored on targets the others never trained on",
            fix="Pass cv=KFold(5, shuffle=True, random_state=0) (StratifiedKFold(shuffle=True) for classifiers).",
            details={"order": order, "cv": shown},
        )


# -- K707 ------------------------------------------------------------------------------------

LEAK_AGREEMENT = 0.99  # a feature predicts the target almost perfectly when neighbours along it agree this often
LEAK_CORRELATION = 0.995  # regression: |Pearson correlation| of one feature with the target
LEAK_ROWS = 2000
LEAK_FEATURES = 200


def single_feature_leaks(x: np.ndarray, y: np.ndarray, classes: bool) -> list[tuple[int, float]]:
    """Features that alone predict ``y`` almost perfectly, with the agreement (or correlation) seen."""
    x = x[:, :LEAK_FEATURES]
    usable = np.isfinite(x).all(axis=0) & (x.std(axis=0) > 0)
    if not usable.any():
        return []
    columns = np.flatnonzero(usable)
    x = x[:, columns]
    if classes:
        _values, codes = np.unique(y, return_inverse=True)
        shares = np.bincount(codes) / len(codes)
        if (shares**2).sum() > 0.9:
            return []  # one class dominates: agreeing neighbours mean nothing
        order = np.argsort(x, axis=0, kind="stable")  # every feature at once
        labels = codes[order]
        agreement = (labels[1:] == labels[:-1]).mean(axis=0)
        changes = np.count_nonzero(np.diff(np.take_along_axis(x, order, axis=0), axis=0), axis=0)
        hits = np.flatnonzero((agreement >= LEAK_AGREEMENT) & (changes >= len(shares) - 1))
        return [(int(columns[j]), float(agreement[j])) for j in hits]
    with np.errstate(all="ignore"):
        centred = (x - x.mean(axis=0)) / x.std(axis=0)
        target = (y - y.mean()) / y.std()
        r = centred.T @ target / len(y)
    hits = np.flatnonzero(np.isfinite(r) & (np.abs(r) >= LEAK_CORRELATION))
    return [(int(columns[j]), float(r[j])) for j in hits]


@check(
    "K707",
    "single-feature-predicts-target",
    stage="data",
    severity="warning",
    thresholds={"agreement": LEAK_AGREEMENT, "correlation": LEAK_CORRELATION, "rows": LEAK_ROWS},
)
def single_feature_predicts_target(ctx: CheckContext):
    """One feature alone predicts the target almost perfectly (target leakage?).

    ## What it does
    For each feature (the first 200, on at most 2,000 rows), sorts the rows by it: for
    class labels, reports when neighbouring rows share their label 99% of
    the time or more; for a continuous target, when the feature's
    correlation with it is 0.995 or more. Needs two features or more.

    ## Why is this bad?
    A feature that alone gives the answer is usually the answer in disguise:
    an id assigned after sorting by class, a column computed from the
    target, a timestamp of the outcome. The model scores perfectly here and
    fails where that column is not known in advance.

    ## Example
    ```python
    df["churned_at_month"] = ...  # filled only for customers who churned
    model.fit(df[features + ["churned_at_month"]], df["churned"])
    ```

    ## Use instead
    ```python
    model.fit(df[features], df["churned"])  # only what is known at prediction time
    ```
    """
    estimator = estimator_of(ctx)
    x, y = _raw_matrix(ctx.fit("x")), ctx.fit("y")
    if x is None or y is None:
        raise Skip("the inputs or targets are missing or not numeric")
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != len(np.asarray(ctx.fit("x"))):
        raise Skip("only one target column is compared with the features")
    if x.shape[1] < 2:
        return
    step = max(1, len(x) // LEAK_ROWS)
    x, y = x[::step], y[::step]
    classes = est.kind(estimator) == "classifier" or y.dtype.kind not in "f"
    if not classes and y.dtype.kind not in "biuf":
        raise Skip("the target is not numeric")
    names = getattr(ctx.fit("x"), "columns", None)
    for j, value in single_feature_leaks(x, y.astype(np.float64) if not classes else y, classes)[:3]:
        label = repr(str(names[j])) if names is not None and j < len(names) else f"feature {j}"
        seen = (
            f"rows sorted by it share their label {value:.1%} of the time"
            if classes
            else f"its correlation with the target is {value:.4f}"
        )
        yield Report(
            f"{label} alone predicts the target almost perfectly: {seen}",
            fix=f"Check how {label} was made; drop it if it is known only after the outcome.",
            details={"feature": j, "value": value},
        )


# -- K710 ------------------------------------------------------------------------------------

NOT_HYPERPARAMETERS = est.IGNORED_PARAMS | {"random_state"}


@check("K710", "all-hyperparameters-default", stage="model", severity="info")
def all_hyperparameters_default(ctx: CheckContext):
    """Every hyperparameter at its default.

    ## What it does
    Reports an estimator (a pipeline's final step) whose parameters are all
    the class's defaults (`random_state`, `n_jobs` and `verbose` aside), when
    it is not a search object and not a `Dummy` baseline.

    ## Why is this bad?
    Nothing wrong in a first baseline; but defaults are rarely best for the
    data at hand (`C`, `alpha`, `max_depth`, `n_neighbors`...), and a run
    recorded with every default says nothing was tried. This is information,
    a reminder to tune.

    ## Example
    ```python
    RandomForestClassifier().fit(X, y)
    ```

    ## Use instead
    ```python
    GridSearchCV(RandomForestClassifier(), {"max_depth": [4, 8, None], "n_estimators": [100, 300]})
    ```
    """
    estimator = estimator_of(ctx)
    if est.is_search(estimator):
        return
    final = est.final_estimator(estimator)
    name = type(final).__name__
    if name.startswith("Dummy") or not est.default_params(final):
        return
    changed = {k: v for k, v in est.changed_params(final).items() if k not in NOT_HYPERPARAMETERS}
    if not changed:
        yield Report(
            f"{name} runs with every hyperparameter at its default",
            fix=f"Tune {name}'s main parameters with GridSearchCV (or record this run as the baseline it is).",
            details={"estimator": name},
        )
