"""Every benchmark in one command; writes benchmarks/RESULTS.md.

    python benchmarks/run_all.py            # the full table (about 15 minutes on 2 busy cores)
    python benchmarks/run_all.py --quick    # fewer rounds, smaller big data (about 6 minutes)
    python benchmarks/run_all.py --only journal estimators   # those sections again, the others kept

Rows: the first fit of a fresh kernel (plain, Kepler, MLflow's Keras autolog,
W&B offline; and Kepler's again with 50,000 experiments in the journal); the
reference fit and 100 short epochs for plain Keras, Kepler, MLflow's Keras
autolog and Weights & Biases (offline), as ratios to the plain fit measured
interleaved in one process; every pre-training check on 30,000-120,000 x 784;
big data (seconds before the first training step, peak memory); the
journal at 1,000, 10,000 and 50,000 experiments (recording, opening and
listing, the lookup before a fit, searches, the CLI); scikit-learn
estimator fits against MLflow's sklearn autolog when that benchmark exists.
Each row says what it measures, the target and the result. MLflow and W&B
come from ``scripts/bench.sh``'s own environment (``.venv-bench``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT)]

import big_data  # noqa: E402
import checks as checks_bench  # noqa: E402
import diagnosis  # noqa: E402
import estimators  # noqa: E402
import first_fit  # noqa: E402
import journal as journal_bench  # noqa: E402
import peers  # noqa: E402

Row = tuple[str, str, str, str]  # what, target, result, verdict


def verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def ms(fn: Any, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


# -- sections ---------------------------------------------------------------------------
def first_fit_rows(repeats: int) -> list[Row]:
    r = first_fit.measure(repeats, peers=True)
    big = first_fit.measure(max(2, repeats - 1), journal=_built_journal(50_000))
    return [
        (
            f"First fit of a fresh kernel (nbclient, 4,000 x 64, 2 epochs), {r['rounds']} pairs of kernels: "
            f"plain {r['plain_s']:.2f} s, under Kepler {r['kepler_s']:.2f} s",
            "<= 0.3 s added",
            f"{r['added_s']:+.2f} s wall, {r['added_cpu_s']:+.2f} s CPU",
            verdict(min(r["added_s"], r["added_cpu_s"]) <= first_fit.TARGET_ADDED_S),
        ),
        (
            f"The same with 50,000 experiments already in the journal (read and indexed on the warm-up thread "
            f"after `%load_ext kepler`), {big['rounds']} pairs: plain {big['plain_s']:.2f} s, under Kepler "
            f"{big['kepler_s']:.2f} s",
            "<= 0.3 s added",
            f"{big['added_s']:+.2f} s wall, {big['added_cpu_s']:+.2f} s CPU",
            verdict(min(big["added_s"], big["added_cpu_s"]) <= first_fit.TARGET_ADDED_S),
        ),
        *(
            (
                f"The same first fit under {PEER_NAMES[name]} (set up in the cell before the data)",
                "(a peer, for comparison)",
                f"{peer['added_s']:+.2f} s wall, {peer['added_cpu_s']:+.2f} s CPU",
                "",
            )
            for name, peer in r["peers"].items()
        ),
        *((PEER_NAMES[name], "", why, "") for name, why in r["missing"].items()),
        (
            "`%load_ext kepler` in a fresh kernel",
            "nothing silent > 1 s",
            f"{r['load_ext_s']:.2f} s",
            verdict(r["load_ext_s"] <= 1),
        ),
    ]


PEER_NAMES = {"mlflow": "MLflow's Keras autolog", "wandb": "Weights & Biases (offline)"}


def _built_journal(n: int) -> Path:
    """A journal of ``n`` experiments, built once per run in a folder removed at the end."""
    import atexit
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="kepler-bench-journal-"))
    atexit.register(shutil.rmtree, folder, True)
    return first_fit.build_journal(folder, n)


def peer_rows(repeats: int) -> list[Row]:
    results = peers.measure(repeats)
    missing = results.pop("missing")
    rows: list[Row] = []
    for workload, variants in results.items():
        spec = peers.WORKLOADS[workload]
        plain = variants["plain"]["seconds"]
        for name, r in variants.items():
            if name == "plain":
                continue
            target = f"<= {peers.TARGET_RATIO}x" if name == "kepler" else "(a peer, for comparison)"
            rows.append(
                (
                    f"{workload} ({spec['rows']:,} x 64, {spec['epochs']} epochs, batch {spec['batch_size']}): "
                    f"{name} (plain {plain:.2f} s, {r['rounds']} interleaved rounds)",
                    target,
                    f"{r['ratio']:.2f}x ({r['seconds']:.2f} s); CPU {r['cpu_ratio']:.2f}x",
                    verdict(r["ratio"] <= peers.TARGET_RATIO) if name == "kepler" else "",
                )
            )
    rows += [(f"{name}", "", why, "") for name, why in missing.items()]
    return rows


def big_data_rows(rows: int, repeats: int) -> list[Row]:
    r = big_data.measure(rows, repeats)
    share = r["added_mb"] / r["data_mb"]
    return [
        (
            f"Big data {rows:,} x 100 float32 ({r['data_mb']:.0f} MB), validation_split 0.1, after a small warm-up "
            f"fit: time from `fit` to the first training step (plain {r['plain_first_step_s']:.2f} s, Kepler "
            f"{r['kepler_first_step_s']:.2f} s)",
            "<= 1 s added",
            f"{r['added_s']:+.2f} s wall, {r['added_cpu_s']:+.2f} s CPU (all threads)",
            verdict(r["added_s"] <= big_data.TARGET_SECONDS),
        ),
        (
            f"Big data: peak resident memory of the fit above the data (plain {r['plain_peak_mb']:.0f} MB, "
            f"Kepler {r['kepler_peak_mb']:.0f} MB)",
            "<= 5% of the data added",
            f"{r['added_mb']:+.0f} MB ({share:.1%})",
            verdict(share <= big_data.TARGET_MEMORY_SHARE),
        ),
    ]


def check_rows(repeats: int) -> list[Row]:
    """benchmarks/checks.py: every pre-training check on MNIST-shaped data, and whether it grows linearly."""
    measured = checks_bench.measure((30_000, 60_000, 120_000), repeats)
    per_10k = [every / rows * 1e4 for rows, every, _, _ in measured]
    rows_out: list[Row] = []
    for (rows, every, data, read), per in zip(measured, per_10k, strict=True):
        target = "< 1 s" if rows == 60_000 else "linear in rows"
        # Linear or better: the cost per row does not rise above the smallest size's (a fixed cost makes it fall).
        met = every < checks_bench.TARGET_SECONDS if rows == 60_000 else per <= 1.5 * per_10k[0]
        rows_out.append(
            (
                f"Every pre-training check (`kepler.check`) on {rows:,} x 784 float32, 10 classes "
                f"(the data checks alone {data:.3f} s; one read of the array, x.sum(), {read:.4f} s)",
                target,
                f"{every:.3f} s ({per:.3f} s per 10,000 rows)",
                verdict(met),
            )
        )
    return rows_out


def journal_rows(sizes: list[int], repeat: int) -> list[Row]:
    """benchmarks/journal.py --big: record, open + list, lookup, searches and CLI, wall-clock and CPU time."""
    return journal_bench.big_rows(sizes, repeat)


def estimator_rows(quick: bool) -> list[Row]:
    """benchmarks/estimators.py: plain, under Kepler, under MLflow's sklearn autolog."""
    return estimators.rows(quick=quick)


