"""Journal: experiments recorded in TinyDB, their large parts content-addressed beside them."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys

import numpy as np
import pytest

from kepler_nb.journal import eventlog
from kepler_nb.journal.journal import BLOB_PARTS, Journal, UnknownExperimentError

NOTEBOOK = {
    "nbformat": 4,
    "nbformat_minor": 5,
    "metadata": {"kernelspec": {"name": "python3"}},
    "cells": [{"cell_type": "code", "source": "model.fit(x, y, epochs=5)", "metadata": {}, "outputs": []}],
}


def summary(**fields):
    base = {
        "project": "digits",
        "name": "sigmoid-net",
        "tags": ["baseline"],
        "optimizer": "SGD",
        "learning_rate": 0.01,
        "epochs": 5,
        "architecture": "Dense(32, sigmoid) > Dense(10, sigmoid)",
    }
    return {**base, **fields}


def parts(**fields):
    base = {
        "cell": "model.fit(x, y, epochs=5)",
        "notebook": NOTEBOOK,
        "fit": {"epochs": 5, "batch_size": 32, "shuffle": True},
        "layers": [{"name": "dense", "type": "Dense", "units": 32, "activation": "sigmoid", "params": 2080}],
        "findings": [{"code": "K303", "name": "data-not-normalized", "severity": "warning", "message": "61 of 64"}],
    }
    return {**base, **fields}


def blob_files(journal: Journal) -> list:
    return sorted(journal.blobs.root.rglob("*.json"))


def test_start_update_and_get(kepler_home):
    journal = Journal()
    assert journal.path == kepler_home / "journal.jsonl"
    experiment_id = journal.start(summary(), parts())
    assert experiment_id == 1

    [listed] = journal.experiments()
    assert listed["id"] == 1
    assert listed["status"] == "running"  # recorded before training starts
    assert {"project": "digits", "name": "sigmoid-net"}.items() <= listed.items()
    assert listed["created"][:2] == "20"
    assert not {"blobs", "pid", "pid_started"} & listed.keys()

    journal.update(
        experiment_id,
        {"status": "finished", "final": {"loss": 0.5}, "epochs_done": 5},
        parts={"findings": [], "model_config": {"class": "Sequential"}},
    )
    record = Journal().get(experiment_id)  # a fresh reader sees the same
    assert record["status"] == "finished"
    assert record["final"] == {"loss": 0.5}
    assert record["findings"] == []  # the part was replaced...
    assert record["model_config"] == {"class": "Sequential"}
    assert record["cell"] == "model.fit(x, y, epochs=5)"  # ...the others kept
    assert record["notebook"] == NOTEBOOK
    assert record["environment"] is None  # never given
    assert set(BLOB_PARTS) <= record.keys()
    assert record["history"] == {}


def test_get_returns_json_able_data(kepler_home):
    journal = Journal()
    odd = parts(
        data={"n_samples": np.int64(1797), "mean": np.float32(0.25), "shape": (1797, 64)},
        fit={"epochs": 5, "class_weight": None, "validation_split": 0.1},
    )
    experiment_id = journal.start(summary(), odd)
    journal.append_epoch(experiment_id, 0, {"loss": np.float32(2.5), "accuracy": 0.125})
    record = journal.get(experiment_id)
    assert json.loads(json.dumps(record)) == record
    assert record["data"]["shape"] == [1797, 64]
    assert record["history"] == {"loss": [2.5], "accuracy": [0.125]}
    # The string form of an id (from the CLI) finds the same record.
    assert journal.get(str(experiment_id)) == record


def test_an_unchanged_notebook_snapshot_is_stored_once(kepler_home):
    journal = Journal()
    first = journal.start(summary(), parts())
    files = blob_files(journal)
    assert len(files) == len(parts())
    second = journal.start(summary(name="wider"), parts(cell="model.fit(x, y, epochs=10)"))
    # Only the changed cell is a new blob.
    assert len(blob_files(journal)) == len(files) + 1
    docs = {d.doc_id: d for d in journal.table.all()}
    assert docs[first]["blobs"]["notebook"] == docs[second]["blobs"]["notebook"]
    assert docs[first]["blobs"]["cell"] != docs[second]["blobs"]["cell"]
    # Each blob is named by the SHA-256 of its content, and the documents stay small.
    for path in blob_files(journal):
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.stem
    assert max(len(line) for line in journal.path.read_text().splitlines()) < 1500


def test_history_is_built_from_the_epochs_appended(kepler_home):
    journal = Journal()
    experiment_id = journal.start(summary(), parts())
    for epoch, loss in enumerate([2.0, 1.5, 1.25]):
        journal.append_epoch(experiment_id, epoch, {"loss": loss, "val_loss": loss + 0.25})
    # A kernel dying in the middle of the next append leaves half a line.
    with open(journal.runs / f"{experiment_id}.epochs.jsonl", "a") as f:
        f.write('{"epoch": 3, "logs": {"loss": 1.')
    assert journal.history(experiment_id) == {"loss": [2.0, 1.5, 1.25], "val_loss": [2.25, 1.75, 1.5]}
    assert Journal().get(experiment_id)["history"]["loss"] == [2.0, 1.5, 1.25]
    assert journal.history(999) == {}


DIES_MID_TRAINING = """
import os, sys
from kepler_nb.journal.journal import Journal
journal = Journal()
experiment_id = journal.start({"project": "p", "name": "dies"}, {"cell": "fit"})
for epoch in range(2):
    journal.append_epoch(experiment_id, epoch, {"loss": 1.0 / (epoch + 1)})
