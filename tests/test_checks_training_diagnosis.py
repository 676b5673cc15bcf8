"""K413-K417: the epoch-end diagnosis of weights and activations, on real fits."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import ops
from sklearn.datasets import load_digits

from kepler import ModelInspector
from kepler_nb.checks.catalogue import get_check
from kepler_nb.checks.training import TrainingContext
from kepler_nb.checks.training_diagnosis import remember_initial_weights
from kepler_nb.fit.call import FitCall
from kepler_nb.interception.routing import original_fit

L = keras.layers


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))[:640]
    return (x[order] / 16.0).astype("float32"), y[order]


def quiet(*_args) -> None:
    pass


def mlp(*hidden, optimizer=None, loss="sparse_categorical_crossentropy"):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), *hidden, L.Dense(10, activation="softmax")])
    model.compile(optimizer=optimizer or keras.optimizers.Adam(1e-3), loss=loss)
    return model


def fit(model, x, y, epochs=2, **kwargs):
    with ModelInspector(model=model, show=quiet) as mi:
        mi.fit(x, y, epochs=epochs, verbose=0, batch_size=32, **kwargs)
    return {f.code: f for f in mi.findings}


def test_a_healthy_run_draws_none_of_them(digits):
    findings = fit(mlp(L.Dense(32, activation="relu"), L.Dense(32, activation="tanh")), *digits)
    shown = [f.line() for code, f in findings.items() if code in ("K413", "K414", "K415", "K416", "K417")]
    assert not [line for line in shown if "skipped" not in line], shown


def test_k413_weights_rewritten_at_every_step(digits):
    findings = fit(mlp(L.Dense(32, activation="relu"), optimizer=keras.optimizers.Adam(learning_rate=3.0)), *digits)
    assert "K413" in findings and not findings["K413"].skipped
    assert "moved more than 10% of their norm per step" in findings["K413"].message


def test_k414_a_layer_behind_a_stop_gradient(digits):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((64,))
    stuck = L.Dense(16, activation="relu", name="stuck")(inputs)
    blocked = L.Lambda(ops.stop_gradient)(stuck)
    learning = L.Dense(16, activation="relu")(inputs)
    model = keras.Model(inputs, L.Dense(10, activation="softmax")(L.Concatenate()([blocked, learning])))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    finding = fit(model, *digits)["K414"]
    assert not finding.skipped
    assert "1 of 3 trainable weight matrices did not change at all in epoch 1: stuck/kernel" in finding.message


def test_k415_a_weight_norm_that_grew_tenfold(digits):
    model = mlp(L.Dense(32, activation="relu"))
    ctx = TrainingContext(call=FitCall.bind(original_fit(), model, digits, {}), model=model)
    remember_initial_weights(ctx)
    kernel = model.layers[0].kernel
    kernel.assign(kernel * 400.0)
    ctx.add_epoch(0, {"loss": 1.0})
    (finding,) = get_check("K415").run(ctx)
    assert not finding.skipped and "grew more than 10x since training began" in finding.message


def test_k416_a_relu_layer_that_died(digits):
    dead = L.Dense(32, activation="relu", bias_initializer=keras.initializers.Constant(-100.0), name="dead")
    finding = fit(mlp(L.Dense(32, activation="relu"), dead), *digits, epochs=1)["K416"]
    assert not finding.skipped
    assert "dead 32 of 32" in finding.message


def test_k417_saturated_sigmoid_units(digits):
    big = keras.initializers.RandomNormal(stddev=20.0, seed=0)
    finding = fit(mlp(L.Dense(32, activation="sigmoid", kernel_initializer=big, name="sat")), *digits, epochs=1)["K417"]
    assert not finding.skipped
    assert "sat (sigmoid)" in finding.message


def test_k416_k417_skip_a_subclassed_model_with_the_reason(digits):
    class Net(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.hidden = L.Dense(16, activation="relu")
            self.out = L.Dense(10, activation="softmax")

        def call(self, x):
            return self.out(self.hidden(x))

    model = Net()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    findings = fit(model, *digits, epochs=1)
    assert findings["K416"].skipped and "can't be probed" in findings["K416"].message
