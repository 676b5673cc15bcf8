"""K7xx on real scikit-learn estimators and bundled data: a fault and a healthy counterpart per code.

The pre-fit checks run through ``kepler.check`` (nothing is fitted); the
after-fit ones through ``ModelInspector(model=estimator).fit`` on small data,
or on a hand-made outcome where only the scores matter.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, make_classification, make_regression
from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

import kepler
from kepler_nb.checks.catalogue import get_check
from kepler_nb.checks.context import CheckContext
from kepler_nb.checks.estimator_results import EvaluationContext
from kepler_nb.fit.estimator_call import bind_estimator_call
from kepler_nb.fit.outcome import FitOutcome, Score

CANCER = load_breast_cancer(return_X_y=True)


def codes(model, x, y, **kwargs) -> dict[str, list]:
    """Findings by code (skipped ones under 'skipped'), without emitting warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = kepler.check(model, x, y, **kwargs)
    out: dict[str, list] = {}
    for f in found:
        out.setdefault("skipped" if f.skipped else f.code, []).append(f)
    return out


def inspected(model, x, y, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mi = kepler.ModelInspector(model=model, show=lambda text: None)
        mi.fit(x, y, **kwargs)
    return mi


def evaluation(model, x, y, scores=(), warnings_seen=()):
    call = bind_estimator_call(type(model).fit, model, (x, y), {})
    context = EvaluationContext(CheckContext(call), FitOutcome(0.1, list(warnings_seen), list(scores)))
    return lambda code: get_check(code).run(context)


# -- K701 ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("model", [SVC(), KNeighborsClassifier(), LogisticRegression(max_iter=5000)])
def test_k701_unscaled_features_into_a_scale_sensitive_estimator(model):
    found = codes(model, *CANCER)
    assert "K701" in found
    message = found["K701"][0].message
    assert f"reach {type(model).__name__}" in message and "of 30 features" in message


@pytest.mark.parametrize(
    "model",
    [
        make_pipeline(StandardScaler(), SVC()),
        DecisionTreeClassifier(),
        RandomForestClassifier(n_estimators=5),
        HistGradientBoostingClassifier(),
        GradientBoostingClassifier(),
    ],
)
def test_k701_and_k303_stay_quiet_for_scaled_pipelines_trees_and_boosting(model):
    found = codes(model, *CANCER)
    assert "K701" not in found and "K303" not in found
    assert not any(f.code == "K701" for f in found.get("skipped", [])), "K701 ran"


def test_k701_sees_the_one_branch_of_a_column_transformer_without_a_scaler():
    import pandas as pd

    x, y = CANCER
    frame = pd.DataFrame(x[:, :6], columns=[f"f{i}" for i in range(6)])
    frame["colour"] = np.where(y == 1, "red", "blue")
    columns = ["f0", "f1", "f2", "f3", "f4", "f5"]
    leaky = ColumnTransformer([("num", "passthrough", columns), ("cat", OneHotEncoder(), ["colour"])])
    healthy = ColumnTransformer([("num", StandardScaler(), columns), ("cat", OneHotEncoder(), ["colour"])])
    bad = codes(make_pipeline(leaky, SVC()), frame, y)
    assert "K701" in bad and "branch 'num'" in bad["K701"][0].message
    assert "K701" not in codes(make_pipeline(healthy, SVC()), frame, y)


def test_k701_follows_the_estimator_a_search_tunes():
    search = GridSearchCV(SVC(), {"C": [1, 10]})
    assert "K701" in codes(search, *CANCER)
    assert "K701" not in codes(GridSearchCV(make_pipeline(StandardScaler(), SVC()), {"svc__C": [1, 10]}), *CANCER)


# -- K702 ----------------------------------------------------------------------------------------
def imbalanced():
    return make_classification(n_samples=1000, weights=[0.97], flip_y=0, random_state=0)


def test_k702_severe_imbalance_without_class_weight():
    found = codes(LogisticRegression(), *imbalanced())
    assert "K702" in found and "class_weight='balanced'" in found["K702"][0].fix


def test_k702_quiet_with_class_weight_or_sample_weight_or_balanced_data():
    x, y = imbalanced()
    assert "K702" not in codes(LogisticRegression(class_weight="balanced"), x, y)
    assert "K702" not in codes(LogisticRegression(), x, y, sample_weight=np.where(y == 1, 30.0, 1.0))
    assert "K702" not in codes(LogisticRegression(), *make_classification(n_samples=400, random_state=0))


# -- K703 ----------------------------------------------------------------------------------------
def test_k703_a_convergence_warning_becomes_a_finding_and_is_still_shown(kepler_home):
    x, y = CANCER
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        mi = kepler.ModelInspector(model=LogisticRegression(max_iter=5), show=lambda text: None)
        mi.fit(x, y)
    assert any(type(w.message).__name__ == "ConvergenceWarning" for w in shown), "the user still sees the warning"
    found = [f for f in mi.findings if f.code == "K703"]
    assert found and "max_iter=5" in found[0].message


def test_k703_quiet_when_the_solver_converges(kepler_home):
    mi = inspected(make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)), *CANCER)
    assert mi.experiment_id is not None
    assert not [f for f in mi.findings if f.code == "K703"]


