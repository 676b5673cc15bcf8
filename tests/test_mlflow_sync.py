"""Pushing the journal to a real MLflow tracking server: the mapping, idempotence, resumption, limits."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
from mlflow_server import free_port, running_server

from kepler import Journal, ModelInspector
from kepler_nb.journal import mlflow_sync, team

pytest.importorskip("mlflow")
from mlflow import MlflowClient


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    yield from running_server(tmp_path_factory)


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}


def record_runs(home, n, project, epochs=3, start=0, cell=True):
    """``n`` ended experiments written through the journal's own API (what a fit records), fast."""
    journal = Journal(home)
    ids = []
    for i in range(start, start + n):
        summary = {
            "project": project,
            "name": f"run {i}",
            "architecture": "Dense(16, relu) > Dense(2, softmax)",
            "model_class": "Sequential",
            "n_layers": 2,
            "n_params": 178,
            "optimizer": "Adam",
            "learning_rate": 0.001,
            "epochs": epochs,
            "data_fingerprint": "a17f302451578435",
            "signature": f"sig-{project}-{i}",
            "arch_signature": "arch-dense16",
            "data_signature": "data-0",
            "input_shape": [8],
            "n_classes": 2,
            "arch": [["Dense", 16, "relu", "a"], ["Dense", 2, "softmax", "b"]],
            "hparams": {"optimizer": "Adam", "learning_rate": 0.001, "epochs": epochs, "batch_size": 32},
            "codes": ["K501"],
        }
        parts = {
            "compile": {"optimizer": "Adam", "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
            "fit": {"epochs": epochs, "batch_size": 32, "validation_split": 0.2},
            "cell": f"model.fit(x, y, epochs={epochs})  # run {i}" if cell else None,
            "findings": [{"code": "K501", "severity": "info", "message": "no random seed is set"}],
            "data": {"fingerprint": "a17f302451578435", "n_samples": 200},
        }
        experiment_id = journal.start(summary, parts)
        for epoch in range(epochs):
            journal.append_epoch(experiment_id, epoch, {"loss": 1.0 / (epoch + 1), "val_accuracy": 0.5 + epoch / 100})
        journal.update(experiment_id, {"status": "finished", "finished": summary_time(), "epochs_done": epochs})
        ids.append(experiment_id)
    return ids


def summary_time():
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def runs_of(server, project):
    client = MlflowClient(server.uri)
    experiment = client.get_experiment_by_name(project)
    return [] if experiment is None else client.search_runs([experiment.experiment_id], max_results=5000)


def kepler(*args, home):
    return subprocess.run(
        [sys.executable, "-m", "kepler_nb", "--home", str(home), *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )


def test_sync_pushes_one_run_per_experiment_with_its_tags_params_metrics_and_artifacts(kepler_home, mlflow_server):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 3)).astype("float32"), rng.integers(0, 2, 64)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    with ModelInspector(model, project="mapping", name="tiny run", show=lambda *a: None) as mi:
        mi.fit(x, y, epochs=3, verbose=0, validation_split=0.25)
    record_runs(kepler_home, 1, "mapping", start=1)

    done = kepler("sync", "--mlflow", mlflow_server.uri, home=kepler_home)
    assert done.returncode == 0, done.stderr
    assert "2 new, 0 updated, 0 unchanged" in done.stdout

    journal = Journal(kepler_home)
    record = journal.get(mi.experiment_id)
    runs = {r.data.tags["kepler.id"]: r for r in runs_of(mlflow_server, "mapping")}
    assert sorted(runs) == ["1", "2"]
    run = runs[str(mi.experiment_id)]
    tags, params = run.data.tags, run.data.params
    assert tags["kepler.signature"] == record["signature"] and tags["kepler.host"] == record["host"]
    assert tags["kepler.user"] == tags["mlflow.user"] == record["user"]
    assert tags["mlflow.runName"] == "tiny run" and tags["kepler.status"] == "finished"
    assert tags["kepler.pushed"] == mlflow_sync.record_digest(journal.experiments("mapping")[0])
    assert params["model.summary"] == "Dense(2, softmax)" and params["compile.optimizer"] == "Adam"
    assert params["fit.epochs"] == "3" and params["fit.validation_split"] == "0.25"
    assert params["data.fingerprint"] == record["data_fingerprint"]
    assert run.info.status == "FINISHED" and run.info.start_time == mlflow_sync._millis(record["created"])

    client = MlflowClient(mlflow_server.uri)
    history = client.get_metric_history(run.info.run_id, "val_loss")
    assert [m.step for m in history] == [0, 1, 2]
    assert [m.value for m in history] == pytest.approx(record["history"]["val_loss"])
    stamps = [mlflow_sync._millis(e["time"]) for e in journal.epochs(mi.experiment_id)]
    assert [m.timestamp for m in history] == stamps
    names = {a.path for a in client.list_artifacts(run.info.run_id, "kepler")}
    assert {"kepler/findings.json", "kepler/record.json", "kepler/report.html"} <= names
    other = runs["2"]
    assert "kepler/cell.py" in {a.path for a in client.list_artifacts(other.info.run_id, "kepler")}
    cell = client.download_artifacts(other.info.run_id, "kepler/cell.py", str(kepler_home))
    assert Path(cell).read_text() == "model.fit(x, y, epochs=3)  # run 1"
    report = client.download_artifacts(run.info.run_id, "kepler/report.html", str(kepler_home))
    assert "tiny run" in Path(report).read_text()


