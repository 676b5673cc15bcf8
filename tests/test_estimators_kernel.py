"""scikit-learn estimators under %%kepler_fit in a real kernel (nbclient), with real fits on bundled data."""

from __future__ import annotations

import pytest
from conftest import cell_text, make_notebook, run_notebook

import kepler

SETUP = """
%load_ext kepler
import pickle, warnings
import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.linear_model import LogisticRegression
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.metrics import accuracy_score, f1_score
X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
"""

CELLS = [
    SETUP,
    # 1: a pipeline, scored twice after its fit
    """%%kepler_fit --project sk --name baseline
pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X_train, y_train)
test_accuracy = pipe.score(X_test, y_test)
f1 = f1_score(y_test, pipe.predict(X_test))
print("scores", test_accuracy, f1)""",
    # 2: a fit inside a function, and cross_val_score's folds (inner fits)
    """def train(model):
    return model.fit(X_train, y_train)""",
    """%%kepler_fit --project sk
forest = train(RandomForestClassifier(n_estimators=20, random_state=0))
folds = cross_val_score(RandomForestClassifier(n_estimators=5, random_state=0), X_train, y_train, cv=3)""",
    # 4: a grid search is one experiment
    """%%kepler_fit --project sk --save-model
search = GridSearchCV(make_pipeline(StandardScaler(), SVC()), {"svc__C": [0.1, 1, 10]}, cv=3).fit(X_train, y_train)""",
    # 5: a second search whose candidates partly ran
    """%%kepler_fit --project sk
search2 = GridSearchCV(make_pipeline(StandardScaler(), SVC()), {"svc__C": [1, 10, 100]}, cv=3).fit(X_train, y_train)""",
    # 6: non-convergence: the warning is shown, K703 found
    """%%kepler_fit --project sk
weak = LogisticRegression(max_iter=3).fit(X_train, y_train)""",
    # 7: untouched: the same fits with and without Kepler
    """plain = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(X_train, y_train)
plain_svc = SVC(C=2).fit(X_train, y_train)""",
    """%%kepler_fit --project sk
kept = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(X_train, y_train)
kept_svc = SVC(C=2).fit(X_train, y_train)""",
    """same = pickle.dumps(plain) == pickle.dumps(kept)  # every fitted attribute, bitwise
same_predictors = all(
    np.array_equal(a.nodes, b.nodes) for pa, pb in zip(plain._predictors, kept._predictors) for a, b in zip(pa, pb)
)
same_svc = pickle.dumps(plain_svc) == pickle.dumps(kept_svc)
print("untouched", same, same_predictors, same_svc)""",
    # 10: the same search again: a duplicate; skipped, the saved fitted estimator is reused
    """%%kepler_fit --project sk --answer skip
again = GridSearchCV(make_pipeline(StandardScaler(), SVC()), {"svc__C": [0.1, 1, 10]}, cv=3)
again.fit(X_train, y_train)
print("reused", again.best_params_, again.score(X_test, y_test))""",
    # 11: leakage: a scaler fitted on all rows before the split
    """%%kepler_fit --project sk --name leaky
X_all = StandardScaler().fit_transform(X)
Xa_train, Xa_test, ya_train, ya_test = train_test_split(X_all, y, random_state=1)
leaky = SVC().fit(Xa_train, ya_train)
print("leaky", leaky.score(Xa_test, ya_test))""",
    "%kepler search estimator = SVC and svc__C >= 1",
    "%kepler search estimator = SVC and C > 1",
    # 14: a cell grid of estimators
    """%%kepler_fit --project sk --grid "depth=[2,4]"
tree = RandomForestClassifier(n_estimators=10, max_depth=depth, random_state=0).fit(X_train, y_train)
tree.score(X_test, y_test)""",
]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    folder = tmp_path_factory.mktemp("nb")
    nb = run_notebook(make_notebook(CELLS, folder / "sk.ipynb"), env={"KEPLER_HOME": str(home)})
    return nb, kepler.Journal(home)


def runs(journal, **fields):
    return [e for e in journal.experiments("sk") if all(e.get(k) == v for k, v in fields.items())]


