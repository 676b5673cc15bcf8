"""The first fit of a fresh kernel: how much longer under ``%%kepler_fit`` than without it?

Each round starts two fresh IPython kernels through nbclient (as a headless
"Run All" does), one plain and one with ``%load_ext kepler``, in alternating
order. Both build the same small model on the same data in a set-up cell (after
``%load_ext kepler``, where a notebook usually has it);
the timed cells are the same ``model.fit(...)``, once bare and once under
``%%kepler_fit``. Reported: the median of each, the difference (target
0.3 s), and the time ``%load_ext kepler`` took.

    python benchmarks/first_fit.py [--repeats 3] [--profile] [--journal 50000] [--peers]

``--peers`` also times the same first fit under MLflow's Keras autolog and
Weights & Biases (offline), set up the way their documentation shows, where
they are installed (``scripts/bench.sh`` installs them beside Kepler).

``--journal N`` gives both kernels a journal of N earlier experiments (built
once by ``benchmarks/similarity.py``, copied for each kernel): what the first
fit of a kernel costs a user whose journal is big.

``--profile`` runs one more Kepler kernel under pyinstrument (when installed)
and prints where its first fit spent its time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TARGET_ADDED_S = 0.3

SETUP = """
import os, time, json
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
import keras
rng = np.random.default_rng(0)
x = rng.normal(size=(4000, 64)).astype("float32")
y = rng.integers(0, 10, size=4000)
keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(64, activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
"""
FIT = "model.fit(x, y, epochs=2, batch_size=128, validation_split=0.1, verbose=0)\nNone"
LOAD = "import time\n_t = time.perf_counter()\n%load_ext kepler\n_load_s = time.perf_counter() - _t"
START = "_t0, _c0 = time.perf_counter(), time.process_time()"
STOP = (
    "print(json.dumps({'fit_s': time.perf_counter() - _t0, 'cpu_s': time.process_time() - _c0,"
    " 'load_s': globals().get('_load_s', 0.0)}))"
)
PROFILE = (
    "from pyinstrument import Profiler\n_p = Profiler(interval=0.005)\n_p.start()\n"
    "get_ipython().run_cell_magic('kepler_fit', '--project bench', {fit!r})\n"
    "_p.stop()\nprint(_p.output_text(unicode=False, color=False, show_all=False))"
)


# How each peer is set up in a notebook (once, before the data), and what its first fit cell runs.
PEER_SETUP = {
    "mlflow": (
        "import logging, mlflow, mlflow.keras\n"
        "mlflow.set_tracking_uri('sqlite:///' + os.path.join(os.environ['KEPLER_HOME'], 'mlflow.db'))\n"
        "mlflow.create_experiment('bench', artifact_location='file://' + os.environ['KEPLER_HOME'] + '/mlruns')\n"
        "mlflow.set_experiment('bench')\nlogging.getLogger('mlflow').setLevel(logging.ERROR)\n"
        "mlflow.keras.autolog(silent=True, log_models=False)"
    ),
    "wandb": (
        "os.environ.update(WANDB_MODE='offline', WANDB_SILENT='true', WANDB_DIR=os.environ['KEPLER_HOME'])\n"
        "import wandb\nfrom wandb.integration.keras import WandbMetricsLogger"
    ),
}
PEER_FIT = {
    "mlflow": FIT,
    "wandb": (
        "run = wandb.init(project='bench', mode='offline')\n"
        + FIT.replace("verbose=0)", "verbose=0, callbacks=[WandbMetricsLogger()])")
        + "\nrun.finish()"
    ),
}
VARIANTS = ("plain", "kepler", "mlflow", "wandb")


def run_kernel(variant: str | bool, home: str, profile: bool = False, source: Path = ROOT) -> dict:
    """One fresh kernel: set up (Kepler, MLflow's autolog or W&B, or nothing), time the first fit.
    Returns the timings. ``variant`` True/False stand for "kepler"/"plain"."""
    import nbformat
    from nbclient import NotebookClient

    variant = {True: "kepler", False: "plain"}.get(variant, variant)
    # As a notebook usually starts: the extension (or the tracker) first, then imports and data.
    cells = [LOAD] if variant == "kepler" else ["import os\n" + PEER_SETUP[variant]] if variant in PEER_SETUP else []
    cells.append(SETUP)
    if profile:
        cells.append(PROFILE.format(fit=FIT))
    else:
        fit = {"kepler": "%%kepler_fit --project bench\n" + FIT, "plain": FIT}.get(variant) or PEER_FIT[variant]
        cells += [START, fit, STOP]
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": home}})
    env = dict(os.environ)
    os.environ.update(
        KEPLER_HOME=home,
        KEPLER_ANSWER="continue",
        PYTHONPATH=str(source),
        TF_CPP_MIN_LOG_LEVEL="3",
        CUDA_VISIBLE_DEVICES="",
    )
    try:
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(env)
    if profile:
        return {"profile": "".join(o.get("text", "") for o in nb.cells[-1].outputs)}
    out = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.get("output_type") == "stream")
    fit_cell = nb.cells[-2]
    for o in fit_cell.outputs:
        if o.get("output_type") == "error":
            raise RuntimeError("\n".join(o.get("traceback", [])))
    return json.loads(out.strip().splitlines()[-1])


def available_peers() -> tuple[list[str], dict[str, str]]:
    """The peers importable here, and why the others are left out."""
    import importlib.util

    found, missing = [], {}
    for name in PEER_SETUP:
        if importlib.util.find_spec(name) is None:
            missing[name] = f"not installed ({name}): bash scripts/bench.sh installs it beside Kepler"
        else:
            found.append(name)
    return found, missing


def measure(repeats: int, source: Path = ROOT, journal: Path | None = None, peers: bool = False) -> dict[str, Any]:
    """Median first-fit seconds of each variant, and what each adds to the plain fit of its round, over
    ``repeats`` rounds of fresh kernels in a rotating order (each given a copy of the journal folder
    ``journal``, if any). ``peers``: MLflow's autolog and W&B too, where installed."""
    names, missing = (["plain", "kepler"], {})
    if peers:
        found, missing = available_peers()
        names += found
    seconds: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    load: list[float] = []
    for i in range(repeats):
        order = names[i % len(names) :] + names[: i % len(names)]
        for variant in order:
            with tempfile.TemporaryDirectory(prefix="kepler-first-fit-") as home:
                if journal is not None:
                    shutil.copytree(journal, home, dirs_exist_ok=True)
                result = run_kernel(variant, home, source=source)
            seconds[variant].append(result["fit_s"])
            cpu[variant].append(result["cpu_s"])
            if variant == "kepler":
                load.append(result["load_s"])

    def added(name: str, times: dict[str, list[float]]) -> float:
        return statistics.median(v - p for v, p in zip(times[name], times["plain"], strict=True))

    return {
        "plain_s": statistics.median(seconds["plain"]),
        "kepler_s": statistics.median(seconds["kepler"]),
        "added_s": added("kepler", seconds),
        "added_cpu_s": added("kepler", cpu),
        "load_ext_s": statistics.median(load),
        "rounds": repeats,
        "peers": {
            n: {"s": statistics.median(seconds[n]), "added_s": added(n, seconds), "added_cpu_s": added(n, cpu)}
            for n in names[2:]
        },
        "missing": missing,
    }


def build_journal(folder: Path, n: int) -> Path:
    """A journal folder of ``n`` experiments under ``folder`` (``benchmarks/similarity.py``), snapshot taken."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import similarity

    home = folder / "home"
    similarity.build_journal(home, n).experiments()  # its first read takes the snapshot, as in use
    return home


def profile() -> str:
    with tempfile.TemporaryDirectory(prefix="kepler-first-fit-") as home:
        return run_kernel(True, home, profile=True)["profile"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--source", type=Path, default=ROOT, help="the checkout whose Kepler the kernels import")
    parser.add_argument("--journal", type=int, default=0, metavar="N", help="N earlier experiments in the journal")
    parser.add_argument("--peers", action="store_true", help="MLflow's Keras autolog and W&B offline too")
    args = parser.parse_args()
    if args.profile:
        print(profile())
        return
    with tempfile.TemporaryDirectory(prefix="kepler-first-fit-journal-") as built:
        journal = build_journal(Path(built), args.journal) if args.journal else None
        r = measure(args.repeats, args.source, journal, peers=args.peers)
    where = f"{args.journal:,} experiments in the journal" if args.journal else "an empty journal"
    print("| first fit, fresh kernel | plain | under Kepler | added (median) | added CPU | %load_ext kepler |")
    print("|---|---:|---:|---:|---:|---:|")
    print(
        f"| {r['rounds']} pairs of kernels, {where} | {r['plain_s']:.2f} s | {r['kepler_s']:.2f} s "
        f"| {r['added_s']:+.2f} s (target {TARGET_ADDED_S} s) | {r['added_cpu_s']:+.2f} s | {r['load_ext_s']:.2f} s |"
    )
    for name, peer in r["peers"].items():
        print(f"{name}: first fit {peer['s']:.2f} s, {peer['added_s']:+.2f} s wall, {peer['added_cpu_s']:+.2f} s CPU")
    for name, why in r["missing"].items():
        print(f"{name}: {why}")


if __name__ == "__main__":
    sys.exit(main())
