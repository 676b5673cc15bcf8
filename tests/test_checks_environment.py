"""K5xx: seeds, the environment and data of a similar earlier experiment, GPU use."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from kepler import Journal, ModelInspector
from kepler_nb.checks.catalogue import get_check
from kepler_nb.checks.context import CheckContext
from kepler_nb.checks.environment import (
    GpuFacts,
    environment_differences,
    gpu_advice,
    seed_advice,
)
from kepler_nb.checks.registry import Skip
from kepler_nb.fit.call import FitCall
from kepler_nb.interception.earlier import similar_experiments
from kepler_nb.interception.routing import original_fit


def quiet(*_args) -> None:
    pass


def model(hidden: int = 16) -> keras.Model:
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((8,)), keras.layers.Dense(hidden, activation="relu"), keras.layers.Dense(3)])
    m.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return m


def data(n: int = 120, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64") + (x[:, 1] > 0.5)


def fit(project: str, m: keras.Model, x, y) -> ModelInspector:
    with ModelInspector(model=m, project=project, show=quiet) as mi:
        mi.fit(x, y, epochs=1, batch_size=32, validation_split=0.2, verbose=0)
    return mi


def finding(mi: ModelInspector, code: str):
    (found,) = [f for f in mi.findings if f.code == code]
    return found


# -- K501 ------------------------------------------------------------------------------------
def test_seed_advice_names_what_is_missing():
    assert seed_advice(None, None).startswith("no random seed is set")
    assert "tf.random.set_seed(3) was called, but not keras.utils.set_random_seed" in seed_advice(None, 3)
    assert seed_advice(5, 5) is None


def test_k501_reads_the_seeds_of_a_real_process():
    script = textwrap.dedent(
        """
        import json, os, random
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        import keras, numpy as np, tensorflow as tf
        from kepler import check

        x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
        y = (x[:, 0] > 0).astype("float32")
        m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1, activation="sigmoid")])
        m.compile(optimizer="adam", loss="binary_crossentropy")

        def k501():
            state = (random.getstate(), np.random.get_state()[1].tolist())
            found = [f for f in check(m, x, y, select="K501") if not f.skipped]
            assert state == (random.getstate(), np.random.get_state()[1].tolist())
            return [f.message for f in found]

        result = {"none": k501()}
        tf.random.set_seed(3)
        result["tf"] = k501()
        keras.utils.set_random_seed(3)
        result["keras"] = k501()
        print(json.dumps(result))
        """
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(result["none"]) == 1 and result["none"][0].startswith("no random seed is set")
    assert len(result["tf"]) == 1 and "tf.random.set_seed(3) was called" in result["tf"][0]
    assert result["keras"] == []


# -- the similar earlier experiment ---------------------------------------------------------
def test_similar_experiment_is_the_latest_finished_one_of_the_project_with_the_architecture(kepler_home):
    x, y = data()
    first = fit("env", model(), x, y).experiment_id
    fit("other-project", model(), x, y)
    fit("env", model(hidden=17), x, y)  # another architecture
    journal = Journal()
    (record,) = similar_experiments(journal, "env", model())
    assert record["id"] == first and record["environment"]["tensorflow"] == tf.__version__
    second = fit("env", model(), x, y).experiment_id
    assert [r["id"] for r in similar_experiments(journal, "env", model())] == [second]
    journal.update(second, {"status": "failed"})
    assert [r["id"] for r in similar_experiments(journal, "env", model())] == [first]
    assert similar_experiments(journal, "nothing-here", model()) == []


def test_k502_and_k503_skip_without_an_earlier_experiment(kepler_home):
    x, y = data()
    mi = fit("env", model(), x, y)
    for code in ("K502", "K503"):
        assert finding(mi, code).skipped
        assert "no earlier finished experiment with this architecture" in finding(mi, code).message


# -- K502 ------------------------------------------------------------------------------------
def test_environment_differences_compare_only_what_changes_results():
    old = {"tensorflow": "2.15.0", "keras": "3.0.0", "gpu": True, "devices": ["GPU:/physical_device:GPU:0"]}
    new = {"tensorflow": "2.16.1", "keras": "3.0.0", "gpu": False, "devices": [], "hostname": "other"}
    assert environment_differences(old, new) == [
        ("tensorflow", "2.15.0", "2.16.1"),
        ("gpu", True, False),
        ("devices", ["GPU:/physical_device:GPU:0"], []),
    ]
    assert environment_differences(new, dict(new, cwd="/elsewhere", hostname="x")) == []


def test_k502_reports_another_version_and_device_than_the_earlier_run(kepler_home):
    x, y = data()
    first = fit("env", model(), x, y).experiment_id
    journal = Journal()
    environment = journal.get(first)["environment"]
    environment.update(tensorflow="2.0.0", gpu=True, devices=environment["devices"] + ["GPU:/physical_device:GPU:0"])
    journal.update(first, parts={"environment": environment})

    second = fit("env", model(), x, y)
    k502 = finding(second, "K502")
    assert k502.severity == "warning" and not k502.skipped
    assert f"environment differs from experiment {first}" in k502.message
    assert f"tensorflow 2.0.0 → {tf.__version__}" in k502.message
    assert "gpu yes → no" in k502.message

    third = fit("env", model(), x, y)  # compares with the second run: same environment
    assert not [f for f in third.findings if f.code == "K502" and not f.skipped]


# -- K503 ------------------------------------------------------------------------------------
def test_k503_reports_changed_data_and_passes_the_same_data(kepler_home):
    x, y = data()
    first = fit("env", model(), x, y).experiment_id
    same = fit("env", model(), x.copy(), y.copy())
    assert not [f for f in same.findings if f.code == "K503" and not f.skipped]

    x2 = x.copy()
    x2[5, 3] += 1.0
    one_value = fit("env", model(), x2, y)
    assert "the same 120 samples, other values" in finding(one_value, "K503").message

    changed = fit("env", model(), x[:100], y[:100])
    k503 = finding(changed, "K503")
    assert k503.severity == "info" and not k503.skipped
    assert f"training data differs from that of experiment {one_value.experiment_id}" in k503.message
    assert "120 → 100 samples" in k503.message
    assert first < changed.experiment_id


def test_k502_and_k503_read_only_the_context_the_inspector_filled():
    """The environment and the fingerprint come from the context: no second hash, no second look-up."""
    x, y = data()
    call = FitCall.bind(original_fit(), model(), (x, y), {})
    earlier = {
        "id": 7,
        "environment": {"tensorflow": "1.0.0"},
        "data": {"n_samples": 120, "fingerprint": "0123456789abcdef"},
    }
    context = CheckContext(call, history=[earlier], environment={"tensorflow": "9.9.9"}, train_fingerprint="fedcba")
    (k502,) = get_check("K502").run(context)
    assert "tensorflow 1.0.0 → 9.9.9" in k502.message
    (k503,) = get_check("K503").run(context)
    assert "(fingerprint 0123456789abcdef → fedcba)" in k503.message  # the inspector's, not hashed again
    (unhashed,) = get_check("K503").run(CheckContext(call, history=[earlier]))
    assert unhashed.skipped and "could not be fingerprinted" in unhashed.message
    (undescribed,) = get_check("K502").run(CheckContext(call, history=[earlier]))
    assert undescribed.skipped and "environment of this run was not described" in undescribed.message


# -- K504 ------------------------------------------------------------------------------------
GPU = "/physical_device:GPU:0"
SMI = "GPU 0: NVIDIA A100-SXM4-40GB (UUID: GPU-1234)"


def test_gpu_advice_skips_when_there_is_no_gpu_at_all():
    with pytest.raises(Skip, match="no GPU visible"):
        gpu_advice(GpuFacts())


@pytest.mark.parametrize(
    "facts, expected",
    [
        (
            GpuFacts(driver=[SMI], cuda_visible_devices=""),
            "CUDA_VISIBLE_DEVICES='' hides the 1 GPU(s) nvidia-smi lists",
        ),
        (GpuFacts(driver=[SMI, SMI]), "nvidia-smi lists 2 GPU(s) (GPU 0: NVIDIA A100"),
        (GpuFacts(physical=[GPU]), "tf.config.set_visible_devices hides them"),
        (
            GpuFacts(physical=[GPU], visible=[GPU], device_scope="/job:localhost/replica:0/task:0/device:CPU:0"),
            "fit is called inside tf.device(",
        ),
        (
            GpuFacts(physical=[GPU], visible=[GPU], weight_devices=["/job:localhost/replica:0/task:0/device:CPU:0"]),
            "the model's 1 weights were created on the CPU",
        ),
        (GpuFacts(physical=[GPU], visible=[GPU], batch_size=4), "batch size 4 on a GPU"),
    ],
)
def test_gpu_advice_names_how_the_gpu_is_left_unused(facts, expected):
    (report,) = gpu_advice(facts)
    assert expected in report.message


def test_gpu_advice_is_quiet_for_a_gpu_in_use():
    on_gpu = "/job:localhost/replica:0/task:0/device:GPU:0"
    assert gpu_advice(GpuFacts(physical=[GPU], visible=[GPU], weight_devices=[on_gpu], batch_size=64)) == []
    (small,) = gpu_advice(GpuFacts(physical=[GPU], visible=[GPU], batch_size=8))
    assert small.severity == "info"


@pytest.mark.skipif(
    bool(tf.config.list_physical_devices("GPU")) or shutil.which("nvidia-smi") is not None,
    reason="a GPU or an NVIDIA driver is present",
)
def test_k504_skips_on_a_machine_without_gpu():
    x, y = data()
    call = FitCall.bind(original_fit(), model(), (x, y), {"batch_size": 4})
    (found,) = get_check("K504").run(CheckContext(call))
    assert found.skipped and found.message == "skipped: no GPU visible"


GPUS = [f"/physical_device:GPU:{i}" for i in range(4)]


def test_gpu_advice_names_idle_gpus_when_a_fit_uses_one_of_several():
    on_gpu = "/job:localhost/replica:0/task:0/device:GPU:0"
    (report,) = gpu_advice(GpuFacts(physical=GPUS, visible=GPUS, weight_devices=[on_gpu], batch_size=64))
    assert "4 GPUs visible, this fit trains on 1 (no distribution strategy: 1): 3 stay idle" in report.message
    assert "MirroredStrategy" in report.fix
    (partly,) = gpu_advice(GpuFacts(physical=GPUS, visible=GPUS, replicas=2, strategy="MirroredStrategy"))
    assert "trains on 2 (MirroredStrategy over 2): 2 stay idle" in partly.message
    everywhere = GpuFacts(physical=GPUS, visible=GPUS, replicas=4, strategy="MirroredStrategy", batch_size=256)
    assert gpu_advice(everywhere) == []  # control: every GPU trains
