"""Big data: how long before the first training step, and how much memory, does Kepler add?

2,000,000 x 100 float32 (763 MB) with 10 classes, a small Dense model,
``validation_split=0.1``. Each variant runs in its own fresh process (so
that peak memory is its own): a plain ``model.fit`` and one under
``ModelInspector``; a callback notes when the first training batch starts
and stops the fit there. Unless ``--cold``, a small fit made the same way
comes first in each process (the first fit's imports are benchmarks/first_fit.py's
row, not this one's). Reported: the seconds from the call to the first
step (median over rounds; also the CPU time of all the process's threads,
which load on a shared machine distorts less), the process's peak resident
memory above what it held once the data was built, and Kepler's part of each
(the difference to plain; targets 1 s and 5% of the data).

    python benchmarks/big_data.py [--rows 2000000] [--repeats 2] [--profile]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FEATURES = 100
TARGET_SECONDS = 1.0
TARGET_MEMORY_SHARE = 0.05

CHILD = r"""
import json, os, resource, sys, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np, keras
rows, kepler, profile, warm = int(sys.argv[1]), sys.argv[2] == "kepler", sys.argv[3] == "profile", sys.argv[4] == "warm"
rng = np.random.default_rng(0)
x = rng.random((rows, 100), dtype=np.float32)
y = rng.integers(0, 10, rows)

def dense():
    model = keras.Sequential([keras.Input((100,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model

model = dense()

def rss_kb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))

class FirstStep(keras.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        if self.model is not None and not hasattr(self, "at"):
            self.at, self.cpu_at = time.perf_counter(), time.process_time()
            self.model.stop_training = True

if kepler:
    from kepler import ModelInspector
    fit = ModelInspector(model=model).fit
else:
    fit = model.fit
if warm:  # the first fit of a process pays for imports and set-up: benchmarks/first_fit.py measures that
    small = dense()
    (ModelInspector(model=small).fit if kepler else small.fit)(x[:2000], y[:2000], epochs=1, verbose=0)
first = FirstStep()
# Reset the peak to now: what the data and TensorFlow's start-up took is not the fit's.
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
base = rss_kb()
if profile:
    from pyinstrument import Profiler
    profiler = Profiler(interval=0.005)
    profiler.start()
start, cpu_start = time.perf_counter(), time.process_time()
fit(x, y, epochs=1, batch_size=4096, validation_split=0.1, callbacks=[first], verbose=0)
if profile:
    profiler.stop()
    print(profiler.output_text(unicode=False, color=False), file=sys.stderr)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with open("/proc/self/status") as f:
    hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))
print(json.dumps({"first_step_s": first.at - start, "first_step_cpu_s": first.cpu_at - cpu_start,
                  "added_peak_mb": (hwm - base) / 1024, "data_mb": x.nbytes / 2**20}))
"""


def run_child(rows: int, kepler: bool, profile: bool = False, warm: bool = True) -> dict:
    with tempfile.TemporaryDirectory(prefix="kepler-big-") as home:
        env = dict(os.environ, KEPLER_HOME=home, KEPLER_ANSWER="continue", PYTHONPATH=str(ROOT))
        env["TF_CPP_MIN_LOG_LEVEL"] = "3"
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                CHILD,
                str(rows),
                "kepler" if kepler else "plain",
                "profile" if profile else "-",
                "warm" if warm else "cold",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=900,
        )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    if profile:
        print(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(rows: int, repeats: int, warm: bool = True) -> dict[str, float]:
    """Medians over ``repeats`` rounds of one plain and one Kepler process, alternating which goes first.

    ``warm``: each process first fits a small model on 2,000 rows the same way, so that what is measured
    is what the size of the data costs, not the first fit's imports.
    """
    runs: dict[str, list[dict]] = {"plain": [], "kepler": []}
    for i in range(repeats):
        for name in ("plain", "kepler") if i % 2 else ("kepler", "plain"):
            runs[name].append(run_child(rows, name == "kepler", warm=warm))

    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[name])

    data_mb = runs["plain"][0]["data_mb"]
    return {
        "rows": rows,
        "data_mb": data_mb,
        "plain_first_step_s": med("plain", "first_step_s"),
        "kepler_first_step_s": med("kepler", "first_step_s"),
        "added_s": med("kepler", "first_step_s") - med("plain", "first_step_s"),
        "added_cpu_s": med("kepler", "first_step_cpu_s") - med("plain", "first_step_cpu_s"),
        "plain_peak_mb": med("plain", "added_peak_mb"),
        "kepler_peak_mb": med("kepler", "added_peak_mb"),
        "added_mb": med("kepler", "added_peak_mb") - med("plain", "added_peak_mb"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="profile one Kepler process instead")
    parser.add_argument("--cold", action="store_true", help="no warm-up fit: include the first fit's own cost")
    args = parser.parse_args()
    if args.profile:
        print(run_child(args.rows, True, profile=True, warm=not args.cold))
        return
    r = measure(args.rows, args.repeats, warm=not args.cold)
    print("| data | before the first step: plain | Kepler | added | peak memory added: plain | Kepler | Kepler's |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {r['rows']:,} x {FEATURES} float32 ({r['data_mb']:.0f} MB) | {r['plain_first_step_s']:.2f} s "
        f"| {r['kepler_first_step_s']:.2f} s | {r['added_s']:+.2f} s (target {TARGET_SECONDS:g} s; "
        f"CPU time of all threads {r['added_cpu_s']:+.2f} s) "
        f"| {r['plain_peak_mb']:.0f} MB | {r['kepler_peak_mb']:.0f} MB "
        f"| {r['added_mb']:+.0f} MB = {100 * r['added_mb'] / r['data_mb']:.1f}% (target {TARGET_MEMORY_SHARE:.0%}) |"
    )


if __name__ == "__main__":
    sys.exit(main())
