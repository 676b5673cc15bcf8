"""The private parts of Kepler's dependencies it reads, pinned to the versions they were checked against.

Each dependency's internal accesses live in one module: Keras' in
``fit/keras_internals.py``, TensorFlow's (``tf.data``, the eager context) in
``fit/tf_internals.py``, ipykernel's (subshells, the shell's message queue,
the published status) in ``presentation/waiting.py``, TinyDB's
(``Table._update_table``, ``_get_next_id``) in ``journal/storage.py``. A new
release of one of them fails here first, naming what moved: check the
module against it, then add the version.
"""

from __future__ import annotations

import inspect
from importlib.metadata import version

import numpy as np
import pytest

from kepler_nb.fit import keras_internals, tf_internals

# Versions (major.minor) the accesses in waiting.py and storage.py were checked against.
IPYKERNEL_CHECKED = ("7.4",)
TINYDB_CHECKED = ("4.8", "4.9")


def minor(package: str) -> str:
    return ".".join(version(package).split(".")[:2])


@pytest.mark.parametrize(
    ("package", "checked"),
    [
        ("keras", keras_internals.CHECKED),
        ("tensorflow", tf_internals.CHECKED),
        ("ipykernel", IPYKERNEL_CHECKED),
        ("tinydb", TINYDB_CHECKED),
    ],
)
def test_the_installed_version_is_one_the_internals_were_checked_against(package, checked):
    assert minor(package) in checked, (
        f"{package} {version(package)} is installed; its internals were checked against {checked}: "
        "read the module that holds them against this release, then add it"
    )


def test_keras_internals_exist_and_read_what_they_say():
    from keras.src.random import seed_generator
    from keras.src.utils import rng_utils

    assert callable(rng_utils.get_random_seed) and callable(seed_generator.global_seed_generator)
    seed = keras_internals.random_seed()
    assert seed is None or isinstance(seed, int)
    generator = keras_internals.global_seed_generator()
    assert generator is not None and hasattr(generator, "state")


def test_keras_private_attributes_read_a_real_functional_model():
    import keras

    inputs = keras.Input((3,))
    hidden = keras.layers.Dense(4, name="hidden")(inputs)
    outputs = keras.layers.Dense(2, name="out")(hidden)
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.Adam(keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)), "mse")

    assert keras_internals.keras_history(model.outputs[0]).operation is model.get_layer("out")
    assert keras_internals.keras_history(np.zeros(2)) is None
    following = [node.operation for node in keras_internals.outbound_nodes(model.get_layer("hidden"))]
    assert following == [model.get_layer("out")]
    assert keras_internals.outputs_struct(model) is not None
    schedule = keras_internals.raw_learning_rate(model.optimizer)
    assert isinstance(schedule, keras.optimizers.schedules.ExponentialDecay)


def test_tf_data_internals_walk_a_real_pipeline():
    import tensorflow as tf

    x, y = np.arange(12, dtype="float32").reshape(6, 2), np.arange(6)
    source = tf.data.Dataset.from_tensor_slices((x, y))
    shuffled = source.shuffle(6, seed=1)
    mapped = shuffled.map(lambda a, b: (a * 2, b))
    batched = mapped.batch(2)

    assert tf_internals.input_dataset(batched) is mapped
    assert tf_internals.dataset_inputs(batched) == [mapped]
    assert tf_internals.dataset_inputs(source) == []
    assert len(tf_internals.dataset_functions(mapped)) == 1
    assert tf_internals.reshuffles_each_iteration(shuffled)
    assert not tf_internals.reshuffles_each_iteration(source.shuffle(6, reshuffle_each_iteration=False))
    tensors = tf_internals.slice_tensors(source)
    assert tensors is not None and np.array_equal(tensors[0].numpy(), x)
    assert tf_internals.slice_tensors(batched) is None
    from tensorflow.core.framework import graph_pb2

    graph = graph_pb2.GraphDef()
    graph.ParseFromString(tf_internals.serialized_graph(batched).numpy())
    assert any("Shuffle" in node.op for node in graph.node)


def test_tf_eager_context_internals_exist():
    import tensorflow as tf
    from tensorflow.python.eager import context

    assert callable(context.global_seed)
    seed = tf_internals.global_seed()
    assert seed is None or isinstance(seed, int)
    assert tf_internals.device_scope() == ""
    with tf.device("/CPU:0"):
        assert "CPU:0" in tf_internals.device_scope()


def test_ipykernel_internals_exist():
    from ipykernel.comm import Comm
    from ipykernel.kernelbase import Kernel
    from ipykernel.subshell_manager import SubshellManager

    assert callable(getattr(Kernel, "_publish_status", None))  # reads_busy() wraps it
    assert callable(getattr(SubshellManager, "_create_subshell", None))  # Kepler's own subshell
    assert "_reply_subshell_for" in dir(Comm)  # a widget's comm routed to that subshell


def test_tinydb_internals_exist_with_the_signatures_storage_overrides():
    from tinydb.table import Table

    assert list(inspect.signature(Table._update_table).parameters) == ["self", "updater"]
    assert list(inspect.signature(Table._get_next_id).parameters) == ["self"]
    assert "self._next_id" in inspect.getsource(Table)