# -- K704 ----------------------------------------------------------------------------------------
def test_k704_reports_a_score_on_rows_the_preprocessing_saw():
    x, y = CANCER
    model = SVC()
    run = evaluation(
        model, x, y, [Score("accuracy", 0.97, "score", n_rows=143, seen_by="StandardScaler", seen_share=1.0)]
    )
    found = run("K704")
    assert found and "100% of the 143 rows" in found[0].message and found[0].severity == "error"
    clean = evaluation(model, x, y, [Score("accuracy", 0.97, "score", n_rows=143)])
    assert clean("K704") == []


# -- K705 ----------------------------------------------------------------------------------------
def test_k705_best_parameter_at_the_edge_of_the_grid(kepler_home):
    x, y = CANCER
    edge = inspected(GridSearchCV(make_pipeline(StandardScaler(), SVC()), {"svc__C": [0.001, 0.01, 0.1]}, cv=3), x, y)
    found = [f for f in edge.findings if f.code == "K705"]
    assert found and "svc__C=0.1 is the largest" in found[0].message
    inside = inspected(
        GridSearchCV(
            make_pipeline(StandardScaler(), LogisticRegression()), {"logisticregression__C": [1e-4, 1, 1e4]}, cv=3
        ),
        x,
        y,
    )
    assert "K705" not in {f.code for f in inside.findings}


# -- K706 ----------------------------------------------------------------------------------------
def test_k706_unshuffled_folds_on_sorted_targets():
    x, y = make_regression(n_samples=300, n_features=5, noise=5, random_state=0)
    order = np.argsort(y)
    found = codes(GridSearchCV(Ridge(), {"alpha": [0.1, 1, 10]}, cv=5), x[order], y[order])
    assert "K706" in found and "sorted by value" in found["K706"][0].message
    shuffled = GridSearchCV(Ridge(), {"alpha": [0.1, 1, 10]}, cv=KFold(5, shuffle=True, random_state=0))
    assert "K706" not in codes(shuffled, x[order], y[order])
    assert "K706" not in codes(GridSearchCV(Ridge(), {"alpha": [0.1, 1, 10]}, cv=5), x, y)


def test_k706_class_blocks_with_an_explicit_unshuffled_kfold():
    x, y = load_iris(return_X_y=True)  # sorted by class
    assert "K706" in codes(GridSearchCV(SVC(), {"C": [1, 10]}, cv=KFold(5)), x, y)
    assert "K706" not in codes(GridSearchCV(SVC(), {"C": [1, 10]}, cv=5), x, y)  # StratifiedKFold


# -- K707 ----------------------------------------------------------------------------------------
def test_k707_a_feature_that_is_the_target():
    x, y = make_classification(n_samples=500, n_features=8, random_state=0)
    leaky = np.column_stack([x, y * 10.0 + np.random.default_rng(0).normal(0, 0.1, len(y))])
    found = codes(RandomForestClassifier(n_estimators=5), leaky, y)
    assert "K707" in found and "feature 8" in found["K707"][0].message
    assert "K707" not in codes(RandomForestClassifier(n_estimators=5), x, y)


@pytest.mark.parametrize("loader", [load_iris, load_digits, load_breast_cancer])
def test_k707_quiet_on_bundled_data_sets(loader):
    assert "K707" not in codes(DecisionTreeClassifier(max_depth=3), *loader(return_X_y=True))


# -- K708 ----------------------------------------------------------------------------------------
def test_k708_no_better_than_the_majority_class():
    x, y = CANCER
    run = evaluation(SVC(), x, y, [Score("accuracy", 0.63, "score", n_rows=143, baseline=0.63)])
    found = run("K708")
    assert found and "a trivial model scores 0.63" in found[0].message
    assert evaluation(SVC(), x, y, [Score("accuracy", 0.97, "score", n_rows=143, baseline=0.63)])("K708") == []


