"""Healthy models draw no error and no warning.

Each case is a sound setup (seeds set, inputs standardized or in [0, 1],
data shuffled, validation data, matching output/loss/labels), trained for
real for two epochs under ``ModelInspector``. Any finding of severity error or
warning is a false alarm, listed in the assertion message.
"""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris

from kepler import ModelInspector

EPOCHS = 2
layers = keras.layers


def shuffled(x, y, seed=0):
    order = np.random.default_rng(seed).permutation(len(y))
    return x[order], y[order]


def standardize(x):
    return ((x - x.mean(axis=0)) / np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)).astype("float32")


def digits(n=800):
    data = load_digits()
    x, y = shuffled((data.data / 16.0).astype("float32"), data.target.astype("int64"))
    return x[:n], y[:n]


def split(x, y, fraction=0.2):
    cut = int(len(y) * (1 - fraction))
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


def mlp(inputs: int, outputs: int, activation: str | None, loss, hidden: int = 32, extra=()) -> keras.Model:
    model = keras.Sequential(
        [
            keras.Input((inputs,)),
            layers.Dense(hidden, activation="relu"),
            *extra,
            layers.Dense(outputs, activation=activation),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss, metrics=["accuracy"] if outputs > 1 else None)
    return model


# -- the cases: each returns (model, fit args, fit kwargs) ------------------------------
def dense_sparse_labels():
    x, y = digits()
    return mlp(64, 10, "softmax", "sparse_categorical_crossentropy"), (x, y), dict(validation_split=0.2)


def dense_one_hot_labels():
    x, y = digits()
    (xt, yt), (xv, yv) = split(x, keras.utils.to_categorical(y, 10))
    model = mlp(64, 10, "softmax", "categorical_crossentropy")
    return model, (xt, yt), dict(validation_data=(xv, yv))


def binary_classifier():
    data = load_breast_cancer()
    x, y = shuffled(standardize(data.data), data.target.astype("float32"))
    model = mlp(30, 1, "sigmoid", "binary_crossentropy", hidden=16)
    return model, (x, y), dict(validation_split=0.2)


def regression():
    data = load_diabetes()
    x, y = shuffled(standardize(data.data), data.target.astype("float32"))
    y = (y - y.mean()) / y.std()
    return mlp(10, 1, None, "mse", hidden=16), (x, y), dict(validation_split=0.2)


def logits_with_from_logits():
    data = load_iris()
    x, y = shuffled(standardize(data.data), data.target.astype("int64"))
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return mlp(4, 3, None, loss, hidden=16), (x, y), dict(validation_split=0.2, batch_size=16)


def conv_net():
    x, y = digits()
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            layers.Conv2D(8, 3, activation="relu", padding="same"),
            layers.MaxPooling2D(),
            layers.Conv2D(16, 3, activation="relu", padding="same"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model, (x.reshape(-1, 8, 8, 1), y), dict(validation_split=0.2)


def batchnorm_and_dropout():
    x, y = digits()
    extra = (layers.BatchNormalization(), layers.Dropout(0.3))
    model = keras.Sequential(
        [
            keras.Input((64,)),
            layers.Dense(64, use_bias=False),
            *extra,
            layers.Activation("relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model, (x, y), dict(validation_split=0.2)


def multi_input_dict():
    x, y = digits()
    stats = standardize(np.stack([x.mean(1), x.std(1), (x > 0.5).mean(1)], axis=1))
    pixels_in = keras.Input((64,), name="pixels")
    stats_in = keras.Input((3,), name="stats")
    merged = layers.Concatenate()([layers.Dense(32, activation="relu")(pixels_in), stats_in])
    output = layers.Dense(10, activation="softmax")(merged)
    model = keras.Model({"pixels": pixels_in, "stats": stats_in}, output)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    inputs = {"pixels": x, "stats": stats}
    return model, (inputs, y), dict(validation_split=0.2)


def tf_data_pipeline():
    x, y = digits()
    (xt, yt), (xv, yv) = split(x, y)
    train = tf.data.Dataset.from_tensor_slices((xt, yt)).shuffle(len(yt), seed=0).batch(32)
    val = tf.data.Dataset.from_tensor_slices((xv, yv)).batch(64)
    model = mlp(64, 10, "softmax", "sparse_categorical_crossentropy")
    return model, (train,), dict(validation_data=val)


def python_generator():
    x, y = digits()
    (xt, yt), (xv, yv) = split(x, y)
    batch, steps = 32, len(yt) // 32

    def batches():
        rng = np.random.default_rng(1)
        while True:
            order = rng.permutation(len(yt))
            for i in range(steps):
                rows = order[i * batch : (i + 1) * batch]
                yield xt[rows], yt[rows]

    model = mlp(64, 10, "softmax", "sparse_categorical_crossentropy")
    return model, (batches(),), dict(steps_per_epoch=steps, validation_data=(xv, yv))


def py_dataset():
    x, y = digits()
    (xt, yt), (xv, yv) = split(x, y)

    class Batches(keras.utils.PyDataset):
        def __init__(self) -> None:
            super().__init__()
            self.order = np.random.default_rng(2).permutation(len(yt))

        def __len__(self) -> int:
            return len(yt) // 32

        def __getitem__(self, i):
            rows = self.order[i * 32 : (i + 1) * 32]
            return xt[rows], yt[rows]

        def on_epoch_end(self) -> None:
            self.order = np.random.default_rng(len(self.order)).permutation(len(yt))

    model = mlp(64, 10, "softmax", "sparse_categorical_crossentropy")
    return model, (Batches(),), dict(validation_data=(xv, yv))


def pandas_frame():
    data = load_iris()
    x, y = shuffled(standardize(data.data), data.target.astype("int64"))
    frame = pd.DataFrame(x, columns=[n.replace(" (cm)", "").replace(" ", "_") for n in data.feature_names])
    labels = pd.Series(y, name="species")
    model = mlp(4, 3, "softmax", "sparse_categorical_crossentropy", hidden=16)
    return model, (frame, labels), dict(validation_split=0.2, batch_size=16)


CASES = [
    dense_sparse_labels,
    dense_one_hot_labels,
    binary_classifier,
    regression,
    logits_with_from_logits,
    conv_net,
    batchnorm_and_dropout,
    multi_input_dict,
    tf_data_pipeline,
    python_generator,
    py_dataset,
    pandas_frame,
]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__ for c in CASES])
def test_healthy_model_draws_no_error_or_warning(kepler_home, case):
    keras.utils.set_random_seed(0)
    model, args, kwargs = case()
    lines: list[str] = []
    with ModelInspector(model=model, project="healthy", show=lines.append) as mi:
        history = mi.fit(*args, epochs=EPOCHS, verbose=0, **kwargs)

    assert len(history.history["loss"]) == EPOCHS
    alarms = [f.line() for f in mi.findings if f.severity in ("error", "warning") and not f.skipped]
    assert not alarms, "\n".join(alarms)
    assert {"K403", "K502"} <= {f.code for f in mi.findings}, "the training and environment checks ran"
