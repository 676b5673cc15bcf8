"""What a scikit-learn fit costs under Kepler, and under MLflow's sklearn autolog, against the plain fit.

Each workload is fitted plain, under ``%%kepler_fit``'s routing (the fit
intercepted, checked, recorded in a fresh journal, and one ``score`` on the
test rows recorded as its metric), and under ``mlflow.sklearn.autolog()``
(its defaults: parameters, training metrics, the model logged, into a
local SQLite store, as MLflow recommends), interleaved round by round; the medians are reported, and
the time the routing takes to patch and restore the estimator classes of a
cell. MLflow is optional (``pip install mlflow-skinny``): without it that
column is left out.

    python benchmarks/sklearn_overhead.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
import warnings

from sklearn.datasets import load_breast_cancer, load_digits, make_classification
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from kepler_nb.interception.estimator_inspector import EstimatorInspector
from kepler_nb.interception.estimator_routing import route_estimator_fits
from kepler_nb.interception.inspector import RunOptions
from kepler_nb.journal.journal import Journal


def workloads():
    cancer = train_test_split(*load_breast_cancer(return_X_y=True), random_state=0)
    digits = train_test_split(*load_digits(return_X_y=True), random_state=0)
    big = train_test_split(*make_classification(n_samples=20_000, n_features=64, random_state=0), random_state=0)
    return [
        ("LogisticRegression, breast cancer (426 x 30)", lambda: LogisticRegression(max_iter=5000), cancer),
        ("StandardScaler > SVC, digits (1347 x 64)", lambda: make_pipeline(StandardScaler(), SVC()), digits),
        ("RandomForest(100), digits", lambda: RandomForestClassifier(n_estimators=100, random_state=0), digits),
        (
            "HistGradientBoosting, 15,000 x 64",
            lambda: HistGradientBoostingClassifier(max_iter=50, random_state=0),
            big,
        ),
        (
            "GridSearchCV(SVC, 4 x 3 folds), digits",
            lambda: GridSearchCV(make_pipeline(StandardScaler(), SVC()), {"svc__C": [0.1, 1, 10, 100]}, cv=3),
            digits,
        ),
    ]


def plain(make, data):
    x_train, x_test, y_train, y_test = data
    start = time.perf_counter()
    model = make().fit(x_train, y_train)
    model.score(x_test, y_test)
    return time.perf_counter() - start


def kepler(make, data, journal):
    x_train, x_test, y_train, y_test = data
    options = RunOptions(project="bench", duplicates="off", similar=False, answer="continue")
    start = time.perf_counter()
    with route_estimator_fits(lambda e: EstimatorInspector(e, options=options, journal=journal, show=lambda t: None)):
        model = make().fit(x_train, y_train)
        model.score(x_test, y_test)
    return time.perf_counter() - start


def routing_only():
    start = time.perf_counter()
    with route_estimator_fits(lambda e: None):
        pass
    return time.perf_counter() - start


def with_mlflow(mlflow, make, data):
    x_train, x_test, y_train, y_test = data
    mlflow.sklearn.autolog(silent=True)
    try:
        start = time.perf_counter()
        with mlflow.start_run():
            model = make().fit(x_train, y_train)
            model.score(x_test, y_test)
        return time.perf_counter() - start
    finally:
        mlflow.sklearn.autolog(disable=True, silent=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    folder = tempfile.mkdtemp(prefix="kepler-sklearn-bench-")
    journal = Journal(os.path.join(folder, "journal"))
    try:
        import mlflow
        import mlflow.sklearn

        mlflow.set_tracking_uri("sqlite:///" + os.path.join(folder, "mlflow.db"))
    except ImportError:
        mlflow = None
    routing = statistics.median(routing_only() for _ in range(5))
    print(f"patching and restoring every estimator class of a cell: {routing * 1000:.1f} ms\n")
    print(f"{'workload':<42} {'plain':>9} {'Kepler':>9} {'added':>9} {'MLflow':>9} {'added':>9}")
    for name, make, data in workloads():
        times: dict[str, list[float]] = {"plain": [], "kepler": [], "mlflow": []}
        for round_ in range(args.repeats + 1):
            measured = {"plain": plain(make, data), "kepler": kepler(make, data, journal)}
            if mlflow is not None:
                measured["mlflow"] = with_mlflow(mlflow, make, data)
            if round_:  # the first round warms up imports and caches
                for key, value in measured.items():
                    times[key].append(value)
        p, k = statistics.median(times["plain"]), statistics.median(times["kepler"])
        line = f"{name:<42} {p:>8.3f}s {k:>8.3f}s {(k - p) * 1000:>7.0f}ms"
        if times["mlflow"]:
            m = statistics.median(times["mlflow"])
            line += f" {m:>8.3f}s {(m - p) * 1000:>7.0f}ms"
        print(line, flush=True)


if __name__ == "__main__":
    main()