def test_a_pipeline_is_one_experiment_with_its_params_and_the_scores_computed_after_it(executed):
    nb, journal = executed
    [run] = runs(journal, name="baseline")
    record = journal.get(run["id"])
    assert record["framework"] == "scikit-learn" and record["model_class"] == "Pipeline"
    assert record["estimator"] == "LogisticRegression"
    assert record["params"]["logisticregression__max_iter"] == 1000
    steps = record["estimator_description"]["tree"]["children"]
    assert [s["class"] for s in steps] == ["StandardScaler", "LogisticRegression"]
    assert steps[1]["params"] == {"max_iter": 1000}
    printed = cell_text(nb.cells[1]).split("scores")[1].split()
    assert record["final"]["val_accuracy"] == pytest.approx(float(printed[0]))
    assert record["final"]["val_f1_score"] == pytest.approx(float(printed[1]))
    fingerprints = {s["data_fingerprint"] for s in record["scores"]}
    assert len(fingerprints) == 1 and record["data_fingerprint"] not in fingerprints  # test rows, not training rows
    assert record["data"]["n_samples"] == 426 and record["fit_seconds"] > 0


def test_a_fit_inside_a_function_is_one_experiment_and_cross_val_folds_are_not(executed):
    _nb, journal = executed
    forests = [e for e in runs(journal, estimator="RandomForestClassifier") if not e.get("grid_params")]
    assert len(forests) == 1 and forests[0]["params"]["n_estimators"] == 20


def test_a_search_is_one_experiment_with_every_candidate(executed):
    _nb, journal = executed
    searches = [e for e in runs(journal, model_class="GridSearchCV") if e["status"] == "finished"]
    assert len(searches) == 2
    record = journal.get(searches[0]["id"])
    assert [c["params"]["svc__C"] for c in record["cv_results"]] == [0.1, 1, 10]
    assert all("split2_test_score" in c and "mean_fit_time" in c for c in record["cv_results"])
    best = next(c for c in record["cv_results"] if c["rank_test_score"] == 1)
    assert record["best_params"] == best["params"]


def test_a_search_says_how_many_candidates_already_ran(executed):
    nb, _journal = executed
    assert "2 of the 3 candidates of this search already ran on the same data" in cell_text(nb.cells[5])


def test_non_convergence_is_k703_and_the_warning_is_still_shown(executed):
    nb, journal = executed
    text = cell_text(nb.cells[6])
    assert "ConvergenceWarning" in text and "K703" in text
    [run] = runs(journal, estimator="LogisticRegression", name="LogisticRegression(max_iter=3)")
    assert "K703" in run["codes"]


def test_estimators_are_untouched(executed):
    nb, journal = executed
    assert "untouched True True True" in cell_text(nb.cells[9])
    # Control: the fits compared were intercepted and recorded.
    assert len(runs(journal, estimator="HistGradientBoostingClassifier")) == 1
    assert len(runs(journal, name="SVC(C=2)")) == 1


def test_a_duplicate_search_reuses_the_saved_fitted_estimator(executed):
    nb, journal = executed
    text = cell_text(nb.cells[10])
    assert "is reused" in text and "reused {'svc__C':" in text
    skipped = runs(journal, status="skipped")
    assert len(skipped) == 1 and skipped[0]["duplicate_of"] == runs(journal, model_class="GridSearchCV")[0]["id"]


def test_a_scaler_fitted_before_the_split_is_k704(executed):
    nb, journal = executed
    assert "K704" in cell_text(nb.cells[11])
    [run] = runs(journal, name="leaky")
    assert "K704" in run["codes"]
    [baseline] = runs(journal, name="baseline")
    assert "K704" not in baseline["codes"]


def test_the_search_language_finds_estimators_by_class_and_parameter(executed):
    nb, _journal = executed
    text = cell_text(nb.cells[12])
    assert "GridSearchCV(SVC)" in text and "SVC(C=2)" not in text and "baseline" not in text
    anywhere = cell_text(nb.cells[13])  # C of an SVC, a pipeline's svc__C, a search's estimator__svc__C
    assert "SVC(C=2)" in anywhere and "Pipeline" not in anywhere


def test_a_cell_grid_records_each_estimator_with_its_score(executed):
    nb, journal = executed
    table = cell_text(nb.cells[14])
    assert "2 combinations" in table or "trained" in table
    grid_runs = [e for e in runs(journal, estimator="RandomForestClassifier") if e.get("grid_params")]
    assert sorted(r["grid_params"]["depth"] for r in grid_runs) == [2, 4]
    assert all("val_accuracy" in r["final"] for r in grid_runs)


def test_kepler_show_describes_an_estimator_run(executed):
    from kepler_nb.presentation.text import format_record

    _nb, journal = executed
    [baseline] = runs(journal, name="baseline")
    text = format_record(journal.get(baseline["id"]))
    assert "estimator: StandardScaler > LogisticRegression(max_iter=1000) (scikit-learn" in text
    assert "score: accuracy" in text and "held-out rows" in text and "compile:" not in text
    search = runs(journal, model_class="GridSearchCV")[0]
    assert "best of 3 candidates" in format_record(journal.get(search["id"]))
