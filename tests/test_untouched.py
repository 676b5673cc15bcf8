"""Models untouched: Kepler changes no weight, optimizer variable, random state, array or batch order.

Each comparison trains the same model twice in this process, built from the
same seed: once with Keras alone, once under Kepler, and asks for bitwise
equality.
"""

from __future__ import annotations

import random

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.datasets import load_digits

import kepler
from kepler import ModelInspector
from kepler_nb.fit.data import describe_fit_data

EPOCHS = 2


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    order = np.random.default_rng(0).permutation(len(data.target))[:480]
    return (data.data[order] / 16.0).astype("float32"), data.target[order]


def build(seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def state(model: keras.Model) -> list[np.ndarray]:
    """Weights and optimizer variables, as numpy."""
    return [w.numpy() for w in model.weights] + [np.asarray(v) for v in model.optimizer.variables]


def random_draws() -> list:
    """One number from every generator a fit may use: Python, NumPy, TensorFlow ops, Keras' global generator."""
    return [
        random.random(),
        float(np.random.rand()),
        tf.random.uniform([2]).numpy().tolist(),
        keras.random.uniform((2,)).numpy().tolist(),
    ]


def assert_bitwise_equal(expected: list[np.ndarray], actual: list[np.ndarray]) -> None:
    assert len(expected) == len(actual)
    different = [i for i, (a, b) in enumerate(zip(expected, actual)) if not np.array_equal(a, b)]
    assert not different, f"{len(different)} of {len(expected)} variables differ (indices {different[:5]})"


def quiet(*_args) -> None:
    pass


def test_fit_under_model_inspector_is_bitwise_the_plain_fit(kepler_home, digits):
    x, y = digits
    x = x * 16  # unscaled: pre-training checks and K402's loss evaluation both have something to say
    fit = dict(epochs=EPOCHS, batch_size=32, validation_split=0.25, verbose=0)

    plain = build()
    expected_history = plain.fit(x, y, **fit).history
    expected_draws = random_draws()

    model = build()
    with ModelInspector(model=model, project="untouched", show=quiet) as mi:
        history = mi.fit(x, y, **fit).history
    draws = random_draws()

    codes = {f.code for f in mi.findings if not f.skipped}
    assert "K402" in codes, [f.line() for f in mi.findings]  # the loss was evaluated on the model
    assert_bitwise_equal(state(plain), state(model))
    assert history == expected_history
    assert draws == expected_draws


def test_kepler_fit_magic_is_bitwise_the_plain_fit(kepler_home, digits):
    from IPython import get_ipython
    from IPython.testing.globalipapp import start_ipython

    ip = start_ipython() or get_ipython()  # the shell is started once per process
    ip.run_line_magic("load_ext", "kepler")
    x, y = digits

    plain = build()
    expected_history = plain.fit(x, y, epochs=EPOCHS, batch_size=16, validation_split=0.2, verbose=0).history

    model = build()
    ip.user_ns.update(model=model, x=x, y=y, EPOCHS=EPOCHS)
    ip.run_cell_magic(
        "kepler_fit",
        "--project untouched --answer continue",
        "history = model.fit(x, y, epochs=EPOCHS, batch_size=16, validation_split=0.2, verbose=0)",
    )

    assert kepler.Journal().experiments(project="untouched")[-1]["status"] == "finished"
    assert_bitwise_equal(state(plain), state(model))
    assert ip.user_ns["history"].history == expected_history


def test_check_leaves_model_arrays_and_random_state_unchanged(digits):
    x, y = digits
    model = build()
    model.fit(x[:64], y[:64], epochs=1, verbose=0)  # the optimizer has state now
    before = state(model)
    x_before, y_before = x.copy(), y.copy()

    keras.utils.set_random_seed(7)
    expected_draws = random_draws()
    keras.utils.set_random_seed(7)
    findings = kepler.check(model, x * 16, y, epochs=3, validation_split=0.2)
    draws = random_draws()

    assert "K303" in {f.code for f in findings}  # the data was really looked at
    assert_bitwise_equal(before, state(model))
    assert np.array_equal(x, x_before) and np.array_equal(y, y_before)
    assert x.flags.writeable and y.flags.writeable
    assert draws == expected_draws


def test_generator_is_seen_whole_by_fit(kepler_home, digits):
    x, y = digits
    n_batches = 15  # more than the batches Kepler samples

    def batches(produced: list[int]):
        for i in range(n_batches):
            produced.append(i)
            yield x[i * 32 : (i + 1) * 32], y[i * 32 : (i + 1) * 32]

    class CountBatches(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.seen = 0

        def on_train_batch_end(self, batch, logs=None) -> None:
            self.seen += 1

    plain, produced_plain = build(), []
    plain.fit(batches(produced_plain), epochs=1, verbose=0)

    model, produced, counter = build(), [], CountBatches()
    with ModelInspector(model=model, project="untouched", show=quiet) as mi:
        mi.fit(batches(produced), epochs=1, verbose=0, callbacks=[counter])

    assert produced == list(range(n_batches))
    assert counter.seen == n_batches
    assert_bitwise_equal(state(plain), state(model))


def shuffled_dataset(x: np.ndarray, y: np.ndarray) -> tf.data.Dataset:
    return tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x)).batch(32)


