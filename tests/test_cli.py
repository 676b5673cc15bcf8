"""The `kepler` command, as a user runs it (the installed console script)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from kepler import ModelInspector
from kepler_nb.journal.journal import Journal
from kepler_nb.presentation.cli import LIST_NEWEST


def kepler(*args: str, home) -> subprocess.CompletedProcess:
    env = {**os.environ, "KEPLER_HOME": str(home)}
    return subprocess.run(["kepler", *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture
def recorded(kepler_home):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 3)).astype("float32"), rng.integers(0, 2, 64)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with ModelInspector(model, project="cli", name="tiny run", show=lambda *a: None) as mi:
        mi.fit(x, y, epochs=2, verbose=0)
    return kepler_home, mi.experiment_id


def test_init_creates_the_journal_and_says_where(tmp_path):
    done = kepler("init", home=tmp_path / "new-home")
    assert done.returncode == 0
    assert str(tmp_path / "new-home" / "journal.jsonl") in done.stdout and "0 experiments" in done.stdout


def test_list_show_and_search_print_the_recorded_run(recorded):
    home, experiment_id = recorded
    table = kepler("list", "--project", "cli", home=home).stdout
    assert "tiny run" in table and "finished" in table and "2/2" in table
    (listed,) = json.loads(kepler("list", "--json", home=home).stdout)
    assert listed["id"] == experiment_id and listed["project"] == "cli"
    shown = json.loads(kepler("show", str(experiment_id), "--json", home=home).stdout)
    assert len(shown["history"]["loss"]) == 2 and shown["layers"][0]["type"] == "Dense"
    assert "Experiment 1: tiny run (cli)" in kepler("show", "1", home=home).stdout
    assert "tiny run" in kepler("search", "project = cli", home=home).stdout


def test_checks_lists_every_code_and_explain_documents_one(tmp_path):
    listing = kepler("checks", home=tmp_path).stdout
    codes = [line.split()[0] for line in listing.splitlines() if line.startswith("K")]
    assert len(codes) == len(set(codes)) >= 38 and "K303" in codes and "K407" in codes
    explained = kepler("explain", "k303", home=tmp_path).stdout
    for heading in ("What it does", "Why is this bad?", "Example", "Use instead"):
        assert heading in explained


def test_mistakes_get_a_clear_message_and_a_nonzero_exit(recorded):
    home, _ = recorded
    missing = kepler("show", "999", home=home)
    assert (
        missing.returncode != 0 and "No experiment with id '999'" in missing.stderr and "kepler list" in missing.stderr
    )
    unknown = kepler("explain", "K999", home=home)
    assert unknown.returncode != 0 and "No check 'K999'" in unknown.stderr


def test_the_command_in_a_fresh_process_imports_no_framework(tmp_path):
    """`kepler list` answers in well under a second: it imports the journal, not numpy, Keras or the templates."""
    code = (
        "import sys; from kepler_nb.presentation.cli import main; main(['--home', sys.argv[1], 'list']); "
        "print(sorted(m for m in ('numpy', 'tensorflow', 'keras', 'jinja2', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_list_shows_the_newest_screenful_and_says_how_to_see_the_rest(tmp_path):
    journal = Journal(tmp_path)
    total = LIST_NEWEST + 12
    with journal.storage.transaction():
        journal.table.insert_multiple(
            {"project": "p" if i % 2 else "q", "name": f"run-{i}", "status": "finished"} for i in range(total)
        )
    listed = kepler("list", home=tmp_path)
    rows = listed.stdout.splitlines()[1:]
    assert len(rows) == LIST_NEWEST and rows[0].split()[0] == str(total - LIST_NEWEST + 1)
    assert rows[-1].split()[0] == str(total)  # the newest last, next to the prompt
    assert f"The newest {LIST_NEWEST} of {total} experiments" in listed.stderr and "--all" in listed.stderr
    assert len(kepler("list", "--all", home=tmp_path).stdout.splitlines()) == total + 1
    assert [r.split()[2] for r in kepler("list", "-n", "2", "-p", "q", home=tmp_path).stdout.splitlines()[1:]] == [
        f"run-{total - 4}",
        f"run-{total - 2}",
    ]
    assert len(json.loads(kepler("list", "--json", home=tmp_path).stdout)) == total  # scripts get every one
    assert len(json.loads(kepler("list", "--json", "--limit", "5", home=tmp_path).stdout)) == 5
    few = kepler("list", "--all", home=tmp_path)
    assert few.stderr == ""
    matches = kepler("search", "project = p", home=tmp_path)  # 31 matches: all shown
    assert len(matches.stdout.splitlines()) == total // 2 + 1 and matches.stderr == ""
    everything = kepler("search", "status = finished", home=tmp_path)
    assert len(everything.stdout.splitlines()) == LIST_NEWEST + 1
    assert everything.stdout.splitlines()[-1].split()[0] == str(total)  # the newest
    assert f"The newest {LIST_NEWEST} of {total} matches" in everything.stderr
    ordered = kepler("search", "status = finished sort id desc", home=tmp_path).stdout.splitlines()
    assert ordered[1].split()[0] == str(total) and len(ordered) == LIST_NEWEST + 1  # the first of the order
    assert len(kepler("search", "status = finished", "--all", home=tmp_path).stdout.splitlines()) == total + 1
    refused = kepler("list", "--limit", "0", home=tmp_path)
    assert refused.returncode == 2 and "1 or more" in refused.stderr
