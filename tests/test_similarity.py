"""Similar experiments: which ones, ranked how, and what differs, said plainly."""

from __future__ import annotations

import pytest

from kepler_nb.fit.signature import digest
from kepler_nb.journal.journal import Journal
from kepler_nb.journal.similarity import compare, find_duplicate, lookup, setting_differences_of_parts
from kepler_nb.presentation.similar import difference_text, in_words

HPARAMS = {
    "optimizer": "Adam",
    "learning_rate": 0.001,
    "loss": "categorical_crossentropy",
    "epochs": 5,
    "batch_size": 32,
    "validation_split": 0.2,
    "shuffle": True,
    "other": "aaaa",
}
LAYERS = [["Dense", 32, "relu", "h1"], ["Dense", 10, "softmax", "h2"]]


def run(id_, layers=LAYERS, data="d1", status="finished", input_shape=(64,), n_classes=10, acc=0.9, **hp):
    hparams = {**HPARAMS, **hp}
    arch = digest([layers, list(input_shape)])
    return {
        "id": id_,
        "name": f"run{id_}",
        "status": status,
        "created": f"2026-11-{id_ % 28 + 1:02d}T10:00:00+0000",
        "arch": [list(r) for r in layers],
        "arch_signature": arch,
        "data_signature": data,
        "signature": digest([arch, data, hparams]),
        "input_shape": list(input_shape),
        "n_classes": n_classes,
        "hparams": hparams,
        "n_samples": 1000,
        "final": {"val_accuracy": acc, "val_loss": 1 - acc},
    }


def test_the_latest_finished_run_of_the_same_experiment_is_the_duplicate():
    target = run(0)
    earlier = [run(1), run(2, status="failed"), run(3), run(4, status="skipped"), run(5, lr_unused=1)]
    assert find_duplicate(earlier, target["signature"])["id"] == 3
    found = lookup(earlier, target)
    assert found.duplicate["id"] == 3
    assert all(m.experiment["id"] not in (1, 3) for m in found.similar)  # the same experiment is not "similar"
    assert [m.experiment["id"] for m in found.similar] == [5]
    assert find_duplicate([run(1, status="running")], target["signature"]) is None


def test_same_model_on_other_data_or_hyperparameters_says_which():
    target = run(0)
    other_data = compare(target, run(1, data="d2"))
    assert in_words(other_data.to_dict())["relation"] == "same model, different data"
    assert in_words(other_data.to_dict())["differences"] == ["other training data (same size, different content)"]
    other_lr = compare(target, run(2, learning_rate=0.01))
    assert in_words(other_lr.to_dict())["relation"] == "same model, different hyperparameters"
    assert in_words(other_lr.to_dict())["differences"] == ["learning rate 0.01 (this run: 0.001)"]
    both = compare(target, run(3, data="d2", batch_size=64))
    assert in_words(both.to_dict())["relation"] == "same model, different data and hyperparameters"
    assert "batch size 64 (this run: 32)" in in_words(both.to_dict())["differences"]


@pytest.mark.parametrize(
    ("layers", "expected"),
    [
        ([["Dense", 64, "relu", "x"], ["Dense", 10, "softmax", "h2"]], "layer 1 Dense: 64 units (this run: 32)"),
        (
            [["Dense", 32, "sigmoid", "x"], ["Dense", 10, "softmax", "h2"]],
            "layer 1 Dense: sigmoid activation (this run: relu)",
        ),
        (
            [["Dense", 32, "relu", "h1"], ["Dropout", 0.5, None, "d"], ["Dense", 10, "softmax", "h2"]],
            "layer 2 Dropout(0.5) (not in this run)",
        ),
        ([["Dense", 10, "softmax", "h2"]], "no layer Dense(32, relu) (this run has it as layer 1)"),
    ],
)
def test_a_nearby_architecture_names_the_layer_that_differs(layers, expected):
    match = compare(run(0), run(1, layers=layers))
    assert match is not None
    assert in_words(match.to_dict())["relation"] == "nearby architecture, same data"
    assert in_words(match.to_dict())["differences"] == [expected]


def test_far_architectures_and_other_problems_are_not_similar():
    far = [["Conv2D", 8, "relu", "c"], ["Flatten", None, None, "f"], ["Dense", 128, "tanh", "x"], LAYERS[1]]
    assert compare(run(0), run(1, layers=far)) is None
    wider = [["Dense", 64, "relu", "x"], LAYERS[1]]
    assert compare(run(0), run(1, layers=wider, input_shape=(30,))) is None
    assert compare(run(0), run(1, layers=wider, n_classes=2)) is None