# -- K709 ----------------------------------------------------------------------------------------
def test_k709_a_large_train_validation_gap(kepler_home):
    x, y = make_classification(n_samples=400, n_features=20, n_informative=3, flip_y=0.3, random_state=0)
    search = GridSearchCV(DecisionTreeClassifier(random_state=0), {"max_depth": [None]}, return_train_score=True)
    found = [f for f in inspected(search, x, y).findings if f.code == "K709"]
    assert found and "train 1.000" in found[0].message
    shallow = GridSearchCV(DecisionTreeClassifier(random_state=0), {"max_depth": [1]}, return_train_score=True)
    assert "K709" not in {f.code for f in inspected(shallow, x, y).findings}


def test_k709_from_scores_on_training_and_held_out_rows():
    x, y = CANCER
    scores = [
        Score("accuracy", 1.0, "score", on_training_data=True),
        Score("accuracy", 0.7, "score"),
    ]
    assert evaluation(DecisionTreeClassifier(), x, y, scores)("K709")
    scores[1] = Score("accuracy", 0.95, "score")
    assert evaluation(DecisionTreeClassifier(), x, y, scores)("K709") == []


# -- K710 ----------------------------------------------------------------------------------------
def test_k710_every_hyperparameter_at_its_default():
    found = codes(RandomForestClassifier(), *CANCER)
    assert found["K710"][0].severity == "info"
    assert "K710" not in codes(RandomForestClassifier(n_estimators=50, random_state=0), *CANCER)
    assert "K710" not in codes(GridSearchCV(RandomForestClassifier(), {"max_depth": [2, 4]}), *CANCER)


def test_keras_checks_do_not_judge_estimators_and_k7xx_not_keras_models():
    found = codes(SVC(), *CANCER)
    every = {f.code for fs in found.values() for f in fs}
    assert not any(code.startswith(("K1", "K2", "K4", "K5", "K6")) for code in every)
    assert "K303" not in every and "K305" not in every  # float64 is what scikit-learn wants


def test_every_k7xx_check_is_documented():
    from kepler_nb.checks.catalogue import all_checks
    from kepler_nb.checks.registry import DOC_HEADINGS

    k7 = [c for c in all_checks() if c.code.startswith("K7")]
    assert [c.code for c in k7] == [f"K{700 + i}" for i in range(1, 11)]
    for c in k7:
        assert all(f"## {h}" in c.doc for h in DOC_HEADINGS), c.code


# -- healthy programs in the style of scikit-learn's own examples: no false alarm ------------------
def _tabular():
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 600
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 90, n).astype(float),
            "fare": rng.lognormal(3, 1, n),
            "embarked": rng.choice(["C", "Q", "S"], n),
            "sex": rng.choice(["female", "male"], n),
        }
    )
    frame.loc[rng.choice(n, 30, replace=False), "age"] = np.nan
    logit = 0.03 * (50 - frame["age"].fillna(50)) + (frame["sex"] == "female") * 1.5 - 0.5
    target = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame, target


def healthy_programs():
    from sklearn.compose import make_column_selector
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.impute import SimpleImputer
    from sklearn.model_selection import HalvingGridSearchCV

    numeric = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    columns = ColumnTransformer(
        [
            ("num", numeric, make_column_selector(dtype_include="number")),
            ("cat", OneHotEncoder(handle_unknown="ignore"), make_column_selector(dtype_include=object)),
        ]
    )
    frame, target = _tabular()
    digits = load_digits(return_X_y=True)
    x_reg, y_reg = make_regression(n_samples=800, n_features=10, noise=10, random_state=0)
    return [
        ("column transformer on pandas", make_pipeline(columns, LogisticRegression(C=0.5)), frame, target),
        (
            "halving search",
            HalvingGridSearchCV(make_pipeline(StandardScaler(), SVC()), {"svc__C": [0.1, 3, 100]}, random_state=0),
            *digits,
        ),
        ("gradient boosting regressor", HistGradientBoostingRegressor(max_iter=50, random_state=0), x_reg, y_reg),
        ("k-NN in a pipeline", make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=7)), *CANCER),
    ]


@pytest.mark.parametrize("program", healthy_programs(), ids=lambda p: p[0])
def test_healthy_programs_raise_no_warning_or_error(program, kepler_home):
    _name, model, x, y = program
    mi = inspected(model, x, y)
    ran = {f.code for f in mi.findings if f.skipped} | {f.code for f in mi.findings}
    alarms = [f.line() for f in mi.findings if not f.skipped and f.severity in ("warning", "error")]
    assert mi.experiment_id is not None and alarms == []
    assert not ran & {"K303", "K305"}
