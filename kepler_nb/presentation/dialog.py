"""A question as a dialog in the cell's output, blocking the cell until answered.

The dialog is a widget: the question, an optional table of details, one
button per answer and a countdown to the default. Its front-end half says
"ready" when its module loads and "shown" once the dialog is on the page
(the default button then has the keyboard focus: Enter answers it). The
kernel counts the waiting time only from "shown". If drawing fails, the
front end says "failed" at once and the question is asked as a text prompt
instead (or answered with its default where the request allows no input),
the line saying why. No "shown" within ``HANDSHAKE_SECONDS`` means this
front end shows no widgets (or cannot reach the kernel): the default is
taken. Once answered, the dialog's output is replaced by one line of text
saying what was chosen and why; that line is what the saved notebook keeps.
"""

from __future__ import annotations

import builtins
import logging
import math
import os
import time
from typing import Any

import anywidget
import traitlets

from . import assets, frontend, waiting
from .questions import WAIT_OTHER, Answer, Interrupted, Question, answer_line, details_text

log = logging.getLogger("kepler")

TIMEOUT_ENV = "KEPLER_DIALOG_TIMEOUT"
HANDSHAKE_SECONDS = 10.0  # how long a front end has to show that it displays widgets


def dialog_timeout(question: Question | None = None) -> float:
    """Seconds a dialog waits for a person: ``KEPLER_DIALOG_TIMEOUT`` (``inf`` waits for ever) when set,
    else the question's own ``wait`` (see ``questions.WAIT_*``: short where the default is safe)."""
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    if not raw:
        return question.wait if question is not None else WAIT_OTHER
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{TIMEOUT_ENV}={raw!r} is not a number of seconds; use e.g. 60, 0 or inf") from None
    if math.isnan(value) or value < 0:
        raise ValueError(f"{TIMEOUT_ENV}={raw!r}: use a number of seconds >= 0, or inf")
    return value


class Dialog(anywidget.AnyWidget):
    """The widget: it shows a question and reports the button clicked."""

    _esm = assets.module("dialog.js")
    _css = assets.css()

    title = traitlets.Unicode("Kepler").tag(sync=True)
    kind = traitlets.Unicode("info").tag(sync=True)  # "info", "warning" or "error": how it looks
    text = traitlets.Unicode().tag(sync=True)
    columns = traitlets.List(traitlets.Unicode()).tag(sync=True)
    rows = traitlets.List(traitlets.List(traitlets.Unicode())).tag(sync=True)
    choices = traitlets.List(traitlets.Dict()).tag(sync=True)  # [{"key", "label", "default"}]
    timeout_s = traitlets.Float(allow_none=True).tag(sync=True)  # None: waits for ever

    def __init__(self, question: Question, timeout: float) -> None:
        super().__init__(
            title=question.title,
            kind=question.kind,
            text=question.text,
            columns=list(question.columns),
            rows=[list(row) for row in question.details],
            choices=[
                {"key": key, "label": label, "default": key == question.default}
                for key, label in question.choices.items()
            ],
            timeout_s=None if math.isinf(timeout) else timeout,
        )
        self.question = question
        self.ready = False  # the front end shows widgets
        self.shown = False  # the dialog is on the page
        self.failed: str | None = None  # why the front end could not draw it
        self.choice: str | None = None
        self.on_msg(self._on_msg)

    def _on_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        # Runs on whichever thread receives the front end's messages (see waiting.py).
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        if kind in ("ready", "shown", "failed", "answer"):
            self.ready = True
            frontend.saw_widget_frontend()
        if kind == "shown":
            self.shown = True
        elif kind == "failed":
            self.failed = str(content.get("error") or "unknown error").strip().splitlines()[0][:200]
        elif kind == "answer" and content.get("choice") in self.question.choices:
            self.shown = True
            self.choice = content["choice"]

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle:
            data, metadata = bundle
            labels = " / ".join(self.question.choices.values())
            data["text/plain"] = f"Kepler asks: {self.question.text} [{labels}]"
            return data, metadata
        return bundle


def ask_in_dialog(question: Question, timeout: float | None = None, text_prompt: Any = None) -> Answer:
    """Show ``question`` as a dialog in the cell's output and wait for a click, the timeout, or no front end."""
    from IPython.display import display

    timeout = dialog_timeout(question) if timeout is None else timeout
    if timeout == 0:
        return _collapse(None, question, Answer(question.default, f"the default: {TIMEOUT_ENV}=0", "timeout"))
    request = frontend.parent_request()  # the cell's: while waiting, the kernel may answer widget messages
    restore_cell_parent = waiting.cell_parent_keeper()
    dialog = Dialog(question, timeout)
    waiting.route_to_kepler_thread(dialog)
    handle = display(dialog, display_id=True)
    started = time.monotonic()
    try:
        handshake = min(HANDSHAKE_SECONDS, timeout)
        if not waiting.wait_until(lambda: dialog.shown or dialog.failed is not None, handshake):
            shown = "did not show the dialog" if dialog.ready else "showed no widget"
            why = f"the default: the front end {shown} within {_duration(handshake)}"
            answer = Answer(question.default, why, "default")
        elif dialog.failed is not None:
            log.warning("the dialog could not be drawn: %s", dialog.failed)
            handle.update({"text/plain": f"Kepler: the dialog could not be shown ({dialog.failed})"}, raw=True)
            problem = f"the dialog could not be shown: {dialog.failed}"
            restore_cell_parent()  # the text prompt goes to the cell's front end
            answer = _instead_of_dialog(question, problem, text_prompt, request)
        else:
            log.info("dialog shown after %.2f s", time.monotonic() - started)
            left = timeout - (time.monotonic() - started)
            if waiting.wait_until(lambda: dialog.choice is not None, left):
                answer = Answer(dialog.choice, "clicked", "click")
            else:
                why = f"the default: nobody answered within {_duration(timeout)}"
                answer = Answer(question.default, why, "timeout")
    except KeyboardInterrupt:
        handle.update({"text/plain": ""}, raw=True)  # the interrupt's own line says what was asked
        raise Interrupted(question) from None
    finally:
        dialog.close()
    return _collapse(handle, question, answer)


def _instead_of_dialog(question: Question, problem: str, ask_terminal: Any, request: dict[str, Any]) -> Answer:
    """The answer a text prompt gives where the dialog failed (the default where the cell allows no input).

    ``request`` is the cell's own request, read before the dialog waited: on
    ipykernel 6 the waiting loop handles the widget's messages as requests of
    their own, and the kernel's current request is then one of those.
    """
    if ask_terminal is not None and request.get("content", {}).get("allow_stdin"):
        try:
            answer = ask_terminal(question, read=lambda prompt: builtins.input(prompt))
        except Exception as error:  # noqa: BLE001 - any prompt failure leaves the default
            return Answer(question.default, f"the default: {problem}; the text prompt failed ({error})", "default")
        return Answer(answer.choice, f"{answer.why}; {problem}", answer.source)
    return Answer(question.default, f"the default: {problem}", "default")


def _collapse(handle: Any, question: Question, answer: Answer) -> Answer:
    """Replace the dialog by one line of text (or print it where no dialog was shown)."""
    line = answer_line(question, answer)
    # The table once: not after a text prompt (it showed it), nor after an answer that asks again.
    if answer.source != "prompt" and answer.choice not in question.extra_choices:
        line += details_text(question)
    if handle is None:
        print(line)
    else:
        handle.update({"text/plain": line}, raw=True)
    return answer


def _duration(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 120 else f"{seconds:g} s"
