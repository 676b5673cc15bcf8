"""Duplicate and similar-model lookups, and searches, with 10,000 experiments in the journal.

Builds a synthetic journal that looks like months of work: a few projects,
each with its input shape, class count and a handful of data versions;
families of architectures (dense stacks and small conv nets) varied one layer
or one activation at a time; grids over optimizers, learning rates, batch
sizes and epochs; reruns of the same experiment; runs that failed, were
interrupted or skipped. Every summary carries the signature fields that
``ModelInspector`` stores, and the cell sources are blobs shared by the runs
of one notebook cell, as in a real journal.

Measured (median of ``--repeat`` runs):

* the lookups made before every fit (duplicate + similar + transfer, one
  pass over the summaries) on the open journal a kernel keeps, and the first
  fit of a kernel, which parses the journal file once;
* ``Journal.similar(id)``;
* typical searches, and a text search that reads the cells' sources (cold:
  first read of every blob; warm: the same journal again).

Targets (the issue): lookups under 100 ms together, a typical search under
200 ms, with 10,000 experiments.

    python benchmarks/similarity.py                # 10,000 experiments
    python benchmarks/similarity.py --n 1000 --repeat 5
"""

from __future__ import annotations

import argparse
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

from kepler_nb.fit.signature import digest  # noqa: E402
from kepler_nb.journal.journal import Journal  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Callable

TARGET_LOOKUP_MS = 100.0
TARGET_SEARCH_MS = 200.0
# project: (input shape, classes, loss, kind of model)
PROJECTS = {
    "digits": ([64], 10, "categorical_crossentropy", "dense"),
    "mnist": ([28, 28, 1], 10, "sparse_categorical_crossentropy", "conv"),
    "cifar-small": ([32, 32, 3], 10, "sparse_categorical_crossentropy", "conv"),
    "churn": ([30], 2, "binary_crossentropy", "dense"),
    "housing": ([13], 1, "mse", "dense"),
    "sentiment": ([200], 2, "binary_crossentropy", "dense"),
}
OPTIMIZERS = ["Adam", "SGD", "RMSprop", "AdamW"]
RATES = [1e-2, 3e-3, 1e-3, 3e-4, 1e-4]
ACTIVATIONS = ["relu", "sigmoid", "tanh", "gelu"]
CODES = ["K102", "K104", "K201", "K301", "K302", "K303", "K305", "K401", "K406", "K501"]
STATUSES = ["finished"] * 17 + ["failed", "interrupted", "skipped"]
WORDS = ["baseline", "dropout", "wider", "deeper", "batchnorm", "augment", "lr-sweep", "regularised", "sigmoid"]


