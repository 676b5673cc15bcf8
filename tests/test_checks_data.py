"""K3xx data checks: each fires on a program that has the problem and stays quiet on a near miss.

Everything goes through ``kepler.check(model, x, y, **fit_kwargs)`` on tiny real Keras models.
"""

from __future__ import annotations

import random
import warnings

import keras
import numpy as np
import pytest
from sklearn.datasets import load_digits

import kepler
from kepler_nb.checks.catalogue import get_check

RNG = np.random.default_rng(42)


def run(model, x=None, y=None, **fit_kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return kepler.check(model, x, y, **fit_kwargs)


def found(findings, code):
    """The findings of ``code`` that are real reports (not skips)."""
    return [f for f in findings if f.code == code and not f.skipped]


def skipped(findings, code):
    return [f for f in findings if f.code == code and f.skipped]


def assert_no_failures(findings):
    broken = [f.line() for f in findings if "check itself failed" in f.message]
    assert not broken, broken


_models: dict = {}


def dense(features, units=10, activation="softmax", loss="sparse_categorical_crossentropy", first=None):
    """A tiny compiled model, shared between tests (checks never change it)."""
    key = (features, units, activation, str(loss), first)
    if key not in _models:
        shape = features if isinstance(features, tuple) else (features,)
        layers = [keras.Input(shape)]
        if first == "rescaling":
            layers.append(keras.layers.Rescaling(1 / 255))
        if len(shape) > 1:
            layers.append(keras.layers.Flatten())
        layers += [keras.layers.Dense(4, activation="relu"), keras.layers.Dense(units, activation=activation)]
        model = keras.Sequential(layers)
        model.compile(optimizer="adam", loss=loss)
        _models[key] = model
    return _models[key]


def embedding_model(vocabulary=50, length=12):
    if "embedding" not in _models:
        model = keras.Sequential(
            [
                keras.Input((length,), dtype="int32"),
                keras.layers.Embedding(vocabulary, 4),
                keras.layers.GlobalAveragePooling1D(),
                keras.layers.Dense(3, activation="softmax"),
            ]
        )
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        _models["embedding"] = model
    return _models["embedding"]


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    return x.astype("float32"), y


def standardized(n=600, d=20, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    return x.astype("float32"), rng.integers(0, 3, n)


# -- K301 redundant data ---------------------------------------------------------------


def test_k301_collinear_features():
    x, y = standardized()
    x[:, 5] = 3 * x[:, 2] + 1e-3 * RNG.normal(size=len(x))
    (finding,) = found(run(dense(20, 3), x, y), "K301")
    assert "nearly collinear" in finding.message and "features 2 and 5" in finding.message
    assert finding.severity == "info"


def test_k301_near_copies_of_samples():
    base, _ = standardized(n=300, d=32, seed=1)
    x = np.concatenate([base, base + 0.01 * RNG.normal(size=base.shape).astype("float32")])
    y = RNG.integers(0, 3, len(x))
    findings = found(run(dense(32, 3), x, y), "K301")
    assert any("near-copy" in f.message for f in findings), [f.message for f in findings]
    (near,) = [f for f in findings if "near-copy" in f.message]
    assert "100%" in near.message  # every sample has its copy


def test_k301_near_copies_estimated_from_a_sample_of_large_data():
    base, _ = standardized(n=7000, d=24, seed=2)
    copies = base[:3000] + 0.01 * RNG.normal(size=(3000, 24)).astype("float32")
    x = np.concatenate([base, copies])
    y = RNG.integers(0, 3, len(x))
    (near,) = [f for f in found(run(dense(24, 3), x, y), "K301") if "near-copy" in f.message]
    share = near.details["near_copy_share"]
    assert 0.3 < share < 0.9, near.message  # 6,000 of 10,000 rows have a copy
    assert "sampled rows" in near.message


def test_k301_quiet_on_correlated_but_not_collinear_features_and_on_digits(digits):
    x, y = standardized()
    x[:, 5] = 0.95 * x[:, 2] + 0.31 * RNG.normal(size=len(x))  # r about 0.95
    assert abs(np.corrcoef(x[:, 2], x[:, 5])[0, 1]) < 0.98
    assert not found(run(dense(20, 3), x, y), "K301")
    xd, yd = digits
    assert not found(run(dense(64), xd / 16.0, yd), "K301")


def test_k301_names_dataframe_columns():
    pd = pytest.importorskip("pandas")
    x, y = standardized(d=4)
    frame = pd.DataFrame(x, columns=["radius", "area", "smoothness", "perimeter"])
    frame["perimeter"] = frame["radius"] * 6.28
    (finding,) = found(run(dense(4, 3), frame, y), "K301")
    assert "'radius' and 'perimeter'" in finding.message


# -- K302 duplicate samples ------------------------------------------------------------


def test_k302_duplicate_samples():
    x, y = standardized(n=500)
    x2, y2 = np.concatenate([x, x[:50]]), np.concatenate([y, y[:50]])
    (finding,) = found(run(dense(20, 3), x2, y2), "K302")
    assert "50 of 550 training samples" in finding.message
    assert finding.details["duplicates"] == 50


def test_k302_is_only_info_on_a_rare_copy_and_quiet_on_near_copies():
    x, y = standardized(n=500)
    x[7] = x[3]  # one copy in 500: 0.2%
    (rare,) = found(run(dense(20, 3), x, y), "K302")
    assert rare.severity == "info" and "1 of 500 training samples" in rare.message
    x2 = np.concatenate([x, x[:50] + np.float32(1e-6)])  # close, but not equal
    assert [f.severity for f in found(run(dense(20, 3), x2, np.r_[y, y[:50]]), "K302")] == ["info"]


def test_k302_is_only_info_on_one_duplicated_row_of_150():
    x, y = standardized(n=150, d=4)
    x[149] = x[10]
    (finding,) = found(run(dense(4, 3), x, y), "K302")
    assert finding.severity == "info" and "1 of 150" in finding.message


def test_k302_quiet_when_copies_are_unavoidable():
    x = RNG.integers(0, 2, size=(1000, 3)).astype("float32")  # only 8 possible rows
    assert not found(run(dense(3, 2), x, RNG.integers(0, 2, 1000)), "K302")


def test_k302_counts_only_the_rows_trained_on_with_validation_split():
    x, y = standardized(n=500)
    x2 = np.concatenate([x, x[:100]])  # the copies fall into the validation tail
    findings = run(dense(20, 3), x2, np.r_[y, y[:100]], validation_split=100 / 600)
    assert not found(findings, "K302")
    assert found(findings, "K310")


def test_k302_on_uint8_images_and_sparse_rows():
    scipy_sparse = pytest.importorskip("scipy.sparse")
    images = RNG.integers(0, 256, size=(200, 8, 8, 1), dtype=np.uint8)
    images = np.concatenate([images, images[:20]])
    assert found(run(dense((8, 8, 1)), images, RNG.integers(0, 10, 220)), "K302")
    dense_rows = (RNG.random((300, 40)) < 0.1) * RNG.random((300, 40))
    rows = scipy_sparse.csr_matrix(np.concatenate([dense_rows, dense_rows[:30]]))
    assert found(run(dense(40, 3), rows, RNG.integers(0, 3, 330)), "K302")


# -- K303 not normalised ---------------------------------------------------------------


def test_k303_raw_pixels_fire():
    images = RNG.integers(0, 256, size=(300, 8, 8, 1)).astype("float32")
    (finding,) = found(run(dense((8, 8, 1)), images, RNG.integers(0, 10, 300)), "K303")
    assert "64 of 64" in finding.message and "0..255" in finding.message


def test_k303_digits_0_to_16_fire(digits):
    x, y = digits
    (finding,) = found(run(dense(64), x, y), "K303")
    assert "of 61 varying features" in finding.message and "0..16" in finding.message
    assert finding.details["unscaled"] > 0.5 * 61


def _with_outliers(x):
    x = x.copy()
    x[0, :] = 7.0  # one outlier above and one below in every feature: about 6.5 std once restandardized
    x[1, :] = -7.0
    return (x - x.mean(axis=0)) / x.std(axis=0)


@pytest.mark.parametrize(
    "scaling",
    ["standardized", "standardized-with-outliers", "zero-one", "minus-one-one", "digits-standardized"],
)
def test_k303_quiet_on_normalised_data(scaling, digits):
    xd, yd = digits
    spread = xd.std(axis=0)
    x = {
        "standardized": standardized(n=600)[0],
        "standardized-with-outliers": _with_outliers(standardized(n=600)[0]),
        "zero-one": xd / 16.0,
        "minus-one-one": xd / 8.0 - 1.0,
        "digits-standardized": (xd - xd.mean(axis=0)) / np.where(spread > 0, spread, 1.0),
    }[scaling].astype("float32")
    if scaling == "standardized-with-outliers":
        assert np.abs(x).max() > 6.0
    findings = run(dense(x.shape[1]), x, RNG.integers(0, 10, len(x)))
    assert not found(findings, "K303")
    assert not skipped(findings, "K303")


def test_k303_one_huge_feature_and_tiny_features():
    x, y = standardized(n=400, d=50)
    x[:, 7] = RNG.normal(50_000, 20_000, len(x))  # income, in dollars
    (finding,) = found(run(dense(50, 3), x, y), "K303")
    assert "1 of 50" in finding.message
    pixels = RNG.integers(0, 256, size=(300, 64)).astype("float32") / 255.0 / 255.0  # scaled twice
    (tiny,) = found(run(dense(64), pixels, RNG.integers(0, 10, 300)), "K303")
    assert "tiny" in tiny.message


def test_k303_left_to_a_rescaling_layer():
    images = RNG.integers(0, 256, size=(100, 8, 8, 1)).astype("float32")
    findings = run(dense((8, 8, 1), first="rescaling"), images, RNG.integers(0, 10, 100))
    assert not found(findings, "K303")
    assert "Rescaling" in skipped(findings, "K303")[0].message


@pytest.mark.parametrize(
    "first",
    [
        lambda: [keras.layers.BatchNormalization()],
        lambda: [keras.layers.LayerNormalization()],
        # nested, after a reshape: still before any weights
        lambda: [keras.Sequential([keras.layers.Flatten(), keras.layers.BatchNormalization()])],
    ],
    ids=["batchnorm-first", "layernorm-first", "nested-batchnorm"],
)
def test_k303_left_to_a_normalisation_layer_before_the_first_weights(first, digits):
    x, y = digits  # 0..16, flagged without the layer (test_k303_digits_0_to_16_fire)
    model = keras.Sequential([keras.Input((64,)), *first(), keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    findings = run(model, x, y)
    assert not found(findings, "K303")
    assert "scales its inputs itself" in skipped(findings, "K303")[0].message


def test_k303_still_fires_when_batchnorm_comes_after_the_first_weights(digits):
    x, y = digits
    model = keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(16), keras.layers.BatchNormalization(), keras.layers.Dense(10)]
    )
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    assert found(run(model, x, y), "K303")


# -- K304 integer inputs / K305 float64 inputs ------------------------------------------


def test_k304_uint8_images():
    images = RNG.integers(0, 256, size=(100, 8, 8, 1), dtype=np.uint8)
    (finding,) = found(run(dense((8, 8, 1)), images, RNG.integers(0, 10, 100)), "K304")
    assert "uint8" in finding.message and "0..255" in finding.message and finding.severity == "warning"


def test_k304_quiet_on_float_images_token_ids_and_rescaled_models():
    images = RNG.integers(0, 256, size=(100, 8, 8, 1), dtype=np.uint8)
    y = RNG.integers(0, 10, 100)
    assert not found(run(dense((8, 8, 1)), images.astype("float32") / 255, y), "K304")
    assert not found(run(dense((8, 8, 1), first="rescaling"), images, y), "K304")
    tokens = RNG.integers(0, 50, size=(100, 12)).astype("int32")
    findings = run(embedding_model(), tokens, RNG.integers(0, 3, 100))
    assert not found(findings, "K304") and not found(findings, "K303")


def test_k305_float64_inputs():
    x, y = standardized()
    (finding,) = found(run(dense(20, 3), x.astype("float64"), y), "K305")
    assert "float64" in finding.message and "float32" in finding.message
    assert not found(run(dense(20, 3), x, y), "K305")


# -- K306 NaN / Inf ----------------------------------------------------------------------


def test_k306_counts_nan_and_inf_and_says_where():
    x, y = standardized(n=300)
    x[[3, 10, 11], 4] = np.nan
    x[20, 9] = np.inf
    yf = y.astype("float32")
    yf[5] = np.nan
    (finding,) = found(run(dense(20, 3), x, yf), "K306")
    assert finding.severity == "error"
    assert "inputs: 3 NaN and 1 Inf in 2 features (4, 9), in 4 of 300 samples (first: sample 3)" in finding.message
    assert "targets: 1 NaN" in finding.message


def test_k306_validation_data_and_named_inputs():
    x, y = standardized(n=200)
    xv = x[:50].copy()
    xv[0, 0] = np.nan
    (finding,) = found(run(dense(20, 3), x, y, validation_data=(xv, y[:50])), "K306")
    assert finding.message.startswith("validation inputs: 1 NaN")


def test_k306_quiet_on_large_finite_values():
    x, y = standardized(n=200)
    x[0, 0] = 3e38  # the largest float32 values are finite
    assert not found(run(dense(20, 3), x, y), "K306")


# -- K307 constant features --------------------------------------------------------------


def test_k307_constant_features():
    x, y = standardized(n=300)
    x[:, 3] = 1.0
    (finding,) = found(run(dense(20, 3), x, y), "K307")
    assert "1 of 20 features is constant: feature 3 (always 1)" in finding.message


def test_k307_quiet_when_one_sample_differs():
    x, y = standardized(n=30_000, d=8)
    x[:, 3] = 1.0
    x[-1, 3] = 2.0  # the last row only: a sample would miss it
    assert not found(run(dense(8, 3), x, y), "K307")


def test_k307_names_image_positions():
    images = RNG.random((100, 6, 6, 1)).astype("float32")
    images[:, 0, :, :] = 0.0  # the top row is always black
    (finding,) = found(run(dense((6, 6, 1)), images, RNG.integers(0, 10, 100)), "K307")
    assert "6 of 36 features are constant: positions (0, 0, 0), (0, 1, 0), (0, 2, 0), ..." in finding.message


# -- K308 class imbalance ----------------------------------------------------------------


def test_k308_severe_imbalance():
    x, _ = standardized(n=520)
    y = np.r_[np.zeros(500, int), np.ones(20, int)]
    (finding,) = found(run(dense(20, 2), x, y), "K308")
    assert "class 1 has 20 samples (3.8%)" in finding.message and "25x" in finding.message


def test_k308_quiet_on_moderate_imbalance_or_with_class_weight():
    x, _ = standardized(n=540)
    y = np.r_[np.zeros(480, int), np.ones(60, int)]  # 8:1
    assert not found(run(dense(20, 2), x, y), "K308")
    y = np.r_[np.zeros(500, int), np.ones(40, int)]
    assert not found(run(dense(20, 2), x, y, class_weight={0: 1.0, 1: 12.5}), "K308")


def test_k308_one_hot_class_without_samples_and_regression_skipped():
    x, _ = standardized(n=300)
    labels = RNG.integers(0, 4, 300)
    onehot = keras.utils.to_categorical(labels, 5)  # class 4 never occurs
    (finding,) = found(run(dense(20, 5, loss="categorical_crossentropy"), x, onehot), "K308")
    assert "class 4 of the 5 one-hot columns has no training samples" in finding.message
    findings = run(dense(20, 1, activation="linear", loss="mse"), x, RNG.normal(size=300))
    assert not [f for f in findings if f.code in ("K308", "K309")]  # a regression has no classes


# -- K309 conflicting labels -------------------------------------------------------------


def test_k309_identical_inputs_with_different_labels():
    x, y = standardized(n=300)
    x2 = np.concatenate([x, x[:10]])
    y2 = np.concatenate([y, (y[:10] + 1) % 3])
    (finding,) = found(run(dense(20, 3), x2, y2), "K309")
    assert "10 groups of identical training inputs (20 samples)" in finding.message
    assert "samples 0 and 300" in finding.message


def test_k309_quiet_when_copies_agree():
    x, y = standardized(n=300)
    findings = run(dense(20, 3), np.concatenate([x, x[:10]]), np.concatenate([y, y[:10]]))
    assert not found(findings, "K309")


# -- K312 class targets that aren't integers -------------------------------------------------


def test_k312_labels_scaled_along_with_the_pixels(digits):
    # "x_train, y_train = x_train / 255.0, y_train / 255.0" before a sparse loss
    x, y = digits
    (finding,) = found(run(dense(64), x / 16.0, y / 255.0), "K312")
    assert finding.severity == "error"
    assert "are not whole class ids (values 0..0.03529)" in finding.message
    assert "cast to integers they all become class 0" in finding.message


def test_k312_fractional_targets_that_become_several_classes(digits):
    x, y = digits
    (finding,) = found(run(dense(64), x / 16.0, y * 0.5), "K312")
    assert "become 5 classes (0, 1, 2, 3, 4)" in finding.message


def test_k312_quiet_on_integer_ids_whatever_their_dtype(digits):
    x, y = digits
    for labels in (y, y.astype("float32"), y.astype("uint8")):
        assert not found(run(dense(64), x / 16.0, labels), "K312")
    assert not found(run(dense(64, 1, "sigmoid", "binary_crossentropy"), x / 16.0, (y > 4) * 0.9), "K312")


def test_k308_every_training_label_the_same_class(digits):
    # "y = (labels > 10).astype(int)" - a threshold above every label
    x, _ = digits
    (finding,) = found(run(dense(64, 1, "sigmoid", "binary_crossentropy"), x / 16.0, np.zeros(len(x))), "K308")
    assert finding.severity == "error"
    assert f"all {len(x):,} training labels are class 0" in finding.message
    weighted = run(dense(64), x / 16.0, np.full(len(x), 3), class_weight={3: 1.0})
    assert [f.severity for f in found(weighted, "K308")] == ["error"]


# -- K310 validation leakage -------------------------------------------------------------


def test_k310_validation_data_taken_from_training_data():
    x, y = standardized(n=400)
    xv = np.concatenate([x[:30], standardized(n=70, seed=9)[0]]).astype("float64")  # another dtype, same values
    (finding,) = found(run(dense(20, 3), x, y, validation_data=(xv, np.r_[y[:30], y[:70]])), "K310")
    assert "30 of 100 validation samples (30%) also appear in the training data" in finding.message


def test_k310_is_only_info_for_two_copies_in_a_toy_set():
    x, y = standardized(n=60)
    xv = np.concatenate([x[:2], standardized(n=19, seed=9)[0]])  # 2 of 21 validation samples
    (finding,) = found(run(dense(20, 3), x, y, validation_data=(xv, np.r_[y[:2], y[:19]])), "K310")
    assert finding.severity == "info" and "2 of 21 validation samples" in finding.message


def test_k310_quiet_on_disjoint_validation_data_and_clean_split():
    x, y = standardized(n=400)
    xv, yv = standardized(n=100, seed=5)
    assert not found(run(dense(20, 3), x, y, validation_data=(xv, yv)), "K310")
    assert not found(run(dense(20, 3), x, y, validation_split=0.2), "K310")


# -- K311 targets out of reach -----------------------------------------------------------


def test_k311_sigmoid_output_with_0_to_255_targets():
    x, _ = standardized(n=200)
    y = RNG.integers(0, 256, size=(200, 1)).astype("float32")
    y[0], y[1] = 0, 255
    (finding,) = found(run(dense(20, 1, activation="sigmoid", loss="mse"), x, y), "K311")
    assert finding.severity == "error"
    assert "'sigmoid' output can only produce 0..1" in finding.message and "targets range 0..255" in finding.message


def test_k311_relu_output_with_negative_targets_and_probability_loss():
    x, _ = standardized(n=200)
    y = RNG.normal(size=(200, 1)).astype("float32")
    (relu,) = found(run(dense(20, 1, activation="relu", loss="mse"), x, y), "K311")
    assert "0 and above" in relu.message
    logits = dense(20, 1, activation="linear", loss=keras.losses.BinaryCrossentropy(from_logits=True))
    (bce,) = found(run(logits, x, np.abs(y) * 10), "K311")
    assert "expects probabilities" in bce.message


@pytest.mark.parametrize(
    ("activation", "targets"),
    [("sigmoid", (0.0, 1.0)), ("tanh", (-1.0, 1.0)), ("linear", (-300.0, 300.0)), ("relu", (0.0, 50.0))],
)
def test_k311_quiet_when_targets_fit(activation, targets):
    x, _ = standardized(n=200)
    y = RNG.uniform(*targets, size=(200, 1)).astype("float32")
    y[0], y[1] = targets
    assert not found(run(dense(20, 1, activation=activation, loss="mse"), x, y), "K311")


def two_outputs(brightness_activation):
    inputs = keras.Input((20,))
    hidden = keras.layers.Dense(16, activation="relu")(inputs)
    model = keras.Model(
        inputs,
        {
            "brightness": keras.layers.Dense(1, activation=brightness_activation, name="brightness")(hidden),
            "kind": keras.layers.Dense(3, activation="softmax", name="kind")(hidden),
        },
    )
    model.compile(optimizer="adam", loss={"brightness": "mse", "kind": "sparse_categorical_crossentropy"})
    return model


def test_k311_judges_each_output_against_its_own_targets():
    x, _ = standardized(n=200)
    pixels = RNG.integers(0, 256, size=(200, 1)).astype("float32")
    pixels[0], pixels[1] = 0, 255
    targets = {"brightness": pixels, "kind": RNG.integers(0, 3, 200)}
    (finding,) = found(run(two_outputs("sigmoid"), x, targets), "K311")
    assert finding.message.startswith("output 'brightness': targets range 0..255")
    assert "'sigmoid' output can only produce 0..1" in finding.message
    findings = run(two_outputs("sigmoid"), x, {**targets, "brightness": pixels / 255.0})
    assert not found(findings, "K311") and not skipped(findings, "K311"), "judged, and silent"


# -- odd inputs ------------------------------------------------------------------------

DATA_CODES = [f"K3{i:02d}" for i in range(1, 12)]


@pytest.mark.parametrize(
    ("x", "y", "why"),
    [
        (np.zeros((0, 4), "float32"), np.zeros(0, int), "empty"),
        (np.zeros((10, 4), "float32"), np.zeros(8, int), "different numbers of samples"),
        (np.array([["a", "b"], ["c", "d"]]), np.array([0, 1]), "not numeric"),
        (np.array([[1, None], [2, 3]], dtype=object), np.array([0, 1]), "not numeric"),
        ([[1.0, 2.0], [3.0]], [0, 1], "ragged"),
        (np.zeros((10, 0), "float32"), np.zeros(10, int), "hold no values"),
    ],
    ids=["empty", "mismatched", "strings", "object", "ragged", "no-features"],
)
def test_odd_inputs_are_skipped_with_a_reason(x, y, why):
    findings = run(dense(4, 2), x, y)
    assert_no_failures(findings)
    for code in ("K301", "K302", "K303", "K306", "K307", "K309"):
        (skip,) = skipped(findings, code)
        assert why in skip.message, (code, skip.message)


def test_dict_inputs_name_the_input():
    inputs = {"image": keras.Input((4,), name="image"), "meta": keras.Input((3,), name="meta")}
    merged = keras.layers.Concatenate()([inputs["image"], inputs["meta"]])
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(merged))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = {"image": standardized(n=100, d=4)[0], "meta": standardized(n=100, d=3, seed=3)[0]}
    x["meta"][5, 1] = np.nan
    x["meta"][:, 2] = 7.0
    findings = run(model, x, RNG.integers(0, 2, 100))
    assert_no_failures(findings)
    assert "input 'meta'" in found(findings, "K306")[0].message
    assert found(findings, "K307")[0].message.startswith("input 'meta': 1 of 3 features")


def test_a_dataset_is_judged_on_its_sample_and_says_so():
    tf = pytest.importorskip("tensorflow")
    images = RNG.integers(0, 256, size=(512, 8, 8, 1)).astype("float32")
    sliced = tf.data.Dataset.from_tensor_slices((images, RNG.integers(0, 10, 512)))
    ds = sliced.map(lambda x, y: (x, y)).batch(32)  # a map: only a sample can be read
    findings = run(dense((8, 8, 1)), ds)
    assert_no_failures(findings)
    (finding,) = found(findings, "K303")
    assert "only a sample was inspected" in finding.message and "256 samples" in finding.message


def test_a_sliced_dataset_is_judged_on_all_its_arrays():
    tf = pytest.importorskip("tensorflow")
    images = RNG.integers(0, 256, size=(512, 8, 8, 1)).astype("float32")
    ds = tf.data.Dataset.from_tensor_slices((images, RNG.integers(0, 10, 512))).shuffle(512).batch(32)
    findings = run(dense((8, 8, 1)), ds)
    assert_no_failures(findings)
    (finding,) = found(findings, "K303")
    assert "only a sample" not in finding.message and "values 0..255" in finding.message


def test_a_reshuffled_pipeline_is_judged_on_a_sample_of_a_copy():
    tf = pytest.importorskip("tensorflow")
    images = RNG.integers(0, 256, size=(512, 8, 8, 1)).astype("float32")
    ds = (
        tf.data.Dataset.from_tensor_slices((images, RNG.integers(0, 10, 512)))
        .map(lambda im, label: (tf.reshape(im, (8, 8, 1)), label))
        .shuffle(512)
        .batch(32)
    )
    findings = run(dense((8, 8, 1)), ds)
    assert_no_failures(findings)
    assert not [f.line() for f in findings if f.stage == "data" and f.skipped and "reshuffles" in f.message]
    (finding,) = found(findings, "K303")
    assert "values 0..255" in finding.message
    assert "only a sample was inspected: first 8 batches of a copy of the shuffled tf.data pipeline" in finding.message
    assert "256 samples" in finding.message


def test_a_pipeline_ending_in_random_augmentation_is_judged_on_what_the_augmentation_receives():
    tf = pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    augment = keras.Sequential([keras.layers.RandomFlip("horizontal"), keras.layers.RandomRotation(0.1)])
    images = RNG.integers(0, 256, size=(512, 8, 8, 1)).astype("float32")
    ds = (
        tf.data.Dataset.from_tensor_slices((images, RNG.integers(0, 10, 512)))
        .shuffle(512)
        .batch(32)
        .map(lambda im, label: (augment(im, training=True), label))
        .prefetch(tf.data.AUTOTUNE)
    )
    findings = run(dense((8, 8, 1)), ds)
    assert_no_failures(findings)
    assert not [f.line() for f in findings if f.stage == "data" and f.skipped and "not sampled" in f.message]
    (finding,) = found(findings, "K303")
    assert "values 0..255" in finding.message
    assert "only a sample was inspected" in finding.message and "before the random map(s)" in finding.message


def test_a_generator_is_judged_on_its_first_batches():
    def batches():
        rng = np.random.default_rng(0)
        while True:
            x = rng.normal(size=(16, 20)).astype("float32")
            x[0, 3] = np.nan
            yield x, rng.integers(0, 3, 16)

    from kepler_nb.checks.context import CheckContext
    from kepler_nb.checks.runner import run_checks
    from kepler_nb.fit.call import FitCall
    from kepler_nb.interception.routing import original_fit

    # As a fit sees it: the generator is sampled and replayed (kepler.check doesn't read generators).
    call = FitCall.bind(original_fit(), dense(20, 3), (batches(),), {})
    findings = run_checks(CheckContext(call))
    assert_no_failures(findings)
    (finding,) = found(findings, "K306")
    assert (
        "8 NaN" in finding.message and "only a sample was inspected: first 8 batches of a generator" in finding.message
    )


def test_sparse_and_pandas_inputs_are_judged():
    pd = pytest.importorskip("pandas")
    scipy_sparse = pytest.importorskip("scipy.sparse")
    counts = scipy_sparse.random(300, 50, density=0.2, format="csr", random_state=0) * 1000
    findings = run(dense(50, 3), counts, RNG.integers(0, 3, 300))
    assert_no_failures(findings)
    assert found(findings, "K303") and found(findings, "K305")
    frame = pd.DataFrame(standardized(n=100, d=3)[0], columns=["a", "b", "c"]).assign(c=0.5)
    (constant,) = found(run(dense(3, 3), frame, RNG.integers(0, 3, 100)), "K307")
    assert "'c'" in constant.message


# -- the user's data and random state are untouched -----------------------------------


def test_checks_leave_arrays_and_random_state_untouched():
    pd = pytest.importorskip("pandas")
    scipy_sparse = pytest.importorskip("scipy.sparse")
    x, y = standardized(n=400)
    x[3, 4], x[5, 6] = np.nan, -np.inf
    x = np.concatenate([x, x[:40]])
    y = np.r_[y, (y[:40] + 1) % 3].astype("float64")
    y_nan = y.copy()
    y_nan[9] = np.nan
    xv = np.asfortranarray(x[::3].astype("float64"))  # non-contiguous layouts too
    yv = y[::3]
    images = RNG.integers(0, 256, size=(50, 6, 6, 1), dtype=np.uint8)
    csr = scipy_sparse.csr_matrix(np.where(x > 1, x, 0).astype("float64"))
    frame = pd.DataFrame(x[:, :5].astype("float64"), columns=list("abcde"))
    arrays = [x, y, y_nan, xv, yv, images, csr.data, csr.indices, csr.indptr, frame.to_numpy()]
    before = [a.copy() for a in arrays]
    for a in arrays:
        a.flags.writeable = False  # any write raises, and would show as a failed check
    tabular, pictures, labels = dense(20, 3), dense((6, 6, 1)), RNG.integers(0, 10, 50)
    dense(5, 3)  # built before the random state is taken: building a model draws seeds
    np_state, py_state = np.random.get_state(), random.getstate()

    findings = run(tabular, x, y, validation_data=(xv, yv))
    findings += run(pictures, images, labels, validation_split=0.2)
    findings += run(tabular, csr, y_nan)
    findings += run(dense(5, 3), frame, y)

    assert_no_failures(findings)
    assert {"K302", "K306", "K309", "K310"} <= {f.code for f in findings if not f.skipped}
    for a, b in zip(arrays, before):
        assert a.tobytes() == b.tobytes()
    assert np.array_equal(np.random.get_state()[1], np_state[1]) and random.getstate() == py_state


def test_every_data_check_is_documented():
    for code in DATA_CODES:
        check = get_check(code)
        assert check.stage == "data"
        for heading in ("## What it does", "## Why is this bad?", "## Example", "## Use instead"):
            assert heading in check.doc, (code, heading)
