"""K1xx: the training setup. Real models and data, checked with ``kepler.check`` (nothing is trained)."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::kepler.KeplerWarning")

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")
datasets = pytest.importorskip("sklearn.datasets")
model_selection = pytest.importorskip("sklearn.model_selection")

import kepler  # noqa: E402

L = keras.layers


@pytest.fixture(scope="module")
def digits():
    x, y = datasets.load_digits(return_X_y=True)
    return (x / 16.0).astype("float32"), y


@pytest.fixture(scope="module")
def sorted_digits(digits):
    x, y = digits
    order = np.argsort(y, kind="stable")
    return x[order], y[order]


@pytest.fixture(scope="module")
def diabetes():
    x, y = datasets.load_diabetes(return_X_y=True)
    return x.astype("float32"), y.astype("float32")


def mlp(classes=10, optimizer="adam", loss="sparse_categorical_crossentropy", batchnorm=False, activation="softmax"):
    layers = [L.Dense(32, activation="relu")]
    if batchnorm:
        layers = [L.Dense(32, use_bias=False), L.BatchNormalization(), L.ReLU()]
    model = keras.Sequential(layers + [L.Dense(classes, activation=activation)])
    model.compile(optimizer=optimizer, loss=loss)
    return model


def found(code, model, x=None, y=None, **fit_kwargs):
    """The non-skipped findings of one check."""
    return [f for f in kepler.check(model, x, y, select=code, **fit_kwargs) if f.code == code and not f.skipped]


def skipped(code, model, x=None, y=None, **fit_kwargs):
    return [f for f in kepler.check(model, x, y, select=code, **fit_kwargs) if f.code == code and f.skipped]


# -- K101 learning rate ------------------------------------------------------------


@pytest.mark.parametrize(
    "optimizer, severity, numbers",
    [
        (lambda: keras.optimizers.Adam(learning_rate=0.1), "warning", ["0.1", "Adam", "above", "1e-06..0.01"]),
        (lambda: keras.optimizers.SGD(learning_rate=10.0), "warning", ["10", "SGD", "above"]),
        (lambda: keras.optimizers.RMSprop(learning_rate=1e-8), "warning", ["1e-08", "RMSprop", "below"]),
        (lambda: keras.optimizers.SGD(learning_rate=0.0), "error", ["learning rate 0 for SGD", "never move"]),
        (lambda: keras.optimizers.Adam(learning_rate=-1e-3), "error", ["learning rate -0.001", "climb the loss"]),
        (
            lambda: keras.optimizers.Adam(keras.optimizers.schedules.ExponentialDecay(0.5, 1000, 0.9)),
            "warning",
            ["ExponentialDecay peak learning rate 0.5", "Adam"],
        ),
        (
            lambda: keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(learning_rate=0.3)),
            "warning",
            ["0.3", "Adam"],
        ),
    ],
)
def test_k101_flags_a_learning_rate_out_of_range(digits, optimizer, severity, numbers):
    x, y = digits
    (finding,) = found("K101", mlp(optimizer=optimizer()), x, y)
    assert finding.severity == severity
    for number in numbers:
        assert number in finding.message


@pytest.mark.parametrize(
    "optimizer",
    [
        "adam",
        "sgd",
        "rmsprop",
        "adagrad",
        "adamw",
        "nadam",
        lambda: keras.optimizers.Adam(learning_rate=3e-4),
        lambda: keras.optimizers.SGD(learning_rate=0.1, momentum=0.9),
        lambda: keras.optimizers.Adam(learning_rate=1e-2),
        lambda: keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(0.0, 1000, warmup_target=1e-3)),
        lambda: keras.optimizers.SGD(keras.optimizers.schedules.PiecewiseConstantDecay([100], [0.1, 0.01])),
        # on the bounds, as Keras stores them in float32 (1e-4 is 9.9999997e-05)
        lambda: keras.optimizers.SGD(learning_rate=1e-4),
        lambda: keras.optimizers.Adam(learning_rate=1e-6),
        lambda: keras.optimizers.RMSprop(learning_rate=1e-2),
    ],
)
def test_k101_is_silent_on_sane_learning_rates(digits, optimizer):
    x, y = digits
    assert found("K101", mlp(optimizer=optimizer() if callable(optimizer) else optimizer), x, y) == []


def test_k101_never_says_1x_for_a_rate_just_out_of_range(digits):
    (finding,) = found("K101", mlp(optimizer=keras.optimizers.SGD(learning_rate=9.5e-5)), *digits)
    assert "slightly under the bottom" in finding.message and "1x" not in finding.message
    (far,) = found("K101", mlp(optimizer=keras.optimizers.SGD(learning_rate=1e-6)), *digits)
    assert "100x under the bottom" in far.message


def test_k101_skips_an_uncompiled_model(digits):
    model = keras.Sequential([L.Dense(10, activation="softmax")])
    (finding,) = skipped("K101", model, *digits)
    assert "not compiled" in finding.message


# -- K102 shuffling -------------------------------------------------------------------


def test_k102_flags_shuffle_false_on_label_ordered_arrays(sorted_digits):
    x, y = sorted_digits
    (finding,) = found("K102", mlp(), x, y, shuffle=False)
    assert finding.severity == "warning"
    assert "class 0 occupies rows 0-177" in finding.message
    assert "class 1 rows 178-359" in finding.message
    assert "10 same-class runs" in finding.message


def test_k102_flags_one_hot_labels_ordered_and_reads_them_per_row(sorted_digits):
    x, y = sorted_digits
    model = mlp(loss="categorical_crossentropy")
    (finding,) = found("K102", model, x, keras.utils.to_categorical(y, 10), shuffle=False)
    assert "class 0 occupies rows 0-177" in finding.message


def test_k102_flags_sorted_regression_targets(diabetes):
    x, y = diabetes
    order = np.argsort(y)
    model = keras.Sequential([L.Dense(16, activation="relu"), L.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    (finding,) = found("K102", model, x[order], y[order], shuffle=False)
    assert "sorted" in finding.message and "rank correlation" in finding.message
    assert f"{y.min():.4g}" in finding.message


def test_k102_is_silent_with_keras_default_shuffle_on_ordered_labels(sorted_digits, digits):
    x, y = sorted_digits
    assert found("K102", mlp(), x, y) == []
    assert found("K102", mlp(), x, y, shuffle=True, validation_data=digits) == []


def test_k102_is_silent_with_shuffle_false_on_already_shuffled_data(digits, diabetes):
    x, y = digits
    assert found("K102", mlp(), x, y, shuffle=False) == []
    model = keras.Sequential([L.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    assert found("K102", model, *diabetes, shuffle=False) == []


def test_k102_flags_an_unshuffled_pipeline_on_ordered_labels(sorted_digits):
    x, y = sorted_digits
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(32).prefetch(2)
    (finding,) = found("K102", mlp(), ds)
    assert finding.severity == "warning"
    assert "no shuffle()" in finding.message and "1797 samples are ordered" in finding.message
    assert "class 0 occupies rows 0-177, class 1 rows 178-359" in finding.message
    # The dataset was only looked at: it still yields every batch, from the start.
    assert sum(1 for _ in ds) == 57
    assert int(next(iter(ds))[1][0]) == 0


def test_k102_notes_an_unshuffled_pipeline_on_shuffled_data(digits):
    ds = tf.data.Dataset.from_tensor_slices(digits).map(lambda a, b: (a * 2.0, b)).batch(32)
    (finding,) = found("K102", mlp(), ds)
    assert finding.severity == "info"
    assert "no shuffle()" in finding.message


@pytest.mark.parametrize(
    "build",
    [
        lambda x, y: tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x)).batch(32),
        lambda x, y: tf.data.Dataset.from_tensor_slices((x, y)).shuffle(256).map(lambda a, b: (a, b)).batch(32),
        lambda x, y: (
            tf.data.Dataset.zip((tf.data.Dataset.from_tensor_slices(x), tf.data.Dataset.from_tensor_slices(y)))
            .shuffle(512)
            .batch(64)
        ),
        lambda x, y: tf.data.Dataset.from_tensor_slices((x, y)).batch(len(x)),  # a single batch
    ],
)
def test_k102_is_silent_on_shuffled_or_single_batch_pipelines(sorted_digits, build):
    assert found("K102", mlp(), build(*sorted_digits)) == []


# -- K103 batch size ------------------------------------------------------------------


def test_k103_flags_a_batch_larger_than_the_data(digits):
    x, y = digits
    (finding,) = found("K103", mlp(), x, y, batch_size=4096)
    assert finding.severity == "warning"
    assert "batch_size=4096" in finding.message and "1797 samples" in finding.message


def test_k103_counts_the_training_part_after_validation_split(digits):
    x, y = digits
    (finding,) = found("K103", mlp(), x, y, batch_size=1500, validation_split=0.2)
    assert "1437 samples" in finding.message


def test_k103_flags_batch_of_one_with_batchnorm(digits):
    x, y = digits
    (finding,) = found("K103", mlp(batchnorm=True), x, y, batch_size=1)
    assert finding.severity == "warning"
    assert "batch_size=1" in finding.message and "batch_normalization" in finding.message


def test_k103_notes_a_last_batch_of_one_with_batchnorm(digits):
    x, y = digits
    (finding,) = found("K103", mlp(batchnorm=True), x[:65], y[:65], batch_size=32)
    assert finding.severity == "info"
    assert "65 samples in batches of 32" in finding.message


def test_k103_notes_batch_of_one_on_many_samples(digits):
    x, y = digits
    (finding,) = found("K103", mlp(), x, y, batch_size=1)
    assert finding.severity == "info"
    assert "1797" in finding.message


@pytest.mark.parametrize(
    "batchnorm, rows, kwargs",
    [
        (False, 1797, {}),
        (True, 1797, {}),  # 1797 % 32 == 5
        (True, 1797, {"batch_size": 64}),
        (False, 1797, {"batch_size": 1797}),  # full batch, deliberately
        (False, 200, {"batch_size": 1}),  # tiny data, one at a time
        (False, 20, {}),  # Keras' default of 32 on 20 samples: one batch, not a mistake of the user
    ],
)
def test_k103_is_silent_on_reasonable_batches(digits, batchnorm, rows, kwargs):
    x, y = digits
    assert found("K103", mlp(batchnorm=batchnorm), x[:rows], y[:rows], **kwargs) == []


def test_k103_skips_a_dataset(digits):
    ds = tf.data.Dataset.from_tensor_slices(digits).batch(32)
    (finding,) = skipped("K103", mlp(), ds)
    assert "dataset" in finding.message


# -- K105 validation_split on ordered data -----------------------------------------------


def test_k105_flags_a_validation_tail_of_sorted_labels(sorted_digits):
    x, y = sorted_digits
    (finding,) = found("K105", mlp(), x, y, validation_split=0.2)
    # The tail also holds classes the training part never sees: an error.
    assert finding.severity == "error"
    assert "last 360 of 1797 rows" in finding.message
    assert "only classes 7, 8, 9" in finding.message
    assert "classes 8, 9 never appear in training" in finding.message


def test_k105_flags_a_skewed_tail_that_still_has_every_class():
    rng = np.random.default_rng(0)
    head = rng.integers(0, 3, 800)
    tail = np.where(rng.random(200) < 0.8, 2, rng.integers(0, 2, 200))
    y = np.concatenate([head, tail])
    x = rng.normal(size=(1000, 8)).astype("float32")
    (finding,) = found("K105", mlp(classes=3), x, y, validation_split=0.2)
    assert finding.severity == "warning"
    assert "all 3 classes" in finding.message
    share = np.mean(tail == 2)
    assert f"{share:.0%} class 2" in finding.message and "total variation" in finding.message


def test_k105_flags_a_validation_tail_of_sorted_regression_targets(diabetes):
    x, y = diabetes
    order = np.argsort(y)
    model = keras.Sequential([L.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    (finding,) = found("K105", model, x[order], y[order], validation_split=0.25)
    assert "Kolmogorov-Smirnov distance 1.00" in finding.message
    assert f"{y.max():.4g}" in finding.message


@pytest.mark.parametrize("seed", range(12))
def test_k105_is_silent_on_random_orders(digits, seed):
    x, y = digits
    order = np.random.default_rng(seed).permutation(len(y))
    assert found("K105", mlp(), x[order], y[order], validation_split=0.1) == []


def test_k105_is_silent_when_validation_data_is_given(sorted_digits, digits):
    x, y = sorted_digits
    assert found("K105", mlp(), x, y, validation_data=digits) == []
    assert found("K105", mlp(), x, y) == []


# -- K106 train vs validation distributions ---------------------------------------------


def test_k106_flags_validation_data_from_other_classes(digits):
    x, y = digits
    low, high = y < 5, y >= 5
    (finding,) = found("K106", mlp(), x[low], y[low], validation_data=(x[high], y[high]))
    assert finding.severity == "error"
    assert f"validation_data has {high.sum()} samples" in finding.message
    assert "only classes 5, 6, 7, 8, 9" in finding.message
    assert "never appear in training" in finding.message


def test_k106_flags_a_skewed_validation_set(digits):
    x, y = digits
    rng = np.random.default_rng(1)
    train, val = model_selection.train_test_split(np.arange(len(y)), test_size=0.3, random_state=0)
    # Keep all of class 9 in validation, but only a fifth of everything else.
    val = val[(y[val] == 9) | (rng.random(len(val)) < 0.2)]
    (finding,) = found("K106", mlp(), x[train], y[train], validation_data=(x[val], y[val]))
    assert finding.severity == "warning"
    share = np.mean(y[val] == 9)
    assert f"{share:.0%} class 9" in finding.message
    assert f"{np.mean(y[train] == 9):.0%} in training" in finding.message


def test_k106_flags_shifted_regression_targets(diabetes):
    x, y = diabetes
    low = y < np.median(y)
    model = keras.Sequential([L.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    (finding,) = found("K106", model, x[low], y[low], validation_data=(x[~low], y[~low]))
    assert "Kolmogorov-Smirnov" in finding.message


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("size", [0.1, 0.3])
def test_k106_is_silent_on_random_splits(digits, seed, size):
    x, y = digits
    xt, xv, yt, yv = model_selection.train_test_split(x, y, test_size=size, random_state=seed)
    assert found("K106", mlp(), xt, yt, validation_data=(xv, yv)) == []


def test_k106_is_silent_on_stratified_splits_and_random_regression_splits(digits, diabetes):
    x, y = digits
    xt, xv, yt, yv = model_selection.train_test_split(x, y, test_size=0.2, stratify=y, random_state=0)
    assert found("K106", mlp(), xt, yt, validation_data=(xv, yv)) == []
    model = keras.Sequential([L.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    xt, xv, yt, yv = model_selection.train_test_split(*diabetes, test_size=0.2, random_state=0)
    assert found("K106", model, xt, yt, validation_data=(xv, yv)) == []


def test_k106_leaves_validation_split_to_k105(sorted_digits):
    assert found("K106", mlp(), *sorted_digits, validation_split=0.2) == []


# -- the healthy defaults -------------------------------------------------------------


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "rmsprop"])
def test_keras_defaults_raise_no_setup_finding(digits, optimizer):
    x, y = digits
    xt, xv, yt, yv = model_selection.train_test_split(x, y, test_size=0.2, random_state=0)
    findings = [f for f in kepler.check(mlp(optimizer=optimizer), xt, yt, validation_data=(xv, yv), select="K1")]
    assert [f.line() for f in findings if not f.skipped] == []


def test_setup_checks_leave_model_and_random_state_untouched(sorted_digits):
    import random

    x, y = sorted_digits
    model = mlp(batchnorm=True, optimizer=keras.optimizers.Adam(learning_rate=0.5))
    model.build((None, 64))
    weights = [w.copy() for w in model.get_weights()]
    np_state, py_state = np.random.get_state(), random.getstate()
    findings = kepler.check(model, x, y, shuffle=False, batch_size=1, validation_split=0.2, select="K1")
    assert {"K101", "K102", "K103", "K105"} <= {f.code for f in findings if not f.skipped}
    assert all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights()))
    assert int(model.optimizer.iterations.numpy()) == 0
    assert np.array_equal(np.random.get_state()[1], np_state[1]) and random.getstate() == py_state


def test_setup_findings_are_plain_data(sorted_digits):
    import json

    x, y = sorted_digits
    model = mlp(batchnorm=True, optimizer=keras.optimizers.SGD(learning_rate=5.0))
    findings = [f for f in kepler.check(model, x, y, shuffle=False, batch_size=1, validation_split=0.2, select="K1")]
    json.dumps([f.to_dict() for f in findings])
    low, high = y < 5, y >= 5
    findings = kepler.check(mlp(), x[low], y[low], validation_data=(x[high], y[high]), select="K106")
    assert json.loads(json.dumps(findings[0].to_dict()))["details"]["missing_in_training"] == list("56789")


def test_k102_and_k103_skip_a_generator(digits):
    x, y = digits

    def batches():
        while True:
            yield x[:32], y[:32]

    findings = kepler.check(mlp(), batches(), steps_per_epoch=2, select="K102,K103")
    assert {f.code for f in findings if f.skipped} == {"K102", "K103"}
    assert all("generator" in f.message for f in findings)


# -- K104 no validation data -------------------------------------------------------------


def test_k104_notes_a_fit_without_validation_data(digits):
    x, y = digits
    (finding,) = found("K104", mlp(), x, y)
    assert finding.severity == "info"
    assert found("K104", mlp(), x, y, validation_split=0.2) == []
