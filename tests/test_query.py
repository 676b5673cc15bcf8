"""The search language, on a journal of a few hundred records, checked against plain Python filters."""

from __future__ import annotations

import random
import time

import pytest

from kepler_nb.journal.journal import Journal
from kepler_nb.journal.query import QuerySyntaxError, parse
from kepler_nb.presentation import cli

N = 300
PROJECTS = ["digits", "mnist", "churn"]
OPTIMIZERS = ["Adam", "SGD", "RMSprop"]


def make_records(seed: int = 7) -> list[tuple[dict, str]]:
    rng = random.Random(seed)
    records = []
    for i in range(N):
        conv = rng.random() < 0.3
        depth = rng.randint(1, 5)
        arch = [["Conv2D", 16, "relu", "c"], ["Flatten", None, None, "f"]] if conv else []
        arch += [["Dense", rng.choice([32, 64]), rng.choice(["relu", "tanh"]), "d"] for _ in range(depth)]
        arch.append(["Dense", 10, "softmax", "o"])
        dropout = rng.random() < 0.2
        acc = round(rng.uniform(0.5, 0.99), 3)
        status = rng.choice(["finished"] * 8 + ["failed", "skipped"])
        summary = {
            "project": rng.choice(PROJECTS),
            "name": f"run-{i}" + ("-dropout" if dropout and i % 2 else ""),
            "tags": rng.sample(["baseline", "wide", "deep"], rng.randint(0, 2)),
            "hypothesis": "more dropout helps" if dropout and not i % 2 and i % 3 else None,
            "status": status,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(1_780_000_000 + i * 86400)),
            "optimizer": rng.choice(OPTIMIZERS),
            "learning_rate": float(f"{rng.choice([1e-2, 1e-3, 1e-4]):.6g}") * (1 + 1e-8),  # as float32 reads back
            "loss": "categorical_crossentropy",
            "epochs": rng.choice([1, 5, 10, 20]),
            "batch_size": rng.choice([32, 64]),
            "n_layers": len(arch),
            "arch": arch,
            "findings": {"warning": rng.randint(0, 3)},
            "codes": sorted(rng.sample(["K102", "K303", "K501"], rng.randint(0, 2))),
            "final": {"loss": round(1 - acc, 3), "val_accuracy": acc} if status == "finished" else {},
        }
        source = "model.fit(x, y)\n" + ("model.add(Dropout(0.5))  # regularise\n" if dropout and not i % 3 else "")
        records.append((summary, source))
    return records


@pytest.fixture(scope="module")
def journal(tmp_path_factory):
    journal = Journal(tmp_path_factory.mktemp("query") / "home")
    for summary, source in make_records():
        journal.start(summary, {"cell": source})
    return journal


@pytest.fixture(scope="module")
def records(journal):
    return {r["id"]: (r, source) for r, (_, source) in zip(journal.experiments(), make_records())}


def ids(found):
    return sorted(r["id"] for r in found)


def expect(records, predicate):
    return sorted(i for i, (r, source) in records.items() if predicate(r, source))


def final(r, key):
    return (r.get("final") or {}).get(key)