SECTIONS = ("first-fit", "peers", "checks", "big-data", "journal", "estimators", "diagnosis")


def run_section(key: str, title: str, quick: bool) -> list[Row]:
    """One section in a fresh process: what one section imported, built or left in memory (TensorFlow,
    MLflow's state, a journal of 50,000 records) must not weigh on the next one's figures."""
    command = [sys.executable, str(Path(__file__).resolve()), "--section", key] + (["--quick"] if quick else [])
    done = subprocess.run(command, capture_output=True, text=True)
    lines = done.stdout.strip().splitlines()
    if done.returncode == 0 and lines:
        try:
            return [tuple(row) for row in json.loads(lines[-1])]
        except ValueError:
            pass
    why = (done.stderr.strip().splitlines() or ["no output"])[-1][:300]
    return [(title, "", f"failed (exit {done.returncode}): {why}", "**failed**")]


# -- the table --------------------------------------------------------------------------
def table(sections: dict[str, list[Row]]) -> str:
    lines = []
    for title, rows in sections.items():
        lines += [f"### {title}", "", "| what is measured | target | result | |", "|---|---|---|---|"]
        lines += [f"| {w} | {t} | {r} | {v} |" for w, t, r, v in rows]
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, 500,000 rows of big data")
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument(
        "--skip",
        nargs="*",
        default=[],
        help="sections to leave out: first-fit peers checks big-data journal estimators diagnosis",
    )
    parser.add_argument(
        "--only", nargs="*", choices=SECTIONS, help="measure these sections again, keeping the others in --output"
    )
    parser.add_argument("--section", choices=SECTIONS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    quick = args.quick
    started = time.perf_counter()
    plan = {
        "first-fit": ("First fit of a kernel", lambda: first_fit_rows(2 if quick else 3)),
        "peers": ("Fit overhead beside MLflow and Weights & Biases", lambda: peer_rows(3 if quick else 5)),
        "checks": ("Pre-training checks", lambda: check_rows(3 if quick else 5)),
        "big-data": ("Big data", lambda: big_data_rows(500_000 if quick else 2_000_000, 1 if quick else 2)),
        "journal": ("Big journals", lambda: journal_rows([1_000, 10_000, 50_000], 5 if quick else 15)),
        "estimators": ("scikit-learn estimators", lambda: estimator_rows(quick)),
        "diagnosis": ("Epoch-end diagnosis", lambda: diagnosis.rows(3 if quick else 6)),
    }
    sections = {}

    def write() -> str:
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        header = (
            "# Benchmark results\n\n"
            f"`python benchmarks/run_all.py{' --quick' if quick else ''}"
            f"{' --skip ' + ' '.join(args.skip) if args.skip else ''}` on {os.cpu_count()} shared cores, "
            f"Python {platform.python_version()}, no GPU; load average {load:.1f} at the end, "
            f"{time.perf_counter() - started:.0f} s in all, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. "
            "Ratios are medians of interleaved rounds in one process; wall-clock seconds on a shared machine are "
            "noisy (CPU seconds are given where load distorts them).\n\n"
        )
        text = header + table(sections)
        args.output.write_text(text, encoding="utf-8")  # after every section: a stopped run keeps what it measured
        return text

    if args.section:  # one section, in this fresh process: its rows as JSON on the last line
        print(json.dumps(plan[args.section][1]()))
        return 0
    if args.only:
        for key in args.only:
            title = plan[key][0]
            print(f"{title} ...", flush=True)
            rows = run_section(key, title, quick)
            load = os.getloadavg()[0]
            intro = (
                f"Measured again alone: `python benchmarks/run_all.py --only {key}{' --quick' if quick else ''}`, "
                f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {load:.1f} at the end."
            )
            journal_bench.write_section(args.output, title, intro, rows)
        return 0
    for key, (title, _run) in plan.items():
        if key in args.skip:
            continue
        t0 = time.perf_counter()
        print(f"{title} ...", flush=True)
        sections[title] = run_section(key, title, quick)
        print(f"  {time.perf_counter() - t0:.0f} s", flush=True)
        text = write()
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
