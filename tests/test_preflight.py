"""K6xx: ``kepler.preflight`` overfits one batch on a clone, and trains it on zeroed inputs."""

from __future__ import annotations

import random

import keras
import numpy as np
import pytest
from sklearn.datasets import load_digits

import kepler

pytestmark = pytest.mark.filterwarnings("ignore::kepler.KeplerWarning")
L = keras.layers


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    return (x[order] / 16.0).astype("float32").reshape(-1, 8, 8, 1), y[order]


def clipped_softmax():
    """Probabilities clipped away from 0, as TF 1 code did before a hand-written log: Keras can't
    recover the logits behind them (it does behind a bare softmax, so that case trains fine)."""
    import tensorflow as tf

    return L.Lambda(lambda t: tf.clip_by_value(tf.nn.softmax(t), 1e-7, 1.0))


def cnn(output_activation="softmax", loss=None, optimizer=None, dropout=0.0, head=()):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            L.Conv2D(16, 3, activation="relu", padding="same"),
            L.MaxPooling2D(),
            L.Flatten(),
            *([L.Dropout(dropout)] if dropout else []),
            L.Dense(32, activation="relu", kernel_regularizer=keras.regularizers.l2(1e-2)),
            L.Dense(10, activation=output_activation),
            *head,
        ]
    )
    model.compile(optimizer=optimizer or keras.optimizers.Adam(1e-3), loss=loss or "sparse_categorical_crossentropy")
    return model


def by_code(findings):
    return {f.code: f for f in findings}


def test_a_healthy_small_model_passes(digits):
    findings = by_code(kepler.preflight(cnn(dropout=0.5), *digits))
    assert not [f.line() for f in findings.values() if not f.skipped]
    assert "K601" not in findings and "K602" not in findings, "both probes ran and passed"


@pytest.mark.parametrize(
    "model, why",
    [
        (
            lambda: cnn(None, keras.losses.SparseCategoricalCrossentropy(from_logits=True), head=[clipped_softmax()]),
            "softmax probabilities into from_logits=True",
        ),
        (lambda: cnn(optimizer=keras.optimizers.SGD(learning_rate=1.0)), "a learning rate of 1.0"),
    ],
    ids=["softmax-from-logits", "lr-1"],
)
def test_broken_models_cannot_overfit_one_batch(digits, model, why):
    (finding,) = [f for f in kepler.preflight(model(), *digits) if f.code == "K601"]
    assert not finding.skipped, finding.message
    assert finding.message.startswith("on one batch of 32 samples the loss went"), why
    assert "a sound model gets below 10%" in finding.message


class Batches(keras.utils.PyDataset):
    """Batches of 32 digits by index; with ``shuffle_labels``, each read permutes the batch's labels."""

    def __init__(self, x, y, shuffle_labels=False):
        super().__init__()
        self.x, self.y, self.shuffle_labels = x, y, shuffle_labels

    def __len__(self):
        return len(self.y) // 32

    def __getitem__(self, i):
        x, y = self.x[i * 32 : (i + 1) * 32], self.y[i * 32 : (i + 1) * 32]
        return x, (np.random.permutation(y) if self.shuffle_labels else y)


def test_labels_shuffled_at_every_step_cannot_be_overfit(digits):
    model = cnn()
    np.random.seed(1)
    expected = np.random.rand()
    np.random.seed(1)
    (finding,) = [f for f in kepler.preflight(model, Batches(*digits, shuffle_labels=True)) if f.code == "K601"]
    assert np.random.rand() == expected, "NumPy's random state is restored"
    assert not finding.skipped, finding.message
    assert finding.message.startswith(
        "on one batch of 32 samples (the PyDataset's first batch, read again at every step) the loss went"
    )
    assert "came back with" in finding.message and "labels drawn afresh on every read" in finding.message


def test_a_pydataset_with_fixed_labels_passes(digits):
    findings = by_code(kepler.preflight(cnn(), Batches(*digits)))
    assert not [f.line() for f in findings.values() if not f.skipped]
    assert "K601" not in findings and "K602" not in findings, "both probes ran and passed"


def test_k602_a_model_that_multiplies_its_inputs_away(digits):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    blank = L.Lambda(lambda t: t * 0.0)(inputs)
    x = L.Flatten()(blank)
    model = keras.Model(inputs, L.Dense(10, activation="softmax")(L.Dense(32, activation="relu")(x)))
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy")
    x, y = digits
    y = np.where(np.arange(len(y)) % 3 == 0, y, 0)  # a frequent class: the prior alone lowers the loss
    findings = by_code(kepler.preflight(model, x, y))
    assert "K602" in findings and not findings["K602"].skipped, [f.line() for f in findings.values()]
    assert "the model learns as well without its inputs" in findings["K602"].message


def test_the_users_model_optimizer_and_random_state_are_untouched_bitwise(digits):
    x, y = digits
    model = cnn(dropout=0.3)
    model.fit(x[:64], y[:64], epochs=1, verbose=0)  # an optimizer with state
    weights = [w.numpy().copy() for w in model.weights]
    slots = [v.numpy().copy() for v in model.optimizer.variables]
    keras.utils.set_random_seed(7)
    random.random()
    py, npy = random.getstate(), np.random.get_state()
    expected_draw = np.asarray(keras.random.uniform((4,)))
    keras.utils.set_random_seed(7)
    random.random()

    findings = kepler.preflight(model, x, y)

    assert {"K601", "K602"}.isdisjoint({f.code for f in findings if f.skipped}), "the probes ran"
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(weights, model.weights))
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(slots, model.optimizer.variables))
    assert random.getstate() == py
    state = np.random.get_state()
    assert state[0] == npy[0] and np.array_equal(state[1], npy[1]) and state[2:] == npy[2:]
    assert np.array_equal(np.asarray(keras.random.uniform((4,))), expected_draw), "Keras' seed generator untouched"


def test_an_unbuilt_model_is_skipped_with_the_reason(digits):
    model = keras.Sequential([L.Flatten(), L.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    findings = kepler.preflight(model, *digits)
    assert {f.code for f in findings} == {"K601", "K602"} and all(f.skipped for f in findings)
    assert "not built" in findings[0].message and not model.built


def test_kepler_fit_preflight_probes_before_training_and_records_the_findings(kepler_home, digits):
    from IPython import get_ipython
    from IPython.testing.globalipapp import start_ipython

    ip = start_ipython() or get_ipython()
    ip.run_line_magic("load_ext", "kepler")
    x, y = digits
    ip.user_ns.update(x=x, y=y, cnn=cnn, keras=keras)
    cell = "model = cnn(optimizer=keras.optimizers.SGD(learning_rate=1.0))\nmodel.fit(x, y, epochs=1, verbose=0)"
    ip.run_cell_magic("kepler_fit", "--project pre --preflight --answer continue", cell)
    ip.run_cell_magic("kepler_fit", "--project pre --answer continue", cell)
    with_probe, without = [kepler.Journal().get(e["id"]) for e in kepler.Journal().experiments(project="pre")]
    assert "K601" in {f["code"] for f in with_probe["findings"] if not f["skipped"]}
    assert not {"K601", "K602"} & {f["code"] for f in without["findings"]}
    assert with_probe["status"] == without["status"] == "finished"
