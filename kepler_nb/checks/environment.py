"""K5xx: reproducibility and environment.

K502 and K503 compare the run with a *similar earlier experiment*: the most
recent finished experiment of the same project whose architecture (the
one-line layer summary the journal records) is the same. The inspector looks
it up and puts it in ``CheckContext.history``, with this process's versions
and devices (``CheckContext.environment``) and the training data's
fingerprint it hashes for the record (``CheckContext.train_fingerprint``):
these checks read the context and nothing else. With no journal
(``kepler.check``) or no such experiment, they are skipped.
Everything here is read-only: seeds are read, never drawn from or set.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..fit import keras_internals, tf_internals
from ..fit.distribution import describe_distribution
from .registry import Report, Skip, check

if TYPE_CHECKING:
    from .context import CheckContext

# Facts of the environment that change results; host, paths and git state don't.
ENVIRONMENT_KEYS = ("python", "tensorflow", "keras", "numpy", "gpu", "devices")
GPU_MIN_BATCH = 16  # smaller batches leave a GPU mostly idle between steps
KERAS_DEFAULT_BATCH = 32


# -- the similar earlier experiment ------------------------------------------------
def _earlier(ctx: CheckContext) -> dict[str, Any]:
    if not ctx.history:
        raise Skip("no earlier finished experiment with this architecture in this project")
    return ctx.history[0]


def _which(record: dict[str, Any]) -> str:
    when = str(record.get("created") or "")[:16].replace("T", " ")
    return f"experiment {record.get('id')}" + (f" ({when})" if when else "")


# -- K501 ---------------------------------------------------------------------------------
def seed_state() -> dict[str, int | None]:
    """The seeds set so far: Keras' (``keras.utils.set_random_seed``) and TensorFlow's global one."""
    return {"keras": keras_internals.random_seed(), "tensorflow": tf_internals.global_seed()}


def seed_advice(keras_seed: int | None, tf_seed: int | None) -> str | None:
    """What is missing for a reproducible Keras run, or None."""
    if keras_seed is not None:
        return None
    if tf_seed is None:
        return "no random seed is set: initial weights, dropout masks and shuffling differ on every run"
    return (
        f"tf.random.set_seed({tf_seed}) was called, but not keras.utils.set_random_seed: Keras 3 draws "
        "initial weights and dropout masks from Python's `random`, so they differ on every run unless "
        "that is seeded too"
    )


@check("K501", "random-seeds-not-set", stage="environment", severity="info")
def random_seeds_not_set(ctx: CheckContext):
    """Random seeds not set.

    ## What it does
    Reads, without drawing from them, whether `keras.utils.set_random_seed`
    or `tf.random.set_seed` was called in this process.

    ## Why is this bad?
    Without seeds, two runs of the same cell start from different weights,
    drop different units and see the batches in a different order: a 1%
    difference between two experiments may be nothing but luck, and a good
    result can't be reproduced. (Python's and NumPy's own seeds can't be
    read; a run that seeds them by hand may still be reproducible.)

    ## Example
    ```python
    model = build_model()
    model.fit(x, y)
    ```

    ## Use instead
    ```python
    keras.utils.set_random_seed(42)  # Python, NumPy, TensorFlow and Keras at once
    model = build_model()
    model.fit(x, y)
    ```
    """
    state = seed_state()
    advice = seed_advice(state["keras"], state["tensorflow"])
    if advice:
        yield Report(
            advice,
            fix="Call keras.utils.set_random_seed(42) before building the model "
            "(and tf.config.experimental.enable_op_determinism() for bitwise-equal GPU runs).",
            details=state,
        )


# -- K502 ---------------------------------------------------------------------------------
def environment_differences(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """``(key, old, new)`` for each result-changing fact that differs (both known)."""
    changes = []
    for key in ENVIRONMENT_KEYS:
        a, b = old.get(key), new.get(key)
        if a is None or b is None:
            continue
        if key == "devices":
            a, b = sorted(a), sorted(b)
        if a != b:
            changes.append((key, a, b))
    return changes


def _show(key: str, value: Any) -> str:
    if key == "gpu":
        return "yes" if value else "no"
    if key == "devices":
        return ", ".join(v.split(":")[0] + ":" + v.rsplit(":", 1)[-1] for v in value) or "none"
    return str(value)


@check("K502", "environment-changed", stage="environment", severity="warning", thresholds={"keys": ENVIRONMENT_KEYS})
def environment_changed(ctx: CheckContext):
    """Environment differs from a similar earlier experiment.

    ## What it does
    Compares Python, TensorFlow, Keras and NumPy versions and the devices
    (GPU or not) with those recorded for the latest finished experiment of
    this project with the same architecture.

    ## Why is this bad?
    Library upgrades change default initialisers, numerics and kernels; a GPU
    and a CPU round differently. The same code and data then give different
    results, and comparing this run with the earlier one mixes the effect of
    your change with the effect of the environment.

    ## Example
    ```python
    # experiment 12: TensorFlow 2.15 on a GPU; this run: TensorFlow 2.16 on a laptop CPU
    ```

    ## Use instead
    ```python
    # pin versions (pip freeze > requirements.txt) and compare runs made on the same device;
    # or re-run the earlier experiment here to have a fair baseline
    ```
    """
    earlier = _earlier(ctx)
    old = earlier.get("environment") or {}
    if not old:
        raise Skip(f"{_which(earlier)} has no recorded environment")
    if ctx.environment is None:
        raise Skip("the environment of this run was not described")
    changes = environment_differences(old, ctx.environment)
    if changes:
        shown = ", ".join(f"{k} {_show(k, a)} → {_show(k, b)}" for k, a, b in changes)
        yield Report(
            f"environment differs from {_which(earlier)}, which has the same architecture: {shown}",
            fix="Compare results only with runs made in the same environment, or re-run the earlier "
            "experiment here; pin library versions.",
            details={"experiment": earlier.get("id"), "changes": [list(c) for c in changes]},
        )


# -- K503 ---------------------------------------------------------------------------------
@check("K503", "training-data-changed", stage="environment", severity="info")
def training_data_changed(ctx: CheckContext):
    """Training data changed since a similar earlier experiment.

    ## What it does
    Compares the fingerprint of the training data (a hash of every value,
    shape and dtype) with the one recorded for the latest finished
    experiment of this project with the same architecture.

    ## Why is this bad?
    When the data changed, a better or worse score may come from the data
    rather than from what you meant to test. Knowing it is intended is fine;
    not knowing it (a preprocessing cell edited, a file overwritten) makes
    the comparison meaningless.

    ## Example
    ```python
    x = x[:1500]  # left over from a quick test
    model.fit(x, y)  # same model as yesterday's run on all 1797 samples
    ```

    ## Use instead
    ```python
    model.fit(x, y)  # the same data as the run you compare with; or say so in the hypothesis
    ```
    """
    earlier = _earlier(ctx)
    data = earlier.get("data") or {}
    old = earlier.get("data_fingerprint") or data.get("fingerprint")
    if not old:
        raise Skip(f"{_which(earlier)} has no data fingerprint")
    if ctx.train.problem:
        raise Skip(ctx.train.problem)
    new = ctx.fingerprint()
    if new is None:
        raise Skip("the training data could not be fingerprinted")
    if new != old:
        before, after = data.get("n_samples"), ctx.train.n_samples
        size = f"{before} → {after} samples" if before != after else f"the same {after} samples, other values"
        yield Report(
            f"training data differs from that of {_which(earlier)}, which has the same architecture: "
            f"{size} (fingerprint {old} → {new})",
            fix="If that is intended, say so with --hypothesis or a tag; otherwise re-run the cells that "
            "prepare the data.",
            details={"experiment": earlier.get("id"), "old": old, "new": new},
        )


# -- K504 ---------------------------------------------------------------------------------
@dataclass
class GpuFacts:
    """What decides whether a GPU is used: devices, settings and the fit's batch size."""

    physical: list[str] = field(default_factory=list)  # GPUs TensorFlow found
    visible: list[str] = field(default_factory=list)  # of those, the ones not hidden by set_visible_devices
    driver: list[str] = field(default_factory=list)  # GPUs `nvidia-smi -L` lists
    cuda_visible_devices: str | None = None
    device_scope: str = ""  # the tf.device scope fit is called in
    weight_devices: list[str] = field(default_factory=list)
    batch_size: int | None = None
    replicas: int = 1  # devices the fit trains on (a tf.distribute strategy or keras.distribution: several)
    strategy: str | None = None


