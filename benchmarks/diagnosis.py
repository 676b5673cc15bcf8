"""What the epoch-end diagnosis (K413-K417) costs, as a share of an epoch.

Two workloads: the design's reference fit (20,000 x 64 float32, Dense
64 -> 10, batch 128, validation_split 0.1) and a small convnet (10,000
28x28x1 images, the Keras MNIST example's layers, batch 128). Each is
trained for a few epochs with plain Keras and a callback that does exactly
what Kepler's callback does for these checks: a weight snapshot at train
begin, then the five checks at every epoch end (the activation probe at
epoch 1 and every 5 epochs). The time spent in them is measured around the
calls; the epoch time is the fit's own. No batch hook is added, so there is
no per-batch device sync.

    python benchmarks/diagnosis.py [--epochs 6] [--markdown]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras
import numpy as np

from kepler_nb.checks.catalogue import get_check
from kepler_nb.checks.training import TrainingContext
from kepler_nb.checks.training_diagnosis import DIAGNOSIS_CODES, remember_initial_weights
from kepler_nb.fit.call import FitCall
from kepler_nb.interception.routing import original_fit

L = keras.layers


class Diagnosis(keras.callbacks.Callback):
    def __init__(self, ctx: TrainingContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.checks = [get_check(code) for code in DIAGNOSIS_CODES]  # the catalogue is imported at %load_ext
        self.seconds = 0.0
        self.per_epoch: list[float] = []
        self.epoch_started = 0.0
        self.epoch_seconds: list[float] = []

    def on_train_begin(self, logs=None):
        start = time.perf_counter()
        self.ctx.model = self.model
        self.ctx.steps_per_epoch = self.params.get("steps")
        remember_initial_weights(self.ctx)
        self.seconds += time.perf_counter() - start

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_seconds.append(time.perf_counter() - self.epoch_started)
        start = time.perf_counter()
        self.ctx.add_epoch(epoch, {k: float(v) for k, v in (logs or {}).items()})
        for check in self.checks:
            check.run(self.ctx)
        self.per_epoch.append(time.perf_counter() - start)
        self.seconds += self.per_epoch[-1]


def dense_workload():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20_000, 64)).astype("float32")
    y = rng.integers(0, 10, size=20_000)
    model = keras.Sequential([keras.Input((64,)), L.Dense(64, activation="relu"), L.Dense(10, activation="softmax")])
    return model, x, y


def conv_workload():
    rng = np.random.default_rng(0)
    x = rng.random((10_000, 28, 28, 1), dtype=np.float32)
    y = rng.integers(0, 10, size=10_000)
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            L.Conv2D(32, 3, activation="relu"),
            L.MaxPooling2D(),
            L.Conv2D(64, 3, activation="relu"),
            L.MaxPooling2D(),
            L.Flatten(),
            L.Dropout(0.5),
            L.Dense(10, activation="softmax"),
        ]
    )
    return model, x, y


def measure(name: str, make, epochs: int) -> dict:
    keras.utils.set_random_seed(0)
    model, x, y = make()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    ctx = TrainingContext(call=FitCall.bind(original_fit(), model, (x, y), {}), model=model)
    callback = Diagnosis(ctx)
    model.fit(x, y, epochs=epochs, batch_size=128, validation_split=0.1, verbose=0, callbacks=[callback])
    epoch = float(np.median(callback.epoch_seconds[1:] or callback.epoch_seconds))  # the first epoch compiles
    per_epoch = callback.seconds / epochs  # the train-begin snapshot included
    return {
        "workload": name,
        "epoch_s": epoch,
        "first_ms": 1000 * callback.per_epoch[0],
        "later_ms": 1000 * float(np.median(callback.per_epoch[1:])),
        "diagnosis_ms": 1000 * per_epoch,
        "share": per_epoch / epoch,
    }


def rows(epochs: int = 6) -> list[tuple[str, str, str, str]]:
    """The rows of ``benchmarks/run_all.py``'s table."""
    out = []
    for name, make in (("reference fit (Dense 64 -> 10)", dense_workload), ("MNIST-style convnet", conv_workload)):
        r = measure(name, make, epochs)
        out.append(
            (
                f"epoch-end diagnosis K413-K417, {name}, {epochs} epochs",
                "< 2% of an epoch",
                f"{r['diagnosis_ms']:.1f} ms per epoch ({r['first_ms']:.1f} ms at epoch 1, {r['later_ms']:.1f} ms "
                f"later) of {r['epoch_s']:.2f} s: {r['share']:.2%}",
                "ok" if r["share"] < 0.02 else "**over**",
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--markdown", action="store_true", help="print a table for benchmarks/RESULTS.md")
    args = parser.parse_args()
    rows = [measure("reference (Dense 64 -> 10)", dense_workload, args.epochs)]
    rows.append(measure("MNIST-style convnet", conv_workload, args.epochs))
    if args.markdown:
        print(
            f"| workload ({args.epochs} epochs) | epoch (median) | diagnosis, epoch 1 | later epochs (median) "
            "| mean per epoch | share of an epoch | target |"
        )
        print("|---|---|---|---|---|---|---|")
    for r in rows:
        if args.markdown:
            print(
                f"| {r['workload']} | {r['epoch_s']:.2f} s | {r['first_ms']:.1f} ms | {r['later_ms']:.1f} ms "
                f"| {r['diagnosis_ms']:.1f} ms | {r['share']:.2%} | < 2% |"
            )
        else:
            print(
                f"{r['workload']}: epoch {r['epoch_s']:.2f} s; diagnosis epoch 1 {r['first_ms']:.1f} ms, later "
                f"{r['later_ms']:.1f} ms, mean {r['diagnosis_ms']:.1f} ms ({r['share']:.2%})"
            )


if __name__ == "__main__":
    main()