def test_ranking_puts_the_same_model_first_then_the_closest():
    target = run(0)
    earlier = [
        run(1, layers=[["Dense", 64, "tanh", "x"], LAYERS[1]]),  # two changes in one layer
        run(2, layers=[["Dense", 64, "relu", "x"], LAYERS[1]]),  # one change
        run(3, learning_rate=0.1),  # same model
        run(4, data="d9"),  # same model, other data
    ]
    ranked = [m.experiment["id"] for m in lookup(earlier, target, k=3).similar]
    assert ranked == [3, 4, 2]


def test_a_transfer_candidate_has_the_same_shape_and_classes_on_other_data():
    target = run(0, data="new")
    earlier = [
        run(1, data="old", acc=0.80, layers=[["Dense", 256, "relu", "z"], LAYERS[1]]),
        run(2, data="old2", acc=0.95, layers=[["Conv2D", 8, "relu", "c"], ["Flatten", None, None, "f"], LAYERS[1]]),
        run(3, data="other", acc=0.99, n_classes=2),
        run(4, data="new", acc=0.97),  # same data: not a transfer
    ]
    assert lookup(earlier, target).transfer["id"] == 2


def test_named_settings_from_the_stored_parts():
    theirs = {
        "compile": {"optimizer_config": {"beta_1": 0.5, "learning_rate": 0.01}, "metrics": ["accuracy"]},
        "fit": {"epochs": 5, "class_weight": True},
    }
    ours = {
        "compile": {"optimizer_config": {"beta_1": 0.9, "learning_rate": 0.001}, "metrics": ["accuracy"]},
        "fit": {"epochs": 3, "class_weight": False},
    }
    assert [difference_text(d.to_dict()) for d in setting_differences_of_parts(theirs, ours)] == [
        "optimizer beta_1 0.5 (this run: 0.9)",
        "class_weight True (this run: False)",
    ]


def test_journal_similar_by_id_and_by_summary(kepler_home):
    journal = Journal()
    for summary in (run(0), run(0, learning_rate=0.01), run(0, data="d2"), run(0, status="skipped")):
        fields = {k: v for k, v in summary.items() if k != "id"}
        journal.start(fields, {"compile": {"optimizer_config": {"beta_1": 0.9}}, "fit": {"epochs": 5}})
    found = journal.similar(1, k=5)
    assert [r["id"] for r in found] == [2, 3]
    assert found[0]["relation"] == "same-model" and found[0]["same_data"] is True
    assert found[0]["differences"] == [
        {"kind": "hyperparameter", "name": "learning_rate", "theirs": 0.01, "ours": 0.001, "index": None}
    ]
    assert in_words(found[0])["relation"] == "same model, different hyperparameters"
    assert in_words(found[0])["differences"] == ["learning rate 0.01 (this run: 0.001)"]
    assert 0 < found[1]["similarity"] < found[0]["similarity"] <= 1
    assert journal.similar(journal.experiments()[1], k=1)[0]["id"] == 1


def test_the_journal_writes_no_prose_about_differences():
    """Every difference is data (kind, name, values); the words are the presentation's."""
    target = run(0)
    match = compare(target, run(1, data="d2", learning_rate=0.01, layers=[["Dense", 64, "relu", "x"], LAYERS[1]]))
    found = match.to_dict()
    assert found["relation"] == "nearby-architecture" and found["same_data"] is False
    assert [d["kind"] for d in found["differences"]] == ["layer-changed", "data", "hyperparameter"]
    assert found["differences"][0] == {
        "kind": "layer-changed",
        "name": "",
        "theirs": ["Dense", 64, "relu", "x"],
        "ours": list(LAYERS[0]),
        "index": 1,
    }
    assert not [d for d in found["differences"] if any(" " in str(v) for v in d.values() if isinstance(v, str))]


@pytest.mark.parametrize(
    "doc",
    [
        {"arch_signature": "a1", "signature": "s1", "input_shape": [28, 28, 1], "n_classes": 10},
        {"arch_signature": "a1", "signature": "s1", "input_shape": [None, 64], "n_classes": None},
        {"arch_signature": "a1", "input_shape": [64], "n_classes": 2},
        {"arch_signature": "a1", "signature": "", "input_shape": None},
        {"arch_signature": "a1", "signature": "s2"},
        {"arch_signature": "a1", "input_shape": [[3], 4], "n_classes": 2},  # odd: the general rule's keys
        {"arch_signature": "a1", "input_shape": [3], "n_classes": {"odd": 1}},  # unhashable: every lookup's
    ],
)
def test_the_lookup_index_files_a_record_under_the_keys_the_lookup_asks_for(doc):
    from kepler_nb.journal.index import _ANY, LookupIndex, buckets_of, general_buckets

    general = general_buckets(doc)
    assert buckets_of(doc) == general
    index = LookupIndex()
    index.follow((0, 0), None, "t", {"7": doc})
    found = index.candidates(doc)  # None for an odd target: the lookup then reads every record
    assert found == ["7"] or (found is None and general == (_ANY,))
