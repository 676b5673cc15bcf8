"""How one fit is spread over devices: a ``tf.distribute`` strategy, or a ``keras.distribution``.

TensorFlow backend: the strategy the model was built under
(``model.distribute_strategy``, Keras 3), else the strategy of the current
scope. JAX backend: the global ``keras.distribution`` (``DataParallel``,
``ModelParallel``). The default strategy (one device) is described as
``None``. Reading them initialises nothing and changes nothing.
"""

from __future__ import annotations

from typing import Any

# The strategy TensorFlow uses when no scope is entered: one device, nothing distributed.
DEFAULT_STRATEGIES = frozenset({"_DefaultDistributionStrategy", "DefaultDistributionStrategy"})


def describe_distribution(model: Any = None) -> dict[str, Any] | None:
    """``{"strategy": "MirroredStrategy", "replicas": 2, "devices": [...]}``, or None for a fit on one device."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        return _tf_strategy(model)
    try:
        distribution = keras.distribution.distribution()
    except (AttributeError, ValueError):
        return None
    if distribution is None:
        return None
    devices = [str(d) for d in getattr(distribution.device_mesh, "devices", []).flatten()]
    return {"strategy": type(distribution).__name__, "replicas": len(devices) or 1, "devices": devices}


def _tf_strategy(model: Any) -> dict[str, Any] | None:
    import tensorflow as tf

    strategy = getattr(model, "distribute_strategy", None)
    if strategy is None or type(strategy).__name__ in DEFAULT_STRATEGIES:
        strategy = tf.distribute.get_strategy()
    if type(strategy).__name__ in DEFAULT_STRATEGIES:
        return None
    devices = [str(d) for d in getattr(strategy.extended, "worker_devices", ()) or ()]
    return {"strategy": type(strategy).__name__, "replicas": int(strategy.num_replicas_in_sync), "devices": devices}