def test_pushing_twice_creates_nothing_new_even_without_the_local_state(kepler_home, mlflow_server):
    ids = record_runs(kepler_home, 5, "twice")
    journal = Journal(kepler_home)
    first = mlflow_sync.push(journal, mlflow_server.uri)
    assert sorted(first.created) == ids and not first.failed
    before = {r.info.run_id: r.data for r in runs_of(mlflow_server, "twice")}

    again = mlflow_sync.push(journal, mlflow_server.uri)
    assert again.pushed == [] and again.unchanged == 5

    for state in (kepler_home / "sync").glob("mlflow-*.json"):
        state.unlink()  # a journal copied to another machine, or the state file lost
    third = mlflow_sync.push(journal, mlflow_server.uri)
    assert third.created == [] and third.completed == [] and third.unchanged == 5
    after = runs_of(mlflow_server, "twice")
    assert {r.info.run_id for r in after} == set(before)
    client = MlflowClient(mlflow_server.uri)
    for run in after:
        assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == [0, 1, 2]


def test_a_note_added_later_updates_the_run_in_place(kepler_home, mlflow_server):
    (experiment_id,) = record_runs(kepler_home, 1, "noted")
    journal = Journal(kepler_home)
    mlflow_sync.push(journal, mlflow_server.uri)
    journal.note(experiment_id, "wider layers did not help")
    result = mlflow_sync.push(journal, mlflow_server.uri)
    assert result.completed == [experiment_id] and result.created == []
    (run,) = runs_of(mlflow_server, "noted")
    assert run.data.tags["kepler.conclusion"] == "wider layers did not help"
    history = MlflowClient(mlflow_server.uri).get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in history] == [0, 1, 2]


def test_a_run_left_without_its_commit_marker_is_completed_not_duplicated(kepler_home, mlflow_server):
    """What a push killed after creating the run and logging one epoch leaves behind."""
    (experiment_id,) = record_runs(kepler_home, 1, "resumed")
    journal = Journal(kepler_home)
    client = MlflowClient(mlflow_server.uri)
    from mlflow.entities import Metric

    project = client.create_experiment("resumed")
    identity = mlflow_sync.journal_identity(kepler_home)
    half = client.create_run(project, tags={"kepler.journal": identity, "kepler.id": str(experiment_id)})
    first_epoch = journal.epochs(experiment_id)[0]
    stamp = mlflow_sync._millis(first_epoch["time"])
    client.log_batch(half.info.run_id, metrics=[Metric("loss", first_epoch["logs"]["loss"], stamp, 0)])

    result = mlflow_sync.push(journal, mlflow_server.uri)
    assert result.completed == [experiment_id] and result.created == []
    (run,) = runs_of(mlflow_server, "resumed")
    assert run.info.run_id == half.info.run_id and "kepler.pushed" in run.data.tags
    assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == [0, 1, 2]
    assert [m.step for m in client.get_metric_history(run.info.run_id, "val_accuracy")] == [0, 1, 2]


PUSHER = r"""
import sys
from kepler_nb.journal import mlflow_sync, team
from kepler_nb.journal.journal import Journal
mlflow_sync.push(Journal(sys.argv[1]), sys.argv[2], progress=lambda line: print(line, flush=True))
"""


