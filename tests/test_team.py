"""A team's MLflow server asked before a fit, and runs pushed in the background after one (a real server)."""

from __future__ import annotations

import socket
import time

import keras
import numpy as np
import pytest
from mlflow_server import free_port, running_server

from kepler import Journal, ModelInspector
from kepler_nb.interception.journals import reset_shared_journals
from kepler_nb.interception.options import RunOptions
from kepler_nb.journal import mlflow_sync, team

pytest.importorskip("mlflow")
from mlflow import MlflowClient


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    yield from running_server(tmp_path_factory)


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 4)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64")


def fit(home, monkeypatch, project, learning_rate=0.01, answer=None, server=None):
    """One real fit recorded in ``home`` (a teammate's KEPLER_HOME); returns (inspector, lines shown, History)."""
    monkeypatch.setenv("KEPLER_HOME", str(home))
    monkeypatch.delenv("KEPLER_ANSWER", raising=False)
    reset_shared_journals()
    home.mkdir(parents=True, exist_ok=True)
    if server:
        # A generous budget: this machine is shared by many processes (the default is 0.3 s).
        (home / "config.toml").write_text(f'[sync]\nmlflow = "{server}"\nlookup_timeout = 5\n')
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2)])
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    shown: list[str] = []
    x, y = data()
    with ModelInspector(model, project=project, options=RunOptions(answer=answer), show=shown.append) as mi:
        history = mi.fit(x, y, epochs=3, batch_size=32, validation_split=0.25, verbose=0)
    return mi, shown, history


def alice_pushed(tmp_path, monkeypatch, server, project, **kwargs):
    """Alice's run, recorded on host gpu-2, on the server."""
    alice = tmp_path / "alice"
    mi, _, _ = fit(alice, monkeypatch, project, **kwargs)
    journal = Journal(alice)
    journal.update(mi.experiment_id, {"host": "gpu-2", "user": "alice"})
    result = mlflow_sync.push(journal, server.uri)
    assert result.created == [mi.experiment_id]
    team.reset_lookup_cache()  # the project's experiment is new on the server
    return journal.get(mi.experiment_id), result.runs[mi.experiment_id]


def test_a_teammates_run_of_the_same_experiment_is_found_before_a_fit(tmp_path, monkeypatch, mlflow_server):
    alices, run_id = alice_pushed(tmp_path, monkeypatch, mlflow_server, "team-dup")
    bob = tmp_path / "bob"
    mi, shown, history = fit(bob, monkeypatch, "team-dup", answer="skip", server=mlflow_server.uri)
    said = "\n".join(shown)
    assert "This exact experiment ran just now on host gpu-2 by alice (MLflow run " + run_id[:8] in said
    assert "val_accuracy" in said and "Run it again?" in said
    record = Journal(bob).get(mi.experiment_id)
    assert record["status"] == "skipped" and record["duplicate_of_mlflow_run"] == run_id
    assert history.history["val_loss"] == pytest.approx(alices["history"]["val_loss"])  # alice's curves

    # Control: the same fit with nobody asking trains (the default answer), and is recorded as a run of its own.
    again, shown, history = fit(bob, monkeypatch, "team-dup", server=mlflow_server.uri)
    assert any("This exact experiment ran" in line for line in shown)
    assert Journal(bob).get(again.experiment_id)["status"] == "finished" and len(history.history["loss"]) == 3


def test_a_teammates_similar_run_is_named_in_one_line(tmp_path, monkeypatch, mlflow_server):
    alice_pushed(tmp_path, monkeypatch, mlflow_server, "team-similar", learning_rate=0.01)
    mi, shown, _ = fit(tmp_path / "bob", monkeypatch, "team-similar", learning_rate=0.002, server=mlflow_server.uri)
    (line,) = [line for line in shown if "by the team on the MLflow server" in line]
    # Alice's runs of the other tests on this server are as similar: every one named is hers, from another host.
    assert "similar run" in line and "alice on gpu-2" in line and "same model, different hyperparameters" in line
    assert Journal(tmp_path / "bob").get(mi.experiment_id)["status"] == "finished"


