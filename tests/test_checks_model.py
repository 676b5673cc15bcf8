"""K2xx: the model and its compile configuration. Real models, checked with ``kepler.check`` (nothing is trained)."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::kepler.KeplerWarning")

keras = pytest.importorskip("keras")
datasets = pytest.importorskip("sklearn.datasets")

import kepler  # noqa: E402

L = keras.layers


@pytest.fixture(scope="module")
def digits():
    x, y = datasets.load_digits(return_X_y=True)
    return (x / 16.0).astype("float32"), y


@pytest.fixture(scope="module")
def onehot(digits):
    return digits[0], keras.utils.to_categorical(digits[1], 10)


@pytest.fixture(scope="module")
def binary():
    x, y = datasets.load_breast_cancer(return_X_y=True)
    return ((x - x.mean(0)) / x.std(0)).astype("float32"), y


@pytest.fixture(scope="module")
def regression():
    x, y = datasets.load_diabetes(return_X_y=True)
    return ((x - x.mean(0)) / x.std(0)).astype("float32"), ((y - y.mean()) / y.std()).astype("float32")


def seq(*layers, loss="sparse_categorical_crossentropy", optimizer="adam", inputs=None):
    """A compiled Sequential model; unbuilt unless ``inputs`` gives the input width."""
    model = keras.Sequential(([keras.Input((inputs,))] if inputs else []) + list(layers))
    model.compile(optimizer=optimizer, loss=loss)
    return model


def found(code, model, x=None, y=None, **fit_kwargs):
    """The non-skipped findings of one check."""
    return [f for f in kepler.check(model, x, y, select=code, **fit_kwargs) if f.code == code and not f.skipped]


def skipped(code, model, x=None, y=None, **fit_kwargs):
    return [f for f in kepler.check(model, x, y, select=code, **fit_kwargs) if f.code == code and f.skipped]


def dense(units, activation=None, **kwargs):
    return L.Dense(units, activation=activation, **kwargs)


CCE, SCCE, BCE = "categorical_crossentropy", "sparse_categorical_crossentropy", "binary_crossentropy"


# -- K201 output activation vs loss -------------------------------------------------------


@pytest.mark.parametrize(
    "output, loss, data, words",
    [
        (lambda: dense(10, "sigmoid"), CCE, "onehot", ["'sigmoid'", "10 outputs will not sum to 1"]),
        (lambda: dense(1, "softmax"), BCE, "binary", ["softmax on a single output unit"]),
        (lambda: dense(10, "relu"), SCCE, "digits", ["'relu'", "not probabilities"]),
        (lambda: dense(1, "tanh"), BCE, "binary", ["'tanh'", "binary_crossentropy"]),
        (
            lambda: dense(1, "relu"),
            lambda: keras.losses.BinaryCrossentropy(from_logits=True),
            "binary",
            ["relu output", "never drops below 0.5"],
        ),
    ],
)
def test_k201_flags_an_output_that_does_not_fit_the_loss(request, output, loss, data, words):
    x, y = request.getfixturevalue(data)
    model = seq(dense(16, "relu"), output(), loss=loss() if callable(loss) else loss)
    (finding,) = found("K201", model, x, y)
    assert finding.severity == "error"
    for word in words:
        assert word in finding.message


@pytest.mark.parametrize(
    "output, loss, data",
    [
        (lambda: dense(10, "softmax"), CCE, "onehot"),
        (lambda: dense(10, "softmax"), SCCE, "digits"),
        (lambda: dense(1, "sigmoid"), BCE, "binary"),
        (lambda: dense(10), lambda: keras.losses.SparseCategoricalCrossentropy(from_logits=True), "digits"),
        (lambda: dense(1), lambda: keras.losses.BinaryCrossentropy(from_logits=True), "binary"),
        (lambda: dense(10), SCCE, "digits"),  # linear without from_logits: K209's, not K201's
    ],
)
def test_k201_is_silent_on_fitting_pairs(request, output, loss, data):
    x, y = request.getfixturevalue(data)
    model = seq(dense(16, "relu"), output(), loss=loss() if callable(loss) else loss)
    assert found("K201", model, x, y) == []


def test_k201_reads_a_trailing_activation_layer_of_a_functional_model(onehot):
    inputs = keras.Input((64,))
    hidden = dense(16, "relu")(inputs)
    outputs = L.Activation("sigmoid")(dense(10)(hidden))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss=CCE)
    (finding,) = found("K201", model, *onehot)
    assert "'sigmoid'" in finding.message


def test_k201_judges_each_output_of_a_model_with_several_outputs(digits):
    inputs = keras.Input((64,))
    model = keras.Model(inputs, [dense(10, "sigmoid", name="digit")(inputs), dense(1, name="value")(inputs)])
    model.compile(optimizer="adam", loss=[CCE, "mse"])
    x, y = digits
    (finding,) = found("K201", model, x, [keras.utils.to_categorical(y, 10), y.astype("float32")])
    assert finding.message.startswith("output 'digit': output activation 'sigmoid'")
    assert finding.details["output"] == "digit"


# -- K202 from_logits ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "output, loss, data, activation",
    [
        (
            lambda: [dense(10, "softmax")],
            lambda: keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            "digits",
            "softmax",
        ),
        (
            lambda: [dense(10), L.Softmax()],
            lambda: keras.losses.CategoricalCrossentropy(from_logits=True),
            "onehot",
            "softmax",
        ),
        (lambda: [dense(1, "sigmoid")], lambda: keras.losses.BinaryCrossentropy(from_logits=True), "binary", "sigmoid"),
    ],
)
def test_k202_flags_from_logits_on_probabilities(request, output, loss, data, activation):
    x, y = request.getfixturevalue(data)
    model = seq(dense(16, "relu"), *output(), loss=loss())
    (finding,) = found("K202", model, x, y)
    assert finding.severity == "error"
    assert "from_logits=True" in finding.message and f"'{activation}'" in finding.message


@pytest.mark.parametrize(
    "output, loss",
    [
        (lambda: dense(10), lambda: keras.losses.SparseCategoricalCrossentropy(from_logits=True)),
        (lambda: dense(10, "softmax"), lambda: keras.losses.SparseCategoricalCrossentropy()),
        (lambda: dense(10, "softmax"), lambda: SCCE),
    ],
)
def test_k202_is_silent_when_from_logits_matches(digits, output, loss):
    assert found("K202", seq(dense(16, "relu"), output(), loss=loss()), *digits) == []


def test_linear_output_without_from_logits_is_reported_once_by_k209(digits):
    model = seq(dense(16, "relu"), dense(10), loss=SCCE)
    findings = [f for f in kepler.check(model, *digits, select="K2") if not f.skipped]
    assert [f.code for f in findings if f.code in ("K201", "K202", "K209")] == ["K209"]


# -- K203 output units vs labels --------------------------------------------------------------


def test_k203_flags_labels_beyond_the_output_units(digits):
    x, y = digits
    (finding,) = found("K203", seq(dense(16, "relu"), dense(10, "softmax")), x, y + 1)
    assert finding.severity == "error"
    assert "labels range 1..10" in finding.message and "10 units" in finding.message


def test_k203_warns_about_units_no_label_uses(digits):
    x, y = digits
    (finding,) = found("K203", seq(dense(16, "relu"), dense(20, "softmax")), x, y)
    assert finding.severity == "warning"
    assert "20 units" in finding.message and "up to 9 (10 classes)" in finding.message


def test_k203_does_not_count_unused_units_on_a_small_batch(digits):
    # Overfitting a handful of samples first is good practice, not a mistake.
    x, y = digits
    assert found("K203", seq(dense(16, "relu"), dense(10, "softmax")), x[:8], y[:8]) == []


def test_k203_flags_one_hot_columns_unlike_the_units(onehot):
    (finding,) = found("K203", seq(dense(16, "relu"), dense(8, "softmax"), loss=CCE), *onehot)
    assert "8 units" in finding.message and "10 target columns (one-hot)" in finding.message


def test_k203_flags_a_regression_target_broadcast_against_many_units():
    x, y = datasets.load_diabetes(return_X_y=True)
    (finding,) = found("K203", seq(dense(16, "relu"), dense(10), loss="mse"), x, y)
    assert "10 units" in finding.message and "1 target column" in finding.message and "broadcast" in finding.message


@pytest.mark.parametrize(
    "output, loss, data",
    [
        (lambda: dense(10, "softmax"), SCCE, "digits"),
        (lambda: dense(10, "softmax"), CCE, "onehot"),
        (lambda: dense(1, "sigmoid"), BCE, "binary"),
        (lambda: dense(1), "mse", "binary"),
    ],
)
def test_k203_is_silent_when_units_match(request, output, loss, data):
    x, y = request.getfixturevalue(data)
    assert found("K203", seq(dense(16, "relu"), output(), loss=loss), x, y) == []


def test_k203_works_on_a_multi_input_model(digits):
    x, y = digits
    a, b = keras.Input((32,)), keras.Input((32,))
    merged = L.Concatenate()([dense(8, "relu")(a), dense(8, "relu")(b)])
    model = keras.Model([a, b], dense(5, "softmax")(merged))
    model.compile(optimizer="adam", loss=SCCE)
    (finding,) = found("K203", model, [x[:, :32], x[:, 32:]], y)
    assert "labels range 0..9" in finding.message and "5 units" in finding.message


# -- K204 label encoding vs loss --------------------------------------------------------------


def test_k204_flags_one_hot_labels_with_a_sparse_loss(onehot):
    (finding,) = found("K204", seq(dense(16, "relu"), dense(10, "softmax"), loss=SCCE), *onehot)
    assert finding.severity == "error"
    assert "one-hot with 10 columns" in finding.message and "(1797, 10)" in finding.message


def test_k204_flags_integer_labels_with_a_categorical_loss(digits):
    (finding,) = found("K204", seq(dense(16, "relu"), dense(10, "softmax"), loss=CCE), *digits)
    assert "integer class ids (0, 1, 2, 3, 4, 5, ... 9; shape (1797,))" in finding.message


def test_k204_flags_many_classes_with_binary_crossentropy(digits):
    (finding,) = found("K204", seq(dense(16, "relu"), dense(1, "sigmoid"), loss=BCE), *digits)
    assert "10 values" in finding.message


@pytest.mark.parametrize(
    "loss, data",
    [(SCCE, "digits"), (CCE, "onehot"), (lambda: keras.losses.CategoricalCrossentropy(label_smoothing=0.1), "onehot")],
)
def test_k204_is_silent_when_encoding_matches(request, loss, data):
    x, y = request.getfixturevalue(data)
    model = seq(dense(16, "relu"), dense(10, "softmax"), loss=loss() if callable(loss) else loss)
    assert found("K204", model, x, y) == []


def test_k204_is_silent_on_0_1_labels_with_binary_crossentropy(binary):
    assert found("K204", seq(dense(16, "relu"), dense(1, "sigmoid"), loss=BCE), *binary) == []


# -- K205 missing non-linearity -----------------------------------------------------------------


def test_k205_flags_stacked_linear_dense_layers(digits):
    model = seq(dense(64, name="first"), dense(64, name="second"), dense(10, "softmax"))
    (finding,) = found("K205", model, *digits)
    assert finding.severity == "warning"
    assert "first (Dense 64, linear) -> second (Dense 64, linear)" in finding.message


def test_k205_is_only_info_for_a_linear_layer_into_a_nonlinear_one(digits):
    # A legitimate factorisation (a low-rank projection), not a forgotten activation.
    model = seq(dense(64, name="first"), dense(64, "relu", name="second"), dense(10, "softmax"))
    (finding,) = found("K205", model, *digits)
    assert finding.severity == "info"
    assert "first (Dense 64, linear) -> second (Dense 64, relu)" in finding.message


def test_k205_sees_through_dropout_flatten_and_batchnorm():
    model = seq(
        L.Conv2D(8, 3, name="conv"),
        L.BatchNormalization(name="bn"),
        L.Flatten(name="flat"),
        L.Dropout(0.2, name="drop"),
        dense(32, "relu", name="fc"),
        dense(10, "softmax"),
        inputs=None,
    )
    x = np.zeros((4, 8, 8, 1), "float32")
    (finding,) = found("K205", model, x, np.arange(4))
    assert "conv (Conv2D 8, linear) -> bn -> flat -> drop -> fc (Dense 32, relu)" in finding.message


def test_k205_reads_a_functional_graph(digits):
    inputs = keras.Input((64,))
    a = dense(32, name="proj")(inputs)
    b = dense(32, "relu", name="left")(a)
    c = L.Activation("relu")(dense(32, name="right")(inputs))
    model = keras.Model(inputs, dense(10, "softmax")(L.Add()([b, c])))
    model.compile(optimizer="adam", loss=SCCE)
    (finding,) = found("K205", model, *digits)
    assert "proj (Dense 32, linear) -> left" in finding.message


@pytest.mark.parametrize(
    "layers",
    [
        lambda: [dense(64, "relu"), dense(64, "relu"), dense(10, "softmax")],
        lambda: [dense(64, use_bias=False), L.BatchNormalization(), L.ReLU(), dense(10, "softmax")],
        lambda: [dense(64), L.Activation("tanh"), dense(10, "softmax")],
        # An autoencoder's linear code layer is a deliberate bottleneck.
        lambda: [dense(128, "relu"), dense(16), dense(128, "relu"), dense(64)],
    ],
)
def test_k205_is_silent_with_nonlinearities_and_bottlenecks(digits, layers):
    model = seq(*layers(), loss="mse", inputs=64)
    assert found("K205", model, *digits) == []


# -- K206 bias before BatchNormalization --------------------------------------------------------


def test_k206_flags_a_bias_before_batchnorm(digits):
    model = seq(dense(64, name="fc"), L.BatchNormalization(name="bn"), L.ReLU(), dense(10, "softmax"))
    (finding,) = found("K206", model, *digits)
    assert finding.severity == "info"
    assert "fc (Dense 64, linear)" in finding.message and "64 bias values" in finding.message


def test_k206_flags_a_conv_bias_before_batchnorm_in_a_built_model():
    model = seq(
        L.Conv2D(16, 3, name="conv"), L.BatchNormalization(), L.ReLU(), L.GlobalAveragePooling2D(), dense(2, "softmax")
    )
    model.build((None, 8, 8, 3))
    (finding,) = found("K206", model, np.zeros((4, 8, 8, 3), "float32"), np.arange(4) % 2)
    assert "conv (Conv2D 16, linear)" in finding.message


def test_k206_sums_up_many_layers_in_one_finding():
    layers = []
    for i in range(5):
        layers += [
            L.Conv2D(8 * (i + 1), 3, padding="same", name=f"conv{i}"),
            L.BatchNormalization(name=f"bn{i}"),
            L.ReLU(),
        ]
    model = seq(*layers, L.GlobalAveragePooling2D(), dense(2, "softmax"))
    (finding,) = found("K206", model, np.zeros((4, 8, 8, 3), "float32"), np.arange(4) % 2)
    assert "5 layers have a bias" in finding.message and "wasting 120 bias values" in finding.message
    assert "conv0 -> bn0; conv1 -> bn1; conv2 -> bn2; conv3 -> bn3; and 1 more" in finding.message


@pytest.mark.parametrize(
    "layers",
    [
        lambda: [dense(64, use_bias=False), L.BatchNormalization(), L.ReLU()],
        lambda: [dense(64), L.BatchNormalization(center=False), L.ReLU()],
        lambda: [dense(64, "relu"), L.BatchNormalization()],
    ],
)
def test_k206_is_silent_without_a_redundant_bias(digits, layers):
    assert found("K206", seq(*layers(), dense(10, "softmax")), *digits) == []


# -- K207 dropout ------------------------------------------------------------------------------


def test_k207_flags_a_dropout_rate_above_one_half(digits):
    model = seq(dense(64, "relu"), L.Dropout(0.8, name="drop"), dense(10, "softmax"))
    (finding,) = found("K207", model, *digits)
    assert finding.severity == "warning"
    assert "drop (Dropout) has rate=0.8" in finding.message and "80%" in finding.message


def test_k207_flags_dropout_on_the_output(digits):
    model = seq(dense(64, "relu"), dense(10, "softmax"), L.Dropout(0.2, name="out_drop"))
    (finding,) = found("K207", model, *digits)
    assert "output is out_drop" in finding.message and "rate 0.2" in finding.message


def test_k207_flags_recurrent_dropout():
    model = seq(L.LSTM(8, recurrent_dropout=0.7, name="lstm"), dense(2, "softmax"))
    (finding,) = found("K207", model, np.zeros((4, 5, 3), "float32"), np.arange(4) % 2)
    assert "recurrent_dropout=0.7" in finding.message


@pytest.mark.parametrize(
    "layers",
    [
        lambda: [dense(64, "relu"), L.Dropout(0.5), dense(10, "softmax")],
        lambda: [L.Dropout(0.2), dense(64, "relu"), L.Dropout(0.3), dense(10, "softmax")],
    ],
)
def test_k207_is_silent_on_usual_dropout(digits, layers):
    assert found("K207", seq(*layers()), *digits) == []


# -- K208 constant initializers ------------------------------------------------------------------


@pytest.mark.parametrize(
    "init, shown",
    [
        ("zeros", "Zeros"),
        ("ones", "Ones"),
        (lambda: keras.initializers.Constant(0.1), "Constant(0.1)"),
        (lambda: keras.initializers.RandomNormal(stddev=0.0), "RandomNormal(stddev=0)"),
    ],
)
def test_k208_flags_a_constant_kernel_in_a_hidden_layer(digits, init, shown):
    initializer = init() if callable(init) else init
    model = seq(dense(64, "relu", kernel_initializer=initializer, name="hidden"), dense(10, "softmax"))
    (finding,) = found("K208", model, *digits)
    assert finding.severity == "warning"
    assert f"kernel_initializer={shown}" in finding.message and "64 units start identical" in finding.message


@pytest.mark.parametrize(
    "layers",
    [
        lambda: [dense(64, "relu"), dense(10, "softmax")],
        lambda: [dense(64, "relu", bias_initializer="zeros"), dense(10, "softmax", kernel_initializer="zeros")],
        lambda: [dense(64, "relu", kernel_initializer="he_normal"), dense(10, "softmax")],
    ],
)
def test_k208_is_silent_on_random_kernels_and_a_constant_output(digits, layers):
    assert found("K208", seq(*layers()), *digits) == []


# -- K209 loss vs output range -------------------------------------------------------------------


def test_k209_flags_crossentropy_on_a_linear_output(digits):
    (finding,) = found("K209", seq(dense(16, "relu"), dense(10, name="logits")), *digits)
    assert finding.severity == "error"
    assert "'logits' is linear" in finding.message
    assert "SparseCategoricalCrossentropy(from_logits=True)" in finding.fix


def test_k209_flags_mse_on_a_softmax_output(onehot):
    (finding,) = found("K209", seq(dense(16, "relu"), dense(10, "softmax"), loss="mse"), *onehot)
    assert finding.severity == "warning"
    assert "'mean_squared_error' on a 'softmax' output on one-hot targets" in finding.message


def test_k209_flags_mse_on_a_sigmoid_output_with_class_labels(binary):
    (finding,) = found("K209", seq(dense(16, "relu"), dense(1, "sigmoid"), loss="mae"), *binary)
    assert "'mean_absolute_error' on a 'sigmoid' output on 0/1 class labels" in finding.message


@pytest.mark.parametrize(
    "output, loss, targets",
    [
        # An autoencoder: a sigmoid output regressing pixels in [0, 1].
        (lambda: dense(64, "sigmoid"), "mse", "pixels"),
        (lambda: dense(1), "mse", "binary"),
        (lambda: dense(10), lambda: keras.losses.SparseCategoricalCrossentropy(from_logits=True), "digits"),
        (lambda: dense(10, "softmax"), SCCE, "digits"),
    ],
)
def test_k209_is_silent_on_fitting_outputs(request, digits, output, loss, targets):
    x, y = digits if targets == "pixels" else request.getfixturevalue(targets)
    if targets == "pixels":
        y = x
    model = seq(dense(16, "relu"), output(), loss=loss() if callable(loss) else loss)
    assert found("K209", model, x, y) == []


# -- K210 saturating activations in a deep stack ----------------------------------------------------


def test_k210_flags_a_deep_sigmoid_stack(digits):
    model = seq(*[dense(32, "sigmoid") for _ in range(5)], dense(10, "softmax"))
    (finding,) = found("K210", model, *digits)
    assert finding.severity == "warning"
    assert "5 of 5 hidden layers use sigmoid" in finding.message and "0.25^5 = 0.00098" in finding.message


def test_k210_reads_activation_layers_after_linear_ones(digits):
    layers = []
    for _ in range(4):
        layers += [dense(32), L.BatchNormalization(), L.Activation("tanh")]
    (finding,) = found("K210", seq(*layers, dense(10, "softmax")), *digits)
    assert "4 of 4 hidden layers use tanh" in finding.message


@pytest.mark.parametrize(
    "layers",
    [
        # The original talk's model: one sigmoid hidden layer is not a deep stack.
        lambda: [dense(32, "sigmoid"), dense(10, "softmax")],
        lambda: [dense(32, "relu") for _ in range(6)] + [dense(10, "softmax")],
        lambda: [dense(32, "tanh"), dense(32, "tanh"), dense(32, "relu"), dense(32, "relu"), dense(10, "softmax")],
    ],
)
def test_k210_is_silent_on_shallow_or_relu_stacks(digits, layers):
    assert found("K210", seq(*layers()), *digits) == []


def test_k210_does_not_count_squeeze_excitation_gates():
    inputs = keras.Input((8, 8, 16))
    x = inputs
    for i in range(5):
        x = L.Conv2D(16, 3, padding="same", activation="relu", name=f"conv{i}")(x)
        gate = L.GlobalAveragePooling2D(keepdims=True)(x)
        gate = L.Conv2D(4, 1, activation="relu")(gate)
        gate = L.Conv2D(16, 1, activation="sigmoid", name=f"gate{i}")(gate)
        x = L.Multiply()([x, gate])
    model = keras.Model(inputs, dense(2, "softmax")(L.GlobalAveragePooling2D()(x)))
    model.compile(optimizer="adam", loss=SCCE)
    assert found("K210", model, np.zeros((4, 8, 8, 16), "float32"), np.arange(4) % 2) == []


def test_k210_does_not_count_the_gates_of_recurrent_layers():
    model = seq(*[L.LSTM(8, return_sequences=True) for _ in range(4)], L.LSTM(8), dense(2, "softmax"))
    assert found("K210", model, np.zeros((4, 5, 3), "float32"), np.arange(4) % 2) == []


# -- the healthy defaults -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "output, loss, data",
    [
        (lambda: dense(10, "softmax"), SCCE, "digits"),
        (lambda: dense(10, "softmax"), CCE, "onehot"),
        (lambda: dense(1, "sigmoid"), BCE, "binary"),
        (lambda: dense(1), "mse", "regression"),
    ],
)
@pytest.mark.parametrize("built", [False, True])
def test_usual_models_raise_no_model_finding(request, output, loss, data, built):
    x, y = request.getfixturevalue(data)
    model = seq(
        dense(64, "relu"), L.Dropout(0.3), dense(32, "relu"), output(), loss=loss, inputs=x.shape[1] if built else None
    )
    assert [f.line() for f in kepler.check(model, x, y, select="K2") if not f.skipped] == []


def test_model_checks_leave_an_unbuilt_model_unbuilt(digits):
    model = seq(dense(64, kernel_initializer="zeros"), L.BatchNormalization(), dense(10))
    findings = kepler.check(model, *digits, select="K2")
    assert {"K205", "K206", "K208", "K209"} <= {f.code for f in findings if not f.skipped}
    assert not model.built and not any(layer.built for layer in model.layers)


# -- model shapes: subclassed, nested, several outputs ------------------------------------------


class Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.hidden = [dense(32, "sigmoid", kernel_initializer="zeros") for _ in range(4)]
        self.drop = L.Dropout(0.9)
        self.out = dense(10, "softmax")

    def call(self, x):
        for layer in self.hidden:
            x = layer(x)
        return self.out(self.drop(x))


def test_layer_checks_read_a_subclassed_model_and_skip_what_needs_the_order(digits):
    model = Subclassed()
    model.compile(optimizer="adam", loss=SCCE)
    findings = kepler.check(model, *digits, select="K2")
    codes = [f.code for f in findings if not f.skipped]
    assert codes.count("K208") == 1 and "K207" in codes and "K210" in codes
    (k208,) = [f for f in findings if f.code == "K208"]
    assert "4 hidden layers start with constant weights" in k208.message
    assert not {"K205", "K206"} & {f.code for f in findings if f.skipped}, "call() is a chain: the order is known"


class Branching(keras.Model):
    def __init__(self):
        super().__init__()
        self.left, self.right, self.out = dense(32), dense(32), dense(10, "softmax")

    def call(self, x):
        return self.out(self.left(x) + self.right(x))


def test_layer_checks_skip_what_needs_the_order_when_call_is_no_chain(digits):
    model = Branching()
    model.compile(optimizer="adam", loss=SCCE)
    findings = kepler.check(model, *digits, select="K205,K206")
    assert {f.code for f in findings if f.skipped} == {"K205", "K206"}
    assert all("not a plain chain of its layers" in f.message for f in findings)


class LinearChain(keras.Model):
    """Two linear Dense layers in a row, written as a subclassed model."""

    def __init__(self):
        super().__init__()
        self.project = dense(32, name="project")
        self.hidden = dense(32, name="hidden")
        self.classify = dense(10, "softmax", name="classify")

    def call(self, inputs, training=False):
        x = self.project(inputs)
        x = self.hidden(x)
        return self.classify(x)


def test_k205_reads_the_chain_a_subclassed_model_calls(digits):
    model = LinearChain()
    model.compile(optimizer="adam", loss=SCCE)
    (finding,) = found("K205", model, *digits)
    assert "project (Dense 32, linear) -> hidden (Dense 32, linear)" in finding.message
    assert finding.severity == "warning"
    healthy = DocstringModel()
    healthy.compile(optimizer="adam", loss=SCCE)
    findings = kepler.check(healthy, digits[0], digits[1] % 5, select="K205,K206")
    assert findings == [], [f.line() for f in findings]


def test_layer_checks_open_nested_models(digits):
    inner = keras.Sequential([dense(32, name="inner_linear"), dense(32, "relu", name="inner_relu")])
    model = seq(inner, dense(10, "softmax"))
    (finding,) = found("K205", model, *digits)
    assert "inner_linear (Dense 32, linear) -> inner_relu" in finding.message
    inputs = keras.Input((64,))
    functional = keras.Model(inputs, dense(10, "softmax")(inner(inputs)))
    functional.compile(optimizer="adam", loss=SCCE)
    (finding,) = found("K205", functional, *digits)
    assert "inner_linear" in finding.message


def two_headed(department=None, loss=None, outputs="dict"):
    """A model with a class output 'department' and a 0/1 output 'priority' (keras.io's multi-output example)."""
    inputs = keras.Input((64,), name="features")
    hidden = dense(16, "relu", name="hidden")(inputs)
    heads = {
        "department": (department or dense(5, "softmax", name="department"))(hidden),
        "priority": dense(1, "sigmoid", name="priority")(hidden),
    }
    model = keras.Model(inputs, heads if outputs == "dict" else list(heads.values()))
    losses = {"department": loss or CCE, "priority": BCE}
    model.compile(optimizer="adam", loss=losses if outputs == "dict" else list(losses.values()))
    return model


def two_targets(digits, outputs="dict"):
    x, y = digits
    targets = {"department": keras.utils.to_categorical(y % 5, 5), "priority": (y > 4).astype("float32")}
    return x, (targets if outputs == "dict" else list(targets.values()))


@pytest.mark.parametrize("outputs", ["dict", "list"])
def test_k209_flags_crossentropy_on_a_linear_output_of_a_two_output_model(digits, outputs):
    model = two_headed(department=dense(5, name="department"), outputs=outputs)
    (finding,) = found("K209", model, *two_targets(digits, outputs))
    assert finding.severity == "error"
    assert finding.message.startswith("output 'department': loss 'categorical_crossentropy'")
    assert "'department' is linear" in finding.message


@pytest.mark.parametrize("outputs", ["dict", "list"])
def test_output_checks_judge_every_output_of_a_healthy_two_output_model(digits, outputs):
    findings = kepler.check(two_headed(outputs=outputs), *two_targets(digits, outputs), select="K2")
    assert [f.line() for f in findings if not f.skipped] == []
    ran = {"K201", "K202", "K203", "K204", "K209", "K211"} - {f.code for f in findings if f.skipped}
    assert ran == {"K201", "K202", "K203", "K204", "K209", "K211"}


def test_output_checks_match_targets_and_losses_by_output_name(digits):
    x, y = digits
    model = two_headed(loss="sparse_categorical_crossentropy")
    targets = {"department": keras.utils.to_categorical(y % 5, 5), "priority": (y > 4).astype("float32")}
    (finding,) = found("K204", model, x, targets)
    assert finding.message.startswith("output 'department': targets are one-hot")
    (units,) = found("K203", two_headed(department=dense(3, "softmax", name="department")), x, targets)
    assert units.message.startswith("output 'department': the output has 3 units but the data has 5")


def test_a_single_loss_applies_to_every_output(digits):
    x, y = digits
    inputs = keras.Input((64,))
    model = keras.Model(inputs, [dense(10, "softmax", name="a")(inputs), dense(10, name="b")(inputs)])
    model.compile(optimizer="adam", loss=SCCE)
    (finding,) = found("K209", model, x, [y, y])
    assert finding.message.startswith("output 'b':")


def test_layer_checks_still_run_on_several_outputs(digits):
    x, y = digits
    inputs = keras.Input((64,))
    shared = dense(8, name="shared")(dense(8, "relu")(inputs))
    model = keras.Model(inputs, [dense(10, "softmax")(shared), dense(1, name="value")(shared)])
    model.compile(optimizer="adam", loss=[SCCE, "mse"])
    (k205,) = found("K205", model, x, [y, y.astype("float32")])
    assert "shared (Dense 8, linear)" in k205.message and "(and 1 more)" in k205.message


class DocstringModel(keras.Model):
    """keras.Model's own docstring example: the Dropout is assigned last but the Dense is returned."""

    def __init__(self, activation="softmax"):
        super().__init__()
        self.dense1 = dense(32, "relu")
        self.dense2 = dense(5, activation)
        self.dropout = L.Dropout(0.5)

    def call(self, inputs, training=False):
        x = self.dense1(inputs)
        x = self.dropout(x, training=training)
        return self.dense2(x)


class Assigned(keras.Model):
    def __init__(self):
        super().__init__()
        self.head = dense(5)  # assigned first, returned last
        self.body = dense(32, "relu")

    def call(self, inputs):
        x = self.body(inputs)
        out = self.head(x)
        return out


def test_output_checks_read_the_layer_a_subclassed_model_returns(digits):
    x, y = digits[0], digits[1] % 5
    healthy = DocstringModel()
    healthy.compile(optimizer="adam", loss=SCCE)
    findings = kepler.check(healthy, x, y, select="K2")
    assert [f.line() for f in findings if not f.skipped] == []
    assert not {"K201", "K203", "K209"} & {f.code for f in findings if f.skipped}

    linear = Assigned()
    linear.compile(optimizer="adam", loss=SCCE)
    (finding,) = found("K209", linear, x, y)
    assert "the output layer 'dense" in finding.message and finding.details["activation"] == "linear"


def test_output_checks_skip_a_subclassed_model_whose_output_is_not_one_layer(digits):
    class Looped(keras.Model):
        def __init__(self):
            super().__init__()
            self.stack = [dense(32, "relu"), dense(5, "softmax")]

        def call(self, x):
            for layer in self.stack:
                x = layer(x)
            return x

    model = Looped()
    model.compile(optimizer="adam", loss=SCCE)
    (finding,) = skipped("K209", model, digits[0], digits[1] % 5)
    assert "doesn't return one layer's output" in finding.message


def test_findings_are_plain_data(digits, onehot):
    import json

    model = seq(
        dense(64, kernel_initializer="zeros"),
        L.BatchNormalization(),
        *[dense(32, "sigmoid") for _ in range(4)],
        L.Dropout(0.7),
        dense(8),
        loss=SCCE,
    )
    findings = [f for f in kepler.check(model, *digits, select="K2") if not f.skipped]
    assert {"K203", "K205", "K206", "K207", "K208", "K209", "K210"} <= {f.code for f in findings}
    json.dumps([f.to_dict() for f in findings])


def test_k203_skips_a_custom_loss():
    def pairwise(y_true, y_pred):
        return keras.ops.mean(keras.ops.square(y_pred[:, :1] - y_pred[:, 1:]))

    x, y = datasets.load_diabetes(return_X_y=True)
    (finding,) = skipped("K203", seq(dense(16, "relu"), dense(2), loss=pairwise), x, y)
    assert "'pairwise'" in finding.message


# -- faults seen uncaught in real programs -------------------------------------------------------


def test_k201_warns_sigmoid_with_binary_crossentropy_on_one_hot_classes(onehot):
    # "model.add(Dense(10, activation='sigmoid')); model.compile(loss='binary_crossentropy',
    #  metrics=['accuracy'])" - accuracy 90% from the first epoch
    model = seq(dense(32, "relu"), dense(10, "sigmoid"), loss=BCE)
    (finding,) = found("K201", model, *onehot)
    assert finding.severity == "warning"
    assert "one-hot targets of 10 columns" in finding.message and "90% for predicting all zeros" in finding.message
    assert "softmax" in finding.fix and "categorical_crossentropy" in finding.fix


def test_k201_leaves_sigmoid_with_binary_crossentropy_on_multi_label_and_two_columns(onehot):
    x, y = onehot
    multilabel = (np.random.default_rng(0).random((len(y), 10)) < 0.3).astype("float32")
    assert found("K201", seq(dense(32, "relu"), dense(10, "sigmoid"), loss=BCE), x, multilabel) == []
    two = keras.utils.to_categorical((y > 4).astype(int), 2)
    assert found("K201", seq(dense(32, "relu"), dense(2, "sigmoid"), loss=BCE), x, two) == []


def test_k211_flags_a_regression_loss_on_a_linear_output_with_one_hot_targets(onehot):
    # "model.add(Dense(10)); model.compile(loss='mean_squared_error', optimizer='sgd')"
    (finding,) = found("K211", seq(dense(32, "relu"), dense(10, name="out"), loss="mse"), *onehot)
    assert finding.severity == "warning"
    assert "'mean_squared_error' on the linear output 'out' with one-hot targets of 10 columns" in finding.message
    assert "softmax" in finding.fix


def test_k211_flags_mse_on_0_1_labels_and_leaves_real_regressions(binary):
    x, y = binary
    (finding,) = found("K211", seq(dense(16, "relu"), dense(1), loss="mae"), x, y)
    assert "0/1 class labels" in finding.message and "sigmoid" in finding.fix
    continuous = np.random.default_rng(0).normal(size=len(y)).astype("float32")
    assert found("K211", seq(dense(16, "relu"), dense(1), loss="mse"), x, continuous) == []
    counts = np.random.default_rng(0).integers(0, 5, len(y))  # a count target 0..4
    assert found("K211", seq(dense(16, "relu"), dense(1), loss="mse"), x, counts) == []
