"""K7xx after the fit: what the fitted estimator and the scores computed on it show (K703-K705, K708, K709).

These checks run once the estimator's fit has returned, and again each time
the cell computes a score on it. They read the :class:`~kepler_nb.fit.outcome.FitOutcome`
(the convergence warnings scikit-learn raised, the scores and the rows they
were computed on) and the fitted estimator's public attributes
(``cv_results_``, ``best_params_``); they never predict or refit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..fit import estimator as est
from .registry import Report, Skip, check

if TYPE_CHECKING:
    from ..fit.outcome import FitOutcome, Score
    from .context import CheckContext


@dataclass
class EvaluationContext:
    """A fitted estimator, its fit call and what followed. Read it; never change it."""

    checks: CheckContext  # the fit call and its data, as the pre-fit checks saw them
    outcome: FitOutcome

    @property
    def model(self) -> Any:
        return self.checks.model

    def estimator(self) -> Any:
        if not est.is_estimator(self.model):
            raise Skip("the model is not a scikit-learn estimator")
        return self.model

    def scores(self) -> list[Score]:
        return list(self.outcome.scores)


# -- K703 ------------------------------------------------------------------------------------


@check("K703", "estimator-did-not-converge", stage="evaluation", severity="warning")
def estimator_did_not_converge(ctx: EvaluationContext):
    """The estimator did not converge (`ConvergenceWarning`).

    ## What it does
    Catches scikit-learn's `ConvergenceWarning` during the fit (the warning
    is still shown as scikit-learn shows it) and reports it with the
    estimator's iteration budget and the usual fixes.

    ## Why is this bad?
    The solver stopped at `max_iter` before reaching its optimum: the
    coefficients are not the model's solution, they depend on the iteration
    budget and on the starting point, and a rerun with more iterations may
    give different predictions. Unscaled features are the usual cause.

    ## Example
    ```python
    LogisticRegression(max_iter=20).fit(X_unscaled, y)
    ```

    ## Use instead
    ```python
    make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    ```
    """
    estimator = ctx.estimator()
    warnings_seen = ctx.outcome.convergence_warnings
    if not warnings_seen:
        return
    params = est.flat_params(estimator)
    budgets = {k: v for k, v in params.items() if k.rsplit("__", 1)[-1] == "max_iter" and isinstance(v, int)}
    budget = ", ".join(f"{k}={v}" for k, v in budgets.items())
    first = warnings_seen[0].strip().splitlines()[0]
    many = f" ({len(warnings_seen)} warnings)" if len(warnings_seen) > 1 else ""
    yield Report(
        f"{type(estimator).__name__} did not converge{many}: {first[:200]}" + (f" [{budget}]" if budget else ""),
        fix="Scale the features (StandardScaler) and raise max_iter"
        + (f" (now {next(iter(budgets.values()))})" if budgets else "")
        + "; or loosen tol.",
        details={"warnings": warnings_seen[:5], "max_iter": budgets},
    )


# -- K704 ------------------------------------------------------------------------------------

SEEN_SHARE = 0.10  # report when at least this share of the evaluation rows was seen by the preprocessing's fit


@check(
    "K704",
    "preprocessing-fitted-on-evaluation-rows",
    stage="evaluation",
    severity="error",
    thresholds={"share": SEEN_SHARE},
)
def preprocessing_fitted_on_evaluation_rows(ctx: EvaluationContext):
    """Preprocessing fitted on rows later used for evaluation (leakage across the split).

    ## What it does
    Watches the preprocessing steps (scalers, imputers, selectors, encoders)
    fitted on their own in the cell, outside the estimator. When the
    estimator is then scored on rows that such a step was fitted on (10% of
    them or more), while the estimator itself did not train on them, it is
    reported.

    ## Why is this bad?
    A scaler fitted on all of X before `train_test_split` has seen the test
    rows: their mean and variance are in the training features. A selector
    fitted before the split has picked features with the test labels. The
    test score is optimistic, sometimes very much so (feature selection on
    noise can reach 90% "accuracy").

    ## Example
    ```python
    X_scaled = StandardScaler().fit_transform(X)
    X_train, X_test, y_train, y_test = train_test_split(X_scaled, y)
    SVC().fit(X_train, y_train).score(X_test, y_test)
    ```

    ## Use instead
    ```python
    X_train, X_test, y_train, y_test = train_test_split(X, y)
    make_pipeline(StandardScaler(), SVC()).fit(X_train, y_train).score(X_test, y_test)
    ```
    """
    ctx.estimator()
    for score in ctx.scores():
        if score.on_training_data or not score.seen_by or score.seen_share < SEEN_SHARE:
            continue
        yield Report(
            f"{score.seen_share:.0%} of the {score.n_rows} rows {score.metric} was computed on were part of the fit "
            f"of {score.seen_by}, fitted outside the model before the split",
            fix=f"Split first, then fit {score.seen_by} inside a Pipeline with the model "
            "(make_pipeline(StandardScaler(), model)), so it only sees the training rows.",
            details={"metric": score.metric, "share": score.seen_share, "transformer": score.seen_by},
        )
        return


# -- K705 ------------------------------------------------------------------------------------

EDGE_MIN_VALUES = 3  # a parameter needs at least this many numeric values for its edges to mean something


@check(
    "K705",
    "best-parameters-at-grid-edge",
    stage="evaluation",
    severity="warning",
    thresholds={"min_values": EDGE_MIN_VALUES},
)
def best_parameters_at_grid_edge(ctx: EvaluationContext):
    """Best parameters at the edge of the search grid.

    ## What it does
    After a `GridSearchCV` (or a halving or randomized search over lists),
    reports every numeric parameter with 3 values or more whose best value
    is the smallest or the largest one tried, when the best candidate beats
    every candidate with another value of it by more than its own standard
    deviation across folds (a tie says nothing about beyond the edge).

    ## Why is this bad?
    The score was still improving at the edge: the best value probably lies
    beyond it, and the search reports a local best of a range that was too
    narrow. Scores of `C` or `alpha` often keep improving over decades.

    ## Example
    ```python
    GridSearchCV(SVC(), {"C": [0.01, 0.1, 1]})  # best_params_ == {"C": 1}
    ```

    ## Use instead
    ```python
    GridSearchCV(SVC(), {"C": [0.1, 1, 10, 100]})  # extend the grid past the edge
    ```
    """
    search = ctx.estimator()
    if not est.is_search(search):
        return  # no grid
    best = getattr(search, "best_params_", None)
    if not isinstance(best, dict):
        raise Skip("the search has no best_params_ (refit=False or multi-metric without refit)")
    space = est.search_space(search)
    grids = space if isinstance(space, list) else [space or {}]
    for grid in grids:
        if not all(k in best for k in grid):
            continue
        for name, values in grid.items():
            numbers = (
                [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
                if isinstance(values, list)
                else []
            )
            if len(numbers) < EDGE_MIN_VALUES or len(numbers) != len(values):
                continue
            value = best[name]
            low, high = min(numbers), max(numbers)
            if value in (low, high) and _edge_clearly_best(search, name, value):
                side = "largest" if value == high else "smallest"
                beyond = "larger" if value == high else "smaller"
                yield Report(
                    f"best {name}={value!r} is the {side} value tried ({', '.join(repr(v) for v in sorted(numbers))})",
                    fix=f"Extend the grid of {name} to {beyond} values and search again.",
                    details={"param": name, "best": value, "values": sorted(numbers)},
                )


def _edge_clearly_best(search: Any, name: str, value: Any) -> bool:
    """The edge value's best candidate beats every candidate with another value of ``name`` by more than its std.

    A tie (scores saturate, as often on easy data) says nothing about beyond the edge.
    Of a halving search, the last round in which other values still competed is compared.
    """
    results = getattr(search, "cv_results_", None)
    if not isinstance(results, dict) or "mean_test_score" not in results:
        return True
    means = np.asarray(results["mean_test_score"], dtype=float)
    stds = np.asarray(results.get("std_test_score", np.zeros_like(means)), dtype=float)
    rounds = np.asarray(results.get("iter", np.zeros(len(means))))
    at_edge = np.array([params.get(name) == value for params in results["params"]])
    for round_ in sorted(set(rounds.tolist()), reverse=True):
        here = (rounds == round_) & np.isfinite(means)
        others = here & ~at_edge
        edge = here & at_edge
        if others.any() and edge.any():
            best = int(np.flatnonzero(edge)[np.argmax(means[edge])])
            return bool(means[best] - means[others].max() > stds[best])
    return True


# -- K708 ------------------------------------------------------------------------------------

BASELINE_MARGIN = 0.01  # a score at most this much better than the trivial model's is no better


@check(
    "K708", "no-better-than-baseline", stage="evaluation", severity="warning", thresholds={"margin": BASELINE_MARGIN}
)
def no_better_than_baseline(ctx: EvaluationContext):
    """No better than a trivial baseline (`DummyClassifier`/`DummyRegressor`).

    ## What it does
    Compares every score computed on data the estimator did not train on
    with what a trivial model scores on the same rows: the majority class's
    share for accuracy, 0 for R², 1/classes for balanced accuracy, 0.5 for
    ROC AUC. Reports a score within 0.01 of it (or below).

    ## Why is this bad?
    A model no better than predicting the majority class has learned nothing
    usable; on imbalanced data a high accuracy can hide exactly that (95%
    accuracy with 95% negatives).

    ## Example
    ```python
    SVC(gamma=100).fit(X_train, y_train).score(X_test, y_test)  # 0.62; 62% of y_test is class 0
    ```

    ## Use instead
    ```python
    make_pipeline(StandardScaler(), SVC()).fit(X_train, y_train)  # compare with DummyClassifier first
    ```
    """
    ctx.estimator()
    scores = [s for s in ctx.scores() if s.baseline is not None and not s.on_training_data]
    if not scores:
        raise Skip("no score on held-out data with a known baseline was computed")
    for score in scores:
        gain = (score.value - score.baseline) * (1 if score.higher_is_better else -1)
        if gain <= BASELINE_MARGIN:
            yield Report(
                f"{score.metric} {score.value:.4g} on {score.n_rows} held-out rows; a trivial model scores "
                f"{score.baseline:.4g} on them",
                fix="Compare with DummyClassifier/DummyRegressor; check the features, the scaling and the parameters.",
                details={"metric": score.metric, "value": score.value, "baseline": score.baseline},
            )
            return


# -- K709 ------------------------------------------------------------------------------------

GAP = 0.15  # train score minus validation score above this (accuracy, R², ...) is a large gap


def _cv_gap(search: Any) -> tuple[float, float] | None:
    results = getattr(search, "cv_results_", None)
    index = getattr(search, "best_index_", None)
    if not isinstance(results, dict) or index is None or "mean_train_score" not in results:
        return None
    return float(results["mean_train_score"][index]), float(results["mean_test_score"][index])


@check("K709", "large-train-validation-gap", stage="evaluation", severity="warning", thresholds={"gap": GAP})
def large_train_validation_gap(ctx: EvaluationContext):
    """Large train/validation gap (overfitting).

    ## What it does
    Compares the score on the training rows with the score on held-out rows:
    the best candidate's mean train and test scores of a search run with
    `return_train_score=True`, or the same metric computed by the cell on
    the training data and on other data. Reports a gap above 0.15.

    ## Why is this bad?
    A model that scores 1.00 on what it saw and 0.80 on what it did not has
    memorised noise: deep trees, a large `C`, too few neighbours. The
    held-out score is what it will do on new data.

    ## Example
    ```python
    DecisionTreeClassifier().fit(X_train, y_train)  # train 1.00, test 0.78
    ```

    ## Use instead
    ```python
    DecisionTreeClassifier(max_depth=5, min_samples_leaf=5).fit(X_train, y_train)
    ```
    """
    estimator = ctx.estimator()
    pair = _cv_gap(estimator) if est.is_search(estimator) else None
    if pair is not None:
        train, held = pair
        where = "mean cross-validation scores of the best candidate"
    else:
        scores = [s for s in ctx.scores() if s.higher_is_better]
        trained = [s for s in scores if s.on_training_data]
        held_out = [s for s in scores if not s.on_training_data]
        pairs = [(t, h) for t in trained for h in held_out if t.metric == h.metric]
        if not pairs:
            raise Skip("no score on the training data and on held-out data of the same metric")
        train, held = pairs[-1][0].value, pairs[-1][1].value
        where = f"{pairs[-1][0].metric} computed on the training rows and on held-out rows"
    if np.isfinite(train) and np.isfinite(held) and train - held > GAP:
        yield Report(
            f"train {train:.3f} vs validation {held:.3f} ({where}): a gap of {train - held:.3f}",
            fix="Regularise (smaller C, larger alpha, max_depth/min_samples_leaf) or get more data.",
            details={"train": train, "validation": held},
        )
