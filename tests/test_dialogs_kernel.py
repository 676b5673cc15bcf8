"""Kepler's questions in a real kernel: headless runs never wait; a front end's click unblocks the cell.

Two kinds of client drive a real ipykernel here. nbclient runs notebooks as
CI and papermill do (its requests allow no input): every question takes its
default at once and says so. A protocol-level client plays a widget front
end (its requests allow input) and answers a dialog by sending the comm
message a click sends; it checks that the dialog's cell, and the cell
queued after it, wait for that message, on this ipykernel and on 6.x.
"""

from __future__ import annotations

import os
import queue
import time

import pytest
from conftest import cell_text, make_notebook, run_notebook
from ipykernels import CURRENT, OLD, kernel_path, require_kernel  # noqa: F401 - fixture

from kepler_nb.journal.journal import Journal

pytestmark = pytest.mark.kernel

SETUP = """
%load_ext kepler
import os, numpy as np, keras
rng = np.random.default_rng(0)
x = rng.normal(size=(256, 8)).astype("float32")
labels = (x[:, 0] > 0).astype("int64")
y = keras.utils.to_categorical(labels, 2)
def sigmoid_model():  # sigmoid outputs with categorical cross-entropy: K201, an error
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(2, activation="sigmoid")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    return model
def softmax_model(units=8):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(units, activation="relu"),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model
"""


def fit_cell(name: str, options: str = "", model: str = "sigmoid_model()", fit: str = "verbose=0", **kw) -> str:
    args = f"epochs={kw.get('epochs', 2)}, validation_split=0.25, {fit}"
    target = "labels" if model.startswith("softmax") else "y"
    return (
        f"%%kepler_fit --project headless --name {name} {options}\n"
        f"h = {model}.fit(x, {target}, {args})\n"
        "print('epochs trained:', len(h.epoch))"
    )


# -- no front end: nbclient ------------------------------------------------------------


@pytest.fixture(scope="module")
def headless(tmp_path_factory):
    folder = tmp_path_factory.mktemp("headless")
    home = folder / "home"
    cells = [
        SETUP,
        fit_cell("default"),
        fit_cell("cell-option", "--answer skip"),
        "os.environ['KEPLER_ANSWER'] = 'skip'",
        fit_cell("environment"),
        "del os.environ['KEPLER_ANSWER']",
        fit_cell("progress-auto", model="softmax_model(4)", fit="verbose='auto'", epochs=3),
        fit_cell("progress-two", model="softmax_model(5)", fit="verbose=2", epochs=3),
        fit_cell("progress-none", model="softmax_model(6)", fit="verbose=0", epochs=3),
        "%kepler journal --project headless",
    ]
    path = make_notebook(cells, folder / "headless.ipynb")
    started = time.monotonic()
    nb = run_notebook(path, timeout=240, env={"KEPLER_HOME": str(home), "KEPLER_ANSWER": ""})
    return nb, Journal(home), time.monotonic() - started


def test_a_headless_run_takes_the_default_at_once_and_says_why(headless):
    nb, journal, _ = headless
    text = cell_text(nb.cells[1])
    assert "Train anyway? -> Train anyway (the default: this headless run allows no input" in text
    assert "set KEPLER_ANSWER or --answer to choose" in text
    assert "epochs trained: 2" in text
    assert not any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in nb.cells[1].outputs)
    assert _seconds(nb.cells[1]) < 60, "the default must be taken without waiting for a dialog's timeout"
    assert journal.search({"name": "default"})[0]["status"] == "finished"


def test_the_cell_option_and_the_environment_answer_before_anyone_is_asked(headless):
    nb, journal, _ = headless
    # Both repeat the "default" run, whose K201 error is merged into the one question: skip reuses its result.
    assert "(from the cell's --answer option)" in cell_text(nb.cells[2])
    assert "(from KEPLER_ANSWER)" in cell_text(nb.cells[4])
    for name, cell in (("cell-option", 2), ("environment", 4)):
        assert "epochs trained: 2" in cell_text(nb.cells[cell])  # the earlier run's History
        assert journal.search({"name": name})[0].get("duplicate_of") is not None
        (run,) = journal.search({"name": name})
        assert run["status"] == "skipped"


