"""Keras' other backends: the same fit under KERAS_BACKEND=jax, in a fresh process (the backend is chosen at import).

Interception, the checks (K402's forward pass, K410), the record, the
duplicate lookup and the training's result (bitwise the same weights as
without Kepler); and a fit under ``keras.distribution.DataParallel`` over
two host devices recorded with its strategy and replicas.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytest.importorskip("jax", reason="the JAX backend's tests need jax (pip install -e '.[test]')")

COMMON = r"""
import json, os
import numpy as np
import keras
from kepler import Journal, ModelInspector

assert keras.backend.backend() == "jax", keras.backend.backend()
rng = np.random.default_rng(0)
x = rng.normal(size=(256, 6)).astype("float32")
y = (x[:, 0] > 0).astype("int64")
FIT = dict(epochs=2, batch_size=64, verbose=0, shuffle=False, validation_split=0.25)


def build():
    keras.utils.set_random_seed(3)
    # A large output bias: the loss at initialisation is far above ln(2), so K402 has a finding.
    model = keras.Sequential([
        keras.Input((6,)),
        keras.layers.Dense(8, activation="relu"),
        keras.layers.Dense(2, activation="softmax", bias_initializer=keras.initializers.Constant([12.0, -12.0])),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def facts(mi, history, plain, plain_history, again=()):
    record = Journal().get(mi.experiment_id)
    return {
        "status": record["status"], "epochs": record["epochs_done"], "signature": record.get("signature"),
        "strategy": record.get("strategy"), "replicas": record.get("replicas"),
        "history": record["history"].get("val_loss"),
        "codes": [f["code"] for f in record["findings"] if not f.get("skipped")],
        "same_loss": history.history["loss"] == plain_history.history["loss"],
        "same_weights": all(np.array_equal(a, b) for a, b in zip(mi.model.get_weights(), plain.get_weights())),
        "duplicate": any("This exact experiment ran" in line for line in again),
    }
"""

PLAIN = (
    COMMON
    + r"""
with ModelInspector(build(), project="jax", show=lambda line: None) as mi:
    history = mi.fit(x, y, **FIT)
plain = build()
plain_history = plain.fit(x, y, **FIT)
again = []
with ModelInspector(build(), project="jax", show=again.append) as second:
    second.fit(x, y, **FIT)
print(json.dumps(facts(mi, history, plain, plain_history, again)))
"""
)

DATA_PARALLEL = (
    COMMON
    + r"""
import jax
devices = jax.devices("cpu")
assert len(devices) == 2, devices
keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
with ModelInspector(build(), project="jax-dp", show=lambda line: None) as mi:
    history = mi.fit(x, y, **FIT)
plain = build()
plain_history = plain.fit(x, y, **FIT)
print(json.dumps(facts(mi, history, plain, plain_history)))
"""
)


def run(script, home, **env):
    env = {
        **os.environ,
        "KEPLER_HOME": str(home),
        "PYTHONPATH": ROOT,
        "KERAS_BACKEND": "jax",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "JAX_PLATFORMS": "cpu",
        **env,
    }
    env.pop("KEPLER_ANSWER", None)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_fit_under_the_jax_backend_is_checked_recorded_and_trains_the_same(tmp_path):
    out = run(PLAIN, tmp_path / "home")
    assert out["status"] == "finished" and out["epochs"] == 2 and len(out["history"]) == 2
    assert "K402" in out["codes"]  # the forward pass at train begin ran on JAX
    assert out["signature"] and out["duplicate"]  # the second, identical fit was recognised
    assert out["same_loss"] and out["same_weights"]
    assert out["strategy"] is None  # one device


def test_a_fit_under_keras_data_parallel_on_jax_is_recorded_with_its_replicas(tmp_path):
    out = run(DATA_PARALLEL, tmp_path / "home", XLA_FLAGS="--xla_force_host_platform_device_count=2")
    assert out["strategy"] == "DataParallel" and out["replicas"] == 2
    assert out["status"] == "finished" and "K402" in out["codes"]
    assert out["same_loss"] and out["same_weights"]


@pytest.mark.kernel
def test_the_magic_and_its_live_progress_line_work_under_jax_in_a_kernel(tmp_path):
    from conftest import cell_text, make_notebook, run_notebook

    path = make_notebook(
        [
            "import keras, numpy as np\nassert keras.backend.backend() == 'jax'\n%load_ext kepler",
            "rng = np.random.default_rng(0)\nx = rng.normal(size=(128, 4)).astype('float32')\n"
            "y = (x[:, 0] > 0).astype('int64')\nkeras.utils.set_random_seed(0)\n"
            "model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation='softmax')])\n"
            "model.compile(optimizer='adam', loss='sparse_categorical_crossentropy')",
            "%%kepler_fit --project jax-kernel\nhistory = model.fit(x, y, epochs=2, validation_split=0.25)",
            "from kepler import Journal\n(run,) = Journal().experiments('jax-kernel')\n"
            "print(run['status'], run['epochs_done'], len(history.history['loss']))",
        ],
        tmp_path / "jax.ipynb",
    )
    env = {"KEPLER_HOME": str(tmp_path / "home"), "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    executed = run_notebook(path, env=env)
    fitted = cell_text(executed.cells[2])
    assert "finished: 2/2 epochs" in fitted and "val_loss" in fitted  # the live view's line, ending as the run's
    assert "━" not in fitted  # not Keras' progress bar
    assert cell_text(executed.cells[3]).strip() == "finished 2 2"