def gpu_facts(model: Any = None, batch_size: int | None = None) -> GpuFacts:
    """The facts on this machine, read without initialising or changing anything."""
    import tensorflow as tf

    facts = GpuFacts(
        physical=[d.name for d in tf.config.list_physical_devices("GPU")],
        visible=[d.name for d in tf.config.get_visible_devices("GPU")],
        cuda_visible_devices=os.environ.get("CUDA_VISIBLE_DEVICES"),
        device_scope=tf_internals.device_scope(),
        batch_size=batch_size,
    )
    if not facts.visible:
        facts.driver = _nvidia_smi_gpus()
    distribution = describe_distribution(model)
    if distribution is not None:
        facts.replicas, facts.strategy = int(distribution["replicas"]), distribution["strategy"]
    for weight in getattr(model, "weights", None) or []:
        device = getattr(getattr(weight, "value", weight), "device", None)
        if isinstance(device, str) and device:
            facts.weight_devices.append(device)
    return facts


def _nvidia_smi_gpus() -> list[str]:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        done = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in done.stdout.splitlines() if line.startswith("GPU ")]


def gpu_advice(facts: GpuFacts) -> list[Report]:
    """The ways a GPU is left unused or used poorly; Skip when there is no GPU at all."""
    if not facts.visible:
        if facts.physical:
            return [
                Report(
                    f"TensorFlow found {len(facts.physical)} GPU(s) but tf.config.set_visible_devices hides "
                    "them: training runs on the CPU",
                    fix="Remove the tf.config.set_visible_devices([], 'GPU') call (restart the kernel).",
                    details={"physical": facts.physical},
                )
            ]
        if facts.driver:
            n = len(facts.driver)
            if facts.cuda_visible_devices is not None:
                return [
                    Report(
                        f"CUDA_VISIBLE_DEVICES={facts.cuda_visible_devices!r} hides the {n} GPU(s) nvidia-smi "
                        f"lists ({facts.driver[0]}): training runs on the CPU",
                        fix="Unset CUDA_VISIBLE_DEVICES (or set it to '0') before TensorFlow starts, "
                        "then restart the kernel.",
                        details={"driver": facts.driver, "cuda_visible_devices": facts.cuda_visible_devices},
                    )
                ]
            return [
                Report(
                    f"nvidia-smi lists {n} GPU(s) ({facts.driver[0]}) but TensorFlow sees none: this TensorFlow "
                    "can't use them (a CPU-only build, or CUDA libraries missing), so training runs on the CPU",
                    fix="pip install 'tensorflow[and-cuda]' and check tf.config.list_physical_devices('GPU').",
                    details={"driver": facts.driver},
                )
            ]
        raise Skip("no GPU visible")
    reports = []
    if "CPU" in facts.device_scope.upper():
        reports.append(
            Report(
                f"fit is called inside tf.device({facts.device_scope!r}) while {len(facts.visible)} GPU(s) "
                "are visible: training runs on the CPU",
                fix="Call fit outside the `with tf.device('/CPU:0'):` block.",
                details={"device_scope": facts.device_scope},
            )
        )
    elif facts.weight_devices and all("CPU" in d.upper() for d in facts.weight_devices):
        reports.append(
            Report(
                f"the model's {len(facts.weight_devices)} weights were created on the CPU while "
                f"{len(facts.visible)} GPU(s) are visible: the operations that use them run on the CPU too",
                fix="Build the model outside `with tf.device('/CPU:0'):`.",
                details={"weight_device": facts.weight_devices[0]},
            )
        )
    if len(facts.visible) > 1 and facts.replicas < len(facts.visible) and not reports:
        idle = len(facts.visible) - facts.replicas
        how = f"{facts.strategy} over {facts.replicas}" if facts.strategy else "no distribution strategy: 1"
        reports.append(
            Report(
                f"{len(facts.visible)} GPUs visible, this fit trains on {facts.replicas} ({how}): "
                f"{idle} stay{'s' if idle == 1 else ''} idle",
                fix="Build and compile the model inside `with tf.distribute.MirroredStrategy().scope():` (JAX: "
                "keras.distribution.set_distribution(keras.distribution.DataParallel())), or hide the idle GPUs "
                "with CUDA_VISIBLE_DEVICES for other jobs.",
                details={"visible": facts.visible, "replicas": facts.replicas, "strategy": facts.strategy},
            )
        )
    if facts.batch_size is not None and facts.batch_size < GPU_MIN_BATCH:
        reports.append(
            Report(
                f"batch size {facts.batch_size} on a GPU: each step is too small to keep it busy "
                f"(under {GPU_MIN_BATCH})",
                fix=f"Use batch_size={KERAS_DEFAULT_BATCH} or more unless memory forces a small batch; "
                "scale the learning rate with it.",
                severity="info",
                details={"batch_size": facts.batch_size},
            )
        )
    return reports