def test_progress_is_one_line_updated_per_epoch_that_ends_saying_what_was_recorded(headless):
    nb, journal, _ = headless
    auto = "\n".join(cell_text({"outputs": [output]}).rstrip("\n") for output in nb.cells[6].outputs)
    (run,) = journal.search({"name": "progress-auto"})
    ends = [line for line in auto.splitlines() if line.startswith("Kepler: experiment")]
    assert len(ends) == 1 and ends[0].startswith(f"Kepler: experiment {run['id']} finished: 3/3 epochs in "), auto
    assert ends[0].endswith(f"; val_loss {run['final']['val_loss']:.4g}")
    assert "Kepler: epoch" not in auto, "the progress line is updated in place, not printed per epoch"
    assert "━" not in auto and "/step" not in auto, "Keras' progress bar should be replaced"


def test_verbose_is_respected_for_text_output(headless):
    nb, _, _ = headless
    two, none = cell_text(nb.cells[7]), cell_text(nb.cells[8])
    assert "Kepler: epoch" not in two and two.count("Epoch ") == 3, "verbose=2 keeps Keras' line per epoch"
    assert "Kepler: epoch" not in none and "Epoch " not in none and "━" not in none


def test_the_journal_shows_inline_without_jupyterlab(headless):
    nb, _, _ = headless
    (output,) = [o for o in nb.cells[9].outputs if "data" in o]
    assert "application/vnd.jupyter.widget-view+json" in output["data"], "a widget, in the cell's output"
    table = output["data"]["text/plain"]
    assert table.startswith("Kepler journal — headless")
    rows = [line.split()[2] for line in table.splitlines()[2:] if line[:1].isdigit()]
    assert rows == [
        "progress-none",
        "progress-two",
        "progress-auto",
        "default",
    ]  # skipped runs hidden, as in the widget
    assert table.splitlines()[-1] == "(2 skipped, not shown)"


def _seconds(cell) -> float:
    timing = cell.metadata.get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    from datetime import datetime

    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


# -- a front end that shows widgets: a protocol-level client -----------------------------


