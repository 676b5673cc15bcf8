"""What a scikit-learn fit costs under Kepler, and under MLflow's sklearn autolog, against the plain fit.

Each workload is fitted plain, under ``%%kepler_fit``'s routing (the fit
intercepted, checked, recorded in a fresh journal, and one ``score`` on the
test rows recorded as its metric), and under ``mlflow.sklearn.autolog()``
(its defaults: parameters, training metrics, the model logged, into a local
SQLite store, as MLflow recommends), interleaved round by round; the medians
are reported, and the time the routing takes to patch and restore the
estimator classes of a cell. Wall-clock and CPU seconds (of this process,
its threads included) are both given: on a shared machine the CPU seconds
are the steadier measure. MLflow is optional (the ``bench`` extra): without
it that column is left out. ``run_all.py`` reads :func:`rows`.

    python benchmarks/estimators.py [--repeats 5]
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
from kepler_nb.interception.options import RunOptions
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


def clock():
    return time.perf_counter(), time.process_time()


def since(start):
    wall, cpu = clock()
    return wall - start[0], cpu - start[1]


def plain(make, data):
    x_train, x_test, y_train, y_test = data
    start = clock()
    model = make().fit(x_train, y_train)
    model.score(x_test, y_test)
    return since(start)


def kepler(make, data, journal):
    x_train, x_test, y_train, y_test = data
    options = RunOptions(project="bench", duplicates="off", similar=False, answer="continue")
    start = clock()
    with route_estimator_fits(lambda e: EstimatorInspector(e, options=options, journal=journal, show=lambda t: None)):
        model = make().fit(x_train, y_train)
        model.score(x_test, y_test)
    return since(start)


def routing_only():
    start = time.perf_counter()
    with route_estimator_fits(lambda e: None):
        pass
    return time.perf_counter() - start


def with_mlflow(mlflow, make, data):
    x_train, x_test, y_train, y_test = data
    mlflow.sklearn.autolog(silent=True)
    try:
        start = clock()
        with mlflow.start_run():
            model = make().fit(x_train, y_train)
            model.score(x_test, y_test)
        return since(start)
    finally:
        mlflow.sklearn.autolog(disable=True, silent=True)


def measure(repeats: int, quick: bool = False) -> tuple[float, list[dict]]:
    """The routing's cost, and per workload the median wall and CPU seconds plain, under Kepler, under MLflow."""
    warnings.simplefilter("ignore")
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    folder = tempfile.mkdtemp(prefix="kepler-sklearn-bench-")
    journal = Journal(os.path.join(folder, "journal"))
    try:
        import mlflow
        import mlflow.sklearn

        mlflow.set_tracking_uri("sqlite:///" + os.path.join(folder, "mlflow.db"))
        mlflow.set_experiment("kepler-sklearn-bench")  # of this store (not one an earlier benchmark set)
    except ImportError:
        mlflow = None
    routing = statistics.median(routing_only() for _ in range(5))
    results = []
    for name, make, data in workloads()[: 3 if quick else None]:
        times: dict[str, list[tuple[float, float]]] = {"plain": [], "kepler": [], "mlflow": []}
        for round_ in range(repeats + 1):
            measured = {"plain": plain(make, data), "kepler": kepler(make, data, journal)}
            if mlflow is not None:
                measured["mlflow"] = with_mlflow(mlflow, make, data)
            if round_:  # the first round warms up imports and caches
                for key, value in measured.items():
                    times[key].append(value)
        row = {"workload": name}
        for key, values in times.items():
            if values:
                row[key] = (statistics.median(v[0] for v in values), statistics.median(v[1] for v in values))
        results.append(row)
    return routing, results


def rows(quick: bool = False) -> list[tuple[str, str, str, str]]:
    """The rows of ``run_all.py``'s table: ms added per fit by Kepler and by MLflow, wall (CPU)."""
    routing, results = measure(2 if quick else 4, quick)
    out = [("patching and restoring the estimator classes of a cell", "", f"{routing * 1000:.1f} ms", "")]
    for row in results:
        p, k, m = row["plain"], row["kepler"], row.get("mlflow")
        added = (k[1] - p[1]) * 1000
        text = f"plain {p[0]:.3f} s; Kepler {(k[0] - p[0]) * 1000:+.0f} ms (CPU {added:+.0f} ms)"
        if m:
            text += f"; MLflow autolog {(m[0] - p[0]) * 1000:+.0f} ms (CPU {(m[1] - p[1]) * 1000:+.0f} ms)"
        out.append((row["workload"], "<= 50 ms added per fit", text, "met" if added <= 50 else "**not met**"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    routing, results = measure(args.repeats)
    print(f"patching and restoring every estimator class of a cell: {routing * 1000:.1f} ms\n")
    print("| workload | plain s | Kepler s | added ms (CPU) | MLflow s | added ms (CPU) |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in results:
        p, k, m = row["plain"], row["kepler"], row.get("mlflow")
        line = (
            f"| {row['workload']} | {p[0]:.3f} | {k[0]:.3f} | {(k[0] - p[0]) * 1000:.0f} ({(k[1] - p[1]) * 1000:.0f}) |"
        )
        if m:
            line += f" {m[0]:.3f} | {(m[0] - p[0]) * 1000:.0f} ({(m[1] - p[1]) * 1000:.0f}) |"
        print(line, flush=True)


if __name__ == "__main__":
    main()