@check("K504", "gpu-unused", stage="environment", severity="warning", thresholds={"min_gpu_batch": GPU_MIN_BATCH})
def gpu_unused(ctx: CheckContext):
    """A GPU is visible but unused, or used inefficiently.

    ## What it does
    Notices a GPU that the run will not use: hidden by
    `CUDA_VISIBLE_DEVICES` or `tf.config.set_visible_devices`, installed but
    not usable by this TensorFlow, or bypassed by a `tf.device('/CPU:0')`
    around the model or the fit. Mentions a batch size under 16 on a GPU.
    With several GPUs, notices a fit that trains on fewer of them than are
    visible (one busy, three idle: no `tf.distribute` strategy or
    `keras.distribution`).

    ## Why is this bad?
    Training on the CPU next to an idle GPU is often 10-50x slower, and
    nothing says so: the run just takes all night. Tiny batches spend a GPU's
    time launching kernels rather than computing.

    ## Example
    ```python
    os.environ["CUDA_VISIBLE_DEVICES"] = ""  # left over from a debugging session
    model.fit(x, y, batch_size=4)
    ```

    ## Use instead
    ```python
    model.fit(x, y, batch_size=64)  # with the GPU visible
    ```
    """
    batch = ctx.fit("batch_size")
    if batch is None and ctx.train.kind == "arrays":
        batch = KERAS_DEFAULT_BATCH
    yield from gpu_advice(gpu_facts(ctx.model, batch if isinstance(batch, int) else None))
