"""How long do the pre-training checks take, and do they grow linearly with the data?

For 30,000 / 60,000 / 120,000 x 784 float32 rows (values in [0, 1], the
border pixels blank, 10 classes), times ``kepler.check(model, x, y)`` with a
small Dense model (every pre-training check: setup, model, data,
environment), the data checks alone on a fresh context, and one full read
of the array (``x.sum()``) in the same run. The three are interleaved, so a
change in the machine's load touches all of them alike; each is repeated
and the median taken, the first round a warm-up. Prints a markdown table.

    python benchmarks/checks.py [--repeats 5] [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np

import kepler
from kepler_nb.checks.context import CheckContext
from kepler_nb.checks.runner import run_checks
from kepler_nb.fit.call import FitCall
from kepler_nb.interception.routing import original_fit

FEATURES = 784
TARGET_SECONDS = 1.0  # at 60,000 rows, on 2 cores


def workload(rows: int) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-shaped data: pixels in [0, 1] with a blank border, 10 classes."""
    rng = np.random.default_rng(rows)
    x = rng.random((rows, FEATURES), dtype=np.float32)
    image = x.reshape(rows, 28, 28)
    image[:, :2], image[:, -2:], image[:, :, :2], image[:, :, -2:] = 0, 0, 0, 0
    return x, rng.integers(0, 10, rows)


def build() -> keras.Model:
    model = keras.Sequential(
        [keras.Input((FEATURES,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10, "softmax")]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def medians(fns: dict, repeats: int) -> dict[str, float]:
    """The median seconds of each function, called in turn ``repeats`` times after a warm-up round."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for i in range(repeats + 1):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            if i:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def measure(sizes: tuple[int, ...], repeats: int) -> list[tuple[int, float, float, float]]:
    """``(rows, every check, the data checks, x.sum())`` median seconds for each size."""
    model = build()

    def data_checks(x, y):
        context = CheckContext(FitCall.bind(original_fit(), model, (x, y), {}))
        return run_checks(context, stages=("data",))

    rows_out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # every finding is also a warning; only the time matters here
        for rows in sizes:
            x, y = workload(rows)
            t = medians(
                {
                    "all": lambda x=x, y=y: kepler.check(model, x, y),
                    "data": lambda x=x, y=y: data_checks(x, y),
                    "read": lambda x=x: x.sum(),
                },
                repeats,
            )
            rows_out.append((rows, t["all"], t["data"], t["read"]))
            del x, y
    return rows_out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="smaller data (3,000 / 6,000 / 12,000 rows), 3 repeats")
    args = parser.parse_args()
    sizes = (3_000, 6_000, 12_000) if args.quick else (30_000, 60_000, 120_000)
    repeats = 3 if args.quick else args.repeats
    rows_out = measure(sizes, repeats)

    print(
        f"Pre-training checks on N x {FEATURES} float32, 10 classes; median of {repeats} runs, {os.cpu_count()} cores\n"
    )
    print("| rows | all checks (s) | data checks (s) | x.sum() (s) | all / x.sum() | s per 10k rows (all / data) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for rows, every, data, read in rows_out:
        per = f"{every / rows * 1e4:.3f} / {data / rows * 1e4:.3f}"
        print(f"| {rows:,} | {every:.3f} | {data:.3f} | {read:.4f} | {every / read:.0f}x | {per} |")
    if not args.quick:
        at_60k = dict((r, e) for r, e, _, _ in rows_out)[60_000]
        verdict = "within" if at_60k < TARGET_SECONDS else "OVER"
        print(
            f"\n60,000 rows: {at_60k:.3f} s for every pre-training check, {verdict} the {TARGET_SECONDS:.0f} s target."
        )


if __name__ == "__main__":
    main()
