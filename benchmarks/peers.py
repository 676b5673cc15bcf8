"""Kepler beside MLflow's Keras autolog and Weights & Biases (offline), each as a ratio to the plain fit.

Two workloads: the reference fit of the design (20,000 x 64 float32, Dense
64 -> 10, 5 epochs, batch 128, validation_split 0.1) and 100 short epochs
(2,000 x 64, batch 256). In each round every variant fits a freshly built
model once, in an order that rotates from round to round; the first round
is a warm-up. A variant's ratio is the median of its time divided by the
plain fit's time of the same round, so the machine's load changes touch
both sides of each ratio alike.

* ``plain``: ``model.fit``;
* ``kepler``: ``ModelInspector(model).fit`` (checks, journal, epoch records);
* ``mlflow``: ``mlflow.keras.autolog(log_models=False)`` with a local SQLite tracking store (saving
  the model, its default, adds seconds per fit on top);
* ``wandb``: ``wandb.init(mode="offline")``, ``WandbMetricsLogger``, ``finish()``.

MLflow and W&B are not Kepler's dependencies (``pip install .[bench]``); a
missing one is reported as such.

    python benchmarks/peers.py [--repeats 5] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import keras  # noqa: E402
import numpy as np  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Callable

TARGET_RATIO = 1.05
WORKLOADS = {
    "reference fit": {"rows": 20_000, "epochs": 5, "batch_size": 128},
    "100 short epochs": {"rows": 2_000, "epochs": 100, "batch_size": 256},
}


def data(rows: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(rows, 64)).astype("float32"), rng.integers(0, 10, size=rows)


def build() -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10, activation="softmax")]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


class Variants:
    """The ways of running one fit; those whose library is missing are left out, with the reason."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.missing: dict[str, str] = {}
        self.fits: dict[str, Callable[..., Any]] = {"plain": self.plain, "kepler": self.kepler}
        from kepler import Journal

        self.journal = Journal(workdir / "kepler")
        try:
            import mlflow
            import mlflow.keras

            mlflow.set_tracking_uri(f"sqlite:///{workdir / 'mlflow.db'}")
            if mlflow.get_experiment_by_name("bench") is None:  # artifacts beside the store, not in ./mlruns
                mlflow.create_experiment("bench", artifact_location=(workdir / "mlruns").as_uri())
            mlflow.set_experiment("bench")
            logging.getLogger("mlflow").setLevel(logging.ERROR)
            self.mlflow = mlflow
            self.fits["mlflow"] = self.with_mlflow
        except ImportError as error:
            self.missing["mlflow"] = f"not installed ({error.name}): pip install .[bench]"
        try:
            os.environ.update(WANDB_MODE="offline", WANDB_SILENT="true", WANDB_DIR=str(workdir))
            import wandb
            from wandb.integration.keras import WandbMetricsLogger

            self.wandb, self.wandb_logger = wandb, WandbMetricsLogger
            self.fits["wandb"] = self.with_wandb
        except ImportError as error:
            self.missing["wandb"] = f"not installed ({error.name}): pip install .[bench]"

    def plain(self, model: keras.Model, x: Any, y: Any, **kwargs: Any) -> Any:
        return model.fit(x, y, **kwargs)

    def kepler(self, model: keras.Model, x: Any, y: Any, **kwargs: Any) -> Any:
        from kepler import ModelInspector

        with ModelInspector(model=model, project="bench", journal=self.journal, show=lambda *_: None) as mi:
            return mi.fit(x, y, **kwargs)

    def with_mlflow(self, model: keras.Model, x: Any, y: Any, **kwargs: Any) -> Any:
        # Without saving the model at the end (its default): that alone costs seconds per fit here.
        self.mlflow.keras.autolog(silent=True, log_models=False)
        try:
            return model.fit(x, y, **kwargs)
        finally:
            self.mlflow.keras.autolog(disable=True, silent=True)

    def with_wandb(self, model: keras.Model, x: Any, y: Any, **kwargs: Any) -> Any:
        run = self.wandb.init(project="bench", mode="offline", dir=str(self.workdir), reinit="finish_previous")
        try:
            return model.fit(x, y, callbacks=[self.wandb_logger()], **kwargs)
        finally:
            run.finish()


def measure(repeats: int, workloads: dict[str, dict[str, int]] = WORKLOADS) -> dict[str, Any]:
    """``{workload: {variant: {"ratio", "seconds", "cpu_ratio"}}}`` and the missing variants.

    A workload of short fits (the reference fit's) gets twice the rounds: its ratio moves most with the
    machine's load. ``cpu_ratio`` compares the CPU time of the process's threads, which load distorts less.
    """
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="kepler-peers-") as tmp:
        variants = Variants(Path(tmp))
        names = list(variants.fits)
        for workload, spec in workloads.items():
            x, y = data(spec["rows"])
            kwargs = dict(epochs=spec["epochs"], batch_size=spec["batch_size"], validation_split=0.1, verbose=0)
            seconds: dict[str, list[float]] = {n: [] for n in names}
            cpu: dict[str, list[float]] = {n: [] for n in names}
            rounds = 2 * repeats if workload == "reference fit" else repeats
            for i in range(rounds + 1):
                order = names[i % len(names) :] + names[: i % len(names)]
                round_times, round_cpu = {}, {}
                for name in order:
                    model = build()
                    with quiet():
                        start, cpu_start = time.perf_counter(), time.process_time()
                        variants.fits[name](model, x, y, **kwargs)
                        round_times[name] = time.perf_counter() - start
                        round_cpu[name] = time.process_time() - cpu_start
                if i:  # the first round warms up every variant
                    for name in names:
                        seconds[name].append(round_times[name])
                        cpu[name].append(round_cpu[name])
            results[workload] = {
                name: {
                    "seconds": statistics.median(seconds[name]),
                    "ratio": statistics.median(s / p for s, p in zip(seconds[name], seconds["plain"], strict=True)),
                    "cpu_ratio": statistics.median(c / p for c, p in zip(cpu[name], cpu["plain"], strict=True)),
                    "rounds": rounds,
                }
                for name in names
            }
        results["missing"] = variants.missing
    return results


@contextlib.contextmanager
def quiet():
    """The peers' banners and warnings are not what is measured."""
    with (
        warnings.catch_warnings(),
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        warnings.simplefilter("ignore")
        yield


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="3 rounds")
    args = parser.parse_args()
    results = measure(3 if args.quick else args.repeats)
    missing = results.pop("missing")
    print("| workload | variant | median s | ratio to plain | CPU ratio |")
    print("|---|---|---:|---:|---:|")
    for workload, rows in results.items():
        for name, r in rows.items():
            print(f"| {workload} | {name} | {r['seconds']:.2f} | {r['ratio']:.2f}x | {r['cpu_ratio']:.2f}x |")
    for name, why in missing.items():
        print(f"| | {name} | {why} | |")


if __name__ == "__main__":
    sys.exit(main())
