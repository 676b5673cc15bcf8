"""How much slower is a fit under Kepler than the same fit without it?

The reference workload of the design: 20,000 x 64 float32, Dense 64 -> 10,
5 epochs, batch 128, validation_split 0.1. Plain and inspected fits are
interleaved in one process, alternating which goes first (the first round
is a warm-up), and the ratio of the medians is reported.

    python benchmarks/fit_overhead.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np

from kepler_nb import Journal, ModelInspector


def workload():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20_000, 64)).astype("float32")
    y = rng.integers(0, 10, size=20_000)
    return x, y


def build():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10, activation="softmax")]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--verbose", action="store_true", help="print every round")
    args = parser.parse_args()
    x, y = workload()
    fit_args = dict(epochs=5, batch_size=128, validation_split=0.1, verbose=0)
    journal = Journal(tempfile.mkdtemp(prefix="kepler-bench-"))
    plain, inspected = [], []
    for i in range(args.repeats + 1):
        # Alternate which goes first, so drift in the machine's speed cancels out.
        order = ("plain", "kepler") if i % 2 else ("kepler", "plain")
        times = {}
        for kind in order:
            model = build()
            if kind == "plain":
                times[kind] = timed(lambda m=model: m.fit(x, y, **fit_args))
            else:
                inspector = ModelInspector(model, project="bench", journal=journal, show=lambda *a: None)
                times[kind] = timed(lambda ins=inspector: ins.fit(x, y, **fit_args))
        t_plain, t_kepler = times["plain"], times["kepler"]
        if args.verbose:
            print(f"round {i}: plain {t_plain:.3f} s, kepler {t_kepler:.3f} s ({order[0]} first)")
        if i:  # the first round warms up both paths
            plain.append(t_plain)
            inspected.append(t_kepler)
    p, k = statistics.median(plain), statistics.median(inspected)
    print("| fit | median (s) | runs |")
    print("|---|---|---|")
    print(f"| plain `model.fit` | {p:.3f} | {len(plain)} |")
    print(f"| under Kepler | {k:.3f} | {len(inspected)} |")
    print(f"\nratio: {k / p:.3f}x (target <= 1.05x); overhead {1000 * (k - p):.0f} ms per fit")


if __name__ == "__main__":
    main()
