"""The catalogue: unique codes, complete docs, thresholds beside the checks, and a fixture per code."""

from __future__ import annotations

import re
from pathlib import Path

from kepler_nb.checks.catalogue import all_checks, explain
from kepler_nb.checks.registry import DOC_HEADINGS

TESTS = Path(__file__).parent


def test_every_check_is_a_documented_unit():
    checks = all_checks()
    assert len({c.code for c in checks}) == len(checks)
    for c in checks:
        assert re.fullmatch(r"K[1-7]\d\d", c.code), c.code
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", c.name), c.name
        for heading in DOC_HEADINGS:
            assert f"## {heading}" in c.doc, f"{c.code} lacks the heading {heading!r}"
        assert explain(c.code).startswith(f"{c.code} {c.name} ({c.stage}, {c.severity})")


def test_every_check_has_a_fixture_that_runs_it():
    """Each code appears in a test module of its checks (a program that has the problem)."""
    modules = [*TESTS.glob("test_checks_*.py"), *TESTS.glob("test_preflight*.py")]
    text = "\n".join(p.read_text() for p in modules)
    missing = [c.code for c in all_checks() if f'"{c.code}"' not in text]
    assert not missing, f"no test names these codes: {missing}"


def test_the_catalogue_lists_every_module_that_holds_checks():
    """A check in a module the catalogue doesn't list would never run: every such module is listed."""
    import importlib
    import pkgutil

    import kepler_nb.checks
    from kepler_nb.checks.catalogue import CHECK_MODULES, checks_in

    holding = set()
    for info in pkgutil.iter_modules(kepler_nb.checks.__path__):
        module = importlib.import_module(f"kepler_nb.checks.{info.name}")
        if checks_in(module):
            holding.add(module.__name__)
    assert holding == {m.__name__ for m in CHECK_MODULES}
    assert len(holding) > 10  # the walk found the stage modules


def test_importing_a_check_module_registers_nothing():
    """Checks are collected from the listed modules: importing one changes no global table."""
    import kepler_nb.checks.registry as registry

    assert not [name for name, value in vars(registry).items() if isinstance(value, dict) and name.isupper()]
