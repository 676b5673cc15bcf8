"""The first fit of a fresh kernel: how much longer under ``%%kepler_fit`` than without it?

Each round starts two fresh IPython kernels through nbclient (as a headless
"Run All" does), one plain and one with ``%load_ext kepler``, in alternating
order. Both build the same small model on the same data in a set-up cell (after
``%load_ext kepler``, where a notebook usually has it);
the timed cells are the same ``model.fit(...)``, once bare and once under
``%%kepler_fit``. Reported: the median of each, the difference (target
0.3 s), and the time ``%load_ext kepler`` took.

    python benchmarks/first_fit.py [--repeats 3] [--profile] [--journal 50000]

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


def run_kernel(kepler: bool, home: str, profile: bool = False, source: Path = ROOT) -> dict:
    """One fresh kernel: set up, (load Kepler), time the first fit. Returns the timings and output gaps."""
    import nbformat
    from nbclient import NotebookClient

    # As a notebook usually starts: the extension first, then imports and data.
    cells = ([LOAD] if kepler else []) + [SETUP]
    if profile:
        cells.append(PROFILE.format(fit=FIT))
    else:
        cells += [START, ("%%kepler_fit --project bench\n" + FIT) if kepler else FIT, STOP]
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


def measure(repeats: int, source: Path = ROOT, journal: Path | None = None) -> dict[str, float]:
    """Median first-fit seconds with and without Kepler, over ``repeats`` pairs of fresh kernels
    (each given a copy of the journal folder ``journal``, if any)."""
    plain, kepler, load, plain_cpu, kepler_cpu = [], [], [], [], []
    for i in range(repeats):
        for with_kepler in (False, True) if i % 2 else (True, False):
            with tempfile.TemporaryDirectory(prefix="kepler-first-fit-") as home:
                if journal is not None:
                    shutil.copytree(journal, home, dirs_exist_ok=True)
                result = run_kernel(with_kepler, home, source=source)
            (kepler if with_kepler else plain).append(result["fit_s"])
            (kepler_cpu if with_kepler else plain_cpu).append(result["cpu_s"])
            if with_kepler:
                load.append(result["load_s"])
    return {
        "plain_s": statistics.median(plain),
        "kepler_s": statistics.median(kepler),
        "added_s": statistics.median(k - p for k, p in zip(kepler, plain, strict=True)),
        "added_cpu_s": statistics.median(k - p for k, p in zip(kepler_cpu, plain_cpu, strict=True)),
        "load_ext_s": statistics.median(load),
        "rounds": repeats,
    }


def profile() -> str:
    with tempfile.TemporaryDirectory(prefix="kepler-first-fit-") as home:
        return run_kernel(True, home, profile=True)["profile"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--source", type=Path, default=ROOT, help="the checkout whose Kepler the kernels import")
    parser.add_argument("--journal", type=int, default=0, metavar="N", help="N earlier experiments in the journal")
    args = parser.parse_args()
    if args.profile:
        print(profile())
        return
    with tempfile.TemporaryDirectory(prefix="kepler-first-fit-journal-") as built:
        journal = None
        if args.journal:
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            import similarity

            journal = Path(built) / "home"
            similarity.build_journal(journal, args.journal).experiments()  # its snapshot taken, as in use
        r = measure(args.repeats, args.source, journal)
    where = f"{args.journal:,} experiments in the journal" if args.journal else "an empty journal"
    print("| first fit, fresh kernel | plain | under Kepler | added (median) | added CPU | %load_ext kepler |")
    print("|---|---:|---:|---:|---:|---:|")
    print(
        f"| {r['rounds']} pairs of kernels, {where} | {r['plain_s']:.2f} s | {r['kepler_s']:.2f} s "
        f"| {r['added_s']:+.2f} s (target {TARGET_ADDED_S} s) | {r['added_cpu_s']:+.2f} s | {r['load_ext_s']:.2f} s |"
    )


if __name__ == "__main__":
    sys.exit(main())
