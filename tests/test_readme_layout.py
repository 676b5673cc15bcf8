"""The README's package tree is the one `git ls-files` shows."""

from __future__ import annotations

import collections
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- package tree -->\n```\n", "```\n<!-- end of package tree -->"


def tracked_files() -> list[str]:
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    done = subprocess.run([git, "ls-files", "kepler", "kepler_nb"], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip("git ls-files failed")
    return done.stdout.split()


def tree(files: list[str], pad: int = 24, width: int = 100) -> str:
    """Each folder on a line, its files after it, wrapped: the README's format."""
    by_folder: dict[str, list[str]] = collections.defaultdict(list)
    for path in sorted(files):
        folder, _, name = path.rpartition("/")
        by_folder[folder].append(name)
    lines = []
    for folder in sorted(by_folder, key=lambda d: (d.split("/")[0] != "kepler_nb", d)):
        label = "  " * folder.count("/") + folder.rsplit("/", 1)[-1] + "/"
        wrapped = textwrap.wrap(" ".join(by_folder[folder]), width - pad)
        lines.append(label.ljust(pad) + wrapped[0])
        lines += [" " * pad + line for line in wrapped[1:]]
    return "\n".join(lines)


def test_the_readme_shows_the_package_tree_git_tracks():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert START in readme and END in readme
    shown = readme.split(START, 1)[1].split(END, 1)[0].rstrip("\n")
    files = tracked_files()
    assert "kepler_nb/checks/catalogue.py" in files  # the listing was read
    built = tree(files)
    assert shown == built, f"the README's package tree is out of date; this is the tree git tracks:\n{built}"