def test_shuffled_dataset_gives_the_same_batches_and_weights(kepler_home, digits):
    x, y = digits

    plain = build()
    plain.fit(shuffled_dataset(x, y), epochs=EPOCHS, verbose=0)

    model = build()
    with ModelInspector(model=model, project="untouched", show=quiet) as mi:
        mi.fit(shuffled_dataset(x, y), epochs=EPOCHS, verbose=0)

    assert_bitwise_equal(state(plain), state(model))

    tf.random.set_seed(3)
    dataset = shuffled_dataset(x, y)
    describe_fit_data(dataset, None)
    seen = [b.numpy().tolist() for _, b in dataset]
    tf.random.set_seed(3)
    expected = [b.numpy().tolist() for _, b in shuffled_dataset(x, y)]
    assert seen == expected


def mapped_shuffled_dataset(x: np.ndarray, y: np.ndarray, seed=None) -> tf.data.Dataset:
    """A pipeline Kepler can't read from its source arrays (the map), reshuffled on every pass."""
    return tf.data.Dataset.from_tensor_slices((x, y)).map(lambda a, b: (a * 1.0, b)).shuffle(256, seed=seed).batch(32)


@pytest.mark.parametrize("seed", [None, 11])
def test_a_reshuffled_pipeline_is_sampled_from_a_copy_and_fit_sees_the_same_order(kepler_home, digits, seed):
    x, y = digits
    tf.random.set_seed(3)
    dataset = mapped_shuffled_dataset(x, y, seed)
    view, passed = describe_fit_data(dataset, None)
    assert passed is dataset and view.problem is None
    assert view.x.shape == (8 * 32, 64) and "copy of the shuffled" in view.note
    seen = [[b.numpy().tolist() for _, b in dataset] for _epoch in range(2)]
    tf.random.set_seed(3)
    control = mapped_shuffled_dataset(x, y, seed)
    expected = [[b.numpy().tolist() for _, b in control] for _epoch in range(2)]
    assert seen == expected
    assert seen[0] != seen[1]  # the control: it does reshuffle on every pass
    # the sample is the order of the user's first pass
    assert view.y[:32].tolist() == expected[0][0]

    tf.random.set_seed(4)
    plain = build()
    plain.fit(mapped_shuffled_dataset(x, y, seed), epochs=EPOCHS, verbose=0)
    tf.random.set_seed(4)
    model = build()
    with ModelInspector(model=model, project="untouched", show=quiet) as mi:
        mi.fit(mapped_shuffled_dataset(x, y, seed), epochs=EPOCHS, verbose=0)
    assert not [f for f in mi.findings if f.stage == "data" and f.skipped and "reshuffles" in f.message]
    assert_bitwise_equal(state(plain), state(model))


def test_dataset_with_random_augmentation_is_not_advanced():
    flip = keras.layers.RandomFlip("horizontal", seed=1)
    images = np.arange(4 * 4 * 4, dtype="float32").reshape(4, 4, 4, 1)
    dataset = tf.data.Dataset.from_tensor_slices(images).map(lambda im: flip(im, training=True)).batch(2)
    before = flip.generator.state.numpy().copy()

    view, passed = describe_fit_data(dataset, None)

    assert passed is dataset
    assert np.array_equal(flip.generator.state.numpy(), before)
    assert view.problem and "random" in view.problem


