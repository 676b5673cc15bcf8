"""Questions Kepler asks before training, and how each gets an answer.

Every question has two canonical answers: ``continue`` (train) and ``skip``
(don't train); a question may offer more (``extra_choices``, e.g. "show"
for "show me those curves"), which a person can pick but no setting can.

The answer comes from, in order:

1. the cell's ``--answer`` option;
2. the ``KEPLER_ANSWER`` environment variable (``continue`` or ``skip``);
3. where nobody can answer (a script, or a kernel run headless by nbclient,
   papermill or CI: its requests allow no input): the question's default,
   at once;
4. a person: a text prompt in a terminal IPython, a dialog in a notebook.
   The dialog blocks its cell (and the cells queued after it) until a
   button is clicked; if nobody clicks within the question's ``wait``
   (``questions.WAIT_*``: 30 s to 5 min, by what the default costs;
   ``KEPLER_DIALOG_TIMEOUT`` sets one for all), or the front end shows no
   widgets, the default is taken.

Whichever way, the output says which answer was taken and why.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from . import frontend
from .questions import ANSWERS, Answer, Interrupted, answer_line, details_text, validate_answer

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from .questions import Question


def ask(question: Question, cell_answer: str | None = None, show: Callable[[str], Any] = print) -> Answer:
    """Ask ``question`` the best way available here; say which answer was taken and why."""
    answer = _given(question, cell_answer)
    if answer is None:
        nobody = frontend.nobody_can_answer()
        if nobody:
            why = f"the default: {nobody}; set KEPLER_ANSWER or --answer to choose"
            answer = Answer(question.default, why, "default")
        elif frontend.is_terminal():
            try:
                answer = ask_terminal(question)
            except KeyboardInterrupt:
                raise Interrupted(question) from None
        else:
            from .dialog import ask_in_dialog

            return ask_in_dialog(question, text_prompt=ask_terminal)  # the dialog collapses into the answer line itself
    show(answer_line(question, answer) + ("" if answer.source == "prompt" else details_text(question)))
    return answer


def _given(question: Question, cell_answer: str | None) -> Answer | None:
    if cell_answer:
        return Answer(validate_answer(cell_answer, "--answer"), "from the cell's --answer option", "option")
    env = validate_answer(os.environ.get("KEPLER_ANSWER"), "KEPLER_ANSWER")
    if env:
        return Answer(env, "from KEPLER_ANSWER", "environment")
    return None


def ask_terminal(question: Question, read: Callable[[str], str] = input) -> Answer:
    """A text prompt: one letter per answer, Enter for the default."""
    keys = _keys(question.choices)
    if question.details:
        print(_table(question))
    letters = {choice: key for key, choice in keys.items()}
    options = " / ".join(f"[{letters[choice]}] {label}" for choice, label in question.choices.items())
    prompt = f"{question.text} {options} (default: {question.label(question.default)}): "
    while True:
        try:
            reply = read(prompt).strip().lower()
        except EOFError:
            return Answer(question.default, "the default: no input", "default")
        if not reply:
            return Answer(question.default, "the default: Enter pressed", "prompt")
        if reply in question.choices:
            return Answer(reply, "answered at the prompt", "prompt")
        if reply[:1] in keys:
            return Answer(keys[reply[:1]], "answered at the prompt", "prompt")
        print(f"Please answer {', '.join(letters[c] for c in question.choices)} or press Enter for the default.")


def _keys(choices: Mapping[str, str]) -> dict[str, str]:
    """A distinct letter for each answer: its first free letter ('c' continue, 's' skip)."""
    keys: dict[str, str] = {}
    for choice in sorted(choices, key=lambda c: c not in ANSWERS):  # the canonical answers pick first
        letter = next((ch for ch in choice.lower() if ch.isalnum() and ch not in keys), None)
        keys[letter or str(len(keys) + 1)] = choice
    return keys


def _table(question: Question) -> str:
    return details_text(question).removeprefix("\n")
