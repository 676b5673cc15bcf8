"""K4xx: the training checks, on real fits and on loss curves written out by hand."""

from __future__ import annotations

import math
import time

import keras
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_digits

from kepler import ModelInspector
from kepler_nb.checks.catalogue import get_check
from kepler_nb.checks.training import TrainingContext, cross_entropy
from kepler_nb.fit.call import FitCall
from kepler_nb.interception.options import RunOptions
from kepler_nb.interception.routing import original_fit

TRAINING_CODES = ("K401", "K402", "K403", "K404", "K405", "K406", "K407", "K408", "K409")


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    order = np.random.default_rng(0).permutation(len(data.target))[:600]
    return data.data[order].astype("float32"), data.target[order]


def classifier(hidden: int = 32, dropout: float = 0.0, optimizer=None, seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    layers = [keras.Input((64,)), keras.layers.Dense(hidden, activation="relu")]
    if dropout:
        layers.append(keras.layers.Dropout(dropout))
    layers.append(keras.layers.Dense(10, activation="softmax"))
    model = keras.Sequential(layers)
    model.compile(optimizer=optimizer or keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    return model


def context(model: keras.Model, x, y, **history: list[float]) -> TrainingContext:
    """A training context as the callback makes it, with the history given."""
    call = FitCall.bind(original_fit(), model, (x, y), {})
    ctx = TrainingContext(call=call, loss_name="sparse_categorical_crossentropy", model=model)
    for epoch, values in enumerate(zip(*history.values())):
        ctx.add_epoch(epoch, dict(zip(history, values)))
    return ctx


def curve(**history: list[float]) -> TrainingContext:
    """A context holding only loss curves (no data, no model)."""
    ctx = TrainingContext(call=None)
    for epoch, values in enumerate(zip(*history.values())):
        ctx.add_epoch(epoch, dict(zip(history, values)))
    return ctx


def run(code: str, ctx: TrainingContext):
    return get_check(code).run(ctx)


def reported(code: str, ctx: TrainingContext):
    """The findings of ``code``, failing the test if the check skipped."""
    findings = run(code, ctx)
    assert not any(f.skipped for f in findings), [f.message for f in findings]
    return findings


def quiet(*_args) -> None:
    pass


# -- the catalogue ---------------------------------------------------------------
def test_every_training_check_is_documented_with_its_thresholds():
    for code in TRAINING_CODES:
        check = get_check(code)
        assert check.stage == "training"
        for heading in ("## What it does", "## Why is this bad?", "## Example", "## Use instead"):
            assert heading in check.doc, (code, heading)
        if code != "K401":
            assert check.thresholds, code


# -- K401 --------------------------------------------------------------------------------
def test_k401_reports_a_nan_loss_with_its_epoch():
    (finding,) = reported("K401", curve(loss=[0.9, float("nan")]))
    assert finding.severity == "error"
    assert finding.message == "loss is nan at epoch 2"


# -- K402 --------------------------------------------------------------------------------
def test_k402_flags_a_loss_at_init_far_above_ln_c(digits):
    x, y = digits  # pixels 0..16: large logits from the first layer on
    model = classifier()
    model.fit(x[:32], y[:32], epochs=1, verbose=0)  # built, optimizer built
    model = classifier()  # fresh weights again
    model.build((None, 64))
    (finding,) = reported("K402", context(model, x, y))
    assert "expected about 2.3 (ln 10 for 10 classes)" in finding.message
    assert finding.details["observed"] > math.log(10) + 2.0


def test_k402_passes_scaled_inputs_and_knows_binary_cross_entropy(digits):
    x, y = digits
    model = classifier()
    model.build((None, 64))
    assert reported("K402", context(model, x / 16.0, y)) == []

    data = load_breast_cancer()
    features = ((data.data - data.data.mean(0)) / data.data.std(0)).astype("float32")
    keras.utils.set_random_seed(0)
    binary = keras.Sequential([keras.Input((30,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    binary.add(keras.layers.Activation("sigmoid"))
    binary.compile(optimizer="adam", loss="binary_crossentropy")
    ctx = context(binary, features, data.target.astype("float32"))
    ctx.loss_name = "binary_crossentropy"
    assert reported("K402", ctx) == []
    ctx = context(binary, data.data.astype("float32"), data.target.astype("float32"))  # unscaled
    ctx.loss_name = "binary_crossentropy"
    (finding,) = reported("K402", ctx)
    assert "ln 2 for binary cross-entropy" in finding.message


@pytest.mark.parametrize("from_logits", [False, True])
def test_k402_computes_the_cross_entropies_as_keras_does(from_logits):
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, size=(64, 5))
    probabilities = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    output = logits if from_logits else probabilities
    labels = rng.integers(0, 5, 64)
    one_hot = np.eye(5)[labels]
    binary_out = logits[:, :1] if from_logits else 1 / (1 + np.exp(-logits[:, :1]))
    cases = [
        ("sparse_categorical_crossentropy", keras.losses.SparseCategoricalCrossentropy, labels, output),
        ("categorical_crossentropy", keras.losses.CategoricalCrossentropy, one_hot, output),
        ("binary_crossentropy", keras.losses.BinaryCrossentropy, labels % 2, binary_out),
    ]
    for name, loss, y, out in cases:
        expected = float(loss(from_logits=from_logits)(y, out.astype("float32")))
        assert cross_entropy(name, y, out, from_logits) == pytest.approx(expected, rel=1e-4), name


def test_k402_skips_losses_without_an_expected_value(digits):
    x, y = digits
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    ctx = context(model, x, y.astype("float32"))
    ctx.loss_name = "mse"
    (finding,) = run("K402", ctx)
    assert finding.skipped and "'mse'" in finding.message


def test_k402_changes_no_weight_optimizer_metric_or_random_state(digits):
    x, y = digits
    model = classifier(dropout=0.5)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[:64] / 16, y[:64], epochs=1, verbose=0)
    before = [np.array(v) for v in model.weights + model.optimizer.variables]
    metrics_before = [np.array(v) for m in model.metrics for v in m.variables]
    keras.utils.set_random_seed(3)
    expected = [np.random.rand(), keras.random.uniform((3,)).numpy().tolist()]
    keras.utils.set_random_seed(3)

    reported("K402", context(model, x, y))

    assert [np.random.rand(), keras.random.uniform((3,)).numpy().tolist()] == expected
    after = [np.array(v) for v in model.weights + model.optimizer.variables]
    assert all(np.array_equal(a, b) for a, b in zip(before, after))
    assert all(
        np.array_equal(a, np.array(v)) for a, v in zip(metrics_before, [v for m in model.metrics for v in m.variables])
    )


def test_k402_runs_at_train_begin_under_the_inspector(kepler_home, digits):
    x, y = digits
    model = classifier()
    lines: list[str] = []
    with ModelInspector(model=model, project="k402", show=lines.append) as mi:
        history = mi.fit(x, y, epochs=1, batch_size=64, verbose=0)
    (finding,) = [f for f in mi.findings if f.code == "K402"]
    assert not finding.skipped
    assert any(line.startswith("K402 warning initial-loss-unexpected: loss before training is") for line in lines)
    assert finding.details["observed"] > history.history["loss"][0]  # measured before the first step


# -- K403 --------------------------------------------------------------------------------
def test_k403_flags_a_flat_loss_and_passes_a_falling_one():
    (finding,) = reported("K403", curve(loss=[2.3026, 2.3025, 2.3024]))
    assert "loss barely moved in 3 epochs: 2.303 → best 2.302 (+0.009% in 2 epochs, under 0.1% per epoch)" in (
        finding.message
    )
    assert reported("K403", curve(loss=[2.0, 1.5, 1.2])) == []
    assert reported("K403", curve(loss=[2.3149, 2.3006, 2.2938])) == []  # a slow, steady start
    (waiting,) = run("K403", curve(loss=[2.3, 2.3]))
    assert waiting.skipped and "needs 3 epochs, has 2" in waiting.message


def test_k403_leaves_a_run_that_converged_in_its_first_epoch(digits):
    x, y = digits
    model = classifier()
    converged = context(model, x, y, loss=[0.05, 0.0499, 0.0498])  # far below ln 10: learned in epoch 1
    assert reported("K403", converged) == []
    stuck = context(model, x, y, loss=[2.30, 2.299, 2.2995])
    (finding,) = reported("K403", stuck)
    assert "predicting the class frequencies scores 2.298" in finding.message


def test_k403_flags_a_run_stuck_at_the_constant_prediction_after_a_jump(digits):
    x, y = digits
    jumped = [2.37, 2.328, 2.318, 2.317, 2.313, 2.334]  # dead units after one large step, then flat
    (finding,) = reported("K403", context(classifier(), x, y, loss=jumped))
    assert finding.message.startswith("loss stopped improving at 2.334 (best 2.313 in 6 epochs), no better than")
    assert reported("K403", context(classifier(), x, y, loss=[2.37, 1.2, 0.9, 0.85, 0.851, 0.852])) == []


def test_k403_on_a_real_run_with_a_learning_rate_far_too_small(kepler_home, digits):
    x, y = digits
    model = classifier(optimizer=keras.optimizers.SGD(learning_rate=1e-7))
    with ModelInspector(model=model, project="k403", show=quiet) as mi:
        mi.fit(x / 16, y, epochs=3, batch_size=64, verbose=0)
    (finding,) = [f for f in mi.findings if f.code == "K403"]
    assert not finding.skipped and finding.severity == "warning"
    assert finding.message.startswith("loss barely moved in 3 epochs")


def test_k403_flags_a_loss_falling_slowly_near_the_constant_prediction(digits):
    x, _ = digits
    y = np.arange(len(x)) % 2  # balanced: predicting the frequencies scores ln 2 = 0.6931
    slow = [0.6900, 0.6867, 0.6855, 0.6845, 0.6835, 0.6826, 0.6817]
    (finding,) = reported("K403", context(classifier(), x, y, loss=slow))
    assert "0.69 → 0.6817 in 7 epochs is still within 1.7% of a model that learned nothing" in finding.message
    assert "predicting the class frequencies scores 0.6931" in finding.message
    # Falling as slowly, but far below the constant prediction: a slow learner, not a stuck one.
    assert reported("K403", context(classifier(), x, y, loss=[v - 0.4 for v in slow])) == []
    assert reported("K403", context(classifier(), x, y, loss=slow[:4])) == []  # too early to tell


# -- K404 --------------------------------------------------------------------------------
def test_k404_flags_a_steady_rise_and_a_blow_up():
    (rise,) = reported("K404", curve(loss=[1.0, 0.8, 0.9, 1.0, 1.2]))
    assert rise.message == "loss rose 3 epochs in a row: 0.8 → 0.9 → 1 → 1.2 (+50%)"
    (blow_up,) = reported("K404", curve(loss=[1.0, 0.2, 0.3, 1.1]))
    assert "5.5x its best (0.2 at epoch 2) and above where it started (1)" in blow_up.message


def test_k404_passes_noise_and_tiny_rises():
    assert reported("K404", curve(loss=[1.0, 0.8, 0.82, 0.7])) == []
    assert reported("K404", curve(loss=[1.0, 0.5, 0.501, 0.502, 0.503])) == []
    assert reported("K404", curve(loss=[0.5, 0.001, 0.003])) == []  # near zero, far below the start


def test_k404_judges_rises_against_the_progress_made():
    # A million times below the start, three rises in a row, the next epoch the best: noise.
    tiny = [2.1, 0.3, 1e-3, 2e-5, 1.95e-06, 2.6e-06, 3.9e-06, 5.3e-06]
    assert reported("K404", curve(loss=tiny)) == []
    # The end of a converged run: +26%, but 2% of the way the loss came down.
    converged = [0.70, 0.21, 0.09, 0.05, 0.042, 0.046, 0.049, 0.053]
    assert reported("K404", curve(loss=converged)) == []
    (real,) = reported("K404", curve(loss=[0.70, 0.21, 0.09, 0.05, 0.042, 0.08, 0.15, 0.3]))
    assert "loss rose 3 epochs in a row" in real.message


def test_k404_and_k405_know_how_many_batches_an_epoch_holds():
    rising = curve(loss=[1.0, 0.8, 0.9, 1.0, 1.2])
    rising.steps_per_epoch = 2
    assert reported("K404", rising) == []
    swings = curve(loss=[1.2, 1.0, 0.6, 0.9, 0.5, 0.95, 0.55])
    swings.steps_per_epoch = 2
    (finding,) = run("K405", swings)
    assert finding.skipped and "only 2 batches" in finding.message
    swings.steps_per_epoch = 50
    assert reported("K405", swings)


def test_k405_skips_a_50_sample_run_of_2_steps_per_epoch(kepler_home):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="sparse_categorical_crossentropy")
    with ModelInspector(model=model, show=quiet) as mi:
        mi.fit(x, y, epochs=8, batch_size=32, verbose=0)
    (k405,) = [f for f in mi.findings if f.code == "K405"]
    assert k405.skipped and "only 2 batches" in k405.message


# -- K405 --------------------------------------------------------------------------------
def test_k405_flags_large_swings():
    (finding,) = reported("K405", curve(loss=[1.2, 1.0, 0.6, 0.9, 0.5, 0.95, 0.55]))
    assert finding.message.startswith("loss changed direction 4 times in the last 6 epochs")
    assert finding.details["direction_changes"] == 4


def test_k405_passes_a_converged_wobble_and_a_falling_loss():
    wobble = [0.5, 0.2, 0.05, 0.010, 0.012, 0.009, 0.013, 0.010, 0.014]
    assert reported("K405", curve(loss=wobble)) == []
    assert reported("K405", curve(loss=[1.0, 0.8, 0.7, 0.6, 0.55, 0.5])) == []


# -- K406 --------------------------------------------------------------------------------
def test_k406_flags_validation_loss_rising_while_training_falls():
    ctx = curve(loss=[0.6, 0.30, 0.27, 0.24, 0.21], val_loss=[0.5, 0.41, 0.45, 0.48, 0.52])
    (finding,) = reported("K406", ctx)
    assert finding.message == (
        "val_loss rose 3 epochs in a row (0.41 → 0.52) and is 27% above its best (0.41 at epoch 2), "
        "while loss fell 0.3 → 0.21"
    )


def test_k406_catches_a_slow_climb_from_the_best_epoch():
    val = [1.43, 0.87, 0.99, 0.76, 0.805, 0.872, 0.822, 0.801, 0.809, 0.813, 0.823]
    loss = [2.05, 0.77, 0.26, 0.1, 0.05, 0.013, 0.005, 0.004, 0.002, 0.002, 0.001]
    (finding,) = reported("K406", curve(loss=loss, val_loss=val))
    assert "(0.801 → 0.823) and is 8% above its best (0.76 at epoch 4), while loss fell 0.1 → 0.001" in (
        finding.message
    )
    assert reported("K406", curve(loss=loss[:-1], val_loss=val[:-1])) == []  # 7% above best, 2 rises only


def test_k406_passes_small_rises_and_rising_training_loss():
    assert reported("K406", curve(loss=[0.6, 0.3, 0.27, 0.24, 0.21], val_loss=[0.5, 0.41, 0.412, 0.413, 0.414])) == []
    assert reported("K406", curve(loss=[0.6, 0.3, 0.35, 0.4, 0.5], val_loss=[0.5, 0.41, 0.45, 0.48, 0.52])) == []
    stuck = curve(loss=[2.37, 2.328, 2.318, 2.317, 2.313], val_loss=[2.156, 2.30, 2.31, 2.32, 2.325])
    assert reported("K406", stuck) == []  # training barely fell: not learning, not overfitting
    (finding,) = run("K406", curve(loss=[1.0, 0.9, 0.8, 0.7]))
    assert finding.skipped and "no validation loss" in finding.message


# -- K407 --------------------------------------------------------------------------------
def test_k407_flags_validation_far_better_than_training():
    ctx = curve(loss=[1.0, 0.8, 0.7, 0.65, 0.6], val_loss=[0.5, 0.3, 0.25, 0.2, 0.2])
    (finding,) = reported("K407", ctx)
    assert "val_loss below 50% of loss for 3 epochs in a row" in finding.message
    assert "0.25 vs 0.7" in finding.message


def test_k407_allows_more_for_dropout_and_ignores_the_first_epoch(digits):
    x, y = digits
    history = dict(loss=[1.0, 0.8, 0.7, 0.65, 0.6], val_loss=[0.5, 0.3, 0.25, 0.2, 0.2])
    assert reported("K407", context(classifier(dropout=0.5), x, y, **history)) == []
    first_epoch_only = curve(loss=[2.0, 0.5, 0.4, 0.35], val_loss=[0.6, 0.45, 0.38, 0.33])
    assert reported("K407", first_epoch_only) == []


# -- the callback ------------------------------------------------------------------------
def test_each_finding_is_reported_once_and_waiting_checks_only_recorded(kepler_home):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 8)).astype("float32")
    y = (x @ rng.normal(size=(8, 1)) * 1e3).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=10.0), loss="mse")
    lines: list[str] = []
    with ModelInspector(model=model, project="nan", show=lines.append) as mi:
        mi.fit(x, y, epochs=3, batch_size=32, verbose=0)
    shown = [line for line in lines if line.startswith("K4")]
    codes = [line.split()[0] for line in shown]
    assert codes.count("K401") == 1, lines  # once, though NaN for 3 epochs
    # before the NaN, the epoch-end diagnosis saw the weights blow up (each said once)
    assert sorted(codes) == ["K401", "K413", "K415"], lines
    skipped = {f.code for f in mi.findings if f.skipped and f.stage == "training"}
    assert {"K405", "K406", "K407"} <= skipped  # recorded why they said nothing
    assert not any("skipped" in line for line in shown)