class FrontEnd:
    """A kernel client that sends what a widget front end sends, and reads what the kernel shows."""

    def __init__(self, kernel_name: str, env: dict[str, str]) -> None:
        from jupyter_client.manager import KernelManager

        self.manager = KernelManager(kernel_name=kernel_name)
        self.manager.start_kernel(env={**os.environ, **env})
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=120)
        self.pending: list[dict] = []
        self.unread: list[dict] = []  # messages of other cells, put back once a cell has finished
        self.replies: set[str] = set()

    def execute(self, code: str) -> str:
        """Send a cell as a notebook front end does (input allowed), without waiting for it."""
        return self.client.execute(code, allow_stdin=True)

    def next_message(self, timeout: float) -> dict | None:
        if self.pending:
            return self.pending.pop(0)
        try:
            return self.client.get_iopub_msg(timeout=timeout)
        except queue.Empty:
            return None

    def wait_for(self, predicate, timeout: float = 120) -> dict:
        """The first IOPub message matching ``predicate``; the others are kept for later."""
        deadline, skipped = time.monotonic() + timeout, []
        try:
            while time.monotonic() < deadline:
                msg = self.next_message(timeout=max(0.05, deadline - time.monotonic()))
                if msg is not None and predicate(msg):
                    return msg
                if msg is not None:
                    skipped.append(msg)
            raise AssertionError("the kernel never sent the awaited message")
        finally:
            self.pending = skipped + self.pending

    def idle(self, msg_id: str, timeout: float = 120) -> str:
        """Everything the cell ``msg_id`` showed, once it has finished.

        Its end is its ``execute_reply`` (as in JupyterLab), not an idle status:
        on ipykernel 6 the waiting loop publishes "idle" for the busy cell too.
        """
        texts: list[str] = []
        deadline = time.monotonic() + timeout
        replied = False
        while time.monotonic() < deadline:
            replied = replied or self._replied(msg_id)
            msg = self.next_message(timeout=0.1 if not replied else 2.0)
            if msg is None:
                if replied:
                    break
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                self.unread.append(msg)
                continue
            content = msg["content"]
            if msg["msg_type"] == "stream":
                texts.append(content["text"])
            elif msg["msg_type"] in ("display_data", "update_display_data", "execute_result"):
                texts.append(content["data"].get("text/plain", "") + "\n")
            elif msg["msg_type"] == "error":
                texts.append(f"{content['ename']}: {content['evalue']}\n")
            elif replied and msg["msg_type"] == "status" and content["execution_state"] == "idle":
                break
        else:
            raise AssertionError(f"the cell never finished; it showed:\n{''.join(texts)}")
        self.pending = self.unread + self.pending
        self.unread = []
        return "".join(texts)

    def _replied(self, msg_id: str) -> bool:
        if msg_id in self.replies:
            return True
        while True:
            try:
                reply = self.client.get_shell_msg(timeout=0)
            except queue.Empty:
                return msg_id in self.replies
            self.replies.add(reply["parent_header"].get("msg_id"))

    def dialog(self, msg_id: str) -> str:
        """The model id of the dialog cell ``msg_id`` shows."""
        msg = self.wait_for(
            lambda m: (
                m["parent_header"].get("msg_id") == msg_id
                and m["msg_type"] == "display_data"
                and "Kepler asks" in m["content"]["data"].get("text/plain", "")
            )
        )
        return msg["content"]["data"]["application/vnd.jupyter.widget-view+json"]["model_id"]

    def send_to_widget(self, model_id: str, content: dict) -> None:
        """What ``model.send(content)`` in the widget's JavaScript sends (no subshell named)."""
        data = {"method": "custom", "content": content}
        msg = self.client.session.msg("comm_msg", {"comm_id": model_id, "data": data})
        self.client.shell_channel.send(msg)

    def show(self, model_id: str) -> None:
        """What the dialog's front-end half sends once it has drawn the dialog."""
        self.send_to_widget(model_id, {"type": "ready"})
        self.send_to_widget(model_id, {"type": "shown"})

    def statuses(self, seconds: float) -> list[tuple[str, str]]:
        """``(state, parent msg_type)`` of every status message in the next ``seconds``; all kept for later."""
        deadline, seen = time.monotonic() + seconds, []
        while time.monotonic() < deadline:
            msg = self.next_message(timeout=0.05)
            if msg is not None:
                seen.append(msg)
        self.pending += seen
        return [
            (m["content"]["execution_state"], m["parent_header"].get("msg_type", "")) for m in seen
            if m["msg_type"] == "status"
        ]  # fmt: skip

    def started(self, msg_id: str, within: float) -> bool:
        """Whether the cell ``msg_id`` began within ``within`` seconds."""
        try:
            self.wait_for(
                lambda m: m["msg_type"] == "execute_input" and m["parent_header"].get("msg_id") == msg_id, within
            )
        except AssertionError:
            return False
        return True

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


@pytest.fixture(params=[CURRENT, OLD], scope="module")
def front_end(request, kernel_path, tmp_path_factory):  # noqa: F811
    spec = require_kernel(request, request.param)
    home = tmp_path_factory.mktemp("front-end") / "home"
    path = os.pathsep.join(p for p in (str(kernel_path), os.environ.get("JUPYTER_PATH", "")) if p)
    previous = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = path  # where the kernelspec manager finds the ipykernel 6 kernel
    try:
        client = FrontEnd(spec, {"KEPLER_HOME": str(home), "KEPLER_ANSWER": "", "TF_CPP_MIN_LOG_LEVEL": "3"})
    finally:
        if previous is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = previous
    setup = client.execute(SETUP + "import ipykernel\nprint('ipykernel', ipykernel.__version__)")
    shown = client.idle(setup, timeout=180)
    assert f"ipykernel {request.param.removeprefix('ipykernel')}" in shown
    yield client, Journal(home)
    client.close()


