"""The `kepler` command on damaged and unusual homes: one line naming the file and what to do, never a traceback.

Each home starts as a real journal holding one finished run (epochs, a cell
blob), then one thing about it is broken the way real machines break them:
a folder where a file belongs, a file where a folder belongs, a read-only
mount, a home that is a file, a damaged config, names too long for the file
system. Every command then runs through the CLI's own entry point.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import TYPE_CHECKING

import pytest

from kepler_nb.journal.journal import Journal
from kepler_nb.presentation.cli import main

if TYPE_CHECKING:
    from pathlib import Path

COMMANDS = {
    "list": ["list"],
    "show": ["show", "1"],
    "search": ["search", "name = tiny"],
    "export": ["export", "1", "-o", "{out}/report.html"],
    "note": ["note", "1", "learned something"],
    "init": ["init"],
}


def _recorded_home(home: Path, project: str = "cli") -> Path:
    journal = Journal(home)
    eid = journal.start({"project": project, "name": "tiny"}, {"cell": "model.fit(x, y)"})
    journal.append_epoch(eid, 0, {"loss": 0.5})
    journal.update(eid, {"status": "finished", "epochs_done": 1})
    return home


def _replace_with_folder(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _replace_with_file(path: Path) -> None:
    shutil.rmtree(path)
    path.write_text("not a folder")


DAMAGE = {
    "journal file is a folder": lambda home: _replace_with_folder(home / "journal.jsonl"),
    "runs folder is a file": lambda home: _replace_with_file(home / "runs"),
    "blobs folder is a file": lambda home: _replace_with_file(home / "blobs"),
    "head file is a folder": lambda home: _replace_with_folder(home / "journal.jsonl.head"),
    "lock file is a folder": lambda home: _replace_with_folder(home / "journal.jsonl.lock"),
    "config is not TOML": lambda home: (home / "config.toml").write_text("[[[ not toml"),
    "config is a folder": lambda home: (home / "config.toml").mkdir(),
}


def run_cli(args: list[str], home: Path, capsys) -> tuple[int, str, str]:
    try:
        code = main(["--home", str(home), *args])
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_or_success(code: int, out: str, err: str, *, names: str | None = None) -> None:
    assert "Traceback" not in out + err
    if code == 0:
        assert not err.strip(), err
        return
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kepler: "), err
    assert "unexpected" not in lines[0], lines[0]  # every kind of damage has its own advice
    if names:
        assert names in lines[0], lines[0]


@pytest.mark.parametrize("damage", DAMAGE)
@pytest.mark.parametrize("command", COMMANDS)
def test_a_damaged_home_gets_one_line_never_a_traceback(damage, command, tmp_path, capsys):
    home = _recorded_home(tmp_path / "home")
    DAMAGE[damage](home)
    args = [a.format(out=tmp_path) for a in COMMANDS[command]]
    code, out, err = run_cli(args, home, capsys)
    assert_one_line_or_success(code, out, err)


def test_the_journal_file_as_a_folder_is_named_with_what_to_do(tmp_path, capsys):
    home = tmp_path / "home"
    (home / "journal.jsonl").mkdir(parents=True)
    code, _, err = run_cli(["list"], home, capsys)
    assert code == 1 and str(home / "journal.jsonl") in err and "move it aside" in err


def test_a_home_that_is_a_file_says_so(tmp_path, capsys):
    home = tmp_path / "home"
    home.write_text("a file, not a folder")
    for args in COMMANDS.values():
        code, out, err = run_cli([a.format(out=tmp_path) for a in args], home, capsys)
        assert code == 1, (args, out, err)
        assert_one_line_or_success(code, out, err, names=str(home))
        assert "is a file" in err and "KEPLER_HOME" in err, err


@pytest.fixture
def read_only_home(tmp_path):
    """A recorded home mounted read-only (as root, where file modes don't stop writes), else made 0o500."""
    home = _recorded_home(tmp_path / "home")
    view = tmp_path / "read-only"
    view.mkdir()
    if os.geteuid() == 0:
        for command in (["mount", "--bind", str(home), str(view)], ["mount", "-o", "remount,bind,ro", str(view)]):
            if subprocess.run(command, capture_output=True).returncode != 0:
                pytest.skip("can't make a read-only bind mount here")
        yield view
        subprocess.run(["umount", "-l", str(view)], check=False)
    else:
        for path in [home, *home.rglob("*")]:
            path.chmod(0o500 if path.is_dir() else 0o400)
        yield home
        for path in [home, *home.rglob("*")]:
            path.chmod(0o700)


def test_a_read_only_home_reads_and_refuses_writes_in_one_line(read_only_home, tmp_path, capsys):
    for command in ("list", "show", "search", "export"):
        args = [a.format(out=tmp_path) for a in COMMANDS[command]]
        code, out, err = run_cli(args, read_only_home, capsys)
        assert code == 0, (command, err)
        assert "tiny" in (out if command != "export" else (tmp_path / "report.html").read_text()), command
    code, out, err = run_cli(COMMANDS["note"], read_only_home, capsys)
    assert code == 1
    assert_one_line_or_success(code, out, err, names=str(read_only_home))
    assert "writable" in err


def test_long_names_export_or_say_the_name_is_too_long(tmp_path, capsys):
    project = "p" * 300
    home = _recorded_home(tmp_path / "home", project=project)
    os.chdir(tmp_path)
    for args in (["export", "1"], ["export", "--project", project], ["export", "1", "-o", "x" * 300 + ".html"]):
        code, out, err = run_cli(args, home, capsys)
        assert_one_line_or_success(code, out, err)
        if code:
            assert "too long" in err and "-o" in err, err
        else:
            assert "Wrote" in out


def test_the_console_script_prints_one_line_on_a_damaged_home(tmp_path):
    """The installed `kepler` itself (a control that the in-process calls above are what users run)."""
    home = tmp_path / "home"
    (home / "journal.jsonl").mkdir(parents=True)
    done = subprocess.run(
        ["kepler", "list"], capture_output=True, text=True, env={**os.environ, "KEPLER_HOME": str(home)}, timeout=120
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines() == [done.stderr.strip()] and "journal.jsonl" in done.stderr