print(experiment_id, flush=True)
os._exit(1)  # no update: the record is left running
"""


def test_a_record_left_running_by_a_dead_process_shows_interrupted(kepler_home):
    done = subprocess.run([sys.executable, "-c", DIES_MID_TRAINING], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    dead_id = int(done.stdout)
    journal = Journal()
    alive_id = journal.start(summary(name="alive"), parts())

    listed = {e["id"]: e for e in journal.experiments()}
    assert listed[dead_id]["status"] == "interrupted"
    assert listed[dead_id]["epochs_done"] == 2
    assert listed[alive_id]["status"] == "running"  # this process is alive
    record = journal.get(dead_id)
    assert record["status"] == "interrupted"
    assert record["history"] == {"loss": [1.0, 0.5]}
    assert [e["id"] for e in journal.search({"status": "interrupted"})] == [dead_id]
    # The stored status is untouched: "interrupted" is how a dead run is shown.
    assert journal.table.get(doc_id=dead_id)["status"] == "running"


def test_a_reused_pid_or_another_host_is_judged_right(kepler_home):
    journal = Journal()
    reused = journal.start(summary(name="reused pid"), parts())
    # Our pid, but a process that started at another time: the recorder is gone.
    journal.update(reused, {"pid_started": 12345.0})
    elsewhere = journal.start(summary(name="other host"), parts())
    # A process on another machine can't be seen: it stays running.
    journal.update(elsewhere, {"host": "some-other-host", "pid": 2**22 + 7})
    listed = {e["id"]: e["status"] for e in journal.experiments()}
    assert listed == {reused: "interrupted", elsewhere: "running"}


def test_unknown_ids_raise_a_helpful_error(kepler_home):
    journal = Journal()
    journal.start(summary(), parts())
    for bad in (999, "999", "abc", None):
        with pytest.raises(UnknownExperimentError, match=r"No experiment with id .* \(1 recorded\)") as error:
            journal.get(bad)
        assert str(journal.path) in str(error.value)
        assert "kepler list" in str(error.value)
    with pytest.raises(LookupError, match="999"):
        journal.update(999, {"status": "finished"})
    with pytest.raises(ValueError, match="unknown record parts.*'weights'.*known"):
        journal.start(summary(), {"weights": [1, 2]})


def test_experiments_and_search(kepler_home):
    journal = Journal()
    a = journal.start(summary(), parts())
    b = journal.start(summary(name="adam-net", optimizer="Adam", tags=["wide", "adam"]), parts())
    c = journal.start(summary(project="iris", name="tiny", tags=[]), parts())
    journal.update(b, {"status": "finished"})

    assert [e["id"] for e in journal.experiments()] == [a, b, c]
    assert [e["id"] for e in journal.experiments(project="digits")] == [a, b]
    assert journal.experiments(project="nothing") == []
    assert [e["id"] for e in journal.search({"project": "digits"})] == [a, b]
    assert [e["id"] for e in journal.search({"tags": "wide"})] == [b]  # a list field matches an element
    assert [e["id"] for e in journal.search({"epochs": "5", "status": "finished"})] == [b]
    assert [e["id"] for e in journal.search("project = iris")] == [c]
    assert [e["id"] for e in journal.search("adam")] == [b]
    assert journal.search("nowhere-to-be-found") == []


def test_ids_stay_unique_across_journal_instances(kepler_home):
    first, second = Journal(), Journal()
    ids = []
    for i in range(4):
        ids.append(first.start(summary(name=f"a{i}"), {}))
        ids.append(second.start(summary(name=f"b{i}"), {}))
    assert ids == list(range(1, 9))
    with first.storage.transaction():
        many = first.table.insert_multiple([{"name": f"bulk{i}"} for i in range(3)])
    assert many == [9, 10, 11]
    assert len(second.experiments()) == 11


def test_the_event_log_lives_in_kepler_home_and_rotates(kepler_home, monkeypatch):
    monkeypatch.setattr(eventlog, "MAX_BYTES", 4000)
    journal = Journal()
    first = journal.start(summary(), parts())
    log_path = kepler_home / eventlog.LOG_NAME
    assert f"experiment {first} recorded (digits/sigmoid-net, running)" in log_path.read_text()
    for i in range(60):
        journal.update(first, {"step": i})
    assert (kepler_home / f"{eventlog.LOG_NAME}.1").exists()
    assert len(list(kepler_home.glob(f"{eventlog.LOG_NAME}*"))) <= 1 + eventlog.BACKUPS
    handler = next(h for h in logging.getLogger("kepler").handlers if hasattr(h, "baseFilename"))
    assert os.path.dirname(handler.baseFilename) == str(kepler_home)


def test_a_new_experiment_never_inherits_epochs_left_under_its_id(kepler_home):
    """After a journal is recovered without its newest records, their ids are handed out again."""
    journal = Journal()
    journal.runs.mkdir()
    (journal.runs / "1.epochs.jsonl").write_text(json.dumps({"epoch": 0, "logs": {"loss": 9.0}}) + "\n")
    experiment_id = journal.start(summary(), parts())
    assert experiment_id == 1
    assert journal.history(experiment_id) == {}
    assert list(journal.runs.glob("1.epochs*orphan*"))  # kept aside, not deleted


def test_epoch_lines_that_are_not_epochs_are_skipped(kepler_home):
    """A damaged epoch file of an earlier run must not break what reads it (a fit's lookup, `kepler show`)."""
    journal = Journal()
    experiment_id = journal.start(summary(), parts())
    journal.append_epoch(experiment_id, 0, {"loss": 2.0})
    with open(journal.runs / f"{experiment_id}.epochs.jsonl", "a") as f:
        for line in ("[1, 2]", '"text"', "null", '{"epoch": 1}', '{"epoch": 1, "logs": [0.5]}'):
            f.write(line + "\n")
        f.write('{"epoch": 1, "logs": {"loss": "high", "acc": true, "val_loss": 1.5}}\n')
    journal.append_epoch(experiment_id, 2, {"loss": 1.0})
    assert journal.history(experiment_id) == {"loss": [2.0, 1.0], "val_loss": [1.5]}
    assert journal.get(experiment_id)["history"]["loss"] == [2.0, 1.0]
    assert journal.similar(experiment_id) == []


def test_an_epoch_follows_a_dying_kernels_partial_line_on_a_line_of_its_own(kepler_home):
    journal = Journal()
    experiment_id = journal.start(summary(), parts())
    journal.append_epoch(experiment_id, 0, {"loss": 2.0})
    with open(journal.runs / f"{experiment_id}.epochs.jsonl", "a") as f:
        f.write('{"epoch": 1, "logs": {"loss": 1.')
    journal.append_epoch(experiment_id, 1, {"loss": 1.5})
    assert journal.history(experiment_id) == {"loss": [2.0, 1.5]}


def test_a_damaged_part_reads_as_none_and_the_record_says_which(kepler_home):
    journal = Journal()
    experiment_id = journal.start(summary(), parts())
    address = journal.table.get(doc_id=experiment_id)["blobs"]["cell"]
    path = journal.blobs.root / address[:2] / f"{address}.json"
    path.write_bytes(b'"model.fit(x, y, ep')
    record = journal.get(experiment_id)
    assert record["cell"] is None
    assert record["notebook"] == NOTEBOOK
    assert str(path) in record["damaged"]["cell"]
    assert journal.search("fit") == []  # the cell's text is unreadable, the search goes on


def test_the_home_and_everything_in_it_are_owner_only(kepler_home):
    journal = Journal()
    experiment_id = journal.start(summary(), parts())
    journal.append_epoch(experiment_id, 0, {"loss": 1.0})
    journal.update(experiment_id, {"status": "finished"})
    logging.getLogger("kepler").info("something for the event log")
    for handler in logging.getLogger("kepler").handlers:
        handler.flush()
    paths = [kepler_home, *kepler_home.rglob("*")]
    kinds = {p.relative_to(kepler_home).parts[0] if p != kepler_home else "." for p in paths}
    assert {".", "journal.jsonl", "kepler.log", "blobs", "runs"} <= kinds
    modes = {str(p): oct(p.stat().st_mode & 0o777) for p in paths}
    assert modes == {str(p): "0o700" if p.is_dir() else "0o600" for p in paths}


def test_a_kernel_reads_and_indexes_its_journal_before_the_first_fit(kepler_home):
    from kepler_nb.interception.extension import warm_up
    from kepler_nb.interception.journals import reset_shared_journals, shared_journal

    reset_shared_journals()
    warm_up().join(timeout=120)
    assert not kepler_home.exists() or not (kepler_home / "journal.jsonl").exists()  # nothing made for nobody
    first = Journal(kepler_home).start(summary(arch_signature="a1", signature="s1"), parts())
    reset_shared_journals()
    warm_up().join(timeout=120)
    journal = shared_journal()
    assert journal._index.token is not None  # indexed: the first lookup only reads its candidates
    assert journal.lookup({"signature": "s1", "arch_signature": "a1"}).duplicate is None  # still running
    assert [e["id"] for e in journal.experiments()] == [first]
    reset_shared_journals()


def test_a_damaged_journal_is_left_to_the_first_read_to_recover_and_say_so(kepler_home):
    import warnings

    from kepler_nb.journal.storage import JournalCorruptWarning

    Journal(kepler_home).start(summary(), parts())
    with open(kepler_home / "journal.jsonl", "ab") as f:
        f.write(b'{"t":"experiments","id":"?7","doc":{}}\n')
    damaged = (kepler_home / "journal.jsonl").read_bytes()
    journal = Journal(kepler_home)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert journal.warm() is False  # on a background thread: no warning, no rewrite
    assert (kepler_home / "journal.jsonl").read_bytes() == damaged
    with pytest.warns(JournalCorruptWarning, match="line 3 is not a journal entry"):
        assert len(journal.experiments()) == 1