def test_a_click_answers_the_dialog_and_the_queued_cell_waits_for_it(front_end):
    client, journal = front_end
    asking = client.execute(fit_cell("clicked"))
    queued = client.execute("print('the next cell ran')")  # as "Run All" queues it
    dialog = client.dialog(asking)
    client.show(dialog)
    assert not client.started(queued, within=1.5), "the next cell ran while the dialog waited"
    client.send_to_widget(dialog, {"type": "answer", "choice": "skip"})
    shown = client.idle(asking)
    assert "Train anyway? -> Stop (clicked)" in shown and "epochs trained: 0" in shown
    assert "the next cell ran" in client.idle(queued)
    assert journal.search({"name": "clicked"})[0]["status"] == "skipped"


def test_a_dialog_in_a_cell_queued_behind_another_dialog_still_hears_its_front_end(front_end):
    """On ipykernel 6 the queued cells run after the waiting one from a replay: the second
    dialog must still receive the front end's first message ("ready")."""
    client, _ = front_end
    client.idle(client.execute("os.environ['KEPLER_DIALOG_TIMEOUT'] = '3'"))
    first = client.execute(fit_cell("first-of-two"))
    second = client.execute(fit_cell("second-of-two", model="sigmoid_model()", epochs=3))
    last = client.execute("print('the last cell ran')")
    dialog = client.dialog(first)
    client.show(dialog)
    client.send_to_widget(dialog, {"type": "answer", "choice": "continue"})
    assert "-> Train anyway (clicked)" in client.idle(first)
    client.show(client.dialog(second))
    assert "-> Train anyway (the default: nobody answered within 3 s)" in client.idle(second)
    assert "the last cell ran" in client.idle(last)


def test_the_similar_models_dialog_shows_their_curves_then_asks_again(front_end):
    client, journal = front_end
    client.idle(client.execute("os.environ['KEPLER_DIALOG_TIMEOUT'] = '60'"))
    client.idle(client.execute(fit_cell("similar-first", "--answer continue", model="softmax_model(12)")))
    asking = client.execute(fit_cell("similar-second", model="softmax_model(12)", epochs=3))
    dialog = client.dialog(asking)
    client.show(dialog)
    client.send_to_widget(dialog, {"type": "answer", "choice": "show"})
    again = client.dialog(asking)  # asked again, without "show" this time
    assert again != dialog
    client.show(again)
    client.send_to_widget(again, {"type": "answer", "choice": "skip"})
    shown = client.idle(asking)
    assert "Continue training? -> Show their curves (clicked)" in shown
    assert "(solid: training; dashed: validation)" in shown
    assert "Continue training? -> Cancel (clicked)" in shown
    (run,) = journal.search({"name": "similar-second"})
    assert run["status"] == "skipped" and "similar" in run["reason"]


def test_a_dialog_nobody_answers_takes_the_default_after_the_timeout(front_end):
    client, _ = front_end
    client.idle(client.execute("os.environ['KEPLER_DIALOG_TIMEOUT'] = '3'"))
    started = time.monotonic()
    asking = client.execute(fit_cell("unanswered"))
    client.show(client.dialog(asking))
    shown = client.idle(asking)
    assert "-> Train anyway (the default: nobody answered within 3 s)" in shown
    assert "epochs trained: 2" in shown
    assert 3 <= time.monotonic() - started < 60


def test_a_front_end_without_widgets_gets_the_default_after_the_handshake(front_end):
    client, _ = front_end
    client.idle(client.execute("os.environ['KEPLER_DIALOG_TIMEOUT'] = '2'"))
    asking = client.execute(
        "from kepler_nb.presentation.prompts import ask\n"
        "from kepler_nb.presentation.questions import Question\n"
        "print('answer:', ask(Question('Go on?')).choice)"
    )
    shown = client.idle(asking)  # the client never says "ready", as a front end without widgets
    assert "Go on? -> Train anyway (the default: the front end showed no widget within 2 s)" in shown
    assert "answer: continue" in shown