def architecture(rng: random.Random, kind: str, n_classes: int) -> list[list[Any]]:
    """A compact layer list as ``signature.compact_layers`` writes it."""
    width = rng.choice([16, 32, 64, 128, 256])
    activation = rng.choice(ACTIVATIONS)
    rows: list[list[Any]] = []
    if kind == "conv":
        for i in range(rng.randint(1, 3)):
            rows.append(["Conv2D", width // 2 * (i + 1), activation, None])
            rows.append(["MaxPooling2D", "2x2", None, None])
        rows.append(["Flatten", None, None, None])
    for _ in range(rng.randint(1, 4)):
        rows.append(["Dense", width, activation, None])
        if rng.random() < 0.3:
            rows.append(["Dropout", rng.choice([0.2, 0.3, 0.5]), None, None])
    out = "softmax" if n_classes > 2 else "sigmoid" if n_classes == 2 else "linear"
    rows.append(["Dense", n_classes if n_classes > 2 else 1, out, None])
    for row in rows:
        row[3] = digest(row[:3])[:8]
    return rows


def tweak(rng: random.Random, rows: list[list[Any]]) -> list[list[Any]]:
    """A nearby architecture: one layer wider or narrower, or one activation changed."""
    rows = [list(r) for r in rows]
    dense = [i for i, r in enumerate(rows[:-1]) if r[0] in ("Dense", "Conv2D")]
    if not dense:
        return rows
    i = rng.choice(dense)
    if rng.random() < 0.5:
        rows[i][1] = rows[i][1] * 2
    else:
        rows[i][2] = rng.choice([a for a in ACTIVATIONS if a != rows[i][2]])
    rows[i][3] = digest(rows[i][:3])[:8]
    return rows


def cell_source(project: str, rows: list[list[Any]], variant: int) -> str:
    layers = ",\n    ".join(f"keras.layers.{r[0]}({r[1]!r}, activation={r[2]!r})" for r in rows)
    return (
        f"%%kepler_fit --project {project}\n# variant {variant}\n"
        f"model = keras.Sequential([\n    {layers},\n])\n"
        "model.compile(optimizer=opt, loss=loss, metrics=['accuracy'])\n"
        "history = model.fit(x_train, y_train, epochs=epochs, batch_size=batch, validation_split=0.2)\n"
    )


def build_journal(home: Path, n: int, seed: int = 0) -> Journal:
    rng = random.Random(seed)
    journal = Journal(home)
    data_versions = {p: [digest([p, v]) for v in range(rng.randint(2, 5))] for p in PROJECTS}
    families = {p: [architecture(rng, spec[3], spec[1]) for _ in range(40)] for p, spec in PROJECTS.items()}
    cells: dict[tuple, str] = {}
    docs = []
    start = time.time() - 180 * 86400
    for index in range(n):
        project = rng.choice(list(PROJECTS))
        input_shape, n_classes, loss, _kind = PROJECTS[project]
        family = rng.randrange(len(families[project]))
        rows = families[project][family]
        if rng.random() < 0.4:
            rows = tweak(rng, rows)
        data = rng.choice(data_versions[project])
        hparams = {
            "optimizer": rng.choice(OPTIMIZERS),
            "learning_rate": rng.choice(RATES),
            "loss": loss,
            "epochs": rng.choice([5, 10, 20, 50]),
            "batch_size": rng.choice([32, 64, 128, 256]),
            "validation_split": 0.2,
            "shuffle": True,
            "other": "0a1b2c3d",
        }
        arch_signature = digest({"layers": rows, "input_shape": input_shape})
        setup = digest(hparams)
        status = rng.choice(STATUSES)
        epochs_done = hparams["epochs"] if status == "finished" else rng.randint(0, hparams["epochs"])
        acc = min(0.995, max(0.1, rng.gauss(0.85, 0.08)))
        key = (project, family, index % 7)
        if key not in cells:
            cells[key] = journal.blobs.put(cell_source(project, rows, index % 7))
        summary = {
            "project": project,
            "name": f"{project}-{rng.choice(WORDS)}-{index}",
            "tags": rng.sample(WORDS, rng.randint(0, 2)),
            "hypothesis": rng.choice([None, f"{rng.choice(WORDS)} should help on {project}"]),
            "notebook_path": f"/home/ana/work/{project}.ipynb",
            "status": status,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(start + index * 1500)),
            "model_class": "Sequential",
            "architecture": " > ".join(f"{r[0]}({r[1]}, {r[2]})" for r in rows),
            "n_layers": len(rows),
            "n_params": rng.randint(1_000, 2_000_000),
            "optimizer": hparams["optimizer"],
            "learning_rate": hparams["learning_rate"],
            "loss": loss,
            "epochs": hparams["epochs"],
            "batch_size": hparams["batch_size"],
            "n_samples": rng.choice([1437, 1797, 50000, 60000, 8000]),
            "data_fingerprint": data,
            "findings": {"warning": rng.randint(0, 4), "info": rng.randint(0, 2)},
            "codes": sorted(rng.sample(CODES, rng.randint(0, 4))),
            "signature": digest({"arch": arch_signature, "setup": setup, "data": data}),
            "arch_signature": arch_signature,
            "data_signature": data,
            "setup_signature": setup,
            "arch": rows,
            "input_shape": input_shape,
            "n_classes": n_classes,
            "hparams": hparams,
            "epochs_done": epochs_done,
            "final": {"loss": 1 - acc, "accuracy": acc, "val_loss": 1.1 - acc, "val_accuracy": acc - 0.02}
            if epochs_done
            else {},
            "host": "bench",
            "pid": 1,
            "blobs": {"cell": cells[key]},
        }
        docs.append(summary)
    with journal.storage.transaction():
        journal.table.insert_multiple(docs)
    return journal


def median_ms(fn: Callable[[], Any], repeat: int) -> float:
    """Median wall-clock milliseconds (CPU time with ``--cpu``: steadier on a busy machine)."""
    clock = time.process_time if CPU_TIME else time.perf_counter
    times = []
    for _ in range(repeat):
        t0 = clock()
        fn()
        times.append((clock() - t0) * 1000)
    return statistics.median(times)


CPU_TIME = False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="experiments in the synthetic journal")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--cpu", action="store_true", help="report CPU time instead of wall-clock time")
    args = parser.parse_args()
    global CPU_TIME
    CPU_TIME = args.cpu

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "kepler-home"
        t0 = time.perf_counter()
        build_journal(home, args.n)
        print(f"Synthetic journal: {args.n} experiments, built in {time.perf_counter() - t0:.1f} s")
        size = (home / "journal.jsonl").stat().st_size
        print(f"  journal file {size / 1e6:.1f} MB; {platform.python_version()}, {os.cpu_count()} cores")

        journal = Journal(home)
        t0 = time.perf_counter()
        summaries = journal.experiments()
        print(f"  first load of a fresh Journal: {(time.perf_counter() - t0) * 1000:.0f} ms")
        finished = [s for s in summaries if s["status"] == "finished"]
        rerun = dict(random.Random(1).choice(finished))  # the same experiment again: a duplicate
        new = dict(rerun, signature="new", data_signature="other-data", n_samples=999)  # new data

        def before_fit(target: dict[str, Any], fresh: bool = False) -> Any:
            j = Journal(home) if fresh else journal
            return j.lookup(target, k=5)

        found = before_fit(rerun)
        print(
            f"  a rerun: duplicate of {found.duplicate['id'] if found.duplicate else None}, "
            f"{len(found.similar)} similar shown, transfer candidate "
            f"{found.transfer['id'] if found.transfer else None}"
        )
        for match in found.similar[:3]:
            print(f"    #{match.experiment['id']} {match.score:.2f} {match.relation}: {'; '.join(match.differences)}")

        unit = "CPU ms" if CPU_TIME else "ms"
        print(f"\nBefore every fit (duplicate + similar + transfer), median {unit}:")
        rows = [
            ("rerun of an experiment", lambda: before_fit(rerun)),
            ("new data", lambda: before_fit(new)),
        ]
        for label, fn in rows:
            ms = median_ms(fn, args.repeat)
            verdict = "ok" if ms < TARGET_LOOKUP_MS else "OVER"
            print(f"  {label:<44} {ms:8.1f}   (target < {TARGET_LOOKUP_MS:.0f}: {verdict})")
        # A kernel keeps one Journal open (interception/journals.py): only its first fit parses the file.
        ms = median_ms(lambda: before_fit(rerun, fresh=True), max(3, args.repeat // 3))
        print(f"  {'first fit of a kernel (parses the journal)':<44} {ms:8.1f}   (once per kernel)")
        ms = median_ms(lambda: journal.similar(rerun["id"]), args.repeat)
        print(f"  {'Journal.similar(id)':<44} {ms:8.1f}")

        print(f"\nSearches, median {unit}:")
        queries = [
            "val_accuracy > 0.9",
            "project = digits and optimizer = adam and epochs >= 10",
            "status = finished and lr < 1e-3 sort val_accuracy desc limit 10",
            "layer = Conv2D and layers > 4",
            "since = 2026-01-01 or tag = baseline",
            '"dropout" and not status = failed',
            "not (code = K303 or warnings > 2) and val_loss < 0.2",
        ]
        for q in queries:
            count = len(journal.search(q))
            ms = median_ms(lambda q=q: journal.search(q), args.repeat)
            verdict = "ok" if ms < TARGET_SEARCH_MS else "OVER"
            print(f"  {q:<66} {ms:7.1f}  {count:>5} found  ({verdict})")
        source_query = 'source ~ "variant 3" and project = mnist'
        cold = Journal(home)
        cold.experiments()  # the journal parsed; its blobs not read yet
        t0 = time.perf_counter()
        count = len(cold.search(source_query))
        cold_ms = (time.perf_counter() - t0) * 1000
        warm_ms = median_ms(lambda: cold.search(source_query), args.repeat)
        print(f"  {source_query:<66} {warm_ms:7.1f}  {count:>5} found  (first time, reading the blobs: {cold_ms:.0f})")


if __name__ == "__main__":
    main()
