"""TensorFlow internals Kepler reads, in one place: ``tf.data``'s private attributes, the eager context.

A ``tf.data`` pipeline has no public way to walk its steps (which dataset a
step reads from, the functions it maps, whether a shuffle reshuffles each
pass, the tensors a ``from_tensor_slices`` holds), and the global seed and
the ``tf.device`` scope a fit runs in are only on the eager context
(``tensorflow.python``). Kepler reads them, never changes them: every such
access is here. A pipeline step these functions can't read raises
``AttributeError`` as the attribute would, and the callers treat the
pipeline as unknown. ``tests/test_dependency_internals.py`` pins the
versions they were checked against (:data:`CHECKED`) and that each exists.
"""

from __future__ import annotations

from typing import Any

# TensorFlow versions (major.minor) these accesses were checked against.
CHECKED = ("2.21",)


# -- tf.data ------------------------------------------------------------------------
def input_dataset(node: Any) -> Any | None:
    """The dataset a one-input step (``map``, ``batch``, ``shuffle``...) reads from, or None."""
    return getattr(node, "_input_dataset", None)


def adapted_dataset(node: Any) -> Any | None:
    """The dataset a ``DatasetV1Adapter`` wraps, or None."""
    return getattr(node, "_dataset", None)


def dataset_inputs(node: Any) -> list[Any]:
    """Every dataset ``node`` reads from (``zip`` and ``concatenate`` have several)."""
    return list(node._inputs())


def dataset_functions(node: Any) -> list[Any]:
    """The traced functions of a step (a ``map``'s function, a ``filter``'s predicate)."""
    return list(node._functions())


def reshuffles_each_iteration(node: Any) -> bool:
    """Whether a shuffle step draws a new order on every pass (TensorFlow's default: yes)."""
    return bool(getattr(node, "_reshuffle_each_iteration", True))


def slice_tensors(node: Any) -> list[Any] | None:
    """The tensors a ``from_tensor_slices`` dataset holds, flat, or None for any other step."""
    tensors = getattr(node, "_tensors", None)
    return list(tensors) if tensors is not None else None


def serialized_graph(ds: Any) -> Any:
    """The pipeline's GraphDef, serialised (a string tensor); fails on a pipeline with external state."""
    from tensorflow.python.data.ops import options

    return ds._as_serialized_graph(external_state_policy=options.ExternalStatePolicy.FAIL)


# -- the eager context -----------------------------------------------------------------
def global_seed() -> int | None:
    """The seed ``tf.random.set_seed`` set, or None."""
    try:
        from tensorflow.python.eager import context
    except ImportError:
        return None
    return getattr(context, "global_seed", lambda: None)()


def device_scope() -> str:
    """The ``tf.device`` scope the calling code runs in ("" outside any)."""
    from tensorflow.python.eager import context

    return context.context().device_name or ""