@pytest.mark.parametrize(
    ("query", "predicate"),
    [
        ("val_accuracy > 0.9", lambda r, s: (final(r, "val_accuracy") or 0) > 0.9),
        ("optimizer = adam", lambda r, s: r["optimizer"] == "Adam"),
        ("epochs >= 10", lambda r, s: r["epochs"] >= 10),
        ("status = finished", lambda r, s: r["status"] == "finished"),
        ("status != finished", lambda r, s: r["status"] != "finished"),
        ("lr = 1e-3", lambda r, s: abs(r["learning_rate"] - 1e-3) < 1e-9),
        ("loss < 0.2", lambda r, s: final(r, "loss") is not None and final(r, "loss") < 0.2),
        ("loss = categorical_crossentropy", lambda r, s: True),
        ("layer = Conv2D", lambda r, s: any(row[0] == "Conv2D" for row in r["arch"])),
        ("layers > 4", lambda r, s: len(r["arch"]) > 4),
        ("activation = tanh", lambda r, s: any(row[2] == "tanh" for row in r["arch"])),
        ("project = mnist", lambda r, s: r["project"] == "mnist"),
        ("tag = baseline", lambda r, s: "baseline" in r["tags"]),
        ("code = K303", lambda r, s: "K303" in r["codes"]),
        ("warnings >= 2", lambda r, s: r["findings"].get("warning", 0) >= 2),
        ("val_accuracy >= 95%", lambda r, s: (final(r, "val_accuracy") or 0) >= 0.95),
        ("name ~ dropout", lambda r, s: "dropout" in r["name"]),
        ("since = 2026-11-01", lambda r, s: r["created"][:10] >= "2026-11-01"),
        ("before = 2026-07-01", lambda r, s: r["created"][:10] < "2026-07-01"),
        ("created = 2026-10-05", lambda r, s: r["created"].startswith("2026-10-05")),
        (
            '"dropout"',
            lambda r, s: "dropout" in r["name"] or "dropout" in (r.get("hypothesis") or "") or "dropout" in s.lower(),
        ),
        ("source ~ Dropout(0.5)", lambda r, s: "dropout(0.5)" in s.lower()),
        (
            "val_accuracy > 0.9 and optimizer = adam",
            lambda r, s: (final(r, "val_accuracy") or 0) > 0.9 and r["optimizer"] == "Adam",
        ),
        (
            "project = digits epochs >= 10",  # juxtaposition is "and"
            lambda r, s: r["project"] == "digits" and r["epochs"] >= 10,
        ),
        (
            "optimizer = sgd or layer = Conv2D and not status = finished",  # and binds tighter than or
            lambda r, s: (
                r["optimizer"] == "SGD" or (any(x[0] == "Conv2D" for x in r["arch"]) and r["status"] != "finished")
            ),
        ),
        (
            "(optimizer = sgd or layer = Conv2D) and not (status = finished or tag = deep)",
            lambda r, s: (
                (r["optimizer"] == "SGD" or any(x[0] == "Conv2D" for x in r["arch"]))
                and not (r["status"] == "finished" or "deep" in r["tags"])
            ),
        ),
    ],
)
def test_queries_match_what_python_finds(journal, records, query, predicate):
    wanted = expect(records, predicate)
    assert wanted, f"the fixture journal should have matches for {query!r}"
    assert ids(journal.search(query)) == wanted


def test_sort_and_limit(journal, records):
    found = journal.search("status = finished sort val_accuracy desc, id limit 5")
    finished = sorted(
        (r for r, _ in records.values() if r["status"] == "finished"),
        key=lambda r: (-final(r, "val_accuracy"), r["id"]),
    )
    assert [r["id"] for r in found] == [r["id"] for r in finished[:5]]
    ascending = journal.search("project = churn sort by epochs asc")
    assert [r["epochs"] for r in ascending] == sorted(r["epochs"] for r in ascending)
    newest = journal.search("sort -created limit 3")
    assert [r["id"] for r in newest] == [N, N - 1, N - 2]
    # A limit keeps ties in the order the whole sort gives them.
    for direction in ("asc", "desc"):
        whole = [r["id"] for r in journal.search(f"sort epochs {direction}")]
        assert [r["id"] for r in journal.search(f"sort epochs {direction} limit 7")] == whole[:7]
    # Missing values go last whichever the direction.
    last = journal.search("sort val_accuracy")[-1]
    assert final(last, "val_accuracy") is None


def test_the_dict_form_and_the_old_form_still_work(journal, records):
    assert ids(journal.search({"project": "digits"})) == expect(records, lambda r, s: r["project"] == "digits")
    assert ids(journal.search("project=digits baseline")) == expect(
        records, lambda r, s: r["project"] == "digits" and "baseline" in r["tags"]
    )
    assert len(journal.search("")) == N


