"""A headless JupyterLab and a Chromium page driving it (helpers for the browser tests)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from typing import TYPE_CHECKING

import nbformat

if TYPE_CHECKING:
    from pathlib import Path

CHROMIUM = os.environ.get("KEPLER_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
# JupyterLab settings for a quiet, predictable page: no news pop-up, every cell rendered.
SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}
# The text a cell's outputs show, read from the notebook model (every output, rendered or not).
# A notebook cell defining ``softmax_model(units)``: a healthy classifier of 8 inputs, seeded, for the dialogs'
# tests (variants differ by ``units``; the similar-models question compares them).
SOFTMAX_MODEL = """
def softmax_model(units):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(units, activation="relu"),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
"""
KERNEL_STATUS_JS = "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status"
CELL_TEXT_JS = """(i) => {
    const nb = window.jupyterapp.shell.currentWidget.content;
    const text = (v) => Array.isArray(v) ? v.join('') : (v || '');
    return nb.model.cells.get(i).outputs.toJSON().map((o) => {
        if (o.output_type === 'stream') return text(o.text);
        if (o.output_type === 'error') return o.ename + ': ' + o.evalue + '\\n';
        return o.data ? text(o.data['text/plain']) + '\\n' : '';
    }).join('');
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_notebook(cells: list[str], path: Path, kernel: str = "python3") -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, path)
    return path


class Lab:
    """One JupyterLab server, headless, serving ``root``; kernels found on ``jupyter_path`` too."""

    def __init__(self, root: Path, jupyter_path: Path, log: Path) -> None:
        self.root = root
        self.port = free_port()
        self.token = uuid.uuid4().hex
        self.url = f"http://127.0.0.1:{self.port}"
        settings = root.parent / "lab-settings"
        for name, values in SETTINGS.items():
            target = settings / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(values), encoding="utf-8")
        workspaces = root.parent / "lab-workspaces"
        workspaces.mkdir(exist_ok=True)
        env = dict(os.environ)
        env["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(jupyter_path), env.get("JUPYTER_PATH", "")) if p)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        env.pop("KEPLER_ANSWER", None)
        env.pop("KEPLER_DIALOG_TIMEOUT", None)
        self.log_path = log
        self.log = open(log, "w")  # noqa: SIM115 - closed in stop()
        command = [
            sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", "--ip=127.0.0.1",
            f"--port={self.port}", f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={root}",
            f"--LabApp.workspaces_dir={workspaces}", f"--LabApp.user_settings_dir={settings}",
            "--LabApp.expose_app_in_browser=True",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=root, start_new_session=True
        )
        self._wait_up()

    def _wait_up(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.process.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                time.sleep(0.25)
        raise TimeoutError(f"JupyterLab did not start within {timeout} s; see {self.log_path}")

    def api(self, path: str, method: str = "GET") -> object:
        request = urllib.request.Request(f"{self.url}/api/{path}?token={self.token}", method=method)
        with urllib.request.urlopen(request, timeout=30) as reply:
            body = reply.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """Stop every kernel this server started (each test's kernel holds TensorFlow)."""
        for session in self.api("sessions") or []:
            with contextlib.suppress(OSError):
                self.api(f"sessions/{session['id']}", method="DELETE")

    def notebook_url(self, name: str) -> str:
        return f"{self.url}/lab/workspaces/{uuid.uuid4().hex[:10]}/tree/{name}?reset&token={self.token}"

    def stop(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()


class NotebookPage:
    """A notebook opened in JupyterLab, read and driven through the page."""

    def __init__(self, page, lab: Lab, name: str) -> None:
        self.page = page
        self.lab = lab
        self.name = name

    def open(self, timeout: float = 120) -> NotebookPage:
        """Open the notebook and wait for its kernel to be connected and idle."""
        self.page.goto(self.lab.notebook_url(self.name))
        self.page.wait_for_function(
            """() => {
                const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
                const kernel = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
                return !!(kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle'
                    && w.content && w.content.widgets.length > 0);
            }""",
            timeout=timeout * 1000,
        )
        return self

    def command(self, name: str, args: dict | None = None) -> None:
        """Start a JupyterLab command without waiting for it (Run All ends only when every cell has)."""
        self.page.evaluate("([n, a]) => { window.jupyterapp.commands.execute(n, a); }", [name, args or {}])

    def run_all(self) -> None:
        self.command("notebook:run-all-cells")

    def shift_enter(self, index: int) -> None:
        """Select cell ``index`` (a click on its prompt: command mode) and press Shift+Enter, as a person does."""
        cell = self.cell(index)
        cell.scroll_into_view_if_needed()
        cell.locator(".jp-InputPrompt").click()
        self.page.keyboard.press("Shift+Enter")

    def wait_executed(self, index: int, timeout: float = 240) -> None:
        """Wait until cell ``index`` has run (it has an execution count)."""
        self.page.wait_for_function(
            "(i) => window.jupyterapp.shell.currentWidget.content.model.cells.get(i).executionCount !== null",
            arg=index,
            timeout=timeout * 1000,
        )

    def kernel_version(self) -> str:
        return self.page.evaluate(
            """async () => {
                const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
                const info = await kernel.info;
                return info.implementation_version;
            }"""
        )

    def execution_count(self, index: int) -> int | None:
        return self.page.evaluate(
            "(i) => window.jupyterapp.shell.currentWidget.content.model.cells.get(i).executionCount", index
        )

    def kernel_status(self) -> str:
        """What JupyterLab's kernel object says (``"busy"``, ``"idle"``), as other extensions read it."""
        return self.page.evaluate(KERNEL_STATUS_JS)

    def status_bar(self) -> str:
        """What JupyterLab's status bar says about the kernel (``"Python 3 (ipykernel) | Busy"``)."""
        return self.page.locator(".jp-StatusBar-Item", has_text="|").first.inner_text()

    def cell_text(self, index: int) -> str:
        return self.page.evaluate(CELL_TEXT_JS, index)

    def wait_for_text(self, index: int, text: str, timeout: float = 120) -> str:
        """Wait until cell ``index`` shows ``text`` in its outputs; return all they show."""
        try:
            self.page.wait_for_function(
                f"([i, t]) => ({CELL_TEXT_JS})(i).includes(t)", arg=[index, text], timeout=timeout * 1000
            )
        except Exception as error:
            raise AssertionError(f"cell {index} never showed {text!r}; it shows:\n{self.cell_text(index)}") from error
        return self.cell_text(index)

    def cell(self, index: int):
        return self.page.locator(".jp-Notebook .jp-Cell").nth(index)

    def screenshot(self, path: Path, locator=None) -> Path:
        if locator is not None:
            locator.scroll_into_view_if_needed()
        self.page.screenshot(path=str(path))
        return path
