"""Experiment identity: what makes two runs the same experiment, or the same model."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from kepler_nb.fit.call import FitCall
from kepler_nb.fit.fingerprint import data_statistics
from kepler_nb.fit.signature import model_signature, run_signature
from kepler_nb.interception.routing import original_fit

RNG = np.random.default_rng(0)
X = RNG.random((120, 8)).astype("float32")
Y = RNG.integers(0, 3, 120)


def dense(units=16, activation="relu", lr=0.01, names=("a", "b"), with_input=True, dropout_seed=None):
    layers = [keras.layers.Dense(units, activation=activation, name=names[0])]
    if dropout_seed is not None:
        layers.append(keras.layers.Dropout(0.2, seed=dropout_seed))
    layers.append(keras.layers.Dense(3, activation="softmax", name=names[1]))
    if with_input:
        layers.insert(0, keras.Input((8,)))
    model = keras.Sequential(layers)
    model.compile(keras.optimizers.SGD(lr), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def sign(model, x=X, y=Y, **fit):
    fit.setdefault("epochs", 2)
    call = FitCall.bind(original_fit(), model, (x, y), fit)
    data = data_statistics(call.train)
    if call.validation is not None:
        data["validation"] = data_statistics(call.validation)
    return run_signature(call, data)


def test_same_experiment_despite_layer_names_seeds_and_an_explicit_input():
    first = sign(dense(names=("a", "b"), dropout_seed=1))
    second = sign(dense(names=("hidden", "out"), dropout_seed=99))
    third = sign(dense(with_input=False, dropout_seed=5))  # built from the data on fit
    assert first.experiment == second.experiment == third.experiment
    assert first.arch == second.arch == third.arch
    assert first.input_shape == [8] and first.n_classes == 3


def test_one_hyperparameter_changes_the_experiment_not_the_model():
    base, other = sign(dense(lr=0.01)), sign(dense(lr=0.001))
    assert base.arch == other.arch and base.data == other.data
    assert base.experiment != other.experiment and base.setup != other.setup
    assert (base.hparams["learning_rate"], other.hparams["learning_rate"]) == (0.01, 0.001)
    assert sign(dense(), batch_size=16).experiment != sign(dense(), batch_size=32).experiment
    assert sign(dense(), epochs=2).experiment != sign(dense(), epochs=3).experiment


def test_one_data_value_changes_the_experiment_not_the_model():
    changed = X.copy()
    changed[117, 5] += 1e-3
    base, other = sign(dense()), sign(dense(), x=changed)
    assert base.arch == other.arch and base.setup == other.setup
    assert base.data != other.data and base.experiment != other.experiment


def test_validation_data_counts_as_data():
    val = (X[:20], Y[:20])
    other = (X[20:40], Y[20:40])
    assert sign(dense(), validation_data=val).experiment != sign(dense(), validation_data=other).experiment
    assert sign(dense(), validation_data=val).experiment == sign(dense(), validation_data=val).experiment


def test_architecture_changes_change_the_model():
    base = model_signature(dense())
    assert model_signature(dense(units=32)).arch != base.arch
    assert model_signature(dense(activation="tanh")).arch != base.arch
    assert model_signature(dense(dropout_seed=3)).arch != base.arch  # a layer more
    assert base.layers[0][:3] == ["Dense", 16, "relu"]


def test_functional_connectivity_matters_names_do_not():
    def branches(first="left", second="right", chain=False):
        inputs = keras.Input((8,))
        a = keras.layers.Dense(4, name=first)(inputs)
        b = keras.layers.Dense(4, name=second)(a if chain else inputs)
        outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.Concatenate()([a, b]))
        return keras.Model(inputs, outputs)

    assert model_signature(branches()).arch == model_signature(branches("x", "y")).arch
    assert model_signature(branches()).arch != model_signature(branches(chain=True)).arch


def test_continuing_to_train_a_model_is_not_a_rerun_and_signing_touches_nothing():
    model = dense()
    weights = [w.copy() for w in model.get_weights()]
    fresh = sign(model)
    assert all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights()))
    assert int(model.optimizer.iterations.numpy()) == 0
    model.fit(X, Y, epochs=1, verbose=0)
    assert sign(model).experiment != fresh.experiment


@pytest.mark.parametrize("loss", ["sparse_categorical_crossentropy", keras.losses.SparseCategoricalCrossentropy()])
def test_summary_fields_are_plain_json(loss):
    import json

    model = dense()
    model.compile("adam", loss)
    fields = sign(model).summary_fields()
    assert json.loads(json.dumps(fields)) == fields
    assert set(fields) >= {"signature", "arch_signature", "data_signature", "arch", "input_shape", "n_classes"}