def test_own_runs_are_not_offered_as_teammates_runs(tmp_path, monkeypatch, mlflow_server):
    home = tmp_path / "alice"
    fit(home, monkeypatch, "team-own")
    pushed = mlflow_sync.push(Journal(home), mlflow_server.uri)
    own = set(pushed.runs.values())
    team.reset_lookup_cache()
    summary = Journal(home).experiments("team-own")[0]
    found = team.team_runs(mlflow_server.uri, summary, own_journal=team.journal_identity(home), budget=5)
    assert found.note is None and own.isdisjoint(r["mlflow_run"] for r in found.runs)
    everyone = team.team_runs(mlflow_server.uri, summary, budget=5).runs
    assert own <= {r["mlflow_run"] for r in everyone}  # control: the run is there


def test_an_unreachable_or_silent_server_is_skipped_with_a_note(tmp_path, monkeypatch):
    target = {"arch_signature": "a", "input_shape": [4], "n_classes": 2}
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        team.reset_lookup_cache()
        started = time.perf_counter()
        found = team.team_runs(f"http://127.0.0.1:{silent.getsockname()[1]}", target)
        waited = time.perf_counter() - started
    assert found.runs == [] and "no answer in time" in found.note
    assert waited < 2.0  # bounded by the lookup's 0.3 s budget, not a socket's default timeout
    down = f"http://127.0.0.1:{free_port()}"
    mi, shown, history = fit(tmp_path / "bob", monkeypatch, "team-down", server=down)
    assert any(f"the MLflow server {down} was not asked" in line for line in shown)
    assert Journal(tmp_path / "bob").get(mi.experiment_id)["status"] == "finished" and len(history.epoch) == 3


def wait_for_runs(server, project, count, timeout=180):
    client = MlflowClient(server.uri)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        experiment = client.get_experiment_by_name(project)
        if experiment is not None:
            runs = client.search_runs([experiment.experiment_id], "tags.`kepler.pushed` != ''")
            if len(runs) >= count:
                return runs
        time.sleep(1)
    raise AssertionError(f"{count} runs of {project} not pushed within {timeout} s")


def test_each_finished_run_is_pushed_in_the_background(tmp_path, monkeypatch, mlflow_server):
    home = tmp_path / "carol"
    mi, shown, _ = fit(home, monkeypatch, "team-background", server=mlflow_server.uri)
    (run,) = wait_for_runs(mlflow_server, "team-background", 1)
    assert run.data.tags["kepler.id"] == str(mi.experiment_id)
    assert not any("queued" in line for line in shown)


def test_runs_are_queued_while_the_server_is_down_and_pushed_later(tmp_path, monkeypatch, mlflow_server):
    home = tmp_path / "dave"
    down = f"http://127.0.0.1:{free_port()}"
    first, shown, _ = fit(home, monkeypatch, "team-queued", server=down)
    state_file = next((home / "sync").glob("mlflow-*.json"), None)
    deadline = time.monotonic() + 120
    while state_file is None or "ok" not in state_file.read_text():  # the background push gave up
        assert time.monotonic() < deadline, "the background push never reported"
        time.sleep(0.5)
        state_file = next((home / "sync").glob("mlflow-*.json"), None)
    second, shown, _ = fit(home, monkeypatch, "team-queued", learning_rate=0.003, server=down)
    (line,) = [line for line in shown if "queued" in line]
    assert f"the MLflow server {down} was unreachable" in line and "kepler sync" in line
    assert len(mlflow_sync.pending(Journal(home), down)) == 2

    third, _, _ = fit(home, monkeypatch, "team-queued", learning_rate=0.004, server=mlflow_server.uri)
    runs = wait_for_runs(mlflow_server, "team-queued", 3)
    pushed = sorted(int(r.data.tags["kepler.id"]) for r in runs)
    assert pushed == [first.experiment_id, second.experiment_id, third.experiment_id]