def test_a_push_killed_half_way_completes_on_the_next_push(kepler_home, mlflow_server):
    ids = record_runs(kepler_home, 24, "killed")
    pusher = subprocess.Popen(
        [sys.executable, "-c", PUSHER, str(kepler_home), mlflow_server.uri],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=ENV,
    )
    seen = [pusher.stdout.readline() for _ in range(3)]
    time.sleep(0.15)  # into the fourth experiment's requests
    os.kill(pusher.pid, signal.SIGKILL)
    pusher.wait()
    assert all("-> MLflow run" in line for line in seen), seen
    left = runs_of(mlflow_server, "killed")
    assert 3 <= len(left) < len(ids), "the push was not killed half-way"

    result = mlflow_sync.push(Journal(kepler_home), mlflow_server.uri)
    assert not result.failed and len(result.pushed) + result.unchanged == len(ids)
    runs = runs_of(mlflow_server, "killed")
    assert sorted(int(r.data.tags["kepler.id"]) for r in runs) == ids  # one run each, none twice
    client = MlflowClient(mlflow_server.uri)
    for run in runs:
        assert "kepler.pushed" in run.data.tags
        assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == [0, 1, 2]


def test_long_values_and_many_metrics_stay_within_mlflow_limits(kepler_home, mlflow_server):
    (experiment_id,) = record_runs(kepler_home, 1, "limits", epochs=600)
    journal = Journal(kepler_home)
    long_summary = " > ".join(f"Dense({i}, relu)" for i in range(1, 800))
    fit = {f"setting_{i}": i for i in range(150)}
    journal.update(experiment_id, {"architecture": long_summary}, {"fit": fit})
    result = mlflow_sync.push(journal, mlflow_server.uri)
    assert result.created == [experiment_id] and not result.failed
    (run,) = runs_of(mlflow_server, "limits")
    summary = run.data.params["model.summary"]
    assert len(long_summary) > 6000 and len(summary) == 6000 and summary.endswith(mlflow_sync.CUT_MARK)
    assert sum(key.startswith("fit.setting_") for key in run.data.params) == 150
    history = MlflowClient(mlflow_server.uri).get_metric_history(run.info.run_id, "val_accuracy")
    assert [m.step for m in history] == list(range(600))


def test_batches_respect_each_limit():
    from mlflow.entities import Metric, Param, RunTag

    metrics = [Metric("m", 1.0, 0, i) for i in range(2500)]
    params = [Param(f"p{i}", "x" * 6000) for i in range(250)]
    tags = [RunTag(f"t{i}", "y") for i in range(120)]
    batches = list(mlflow_sync._batches(metrics, params, tags))
    for batch in batches:
        assert len(batch["metrics"]) <= 1000 and len(batch["params"]) <= 100 and len(batch["tags"]) <= 100
        assert sum(len(v) for v in batch.values()) <= 1000
        size = sum(len(i.key) + len(str(i.value)) for kind in batch.values() for i in kind)
        assert size < 1_000_000
    assert sum(len(b["metrics"]) for b in batches) == 2500 and sum(len(b["params"]) for b in batches) == 250


def test_an_unreachable_server_fails_fast_and_keeps_the_runs_queued(kepler_home):
    record_runs(kepler_home, 2, "down")
    server = f"http://127.0.0.1:{free_port()}"
    started = time.perf_counter()
    done = kepler("sync", "--mlflow", server, home=kepler_home)
    assert done.returncode == 1 and "unreachable" in done.stderr and "queued" in done.stderr
    assert time.perf_counter() - started < 60
    assert len(mlflow_sync.pending(Journal(kepler_home), server)) == 2


def test_sync_without_a_server_says_how_to_name_one(kepler_home):
    record_runs(kepler_home, 1, "nowhere")
    done = kepler("sync", home=kepler_home)
    assert done.returncode == 2 and "--mlflow URI" in done.stderr and "config.toml" in done.stderr


def test_the_configured_server_is_read_from_config_toml(kepler_home, mlflow_server):
    kepler_home.mkdir(parents=True, exist_ok=True)
    (kepler_home / "config.toml").write_text(f'[sync]\nmlflow = "{mlflow_server.uri}"\n')
    assert team.configured_server(kepler_home) == mlflow_server.uri
    record_runs(kepler_home, 1, "configured")
    done = kepler("sync", "--quiet", home=kepler_home)
    assert done.returncode == 0 and done.stdout.strip().endswith("1 new, 0 updated, 0 unchanged.")
    assert json.loads(next((kepler_home / "sync").glob("mlflow-*.json")).read_text())["last"]["ok"] is True


def test_params_name_the_distribution_strategy_and_an_estimators_parameters():
    record = {"strategy": "MirroredStrategy", "replicas": 2, "estimator": {"C": 1.0, "kernel": "rbf"}}
    params = mlflow_sync.run_params(record)
    assert params["distribution.strategy"] == "MirroredStrategy" and params["distribution.replicas"] == "2"
    assert params["estimator.C"] == "1.0" and params["estimator.kernel"] == "rbf"
    assert "distribution.strategy" not in mlflow_sync.run_params({})  # control: one device, no such param
