"""The front-end files of Kepler's widgets (ES modules and CSS from ``js/``).

An installed wheel carries them in ``kepler_nb/static``; a source checkout
(``pip install -e .``) reads them from ``js/`` at the repository root.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGED = Path(__file__).resolve().parents[1] / "static"
_SOURCE = Path(__file__).resolve().parents[2] / "js"


def asset_dir() -> Path:
    """The folder holding the widgets' ``.js`` and ``.css`` files."""
    for folder in (_PACKAGED, _SOURCE):
        if (folder / "kepler.css").is_file():
            return folder
    raise FileNotFoundError(
        f"Kepler's widget files are missing (looked in {_PACKAGED} and {_SOURCE}); reinstall kepler-nb"
    )


@cache
def module(*names: str) -> str:
    """One ES module made of the named files, in order (shared helpers first)."""
    folder = asset_dir()
    return "\n".join((folder / name).read_text(encoding="utf-8") for name in names)


@cache
def css() -> str:
    """The stylesheet shared by every Kepler widget (classes prefixed ``kepler-``)."""
    return (asset_dir() / "kepler.css").read_text(encoding="utf-8")
