"""Fits spread over several devices: tf.distribute.MirroredStrategy over two logical CPUs, in a fresh process.

Logical devices must be configured before TensorFlow initialises, so each
case runs in its own interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MIRRORED = r"""
import json, os, sys
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from kepler import Journal, ModelInspector

rng = np.random.default_rng(0)
x = rng.normal(size=(256, 6)).astype("float32")
y = (x[:, 0] > 0).astype("int64")


def build():
    keras.utils.set_random_seed(3)
    # A large output bias: the loss at initialisation is far above ln(2), so K402's forward pass has a finding.
    model = keras.Sequential([
        keras.Input((6,)),
        keras.layers.Dense(8, activation="relu"),
        keras.layers.Dense(2, activation="softmax", bias_initializer=keras.initializers.Constant([12.0, -12.0])),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    model = build()
shown = []
with ModelInspector(model, project="mirrored", show=shown.append) as mi:
    history = mi.fit(x, y, epochs=2, batch_size=64, verbose=0, shuffle=False)
with strategy.scope():
    plain = build()
plain_history = plain.fit(x, y, epochs=2, batch_size=64, verbose=0, shuffle=False)
record = Journal().get(mi.experiment_id)
print(json.dumps({
    "strategy": record.get("strategy"), "replicas": record.get("replicas"), "devices": record.get("devices"),
    "status": record["status"], "epochs": record["epochs_done"],
    "codes": [f["code"] for f in record["findings"] if not f.get("skipped")],
    "skipped": {f["code"]: f["message"] for f in record["findings"] if f.get("skipped")},
    "loss": history.history["loss"], "plain_loss": plain_history.history["loss"],
    "same_weights": all(np.array_equal(a, b) for a, b in zip(model.get_weights(), plain.get_weights())),
}))
"""


def run(script, home):
    env = {**os.environ, "KEPLER_HOME": str(home), "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("KEPLER_ANSWER", None)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_fit_under_mirrored_strategy_is_recorded_with_its_replicas(tmp_path):
    out = run(MIRRORED, tmp_path / "home")
    assert out["strategy"] == "MirroredStrategy" and out["replicas"] == 2 and len(out["devices"]) == 2
    assert out["status"] == "finished" and out["epochs"] == 2
    assert "K402" in out["codes"], out["skipped"]  # the forward pass at train begin ran inside the strategy
    assert out["loss"] == out["plain_loss"] and out["same_weights"]  # the same training as without Kepler


PROBES = r"""
import json
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
import kepler

rng = np.random.default_rng(0)
x = rng.normal(size=(256, 6)).astype("float32")
y = (x[:, 0] > 0).astype("int64")
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    keras.utils.set_random_seed(3)
    model = keras.Sequential([
        keras.Input((6,)),
        keras.layers.Lambda(lambda t: t * 0.0),  # the inputs never reach the rest: it can't overfit a batch
        keras.layers.Dense(8, activation="relu"),
        keras.layers.Dense(2, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
before = [w.copy() for w in model.get_weights()]
found = kepler.preflight(model, x, y, batch_size=32)
print(json.dumps({
    "codes": [f.code for f in found if not f.skipped],
    "skipped": {f.code: f.message for f in found if f.skipped},
    "untouched": all(np.array_equal(a, b) for a, b in zip(before, model.get_weights())),
}))
"""


def test_the_preflight_probes_run_on_a_model_built_under_mirrored_strategy(tmp_path):
    out = run(PROBES, tmp_path / "home")
    assert "K601" in out["codes"], out["skipped"]
    assert out["untouched"]
