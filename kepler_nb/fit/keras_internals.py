"""Keras internals Kepler reads, in one place: its private modules (``keras.src``).

Keras has no public way to read the seed ``keras.utils.set_random_seed`` set
(K501 reads it, never draws from it) or to reach the global seed generator a
pre-flight probe saves and restores. Both live in ``keras.src``, which may
move in any release: every such access is here, each returning None where
this Keras lays them out differently, so a check skips instead of failing.
``tests/test_dependency_internals.py`` pins the versions they were checked
against (:data:`CHECKED`) and that each one still exists.
"""

from __future__ import annotations

from typing import Any

# Keras versions (major.minor) these accesses were checked against.
CHECKED = ("3.15",)


def random_seed() -> int | None:
    """The seed ``keras.utils.set_random_seed`` set in this process, or None (never set, or unknown here)."""
    try:
        from keras.src.utils.rng_utils import get_random_seed
    except ImportError:  # another Keras layout
        return None
    return get_random_seed()


def global_seed_generator() -> Any | None:
    """Keras' global ``SeedGenerator`` (the one unseeded random layers draw from), or None."""
    try:
        from keras.src.random.seed_generator import global_seed_generator as get
    except ImportError:
        return None
    return get()


# -- private attributes of Keras objects ----------------------------------------------
def keras_history(tensor: Any) -> Any | None:
    """The ``KerasHistory`` of a symbolic tensor (``.operation``: the layer that made it), or None."""
    return getattr(tensor, "_keras_history", None)


def outbound_nodes(layer: Any) -> list[Any]:
    """The nodes where a layer's outputs go (``.operation``: the layers that read them)."""
    return list(getattr(layer, "_outbound_nodes", None) or [])


def outputs_struct(model: Any) -> Any | None:
    """A functional model's outputs in the structure it was built with (a dict, list or one tensor), or None."""
    return getattr(model, "_outputs_struct", None)


def raw_learning_rate(optimizer: Any) -> Any | None:
    """The optimizer's learning rate as given: a variable, or a ``LearningRateSchedule``; None when unknown."""
    return getattr(optimizer, "_learning_rate", None)