def test_stop_on_error_stops_at_k401_and_says_so(kepler_home):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 8)).astype("float32")
    y = (x @ rng.normal(size=(8, 1)) * 1e3).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=10.0), loss="mse")
    lines: list[str] = []
    inspector = ModelInspector(model=model, project="nan", options=RunOptions(stop_on_error=True), show=lines.append)
    loss = inspector.fit(x, y, epochs=5, batch_size=32, verbose=0).history["loss"]
    assert len(loss) < 5 and not math.isfinite(loss[-1]) and all(math.isfinite(v) for v in loss[:-1])
    stop = [line for line in lines if "training stopped" in line]
    assert stop == [
        f"Kepler: training stopped after epoch {len(loss)} of 5: K401 loss-not-finite is an error and "
        "--stop-on-error is set. Fix it (see above), or drop --stop-on-error to train through it."
    ]


def test_epoch_end_checks_cost_well_under_a_millisecond_each():
    rng = np.random.default_rng(1)
    loss = list(np.exp(-np.arange(200) / 50) + rng.normal(0, 0.01, 200))
    ctx = curve(loss=loss, val_loss=[v * 1.1 for v in loss])
    checks = [get_check(c) for c in TRAINING_CODES if c != "K402"]
    start = time.perf_counter()
    for _ in range(20):
        for check in checks:
            check.run(ctx)
    per_epoch = (time.perf_counter() - start) / 20
    assert per_epoch < 0.005, f"{per_epoch * 1e3:.2f} ms per epoch end"


