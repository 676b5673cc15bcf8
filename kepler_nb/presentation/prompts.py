"""Questions Kepler asks before training, and how they get an answer without a person.

Every question has two canonical answers: ``continue`` (train) and ``skip``
(don't train). The answer comes from, in order: the cell's ``--answer``
option, the ``KEPLER_ANSWER`` environment variable, a person at a terminal
IPython prompt, else the question's documented default. A run with no front
end (nbclient, papermill, CI) never waits.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

ANSWERS = ("continue", "skip")


@dataclass(frozen=True)
class Question:
    text: str
    continue_label: str = "Train anyway"
    skip_label: str = "Don't train"
    default: str = "continue"


@dataclass(frozen=True)
class Answer:
    choice: str  # "continue" or "skip"
    why: str

    @property
    def train(self) -> bool:
        return self.choice == "continue"


def validate_answer(value: str | None, source: str) -> str | None:
    if value is None or value == "":
        return None
    value = value.strip().lower()
    if value not in ANSWERS:
        raise ValueError(f"{source}={value!r} is not an answer Kepler knows; use 'continue' or 'skip'")
    return value


def ask(question: Question, cell_answer: str | None = None, show=print) -> Answer:
    """Ask ``question`` the best way available here; say which answer was taken and why."""
    answer = _decide(question, cell_answer)
    label = question.continue_label if answer.train else question.skip_label
    show(f"Kepler: {question.text} -> {label} ({answer.why})")
    return answer


def _decide(question: Question, cell_answer: str | None) -> Answer:
    if cell_answer:
        return Answer(validate_answer(cell_answer, "--answer"), "from the cell's --answer option")
    env = validate_answer(os.environ.get("KEPLER_ANSWER"), "KEPLER_ANSWER")
    if env:
        return Answer(env, "from KEPLER_ANSWER")
    if _terminal_ipython():
        return _ask_terminal(question)
    return Answer(question.default, "no one can answer here: the default; set KEPLER_ANSWER or --answer to choose")


def _terminal_ipython() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "TerminalInteractiveShell" and sys.stdin.isatty()


def _ask_terminal(question: Question) -> Answer:
    keys = {"c": "continue", "s": "skip"}
    prompt = f"{question.text} [c] {question.continue_label} / [s] {question.skip_label} (default {question.default}): "
    while True:
        try:
            reply = input(prompt).strip().lower()
        except EOFError:
            return Answer(question.default, "no input: the default")
        if not reply:
            return Answer(question.default, "the default")
        if reply[:1] in keys:
            return Answer(keys[reply[:1]], "answered at the prompt")
