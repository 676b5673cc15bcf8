"""K410-K412: what the model computes on one probe batch at train begin, on real fits."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import ops

from kepler import ModelInspector

L = keras.layers
RNG = np.random.default_rng(0)
X = RNG.normal(size=(256, 8)).astype("float32")
Y = (X[:, 0] > 0).astype("float32")


def quiet(*_args) -> None:
    pass


def fit(model, x=X, y=Y, **kwargs):
    keras.utils.set_random_seed(0)
    with ModelInspector(model=model, show=quiet) as mi:
        mi.fit(x, y, epochs=1, verbose=0, **kwargs)
    return mi.findings


def reported(findings, code):
    mine = [f for f in findings if f.code == code]
    assert mine and not any(f.skipped for f in mine), [f.line() for f in mine]
    return mine


class SoftmaxHead(L.Layer):
    """A custom head, as in a Q&A post: softmax over a single logit."""

    def __init__(self) -> None:
        super().__init__()
        self.dense = L.Dense(1)

    def call(self, x):
        return ops.softmax(self.dense(x), axis=-1)


class Net(keras.Model):
    def __init__(self, head) -> None:
        super().__init__()
        self.hidden = L.Dense(16, activation="relu")
        self.head = head

    def call(self, x):
        return self.head(self.hidden(x))


class BatchSum(L.Layer):
    """``tensordot`` over every axis: one number for the whole batch."""

    def build(self, shape):
        self.w = self.add_weight(shape=(int(shape[-1]),), initializer="glorot_uniform")

    def call(self, x):
        return ops.sum(x * self.w)


def test_k410_a_softmax_over_one_logit_in_a_subclassed_model():
    model = Net(SoftmaxHead())
    model.compile(optimizer="adam", loss="binary_crossentropy")
    (finding,) = reported(fit(model), "K410")
    assert finding.severity == "error"
    assert "the output is the same for all 64 different training inputs" in finding.message
    assert "[1.0]" in finding.message


def test_k411_an_output_that_lost_the_batch_dimension():
    model = Net(BatchSum())
    model.compile(optimizer="adam", loss="mse")
    (finding,) = reported(fit(model), "K411")
    assert "has shape () for a batch of 64 samples" in finding.message


def test_a_linear_output_of_a_multi_output_model_is_reported_once_by_k209_not_again_by_k412():
    inputs = keras.Input((8,), name="features")
    hidden = L.Dense(16, activation="relu")(inputs)
    model = keras.Model(
        inputs,
        {
            "priority": L.Dense(1, activation="sigmoid", name="priority")(hidden),
            "department": L.Dense(5, name="department")(hidden),
        },
    )
    model.compile(optimizer="adam", loss={"priority": "binary_crossentropy", "department": "categorical_crossentropy"})
    targets = {"priority": Y[:, None], "department": keras.utils.to_categorical(RNG.integers(0, 5, len(Y)), 5)}
    findings = fit(model, X, targets)
    (finding,) = reported(findings, "K209")
    assert finding.message.startswith("output 'department': loss 'categorical_crossentropy'")
    assert [f.line() for f in findings if f.code == "K412" and not f.skipped] == []


class LinearHead(L.Layer):
    """A custom head whose activation can't be read from the layer list: logits."""

    def __init__(self) -> None:
        super().__init__()
        self.dense = L.Dense(5)

    def call(self, x):
        return self.dense(x)


def test_k412_outputs_of_a_custom_layer_that_are_not_probabilities():
    model = Net(LinearHead())
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    targets = keras.utils.to_categorical(RNG.integers(0, 5, len(Y)), 5)
    findings = fit(model, X, targets)
    (finding,) = reported(findings, "K412")
    assert finding.message.startswith("the output gives values")
    assert "but its loss 'categorical_crossentropy' (from_logits=False) reads it as probabilities" in finding.message
    assert [f.code for f in findings if f.code == "K209" and not f.skipped] == []


@pytest.mark.parametrize("zero_init", [False, True])
def test_probe_checks_pass_healthy_and_zero_initialised_outputs(zero_init):
    init = "zeros" if zero_init else "glorot_uniform"
    model = keras.Sequential(
        [keras.Input((8,)), L.Dense(16, activation="relu"), L.Dense(1, "sigmoid", kernel_initializer=init)]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy")
    findings = fit(model)
    probe = {f.code: f for f in findings if f.code in ("K410", "K411", "K412")}
    assert [f.line() for f in probe.values() if not f.skipped] == []
    # a check that passed leaves nothing; only the deliberate zero-init makes K410 abstain, and says why
    assert ("K410" in probe) == zero_init
    assert not zero_init or "starts at zero" in probe["K410"].message


def test_probe_leaves_weights_optimizer_and_random_state_untouched():
    from kepler_nb.checks.catalogue import get_check
    from kepler_nb.checks.training import TrainingContext
    from kepler_nb.fit.call import FitCall
    from kepler_nb.interception.routing import original_fit

    model = Net(SoftmaxHead())
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model(X[:2])
    before = [w.numpy().copy() for w in model.weights]
    np_state = np.random.get_state()[1].copy()
    ctx = TrainingContext(call=FitCall.bind(original_fit(), model, (X, Y), {}), model=model)
    for code in ("K410", "K411", "K412"):
        get_check(code).run(ctx)
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(before, model.weights))
    assert np.array_equal(np_state, np.random.get_state()[1])
