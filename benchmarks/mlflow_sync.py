"""Pushing to an MLflow tracking server, and the team lookup before a fit.

Starts a real ``mlflow server`` on 127.0.0.1 (SQLite backend, local artifact
folder), records ``--n`` ended experiments of ``--epochs`` epochs (four
metrics each) through the journal's API, then measures:

* the first push (every run created: tags, params, metrics, artifacts, the
  HTML report), the re-push (nothing changed: no request at all), and the
  re-push without the local state file (each run looked up by its tags);
* the team lookup made before a fit (``team_runs``: two searches), against
  that server, an unreachable port and a server that never answers.

    python benchmarks/mlflow_sync.py              # 100 runs of 10 epochs
    python benchmarks/mlflow_sync.py --n 20 --no-report
"""

from __future__ import annotations

import argparse
import platform
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from mlflow_server import MlflowServer, free_port  # noqa: E402

from kepler_nb.journal import mlflow_sync, team  # noqa: E402
from kepler_nb.journal.journal import Journal  # noqa: E402


def record(home: Path, n: int, epochs: int, project: str) -> None:
    journal = Journal(home)
    for i in range(n):
        summary = {
            "project": project,
            "name": f"run {i}",
            "architecture": "Dense(64, relu) > Dense(10, softmax)",
            "signature": f"sig-{i}",
            "arch_signature": f"arch-{i % 10}",
            "data_signature": "data-0",
            "input_shape": [64],
            "n_classes": 10,
            "arch": [["Dense", 64, "relu", "a"], ["Dense", 10, "softmax", "b"]],
            "hparams": {"optimizer": "Adam", "learning_rate": 10 ** -(1 + i % 4), "epochs": epochs},
        }
        parts = {
            "compile": {"optimizer": "Adam", "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
            "fit": {"epochs": epochs, "batch_size": 128, "validation_split": 0.1},
            "cell": f"model.fit(x, y, epochs={epochs})",
            "data": {"fingerprint": "f" * 16, "n_samples": 20000},
        }
        experiment_id = journal.start(summary, parts)
        for epoch in range(epochs):
            logs = {"loss": 1 / (epoch + 1), "accuracy": 0.5, "val_loss": 1.1 / (epoch + 1), "val_accuracy": 0.48}
            journal.append_epoch(experiment_id, epoch, logs)
        journal.update(experiment_id, {"status": "finished", "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")})


def timed(fn):
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--no-report", action="store_true", help="Attach no HTML report (skips rendering).")
    args = parser.parse_args()
    print(f"Python {platform.python_version()}, {args.n} runs x {args.epochs} epochs x 4 metrics")
    with tempfile.TemporaryDirectory() as tmp:
        server = MlflowServer(Path(tmp) / "server")
        try:
            home = Path(tmp) / "home"
            record(home, args.n, args.epochs, "bench")
            journal = Journal(home)
            report = None
            if not args.no_report:
                from kepler_nb.presentation.report import export_html

                def report(experiment_id, path):
                    export_html(experiment_id, path, journal=journal)

            first, result = timed(lambda: mlflow_sync.push(journal, server.uri, report=report))
            assert len(result.created) == args.n, result.line()
            again, result = timed(lambda: mlflow_sync.push(journal, server.uri, report=report))
            assert result.unchanged == args.n, result.line()
            for state in (home / "sync").glob("mlflow-*.json"):
                state.unlink()
            stateless, result = timed(lambda: mlflow_sync.push(journal, server.uri, report=report))
            assert result.unchanged == args.n and not result.created, result.line()
            print(f"first push       {first:7.2f} s  ({first / args.n * 1000:.0f} ms per run)")
            print(f"re-push          {again:7.3f} s  (state file: no request)")
            print(f"re-push, no state {stateless:6.2f} s  ({stateless / args.n * 1000:.0f} ms per run, tags looked up)")

            target = {"arch_signature": "arch-3", "input_shape": [64], "n_classes": 10, "signature": "sig-3"}
            team.reset_lookup_cache()
            cold, found = timed(lambda: team.team_runs(server.uri, target, budget=5.0))
            assert found.note is None and found.runs, found.note
            warm = [timed(lambda: team.team_runs(server.uri, target, budget=5.0))[0] for _ in range(20)]
            print(
                f"team lookup      cold {cold * 1000:.0f} ms, warm median {statistics.median(warm) * 1000:.0f} ms"
                f" (max {max(warm) * 1000:.0f} ms; {len(found.runs)} runs found)"
            )
            down, found = timed(lambda: team.team_runs(f"http://127.0.0.1:{free_port()}", target))
            print(f"unreachable      {down * 1000:.0f} ms: {found.note}")
            with socket.socket() as silent:
                silent.bind(("127.0.0.1", 0))
                silent.listen()
                team.reset_lookup_cache()
                slow, found = timed(lambda: team.team_runs(f"http://127.0.0.1:{silent.getsockname()[1]}", target))
            print(f"never answers    {slow * 1000:.0f} ms: {found.note}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