def test_kepler_fit_stop_on_error_stops_the_cell_fit(kepler_home, capsys):
    from IPython import get_ipython
    from IPython.testing.globalipapp import start_ipython

    ip = start_ipython() or get_ipython()  # the shell is started once per process
    ip.run_line_magic("load_ext", "kepler")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 8)).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=10.0), loss="mse")
    ip.user_ns.update(model=model, x=x, y=(x @ rng.normal(size=(8, 1)) * 1e3).astype("float32"))
    ip.run_cell_magic("kepler_fit", "--project nan --stop-on-error", "h = model.fit(x, y, epochs=6, verbose=0)")
    out = capsys.readouterr().out
    epochs = len(ip.user_ns["h"].history["loss"])
    assert epochs < 6
    assert f"Kepler: training stopped after epoch {epochs} of 6: K401 loss-not-finite" in out


# -- K408 / K409 ---------------------------------------------------------------------------
def finished(ctx: TrainingContext, planned: int | None = None) -> TrainingContext:
    ctx.planned_epochs = planned if planned is not None else ctx.epochs
    return ctx


def test_k408_reports_a_run_stopped_while_still_improving_fast():
    ctx = finished(curve(loss=[0.9, 0.6, 0.41], val_loss=[0.8, 0.6, 0.45]))
    (finding,) = reported("K408", ctx)
    assert finding.severity == "info"
    assert finding.message == (
        "the run stopped after epoch 3 while still improving fast: loss 0.6 → 0.41 (-32%) in the last epoch, "
        "val_loss 0.6 → 0.45 (-25%, its best)"
    )


