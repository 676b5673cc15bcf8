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


# -- the way Keras' official examples write models (synthetic data of the same shapes) -----------
def mnist_convnet():
    """keras.io "Simple MNIST convnet": one-hot labels, categorical cross-entropy, validation_split=0.1."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 600)
    images = rng.random((600, 28, 28, 1), dtype=np.float32) * 0.3
    for k in range(10):  # each class lights up its own band of rows
        images[labels == k, 2 * k + 4 : 2 * k + 7, 4:24, 0] += 0.7
    model = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            layers.MaxPooling2D(pool_size=(2, 2)),
            layers.Flatten(),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model, (images, keras.utils.to_categorical(labels, 10)), dict(batch_size=128, validation_split=0.1)


WORDS = [f"w{i}" for i in range(300)]


def text_classification_from_scratch():
    """keras.io "Text classification from scratch": TextVectorization in a shuffled tf.data pipeline."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    texts = [
        " ".join(rng.choice(WORDS[:150] if label else WORDS[150:], size=int(rng.integers(20, 60)))) for label in labels
    ]
    vectorize_layer = layers.TextVectorization(max_tokens=1000, output_mode="int", output_sequence_length=64)
    vectorize_layer.adapt(tf.data.Dataset.from_tensor_slices(texts).batch(64))

    def vectorize_text(text, label):
        return vectorize_layer(text), label

    raw = tf.data.Dataset.from_tensor_slices((texts, labels.astype("float32")))
    train = raw.take(320).shuffle(320, seed=1).batch(32).map(vectorize_text)
    val = raw.skip(320).batch(32).map(vectorize_text)

    inputs = keras.Input(shape=(None,), dtype="int64")
    x = layers.Embedding(1000, 32)(inputs)
    x = layers.Dropout(0.5)(x)
    x = layers.Conv1D(32, 7, padding="valid", activation="relu", strides=3)(x)
    x = layers.Conv1D(32, 7, padding="valid", activation="relu", strides=3)(x)
    x = layers.GlobalMaxPooling1D()(x)
    x = layers.Dense(32, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    predictions = layers.Dense(1, activation="sigmoid", name="predictions")(x)
    model = keras.Model(inputs, predictions)
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model, (train,), dict(validation_data=val)


def timeseries_classification_from_scratch():
    """keras.io "Timeseries classification from scratch": Conv1D -> BatchNorm -> ReLU blocks."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)
    t = np.linspace(0, 8 * np.pi, 128)
    series = np.sin(t[None, :] * (1 + labels[:, None])) + rng.normal(0, 0.5, (300, 128))
    series = ((series - series.mean()) / series.std()).astype("float32")[..., None]
    input_layer = keras.layers.Input((128, 1))
    x = input_layer
    for _ in range(3):
        x = keras.layers.Conv1D(filters=16, kernel_size=3, padding="same")(x)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.ReLU()(x)
    gap = keras.layers.GlobalAveragePooling1D()(x)
    output_layer = keras.layers.Dense(2, activation="softmax")(gap)
    model = keras.models.Model(inputs=input_layer, outputs=output_layer)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["sparse_categorical_accuracy"])
    return model, (series, labels), dict(batch_size=32, validation_split=0.2)


def functional_multi_input_multi_output():
    """keras.io "The Functional API": title + body + tags in; priority and department out (dict losses)."""
    rng = np.random.default_rng(0)
    n = 256
    title = rng.integers(0, 500, (n, 10))
    body = rng.integers(0, 500, (n, 50))
    tags = rng.integers(0, 2, (n, 12)).astype("float32")
    priority = tags[:, :1].copy()
    department = keras.utils.to_categorical(rng.integers(0, 4, n), 4)
    title_input = keras.Input(shape=(None,), name="title")
    body_input = keras.Input(shape=(None,), name="body")
    tags_input = keras.Input(shape=(12,), name="tags")
    title_features = layers.LSTM(16)(layers.Embedding(500, 16)(title_input))
    body_features = layers.LSTM(8)(layers.Embedding(500, 16)(body_input))
    x = layers.concatenate([title_features, body_features, tags_input])
    priority_pred = layers.Dense(1, name="priority")(x)
    department_pred = layers.Dense(4, name="department")(x)
    model = keras.Model(
        inputs=[title_input, body_input, tags_input], outputs={"priority": priority_pred, "department": department_pred}
    )
    model.compile(
        optimizer=keras.optimizers.RMSprop(1e-3),
        loss={
            "priority": keras.losses.BinaryCrossentropy(from_logits=True),
            "department": keras.losses.CategoricalCrossentropy(from_logits=True),
        },
        loss_weights={"priority": 1.0, "department": 0.2},
    )
    inputs = {"title": title, "body": body, "tags": tags}
    return model, (inputs, {"priority": priority, "department": department}), dict(batch_size=32, validation_split=0.2)


def subclassed_model():
    """A subclassed keras.Model (keras.io "Making new layers and models via subclassing")."""

    class Classifier(keras.Model):
        def __init__(self, classes: int = 10) -> None:
            super().__init__()
            self.hidden = layers.Dense(32, activation="relu")
            self.dropout = layers.Dropout(0.2)
            self.classify = layers.Dense(classes, activation="softmax")

        def call(self, inputs, training=False):
            return self.classify(self.dropout(self.hidden(inputs), training=training))

    x, y = digits()
    model = Classifier()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model, (x, y), dict(validation_split=0.2)


# -- false alarms seen on healthy programs ----------------------------------------------------
def batchnorm_normalises_raw_inputs():
    """The first layer is BatchNormalization: the model normalises its own (0..16) inputs."""
    data = load_digits()
    x, y = shuffled(data.data.astype("float32"), data.target.astype("int64"))
    model = mlp(64, 10, "softmax", "sparse_categorical_crossentropy")
    model = keras.Sequential([keras.Input((64,)), layers.BatchNormalization(), *model.layers])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model, (x[:800], y[:800]), dict(validation_split=0.2)


def toy_set_with_a_few_copies():
    """Iris plus two duplicated rows, validated on a set holding two of those copies."""
    data = load_iris()
    x, y = shuffled(standardize(data.data), data.target.astype("int64"))
    x, y = np.concatenate([x, x[:2]]), np.concatenate([y, y[:2]])
    x, y = shuffled(x, y, seed=3)
    val_x, val_y = np.concatenate([x[:2], x[-19:] + 0.01]), np.concatenate([y[:2], y[-19:]])
    model = mlp(4, 3, "softmax", "sparse_categorical_crossentropy", hidden=16)
    return model, (x, y), dict(validation_data=(val_x, val_y), batch_size=16)


def linear_projection_then_relu():
    """Dense(linear) -> Dense(relu): a factorised layer, not a forgotten activation."""
    x, y = digits()
    model = keras.Sequential(
        [
            keras.Input((64,)),
            layers.Dense(32),
            layers.Dense(32, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate=1e-4, momentum=0.9), loss="sparse_categorical_crossentropy"
    )
    return model, (x, y), dict(validation_split=0.2)


def tiny_run_of_two_steps_per_epoch():
    """50 samples, batch 32: each epoch's loss is the mean of 2 batches, noisy by nature."""
    data = load_iris()
    x, y = shuffled(standardize(data.data), data.target.astype("int64"))
    model = mlp(4, 3, "softmax", "sparse_categorical_crossentropy", hidden=8)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    return model, (x[:50], y[:50]), dict(epochs=12, batch_size=32)


# -- more of keras.io's ways of writing models -------------------------------------------------
def keras_model_docstring_subclass():
    """keras.Model's docstring example: the Dropout is assigned last, the Dense returned by call()."""

    class MyModel(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.dense1 = layers.Dense(32, activation="relu")
            self.dense2 = layers.Dense(10, activation="softmax")
            self.dropout = layers.Dropout(0.5)

        def call(self, inputs, training=False):
            x = self.dense1(inputs)
            x = self.dropout(x, training=training)
            return self.dense2(x)

    x, y = digits()
    model = MyModel()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model, (x, y), dict(validation_split=0.2)


def text_embedding_average_pooling():
    """keras.io "Basic text classification": token ids -> Embedding -> GlobalAveragePooling1D -> sigmoid."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    tokens = np.where(labels[:, None] == 1, rng.integers(1, 500, (400, 40)), rng.integers(500, 1000, (400, 40)))
    model = keras.Sequential(
        [
            keras.Input((40,), dtype="int64"),
            layers.Embedding(1000, 16),
            layers.Dropout(0.2),
            layers.GlobalAveragePooling1D(),
            layers.Dropout(0.2),
            layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["binary_accuracy"])
    return model, (tokens, labels.astype("float32")), dict(validation_split=0.2)


def cnn_with_rescaling_and_augmentation():
    """keras.io "Image classification from scratch": augmentation layers, then Rescaling(1/255), in the model."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 300)
    images = rng.uniform(0, 120, (300, 16, 16, 3)).astype("float32")
    for k in range(3):
        images[labels == k, :, :, k] += 130.0
    data_augmentation = keras.Sequential([layers.RandomFlip("horizontal"), layers.RandomRotation(0.1)])
    inputs = keras.Input((16, 16, 3))
    x = data_augmentation(inputs)
    x = layers.Rescaling(1.0 / 255)(x)
    x = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.BatchNormalization()(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.25)(x)
    outputs = layers.Dense(3, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(3e-4), loss="sparse_categorical_crossentropy", metrics=["acc"])
    return model, (images, labels), dict(validation_split=0.2, batch_size=32)


def autoencoder_mse_on_sigmoid():
    """A dense autoencoder: pixels in [0, 1] reconstructed through a sigmoid with MSE."""
    x, _ = digits()
    model = keras.Sequential(
        [
            keras.Input((64,)),
            layers.Dense(32, activation="relu"),
            layers.Dense(8, activation="relu"),
            layers.Dense(32, activation="relu"),
            layers.Dense(64, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="mse")
    return model, (x, x), dict(validation_split=0.2, batch_size=32)


def regression_with_adapted_normalization():
    """keras.io / TF tutorial "Basic regression": raw features through an adapted Normalization layer."""
    data = load_diabetes(scaled=False)
    x, y = shuffled(data.data.astype("float32"), data.target.astype("float32"))
    normalizer = layers.Normalization(axis=-1)
    normalizer.adapt(x)
    model = keras.Sequential(
        [
            keras.Input((10,)),
            normalizer,
            layers.Dense(32, activation="relu"),
            layers.Dense(32, activation="relu"),
            layers.Dense(1),
        ]
    )
    model.compile(loss="mean_absolute_error", optimizer=keras.optimizers.Adam(0.01))
    return model, (x, y), dict(validation_split=0.2)


def multi_output_list_with_loss_weights():
    """Two probability outputs given as a list, with a list of losses and loss weights."""
    x, y = digits()
    inputs = keras.Input((64,))
    hidden = layers.Dense(32, activation="relu")(inputs)
    digit = layers.Dense(10, activation="softmax", name="digit")(hidden)
    large = layers.Dense(1, activation="sigmoid", name="large")(hidden)
    model = keras.Model(inputs, [digit, large])
    model.compile(
        optimizer="adam", loss=["sparse_categorical_crossentropy", "binary_crossentropy"], loss_weights=[1.0, 0.5]
    )
    return model, (x, [y, (y > 4).astype("float32")]), dict(validation_split=0.2)


def shuffled_mapped_tf_data():
    """A tf.data pipeline that maps, shuffles with no seed (a new order every epoch), batches and prefetches."""
    x, y = digits()
    (xt, yt), (xv, yv) = split(x, y)

    def prepare(image, label):
        return tf.cast(image, tf.float32), label

    train = tf.data.Dataset.from_tensor_slices((xt, yt)).map(prepare).shuffle(1024).batch(32).prefetch(2)
    val = tf.data.Dataset.from_tensor_slices((xv, yv)).map(prepare).batch(32)
    model = mlp(64, 10, "softmax", "sparse_categorical_crossentropy")
    return model, (train,), dict(validation_data=val)


def augmentation_in_the_tf_data_pipeline():
    """keras.io "Image classification from scratch", option 2: augmentation mapped over the batched dataset."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 320)
    images = rng.uniform(0, 120, (320, 16, 16, 3)).astype("float32")
    images[labels == 1, :, :, 0] += 130.0
    data_augmentation = keras.Sequential([layers.RandomFlip("horizontal"), layers.RandomRotation(0.1)])
    train = tf.data.Dataset.from_tensor_slices((images[:256], labels[:256])).shuffle(256).batch(32)
    train = train.map(lambda img, label: (data_augmentation(img), label), num_parallel_calls=2).prefetch(2)
    val = tf.data.Dataset.from_tensor_slices((images[256:], labels[256:])).batch(32)
    inputs = keras.Input((16, 16, 3))
    x = layers.Rescaling(1.0 / 255)(inputs)
    x = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(3e-4), loss="binary_crossentropy", metrics=["accuracy"])
    return model, (train,), dict(validation_data=val)


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
    mnist_convnet,
    text_classification_from_scratch,
    timeseries_classification_from_scratch,
    functional_multi_input_multi_output,
    subclassed_model,
    batchnorm_normalises_raw_inputs,
    toy_set_with_a_few_copies,
    linear_projection_then_relu,
    tiny_run_of_two_steps_per_epoch,
    keras_model_docstring_subclass,
    text_embedding_average_pooling,
    cnn_with_rescaling_and_augmentation,
    autoencoder_mse_on_sigmoid,
    regression_with_adapted_normalization,
    multi_output_list_with_loss_weights,
    shuffled_mapped_tf_data,
    augmentation_in_the_tf_data_pipeline,
]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__ for c in CASES])
def test_healthy_model_draws_no_error_or_warning(kepler_home, case):
    keras.utils.set_random_seed(0)
    model, args, kwargs = case()
    epochs = kwargs.pop("epochs", EPOCHS)
    lines: list[str] = []
    with ModelInspector(model=model, project="healthy", show=lines.append) as mi:
        history = mi.fit(*args, epochs=epochs, verbose=0, **kwargs)

    assert len(history.history["loss"]) == epochs
    alarms = [f.line() for f in mi.findings if f.severity in ("error", "warning") and not f.skipped]
    assert not alarms, "\n".join(alarms)
    codes = {f.code for f in mi.findings}
    assert "K502" in codes, "the environment checks ran"
    # K403 skips a two-epoch run, saying so: proof the epoch-end checks ran; a longer healthy run passes it silently
    assert epochs > EPOCHS or "K403" in codes, "the training checks ran"
