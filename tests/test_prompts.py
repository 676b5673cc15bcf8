"""Questions and answers: settings first, then a person (a terminal prompt or a dialog), else the default."""

from __future__ import annotations

import sys

import pytest

from kepler_nb.presentation import frontend
from kepler_nb.presentation.dialog import Dialog, dialog_timeout
from kepler_nb.presentation.prompts import ask, ask_terminal
from kepler_nb.presentation.questions import Answer, Question, answer_line, details_text, validate_answer

SIMILAR = Question(
    "3 similar models found. Continue training?",
    continue_label="Continue",
    skip_label="Cancel",
    details=[[7, "baseline", 0.91], [9, "<b>wide</b>", None]],
    columns=["id", "name", "val_accuracy"],
    extra_choices={"show": "Show their curves"},
)


@pytest.fixture(autouse=True)
def no_answer_set(monkeypatch):
    monkeypatch.delenv("KEPLER_ANSWER", raising=False)
    monkeypatch.delenv("KEPLER_DIALOG_TIMEOUT", raising=False)


def test_a_question_keeps_its_details_as_text_and_lists_its_choices_in_button_order():
    assert SIMILAR.details == (("7", "baseline", "0.91"), ("9", "<b>wide</b>", ""))
    assert SIMILAR.columns == ("id", "name", "val_accuracy")
    assert SIMILAR.choices == {"show": "Show their curves", "continue": "Continue", "skip": "Cancel"}
    assert SIMILAR.label("skip") == "Cancel"


def test_a_long_detail_wraps_within_its_column_and_no_word_is_lost():
    differs = "learning rate 0.01 (this run: 0.003); other compile or fit settings; layer 2 Dense: 16 units"
    question = Question(
        "1 similar model found.",
        details=[("1", "earlier", "same model, different hyperparameters", differs, "val_accuracy 0.9062 @4")],
        columns=("id", "name", "how it relates", "what differs", "best"),
    )
    lines = details_text(question).splitlines()[1:]
    assert max(map(len, lines)) <= 116, lines
    assert "learning rate 0.01 (this run: 0.003);" in lines[1], "a difference stays whole on its line"
    assert lines[0].split() == ["id", "name", "how", "it", "relates", "what", "differs", "best"]
    assert sorted(" ".join(lines[1:]).split()) == sorted(
        f"1 earlier same model, different hyperparameters {differs} val_accuracy 0.9062 @4".split()
    )
    assert lines[1].startswith("  1   earlier  "), "a row's first line holds its first words"


def test_a_question_refuses_a_default_that_is_not_an_answer_and_extra_choices_that_redefine_one():
    with pytest.raises(ValueError, match="a default must be 'continue' or 'skip'"):
        Question("Go?", default="show", extra_choices={"show": "Show"})
    with pytest.raises(ValueError, match="may not redefine"):
        Question("Go?", extra_choices={"skip": "Nope"})


@pytest.mark.parametrize(
    ("value", "expected"), [(None, None), ("", None), ("continue", "continue"), (" SKIP ", "skip")]
)
def test_validate_answer_accepts_the_two_answers(value, expected):
    assert validate_answer(value, "KEPLER_ANSWER") == expected


def test_validate_answer_says_which_setting_is_wrong():
    with pytest.raises(
        ValueError, match=r"KEPLER_ANSWER='show' is not an answer Kepler knows; use 'continue' or 'skip'"
    ):
        validate_answer("show", "KEPLER_ANSWER")


def test_the_cell_option_comes_before_the_environment(monkeypatch):
    monkeypatch.setenv("KEPLER_ANSWER", "continue")
    shown = []
    answer = ask(SIMILAR, "skip", shown.append)
    assert answer == Answer("skip", "from the cell's --answer option", "option")
    assert not answer.train
    (said,) = shown
    line, *table = said.splitlines()
    assert line == "Kepler: 3 similar models found. Continue training? -> Cancel (from the cell's --answer option)"
    assert len(table) == 1 + len(SIMILAR.details), "the question's table, once, under its answer"


def test_the_environment_answers_every_question(monkeypatch):
    monkeypatch.setenv("KEPLER_ANSWER", "continue")
    shown = []
    assert ask(SIMILAR, None, shown.append).train
    assert shown[0].splitlines()[0].endswith("-> Continue (from KEPLER_ANSWER)")


def test_a_bad_environment_answer_is_an_error_not_a_guess(monkeypatch):
    monkeypatch.setenv("KEPLER_ANSWER", "yes")
    with pytest.raises(ValueError, match="KEPLER_ANSWER='yes'"):
        ask(SIMILAR, None, lambda line: None)


def test_where_nobody_can_answer_the_default_is_taken_at_once_and_said():
    # pytest runs without IPython, or with an IPython shell other tests made: no kernel, no terminal.
    reason = frontend.nobody_can_answer()
    assert reason in ("not running in IPython", "no terminal and no notebook front end")
    shown = []
    answer = ask(Question("Train anyway?", skip_label="Stop", default="skip"), None, shown.append)
    assert answer.choice == "skip" and answer.source == "default"
    assert shown == [f"Kepler: Train anyway? -> Stop (the default: {reason}; set KEPLER_ANSWER or --answer to choose)"]


