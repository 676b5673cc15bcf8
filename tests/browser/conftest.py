"""A headless JupyterLab for the whole session, Chromium driving it, and notebooks to open in it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from ipykernels import CURRENT, kernel_path, require_kernel  # noqa: F401 - fixtures

from .lab import CHROMIUM, CHROMIUM_ARGS, Lab, NotebookPage, make_notebook


@pytest.fixture(scope="session")
def lab(tmp_path_factory, kernel_path):  # noqa: F811
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: `apt-get install chromium` (or set KEPLER_TEST_CHROMIUM)")
    root = tmp_path_factory.mktemp("lab") / "notebooks"
    root.mkdir()
    server = Lab(root, kernel_path, root.parent / "jupyterlab.log")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser(lab):
    """Chromium, per test module: Playwright's sync API owns the thread's event loop while it runs,
    so it must be stopped before other modules start their own."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def notebook(request, lab, browser, tmp_path):
    """``notebook(cells, kernel)`` writes a notebook (after a first cell that loads Kepler with its
    own journal), opens it in JupyterLab and returns ``(NotebookPage, kepler_home)``."""
    pages = []

    def open_notebook(cells: list[str], kernel: str = CURRENT) -> tuple[NotebookPage, Path]:
        spec = require_kernel(request, kernel)
        home = tmp_path / "kepler-home"
        first = f"import os\nos.environ['KEPLER_HOME'] = {str(home)!r}\n%load_ext kepler"
        name = re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name).strip("-") + ".ipynb"
        make_notebook([first, *cells], lab.root / name, spec)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        pages.append(page)
        return NotebookPage(page, lab, name).open(), home

    yield open_notebook
    for page in pages:
        page.close()
    lab.shutdown_kernels()