def test_a_random_augmentation_map_at_the_end_is_passed_over_and_not_advanced():
    flip = keras.layers.RandomFlip("horizontal", seed=1)
    images = np.arange(64 * 4 * 4, dtype="float32").reshape(64, 4, 4, 1)
    labels = np.arange(64) % 2
    dataset = (
        tf.data.Dataset.from_tensor_slices((images, labels))
        .map(lambda im, label: (im / 255.0, label))
        .shuffle(64)
        .batch(8)
        .map(lambda im, label: (flip(im, training=True), label))
        .prefetch(2)
    )
    before = flip.generator.state.numpy().copy()

    view, passed = describe_fit_data(dataset, None)

    assert passed is dataset
    assert np.array_equal(flip.generator.state.numpy(), before)
    assert view.problem is None and view.x.shape == (64, 4, 4, 1)
    assert "before the random map(s) at its end" in view.note and "copy of the shuffled" in view.note


def augmented_dataset(x: np.ndarray, y: np.ndarray) -> tf.data.Dataset:
    noise = keras.layers.GaussianNoise(0.1, seed=2)
    return (
        tf.data.Dataset.from_tensor_slices((x, y))
        .shuffle(len(x), seed=5)
        .batch(32)
        .map(lambda a, b: (noise(a, training=True), b))
        .prefetch(2)
    )


def test_a_pipeline_ending_in_random_augmentation_trains_bitwise_as_without_kepler(kepler_home, digits):
    x, y = digits
    view, _ = describe_fit_data(augmented_dataset(x, y), None)
    assert "before the random map(s)" in view.note, "the augmentation changes state when read, and is passed over"
    plain = build()
    plain.fit(augmented_dataset(x, y), epochs=EPOCHS, verbose=0)

    model = build()
    with ModelInspector(model=model, project="untouched", show=quiet) as mi:
        mi.fit(augmented_dataset(x, y), epochs=EPOCHS, verbose=0)

    assert not [f for f in mi.findings if f.stage == "data" and f.skipped and "not sampled" in f.message]
    assert_bitwise_equal(state(plain), state(model))


def test_image_dataset_from_directory_is_sampled_and_keeps_its_order(tmp_path):
    rng = np.random.default_rng(0)
    for label in ("cats", "dogs"):
        (tmp_path / label).mkdir()
        for i in range(40):
            keras.utils.save_img(tmp_path / label / f"{i}.png", rng.integers(0, 256, (12, 12, 3)).astype("uint8"))

    def images() -> tf.data.Dataset:
        return keras.utils.image_dataset_from_directory(
            tmp_path, image_size=(12, 12), batch_size=8, seed=3, verbose=False
        )

    dataset = images()
    view, _ = describe_fit_data(dataset, None)
    assert view.problem is None and view.x.shape == (64, 12, 12, 3) and "copy of the shuffled" in view.note
    seen = [[b.numpy().tolist() for _, b in dataset] for _epoch in range(2)]
    control = images()
    assert seen == [[b.numpy().tolist() for _, b in control] for _epoch in range(2)]
    assert seen[0] != seen[1], "the control: it reshuffles on every pass"


def test_pydataset_with_numpy_randomness_leaves_numpy_state(digits):
    x, y = digits

    class Noisy(keras.utils.PyDataset):
        def __len__(self) -> int:
            return 10

        def __getitem__(self, i):
            noise = np.random.normal(0, 0.01, size=(32, 64)).astype("float32")
            return x[i * 32 : (i + 1) * 32] + noise, y[i * 32 : (i + 1) * 32]

    np.random.seed(5)
    expected = np.random.rand()
    np.random.seed(5)
    view, _ = describe_fit_data(Noisy(), None)
    assert view.x.shape == (8 * 32, 64)
    assert np.random.rand() == expected


def test_check_does_not_consume_a_generator(digits):
    x, y = digits
    batches = ((x[i : i + 32], y[i : i + 32]) for i in range(0, 320, 32))
    findings = kepler.check(build(), batches)
    assert len(list(batches)) == 10
    skipped = [f for f in findings if f.stage == "data" and f.skipped]
    assert skipped and "generator is not read outside a fit" in skipped[0].message