def test_a_dialog_that_loads_but_is_never_drawn_takes_the_default_after_the_handshake(front_end):
    client, _ = front_end
    client.idle(client.execute("os.environ['KEPLER_DIALOG_TIMEOUT'] = '2'"))
    asking = client.execute(
        "from kepler_nb.presentation.prompts import ask\n"
        "from kepler_nb.presentation.questions import Question\n"
        "print('answer:', ask(Question('Go on?')).choice)"
    )
    client.send_to_widget(client.dialog(asking), {"type": "ready"})  # loaded, but "shown" never comes
    shown = client.idle(asking)
    assert "Go on? -> Train anyway (the default: the front end did not show the dialog within 2 s)" in shown


def test_a_dialog_that_fails_to_draw_asks_at_a_text_prompt_at_once_and_says_why(front_end):
    client, _ = front_end
    client.idle(client.execute("os.environ['KEPLER_DIALOG_TIMEOUT'] = '120'"))
    question = "Question('Go on?', details=[['3', '0.9']], columns=['id', 'acc'])"
    asking = client.execute(
        "from kepler_nb.presentation.prompts import ask\n"
        "from kepler_nb.presentation.questions import Question\n"
        f"print('answer:', ask({question}).choice)"
    )
    dialog = client.dialog(asking)
    started = time.monotonic()
    client.send_to_widget(dialog, {"type": "ready"})
    client.send_to_widget(dialog, {"type": "failed", "error": "TypeError: undefined (reading 'append')\n  at x"})
    request = client.client.get_stdin_msg(timeout=30)  # the text prompt, long before the 120 s timeout
    assert time.monotonic() - started < 20
    assert request["msg_type"] == "input_request" and "Go on?" in request["content"]["prompt"]
    client.client.input("s")
    shown = client.idle(asking)
    assert "the dialog could not be shown (TypeError: undefined (reading 'append'))" in shown
    assert "id  acc" in shown and "3   0.9" in shown, "the prompt shows the dialog's table"
    assert "Go on? -> Don't train (answered at the prompt; the dialog could not be shown: TypeError" in shown
    assert "answer: skip" in shown


def test_the_kernel_reads_busy_while_a_dialog_waits_and_while_the_cell_trains(front_end):
    client, _ = front_end
    client.idle(client.execute("os.environ['KEPLER_DIALOG_TIMEOUT'] = '60'"))
    asking = client.execute(fit_cell("busy", model="sigmoid_model()", epochs=40))
    dialog = client.dialog(asking)
    client.show(dialog)
    waiting = client.statuses(1.5)
    assert ("idle", "comm_msg") in waiting, "the front end's messages were handled while the dialog waited"
    assert waiting[-1] == ("busy", "execute_request"), f"the kernel read {waiting[-1]} while the dialog waited"
    client.send_to_widget(dialog, {"type": "answer", "choice": "continue"})
    training = client.statuses(1.0)
    assert training and training[-1] == ("busy", "execute_request"), f"the kernel read {training} while training"
    shown = client.idle(asking)
    assert "epochs trained: 40" in shown


def test_stopping_the_cell_while_a_dialog_waits_gives_one_line(front_end):
    client, journal = front_end
    client.idle(client.execute("os.environ['KEPLER_DIALOG_TIMEOUT'] = '120'"))
    before = len(journal.experiments())
    asking = client.execute(fit_cell("interrupted"))
    client.show(client.dialog(asking))
    time.sleep(0.5)  # the dialog waits
    client.manager.interrupt_kernel()  # the stop button
    error = client.wait_for(lambda m: m["msg_type"] == "error" and m["parent_header"].get("msg_id") == asking)
    (line,) = error["content"]["traceback"]  # one line, no frames of Kepler's
    assert error["content"]["ename"] == "Interrupted"
    assert line.startswith("KeyboardInterrupt: stopped while Kepler asked: ")
    assert line.endswith("Nothing trained, nothing recorded.")
    shown = client.idle(asking)
    assert "epochs trained" not in shown
    assert len(journal.experiments()) == before
    assert "the next cell ran" in client.idle(client.execute("print('the next cell ran')"))