def test_answer_line_names_the_label_not_the_key():
    assert answer_line(SIMILAR, Answer("show", "clicked")) == (
        "Kepler: 3 similar models found. Continue training? -> Show their curves (clicked)"
    )


def scripted(*replies):
    """A reader that answers the prompt with these lines, then reaches the end of input."""
    replies = list(replies)
    prompts = []

    def read(prompt):
        prompts.append(prompt)
        if not replies:
            raise EOFError
        return replies.pop(0)

    return read, prompts


def test_terminal_prompt_one_letter_per_answer(capsys):
    read, prompts = scripted("h")
    assert ask_terminal(SIMILAR, read) == Answer("show", "answered at the prompt", "prompt")
    assert prompts == [
        "3 similar models found. Continue training? [h] Show their curves / [c] Continue / [s] Cancel "
        "(default: Continue): "
    ]
    table = capsys.readouterr().out
    assert "<b>wide</b>" in table and "val_accuracy" in table


def test_terminal_prompt_takes_whole_words_enter_and_the_end_of_input(capsys):
    assert ask_terminal(SIMILAR, scripted("skip")[0]).choice == "skip"
    assert ask_terminal(SIMILAR, scripted("")[0]) == Answer("continue", "the default: Enter pressed", "prompt")
    assert ask_terminal(SIMILAR, scripted()[0]) == Answer("continue", "the default: no input", "default")


def test_terminal_prompt_asks_again_after_a_reply_it_does_not_know(capsys):
    read, prompts = scripted("maybe", "c")
    assert ask_terminal(SIMILAR, read).choice == "continue"
    assert len(prompts) == 2
    assert "Please answer h, c, s or press Enter for the default." in capsys.readouterr().out


def test_a_terminal_ipython_asks_at_its_prompt():
    """A real IPython in a pseudo-terminal: the question is a text prompt there."""
    pexpect = pytest.importorskip("pexpect")
    child = pexpect.spawn(
        sys.executable,
        ["-m", "IPython", "--simple-prompt", "--no-banner", "--colors=NoColor"],
        encoding="utf-8",
        timeout=60,
        env={"TERM": "dumb", "PATH": "/usr/bin:/bin", "HOME": "/tmp"},
    )
    try:
        child.expect(r"In \[1\]: ")
        child.sendline(
            "from kepler_nb.presentation.prompts import ask; from kepler_nb.presentation.questions import Question"
        )
        child.expect(r"In \[2\]: ")
        child.sendline("a = ask(Question('Go on?', skip_label='Stop', extra_choices={'show': 'Show them'}))")
        child.expect(r"\[h\] Show them / \[c\] Train anyway / \[s\] Stop \(default: Train anyway\): ")
        child.sendline("s")
        child.expect(r"Kepler: Go on\? -> Stop \(answered at the prompt\)")
        child.expect(r"In \[3\]: ")
        child.sendline("print('CHOICE', a.choice)")
        child.expect("CHOICE skip")
        child.sendline("exit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)


def test_dialog_timeout_is_the_questions_own_unless_the_environment_sets_one(monkeypatch):
    from kepler_nb.presentation.questions import WAIT_ERRORS, WAIT_SIMILAR

    monkeypatch.delenv("KEPLER_DIALOG_TIMEOUT", raising=False)
    assert dialog_timeout(Question("Errors. Train anyway?", wait=WAIT_ERRORS)) == 300
    assert dialog_timeout(Question("2 similar models found. Continue?", wait=WAIT_SIMILAR)) == 30
    with pytest.raises(ValueError, match="wait"):
        Question("Go on?", wait=-1)
    monkeypatch.setenv("KEPLER_DIALOG_TIMEOUT", "12.5")
    assert dialog_timeout(Question("Errors. Train anyway?", wait=WAIT_ERRORS)) == 12.5
    monkeypatch.setenv("KEPLER_DIALOG_TIMEOUT", "inf")
    assert dialog_timeout() == float("inf")
    for bad in ("soon", "-1", "nan"):
        monkeypatch.setenv("KEPLER_DIALOG_TIMEOUT", bad)
        with pytest.raises(ValueError, match="KEPLER_DIALOG_TIMEOUT"):
            dialog_timeout()


def test_the_dialog_widget_carries_the_question_and_hears_only_its_own_answers():
    dialog = Dialog(SIMILAR, timeout=float("inf"))
    try:
        assert dialog.text == SIMILAR.text
        assert dialog.rows == [["7", "baseline", "0.91"], ["9", "<b>wide</b>", ""]]
        assert [(c["key"], c["label"], c["default"]) for c in dialog.choices] == [
            ("show", "Show their curves", False),
            ("continue", "Continue", True),
            ("skip", "Cancel", False),
        ]
        assert dialog.timeout_s is None
        assert "Kepler asks: 3 similar models found" in dialog._repr_mimebundle_()[0]["text/plain"]
        # What the comm delivers when the front end sends a message:
        dialog._on_msg(dialog, {"type": "answer", "choice": "delete everything"}, [])
        assert dialog.choice is None
        dialog._on_msg(dialog, {"type": "ready"}, [])
        assert dialog.ready and frontend.widget_frontend_seen()
        dialog._on_msg(dialog, {"type": "answer", "choice": "show"}, [])
        assert dialog.choice == "show"
    finally:
        dialog.close()
