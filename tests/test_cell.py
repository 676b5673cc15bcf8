"""A %%kepler_fit cell runs as IPython runs a cell, and Kepler leaves no trace in what it prints.

In-process IPython shell (IPython's own test shell), real Keras fits on tiny data.
"""

from __future__ import annotations

import ast
import contextlib
import io
import logging
import warnings

import keras
import numpy as np
import pytest

from kepler_nb import ModelInspector
from kepler_nb.checks.finding import KeplerWarning, warning_action

X = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
Y = X[:, :1] * 2


@pytest.fixture
def ip(kepler_home, monkeypatch):
    from IPython import get_ipython
    from IPython.testing.globalipapp import start_ipython

    monkeypatch.setenv("KEPLER_ANSWER", "continue")
    shell = start_ipython() or get_ipython()
    shell.run_line_magic("load_ext", "kepler")
    shell.user_ns.update(keras=keras, np=np, X=X, Y=Y)
    return shell


def tiny() -> keras.Model:
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    return model


class Sevens(ast.NodeTransformer):
    """A user's AST transformer: every integer literal 7 becomes 8."""

    def visit_Constant(self, node):
        if node.value == 7:
            return ast.copy_location(ast.Constant(8), node)
        return node


def test_the_shells_ast_transformers_apply_to_the_cell(ip):
    transformer = Sevens()
    ip.ast_transformers.append(transformer)
    try:
        value = ip.run_cell_magic("kepler_fit", "--project cell", "seen = 7\nseen * 1")
    finally:
        ip.ast_transformers.remove(transformer)
    assert ip.user_ns["seen"] == 8 and value == 8
    assert ip.run_cell_magic("kepler_fit", "--project cell", "7") == 7  # the control: without it, 7


def test_kepler_frames_are_hidden_from_the_users_traceback(ip):
    cell = (
        "class Boom(keras.callbacks.Callback):\n"
        "    def on_epoch_end(self, epoch, logs=None):\n"
        "        raise RuntimeError('boom from the cell')\n"
        "model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])\n"
        "model.compile('sgd', 'mse')\n"
        "model.fit(X, Y, epochs=1, verbose=0, callbacks=[Boom()])\n"
    )
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        result = ip.run_cell("%%kepler_fit --project cell\n" + cell)
    assert isinstance(result.error_in_exec, RuntimeError)
    shown = printed.getvalue()
    traceback_text = shown[shown.index("Traceback") :]
    assert "boom from the cell" in traceback_text
    assert "model.fit(X, Y" in traceback_text  # the cell's own line, from IPython's cache
    assert "skipping hidden" in traceback_text
    assert "kepler_nb" not in traceback_text and "inspector.py" not in traceback_text


def generator():
    while True:
        yield X, Y


def shuffle_warnings(caught) -> int:
    return sum("shuffle=True" in str(w.message) for w in caught)


def test_a_once_only_warning_shows_once_with_kepler_as_without(kepler_home):
    """Keras warns once per place that a generator's shuffle is ignored; Kepler's fits must not reset that."""
    model = tiny()
    shown: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        model.fit(generator(), steps_per_epoch=1, epochs=1, verbose=0)
        model.fit(generator(), steps_per_epoch=1, epochs=1, verbose=0)
        assert shuffle_warnings(caught) == 1  # without Kepler: once
        for _ in range(2):
            ModelInspector(model, project="once", show=shown.append).fit(
                generator(), steps_per_epoch=1, epochs=1, verbose=0
            )
        assert any("K104" in line for line in shown), shown  # the findings were shown
        assert shuffle_warnings(caught) == 1  # with Kepler: still once
        with warnings.catch_warnings():  # the control: entering catch_warnings resets the registries
            pass
        model.fit(generator(), steps_per_epoch=1, epochs=1, verbose=0)
        assert shuffle_warnings(caught) == 2


def test_warning_filters_decide_how_findings_show(kepler_home):
    model = tiny()
    filters_before = list(warnings.filters)
    shown: list[str] = []
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="K104", category=KeplerWarning)
        assert warning_action(KeplerWarning(_finding("K104"))) == "error"
        assert warning_action(KeplerWarning(_finding("K307"))) == "default"
        with pytest.raises(KeplerWarning, match="K104"):
            ModelInspector(model, project="filters", show=shown.append).fit(X, Y, epochs=1, verbose=0)
    assert warnings.filters == filters_before


def _finding(code: str):
    from kepler_nb.checks.finding import Finding

    return Finding(code, "a-name", "info", "setup", "a message")


def test_the_event_log_leaves_others_handlers_and_levels_alone(tmp_path):
    from kepler_nb.journal.eventlog import attach_event_log

    kepler_log = logging.getLogger("kepler")
    theirs = logging.StreamHandler(io.StringIO())
    saved = kepler_log.level, kepler_log.propagate, list(kepler_log.handlers)
    kepler_log.addHandler(theirs)
    kepler_log.setLevel(logging.WARNING)
    try:
        attach_event_log(tmp_path / "a")
        (tmp_path / "b").mkdir()
        attach_event_log(tmp_path / "b")
        assert theirs in kepler_log.handlers
        assert kepler_log.level == logging.WARNING  # the level they set
        files = [h.baseFilename for h in kepler_log.handlers if hasattr(h, "baseFilename")]
        assert files == [str(tmp_path / "b" / "kepler.log")]  # Kepler's own handler, moved
    finally:
        kepler_log.removeHandler(theirs)
        kepler_log.setLevel(saved[0])
        kepler_log.propagate = saved[1]
