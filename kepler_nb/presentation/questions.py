"""What Kepler asks and what it gets back: value types, and the port that asks.

A ``Question`` carries its text, its answers' labels, its default and an
optional table of details; an ``Answer`` says which choice was taken and
why. ``Asker`` is the way of asking a question: the prompt, the dialog or
a test's scripted answers all fit it, so whoever asks is given one.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

ANSWERS = ("continue", "skip")
KINDS = ("info", "warning", "error")

# Seconds a shown dialog waits for a person before taking its default (``KEPLER_DIALOG_TIMEOUT``
# overrides them all). The wait follows what the default costs: where the default is the safe
# choice, a cell is held only briefly; where it may burn GPU hours on a broken model, longer.
WAIT_ERRORS = 300.0  # the default trains a model the checks say is broken: give the person time
WAIT_DUPLICATE = 60.0  # the default trains again, as a rerun may be meant (another seed)
WAIT_SIMILAR = 30.0  # the default continues: similar runs are news, not a problem
WAIT_OTHER = 60.0


@dataclass(frozen=True)
class Question:
    """A question with its answers' labels, its default, and optional details.

    ``details`` is a short table (rows of text, under ``columns`` when given),
    e.g. the similar runs found; ``extra_choices`` maps more answers to their
    labels (``{"show": "Show their curves"}``): the dialog returns that key,
    and the caller may act on it and ask again. ``wait`` is how long a shown
    dialog waits for a click before taking ``default`` (see ``WAIT_*``).
    """

    text: str
    continue_label: str = "Train anyway"
    skip_label: str = "Don't train"
    default: str = "continue"
    details: Sequence[Sequence[Any]] = ()
    columns: Sequence[str] = ()
    extra_choices: Mapping[str, str] = field(default_factory=dict)
    title: str = "Kepler"
    kind: str = "info"  # "info", "warning" or "error": how the dialog looks
    wait: float = WAIT_OTHER  # seconds a shown dialog waits for a person before taking the default

    def __post_init__(self) -> None:
        if self.default not in ANSWERS:
            raise ValueError(f"Question(default={self.default!r}): a default must be 'continue' or 'skip'")
        if not self.wait >= 0:
            raise ValueError(f"Question(wait={self.wait!r}): use a number of seconds >= 0, or inf")
        if self.kind not in KINDS:
            raise ValueError(f"Question(kind={self.kind!r}): use one of {', '.join(KINDS)}")
        clash = set(self.extra_choices) & set(ANSWERS)
        if clash:
            raise ValueError(f"extra_choices may not redefine {sorted(clash)}; set continue_label/skip_label instead")
        object.__setattr__(self, "details", tuple(tuple(_text(cell) for cell in row) for row in self.details))
        object.__setattr__(self, "columns", tuple(_text(c) for c in self.columns))
        object.__setattr__(self, "extra_choices", dict(self.extra_choices))

    @property
    def choices(self) -> dict[str, str]:
        """Every answer and its label, in the order the buttons appear."""
        return {**self.extra_choices, "continue": self.continue_label, "skip": self.skip_label}

    def label(self, choice: str) -> str:
        return self.choices.get(choice, choice)


@dataclass(frozen=True)
class Answer:
    choice: str  # "continue", "skip" or one of the question's extra choices
    why: str
    source: str = ""  # "option", "environment", "default", "timeout", "prompt", "click"

    @property
    def train(self) -> bool:
        return self.choice == "continue"


def validate_answer(value: str | None, source: str) -> str | None:
    """``value`` as a canonical answer, None when unset; ValueError when it is not one."""
    if value is None or value == "":
        return None
    value = value.strip().lower()
    if value not in ANSWERS:
        raise ValueError(f"{source}={value!r} is not an answer Kepler knows; use 'continue' or 'skip'")
    return value


class Interrupted(KeyboardInterrupt):
    """The cell was stopped (the stop button, an interrupt) while a question waited for its answer.

    Still a ``KeyboardInterrupt`` (``except KeyboardInterrupt`` catches it, and
    "Run All" stops at it), but IPython shows it as one line instead of a
    traceback through Kepler's frames: where it stopped is no news to the
    person who pressed stop.
    """

    def __init__(self, question: Question) -> None:
        super().__init__(f"stopped while Kepler asked: {question.text} Nothing trained, nothing recorded.")

    def _render_traceback_(self) -> list[str]:
        return [f"KeyboardInterrupt: {self}"]


class CellAnswers:
    """The answers given in one cell, by topic, so a cell fitting in a loop asks each question once.

    A topic names what a question is about ("similar", "duplicate", "errors
    K201"); a later fit of the same cell with the same topic takes the
    answer given first, and says so in one line. The runs this cell recorded
    are kept too: similar runs made by the cell itself are no news to the
    person running it.
    """

    def __init__(self) -> None:
        self.given: dict[str, Answer] = {}
        self.recorded: set[int] = set()
        self.fits = 0  # fits of this cell that reached the questions

    def held(self, topic: str) -> Answer | None:
        """The answer given earlier in this cell to a question on ``topic``, as a later fit takes it."""
        answer = self.given.get(topic)
        if answer is None:
            return None
        return Answer(answer.choice, "as answered for an earlier fit of this cell", "cell")

    def remember(self, topic: str, answer: Answer) -> None:
        if answer.choice in ANSWERS:
            self.given.setdefault(topic, answer)


class Asker(Protocol):
    """A way of asking: takes a question, returns the answer taken (and says so where it should)."""

    def __call__(self, question: Question) -> Answer: ...


def answer_line(question: Question, answer: Answer) -> str:
    """One line saying what was asked, what was chosen and why."""
    return f"Kepler: {question.text} -> {question.label(answer.choice)} ({answer.why})"


DETAILS_CELL_WIDTH = 38  # a long cell wraps within its column: rows stay narrower than a notebook's output


def details_text(question: Question) -> str:
    """The question's table as text lines under its answer line ('' when it has none); a long cell
    wraps within its column, so a row is not broken across the output's width."""
    if not question.details:
        return ""
    rows = ([question.columns] if question.columns else []) + list(question.details)
    wrapped = [[_wrap_cell(str(cell), DETAILS_CELL_WIDTH) for cell in row] for row in rows]
    widths = [max(len(line) for row in wrapped if i < len(row) for line in row[i]) for i in range(max(map(len, rows)))]
    lines = []
    for row in wrapped:
        for k in range(max(len(cell) for cell in row)):
            parts = [(cell[k] if k < len(cell) else "").ljust(widths[i]) for i, cell in enumerate(row)]
            lines.append(("  " + "  ".join(parts)).rstrip())
    return "\n" + "\n".join(lines)


def _wrap_cell(cell: str, width: int) -> list[str]:
    """``cell`` in lines of at most ``width``, broken after its "; " first: a difference stays whole."""
    items = cell.split("; ")
    lines: list[str] = []
    for n, item in enumerate(items):
        piece = item + (";" if n < len(items) - 1 else "")
        if lines and len(lines[-1]) + 1 + len(piece) <= width:
            lines[-1] += " " + piece
        else:
            lines.append(piece)
    return [short for line in lines for short in (textwrap.wrap(line, width) or [""])]


def _text(value: Any) -> str:
    return "" if value is None else str(value)