@pytest.mark.parametrize(
    ("query", "position", "expected"),
    [
        ("val_accuracy >", 14, "expected a value after '>'"),
        ("val_accuracy > 0.9 and", 22, "expected a condition after 'and'"),
        ("(optimizer = adam or epochs > 3", 31, "expected ')' to close the '(' at position 1"),
        ("optimizer = adam)", 16, "this ')' closes no '('"),
        ("> 0.9", 0, "expected a field name before '>'"),
        ("0.9 < val_accuracy", 0, "expected a field name before '<'"),
        ('name = "unclosed', 7, 'expected a closing "'),
        ("epochs ! 3", 7, "expected '!=' (not equal)"),
        ("since = last week", 8, "expected a date such as 2026-11-01"),
        ("since < 2026-11-01", 6, "expected '=' after 'since'"),
        ("status = finished limit ten", 24, "expected a whole number after 'limit'"),
        ("sort", 4, "expected a field to sort by"),
        ("status = finished sort val_accuracy desc extra", 41, "expected 'sort', 'limit' or the end of the query"),
        ("not", 3, "expected a condition after 'not'"),
        ("()", 1, "expected a condition inside '( )'"),
        ("a = 1 or or b = 2", 9, "expected a condition after 'or'"),
    ],
)
def test_malformed_queries_say_where_and_what_was_expected(journal, query, position, expected):
    with pytest.raises(QuerySyntaxError, match=expected.replace("(", r"\(").replace(")", r"\)")) as caught:
        journal.search(query)
    error = caught.value
    assert error.position == position
    assert isinstance(error, ValueError)
    lines = str(error).splitlines()
    assert lines[0].startswith(f"query error at position {position + 1}: ")
    assert lines[1] == "  " + query and lines[2] == "  " + " " * position + "^"


def test_queries_are_parsed_never_evaluated(journal, tmp_path):
    sentinel = tmp_path / "pwned"
    hostile = f'__import__("os").system("touch {sentinel}")'
    assert journal.search(hostile) == []  # words to look for, nothing more
    assert not sentinel.exists()
    assert parse("name = x").where.value.text == "x"


def test_cli_search(journal, capsys):
    assert cli.main(["--home", str(journal.home), "search", "project = mnist and layer = Conv2D", "--json"]) == 0
    out = capsys.readouterr().out
    assert '"project": "mnist"' in out and '"Conv2D"' in out
    cli.main(["--home", str(journal.home), "search", "val_acuracy > 0.9"])
    captured = capsys.readouterr()
    assert "No experiment matches." in captured.out
    assert "No experiment has the field 'val_acuracy': a typo?" in captured.err
    with pytest.raises(SystemExit) as stop:
        cli.main(["--home", str(journal.home), "search", "epochs >= "])
    assert stop.value.code == 2
    assert "expected a value after '>='" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("since = 99999999999999999999d", "expected an age a clock can count back"),
        ("since = 9" + "9" * 5000 + "w", "expected an age a clock can count back"),
        ("status = finished limit ²", "expected a whole number after 'limit'"),
        ("status = finished limit 1" + "0" * 5000, "expected a whole number after 'limit'"),
        ("(" * 300 + "epochs > 1" + ")" * 300, "at most 100 nested"),
        ("not " * 1000 + "epochs > 1", "at most 100 nested"),
        ("(not " * 200 + "x" + ")" * 200, "at most 100 nested"),
    ],
)
def test_every_malformed_query_gets_the_query_languages_own_error(journal, query, expected):
    """Not OverflowError, ValueError from int() or RecursionError: a QuerySyntaxError that says what to do."""
    with pytest.raises(QuerySyntaxError, match=expected):
        journal.search(query)


def test_queries_nested_within_the_limit_still_work(journal, records):
    deep = "(" * 100 + "epochs > 0" + ")" * 100
    assert journal.search(deep) == journal.search("epochs > 0") != []
    assert journal.search("not " * 100 + "epochs > 0") == journal.search("epochs > 0")


def test_a_malformed_query_in_the_cli_is_one_line_of_error_not_a_traceback(journal, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["--home", str(journal.home), "search", "not " * 1000 + "x"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.splitlines()) <= 3
    assert "at most 100 nested" in err


def test_a_word_search_follows_edits_and_running_records(tmp_path):
    journal = Journal(tmp_path)
    first = journal.start({"project": "p", "name": "alpha-net", "status": "finished"}, {"cell": "fit(x)  # Gamma"})
    running = journal.start({"project": "p", "name": "other"}, {"cell": "fit(x)  # gamma again"})
    assert [r["id"] for r in journal.search('"alpha"')] == [first]
    assert [r["id"] for r in journal.search('"gamma"')] == [first, running]  # the source, of a running one too
    journal.update(first, {"name": "beta-net"})
    assert journal.search('"alpha"') == [] and [r["id"] for r in journal.search('"beta"')] == [first]
