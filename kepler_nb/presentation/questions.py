"""What Kepler asks and what it gets back: value types, and the port that asks.

A ``Question`` carries its text, its answers' labels, its default and an
optional table of details; an ``Answer`` says which choice was taken and
why. ``Asker`` is the way of asking a question: the prompt, the dialog or
a test's scripted answers all fit it, so whoever asks is given one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

ANSWERS = ("continue", "skip")
KINDS = ("info", "warning", "error")


@dataclass(frozen=True)
class Question:
    """A question with its answers' labels, its default, and optional details.

    ``details`` is a short table (rows of text, under ``columns`` when given),
    e.g. the similar runs found; ``extra_choices`` maps more answers to their
    labels (``{"show": "Show their curves"}``): the dialog returns that key,
    and the caller may act on it and ask again.
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

    def __post_init__(self) -> None:
        if self.default not in ANSWERS:
            raise ValueError(f"Question(default={self.default!r}): a default must be 'continue' or 'skip'")
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


class Asker(Protocol):
    """A way of asking: takes a question, returns the answer taken (and says so where it should)."""

    def __call__(self, question: Question) -> Answer: ...


def answer_line(question: Question, answer: Answer) -> str:
    """One line saying what was asked, what was chosen and why."""
    return f"Kepler: {question.text} -> {question.label(answer.choice)} ({answer.why})"


def details_text(question: Question) -> str:
    """The question's table as text lines under its answer line ('' when it has none)."""
    if not question.details:
        return ""
    rows = ([question.columns] if question.columns else []) + list(question.details)
    widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(max(len(r) for r in rows))]
    return "\n" + "\n".join(
        "  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows
    )


def _text(value: Any) -> str:
    return "" if value is None else str(value)