def test_k408_passes_converged_runs_and_waits_for_the_last_epoch():
    assert reported("K408", finished(curve(loss=[0.9, 0.5, 0.49]))) == []
    assert reported("K408", finished(curve(loss=[0.9, 0.6, 0.41], val_loss=[0.8, 0.6, 0.62]))) == []
    (waiting,) = run("K408", finished(curve(loss=[0.9, 0.6, 0.41]), planned=10))
    assert waiting.skipped and "last epoch" in waiting.message


def test_k408_on_a_real_three_epoch_run(kepler_home, digits):
    x, y = digits
    with ModelInspector(model=classifier(), show=quiet) as mi:
        mi.fit(x / 16.0, y, epochs=3, verbose=0)
    (finding,) = [f for f in mi.findings if f.code == "K408"]
    assert not finding.skipped and "stopped after epoch 3 while still improving fast" in finding.message


def test_k409_reports_a_widening_gap_in_a_four_epoch_run():
    ctx = curve(loss=[0.9, 0.6, 0.4, 0.25], val_loss=[0.7, 0.62, 0.60, 0.61])
    (finding,) = reported("K409", ctx)
    assert finding.severity == "info"
    assert "widened every epoch for 3 epochs (-0.2 → 0.02 → 0.2 → 0.36)" in finding.message
    assert reported("K406", ctx) == []  # three rises in a row can't happen in four epochs


def test_k409_passes_a_gap_that_widens_while_validation_still_improves():
    assert reported("K409", curve(loss=[0.9, 0.6, 0.4, 0.25], val_loss=[0.8, 0.62, 0.5, 0.45])) == []
    # widening, validation a little worse, but the gap still under 10% of the validation loss
    assert reported("K409", curve(loss=[0.9, 0.6, 0.42, 0.41], val_loss=[0.9, 0.61, 0.44, 0.45])) == []
