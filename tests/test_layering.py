"""The layering of DESIGN.md, read from the imports: every arrow points down, no circles.

From the ground up: ``fit`` (imports no other package of Kepler), ``checks``
and ``journal`` (each imports only ``fit``, never the other), ``presentation``,
``interception``; the package root and ``api`` on top. Every import counts,
at module level, inside functions and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "kepler_nb"
RANK = {"fit": 0, "checks": 1, "journal": 1, "presentation": 2, "interception": 3}
TOP = 4  # kepler_nb/__init__.py, api.py, __main__.py


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """The kepler_nb modules ``path`` imports (``from . import x`` resolved to ``pkg.x`` when it is one)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("kepler_nb")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("kepler_nb"):
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if (PACKAGE.parent / Path(*sub.split("."))).with_suffix(".py").exists() else target)
    found.discard(name)
    return found


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
GRAPH = {name: imports(path) for name, path in MODULES.items()}


def stage(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in RANK else None


def rank(name: str) -> int:
    return RANK[stage(name)] if stage(name) else TOP


def test_the_graph_was_read():
    assert len(MODULES) > 30
    assert "kepler_nb.fit.call" in GRAPH["kepler_nb.interception.inspector"]  # a known arrow


@pytest.mark.parametrize("name", sorted(GRAPH))
def test_every_import_points_down(name):
    upward = [t for t in GRAPH[name] if stage(t) != stage(name) and rank(t) >= rank(name)]
    assert not upward, f"{name} imports {upward}: an arrow up (or sideways) the layers of DESIGN.md"


def test_the_fit_package_imports_no_other_package():
    for name in (n for n in GRAPH if stage(n) == "fit"):
        assert all(stage(t) == "fit" for t in GRAPH[name]), (name, GRAPH[name])


def test_checks_and_journal_import_only_fit_and_themselves():
    for name in (n for n in GRAPH if stage(n) in ("checks", "journal")):
        others = {stage(t) for t in GRAPH[name]} - {stage(name), "fit"}
        assert not others, f"{name} imports {sorted(GRAPH[name])}"


def circles() -> list[list[str]]:
    """Every cycle a depth-first walk of the import graph finds (lazy imports included)."""
    state: dict[str, int] = {}
    found: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(GRAPH.get(node, ())):
            if target not in GRAPH:
                continue
            if state.get(target) == 1:
                found.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [name])
    return found


def test_no_import_circles_outside_the_checks():
    outside = [c for c in circles() if not all(stage(m) == "checks" for m in c)]
    assert not outside, "\n".join(" -> ".join(c) for c in outside)


def test_no_import_circles_in_the_checks():
    inside = [c for c in circles() if all(stage(m) == "checks" for m in c)]
    assert not inside, "\n".join(" -> ".join(c) for c in inside)
