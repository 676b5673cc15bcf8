"""Journal speed with 1,000 and 10,000 experiments recorded.

Builds a synthetic journal whose documents look like the ones
``ModelInspector`` writes (the summary of ``_describe`` merged with the one
of ``_finish``, parts stored as content-addressed blobs, one epochs file per
run), then measures what a user waits for:

* recording one experiment: ``start`` (status running) then ``update`` to
  finished, the median of ``--repeat`` runs;
* appending one epoch;
* opening a fresh ``Journal`` and listing every experiment;
* ``get(id)`` of one full record;
* ``search`` with field filters and with a phrase (which also reads each
  run's cell source).

Target (DESIGN.md): recording under 20 ms with 10,000 experiments.

    python benchmarks/journal.py            # 1,000 and 10,000 experiments
    python benchmarks/journal.py --quick    # 1,000 experiments, fewer repeats
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kepler_nb.journal.journal import Journal  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Callable

TARGET_RECORD_MS = 20.0
PROJECTS = ["digits", "mnist-mlp", "cifar-small", "churn", "housing", "sentiment"]
OPTIMIZERS = [("SGD", 0.01), ("Adam", 0.001), ("Adam", 0.0003), ("RMSprop", 0.001)]
ACTIVATIONS = ["relu", "sigmoid", "tanh", "gelu"]
CODES = ["K102", "K104", "K201", "K301", "K302", "K303", "K305", "K401", "K406", "K501"]


# -- synthetic records ----------------------------------------------------------------
def notebook_snapshot(project: str, version: int) -> dict[str, Any]:
    """A saved notebook of about twenty cells, sources only (as ``saved_notebook`` keeps it)."""
    cells = []
    for i in range(20):
        source = f"# {project} v{version} cell {i}\n" + "\n".join(
            f"x_{j} = preprocess(data[{j}], scale={j / 10:.1f})  # step {i}.{j}" for j in range(8)
        )
        cells.append({"cell_type": "code", "metadata": {}, "source": source, "outputs": [], "execution_count": None})
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": {"name": "python3"}}, "cells": cells}


def record(rng: random.Random, index: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(start summary, start parts, finish summary, finish parts) of one plausible Keras run."""
    project = rng.choice(PROJECTS)
    optimizer, lr = rng.choice(OPTIMIZERS)
    width = rng.choice([16, 32, 64, 128, 256])
    depth = rng.randint(1, 4)
    activation = rng.choice(ACTIVATIONS)
    n_in, n_out = rng.choice([(64, 10), (784, 10), (30, 2), (13, 1)])
    epochs = rng.choice([5, 10, 20, 50])
    layers = []
    previous = n_in
    for i in range(depth):
        layers.append(
            {
                "name": f"dense_{i}",
                "type": "Dense",
                "units": width,
                "activation": activation,
                "params": previous * width + width,
                "trainable": True,
                "output_shape": [None, width],
            }
        )
        previous = width
    layers.append(
        {
            "name": f"dense_{depth}",
            "type": "Dense",
            "units": n_out,
            "activation": "softmax",
            "params": previous * n_out + n_out,
            "trainable": True,
            "output_shape": [None, n_out],
        }
    )
    architecture = " > ".join(f"Dense({row['units']}, {row['activation']})" for row in layers)
    n_params = sum(row["params"] for row in layers)
    codes = sorted(rng.sample(CODES, rng.randint(0, 4)))
    findings = [
        {
            "code": code,
            "name": "synthetic-finding",
            "severity": rng.choice(["warning", "info"]),
            "stage": "data",
            "message": f"{rng.randint(1, 64)} of 64 features have a standard deviation above 5 (max 16.2)",
            "fix": "Scale the inputs, e.g. x / 16 or StandardScaler.",
            "skipped": False,
            "details": {"observed": rng.random()},
        }
        for code in codes
    ]
    n_samples = rng.choice([1797, 60000, 5000, 20640])
    fingerprint = hashlib.sha256(f"{project}{n_samples}".encode()).hexdigest()[:16]
    summary = {
        "project": project,
        "name": f"sequential_{index}",
        "tags": rng.sample(["baseline", "wide", "deep", "dropout", "bn", "lr-sweep"], rng.randint(0, 2)),
        "hypothesis": rng.choice([None, f"{activation} with {optimizer} trains faster than the baseline"]),
        "notebook_path": f"/home/user/notebooks/{project}.ipynb",
        "model_class": "Sequential",
        "architecture": architecture,
        "n_layers": len(layers),
        "n_params": n_params,
        "optimizer": optimizer,
        "learning_rate": lr,
        "loss": "categorical_crossentropy",
        "epochs": epochs,
        "batch_size": rng.choice([32, 64, 128]),
        "n_samples": n_samples,
        "data_fingerprint": fingerprint,
        "findings": {"warning": len(codes)} if codes else {},
        "codes": codes,
    }
    parts = {
        "model_config": {"class": "Sequential", "config": {"name": f"sequential_{index}", "layers": layers}},
        "layers": layers,
        "compile": {"compiled": True, "optimizer": optimizer, "learning_rate": lr, "loss": "categorical_crossentropy"},
        "fit": {"epochs": epochs, "batch_size": summary["batch_size"], "validation_split": 0.1, "shuffle": True},
        "data": {"kind": "arrays", "n_samples": n_samples, "fingerprint": fingerprint, "inputs": {"x": [n_in]}},
        "findings": findings,
        "cell": f"model.fit(x_train, y_train, epochs={epochs}, validation_split=0.1)",
        # A notebook changes a few times a day: many runs share one snapshot.
        "notebook": notebook_snapshot(project, index // 50),
        "environment": {"python": platform.python_version(), "tensorflow": "2.21.0", "keras": "3.15.0"},
    }
    loss = rng.uniform(0.05, 1.5)
    final = {"loss": loss, "accuracy": 1 - loss / 3, "val_loss": loss * 1.1, "val_accuracy": 1 - loss / 2.5}
    finish = {
        "status": "finished",
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "epochs_done": epochs,
        "final": final,
        "n_params": n_params,
        "architecture": architecture,
        "findings": summary["findings"],
        "codes": codes,
    }
    finish_parts = {"layers": layers, "model_config": parts["model_config"], "findings": findings}
    return summary, parts, finish, finish_parts


def build(home: Path, count: int, seed: int = 0) -> Journal:
    """A journal of ``count`` finished experiments, written as ``start`` + ``update`` would leave it."""
    rng = random.Random(seed)
    journal = Journal(home)
    journal.runs.mkdir(exist_ok=True)
    docs = []
    for index in range(count):
        summary, parts, finish, finish_parts = record(rng, index)
        doc = {**summary, **finish, "created": "2025-01-01T12:00:00+0000", "host": "workstation", "pid": 4242}
        doc["pid_started"] = 1.7e9
        doc["blobs"] = journal._store_parts({**parts, **finish_parts})
        docs.append(doc)
    # One transaction, one append: building is not what is measured.
    with journal.storage.transaction():
        ids = journal.table.insert_multiple(docs)
    for experiment_id, doc in zip(ids, docs):
        epochs = "".join(
            json.dumps({"epoch": e, "logs": {"loss": 1 / (e + 1), "val_loss": 1.1 / (e + 1)}, "time": doc["created"]})
            + "\n"
            for e in range(doc["epochs"])
        )
        journal._epochs_path(experiment_id).write_text(epochs, encoding="utf-8")
    return journal


# -- measuring ---------------------------------------------------------------------------
def median_ms(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def measure(count: int, repeat: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="kepler-bench-") as tmp:
        home = Path(tmp)
        started = time.perf_counter()
        journal = build(home, count)
        built_s = time.perf_counter() - started
        size_mb = journal.path.stat().st_size / 1e6

        rng = random.Random(1)
        runs = [record(rng, count + i) for i in range(repeat)]
        start_ms, update_ms, record_ms, epoch_ms = [], [], [], []
        for summary, parts, finish, finish_parts in runs:
            t0 = time.perf_counter()
            experiment_id = journal.start(summary, parts)
            t1 = time.perf_counter()
            journal.append_epoch(experiment_id, 0, {"loss": 0.5, "val_loss": 0.6})
            t2 = time.perf_counter()
            journal.update(experiment_id, finish, finish_parts)
            t3 = time.perf_counter()
            start_ms.append((t1 - t0) * 1000)
            epoch_ms.append((t2 - t1) * 1000)
            update_ms.append((t3 - t2) * 1000)
            record_ms.append((t1 - t0 + t3 - t2) * 1000)

        def open_and_list() -> None:
            fresh = Journal(home)
            assert len(fresh.experiments()) == count + repeat

        ids = [rng.randint(1, count) for _ in range(repeat)]
        it = iter(ids * 2)
        get_ms = median_ms(lambda: journal.get(next(it)), repeat)
        list_ms = median_ms(lambda: journal.experiments(), max(3, repeat // 4))
        open_ms = median_ms(open_and_list, max(3, repeat // 4))
        search_field_ms = median_ms(
            lambda: journal.search("project = digits and optimizer = adam"), max(3, repeat // 4)
        )
        search_word_ms = median_ms(lambda: journal.search('"trains faster"'), max(3, repeat // 4))
        return {
            "experiments": count,
            "journal MB": size_mb,
            "build s": built_s,
            "start ms": statistics.median(start_ms),
            "update ms": statistics.median(update_ms),
            "record ms": statistics.median(record_ms),
            "append_epoch ms": statistics.median(epoch_ms),
            "open + list ms": open_ms,
            "list (warm) ms": list_ms,
            "get ms": get_ms,
            "search field ms": search_field_ms,
            "search word ms": search_word_ms,
        }


def table(rows: list[dict[str, float]]) -> str:
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for row in rows:
        cells = [f"{row[k]:,}" if isinstance(row[k], int) else f"{row[k]:.1f}" for k in keys]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 experiments and 5 repeats only")
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="journal sizes (default 1000 10000)")
    parser.add_argument("--repeat", type=int, default=None, help="runs per median (default 20)")
    args = parser.parse_args(argv)
    sizes = args.sizes or ([1000] if args.quick else [1000, 10000])
    repeat = args.repeat or (5 if args.quick else 20)
    rows = [measure(count, repeat) for count in sizes]
    print(f"Journal benchmark: {platform.python_version()}, {os.cpu_count()} cores, medians of {repeat}\n")
    print(table(rows))
    worst = rows[-1]
    verdict = "meets" if worst["record ms"] < TARGET_RECORD_MS else "MISSES"
    print(
        f"\nRecording one experiment with {worst['experiments']:,} in the journal: "
        f"{worst['record ms']:.1f} ms ({verdict} the {TARGET_RECORD_MS:.0f} ms target)."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
