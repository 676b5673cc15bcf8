"""Which checks run: ``--select``/``--ignore``, the config file, ``# kepler: noqa``.

The config file is ``KEPLER_HOME/config.toml``::

    [checks]
    ignore = ["K104"]

    [projects.digits.checks]
    select = ["K2", "K3"]

A code matches a prefix (``K3`` is every data check).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

NOQA = re.compile(r"#\s*kepler:\s*noqa\b:?\s*(?P<codes>[Kk0-9 ,]*)")


def parse_codes(text: str | list[str] | None) -> tuple[str, ...]:
    """``"K2, K303"`` -> ``("K2", "K303")``."""
    if not text:
        return ()
    items = text if isinstance(text, list) else re.split(r"[\s,]+", text)
    codes = tuple(i.strip().upper() for i in items if i.strip())
    bad = [c for c in codes if not re.fullmatch(r"K\d{0,3}", c)]
    if bad:
        raise ValueError(f"not a check code or prefix: {', '.join(bad)} (codes look like K303; K3 means every K3xx)")
    return codes


@dataclass(frozen=True)
class Selection:
    """Codes to run: those matching ``select`` (all when empty) and not ``ignore``."""

    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()

    def allows(self, code: str) -> bool:
        if self.select and not any(code.startswith(p) for p in self.select):
            return False
        return not any(code.startswith(p) for p in self.ignore)

    def merge(self, other: Selection) -> Selection:
        """``other`` (more specific) narrows or replaces the select list, adds ignores."""
        return Selection(other.select or self.select, self.ignore + other.ignore)


def noqa_codes(source: str | None) -> tuple[str, ...]:
    """Codes disabled in a cell by ``# kepler: noqa K302`` (a bare noqa disables all)."""
    codes: list[str] = []
    for match in NOQA.finditer(source or ""):
        found = parse_codes(match["codes"]) if match["codes"].strip() else ("K",)
        codes.extend(found)
    return tuple(codes)


def load_selection(home: Path, project: str | None) -> Selection:
    """The selection from ``home/config.toml``: global, then the project's."""
    path = home / "config.toml"
    if not path.is_file():
        return Selection()
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid TOML ({error}); fix or remove it") from None
    selection = _selection(config.get("checks", {}), path)
    if project:
        section = config.get("projects", {}).get(project, {}).get("checks", {})
        selection = selection.merge(_selection(section, path))
    return selection


def _selection(section: dict, path: Path) -> Selection:
    try:
        return Selection(parse_codes(section.get("select")), parse_codes(section.get("ignore")))
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
