"""A read-only view of the data given to ``fit``, whatever its form.

Checks and the journal need numbers: this module turns numpy arrays, lists,
pandas frames, sparse matrices, dicts and lists of inputs, ``tf.data``
datasets, ``PyDataset``s and Python generators into numpy arrays, without
copying what is already an array and without consuming what ``fit`` will
read. Datasets and generators are looked at through a bounded sample; a
generator is replaced by one that replays the sampled items first, so ``fit``
still sees every item. A ``tf.data`` pipeline that reshuffles on every pass
is read through a copy whose shuffles have seed generators of their own
(:func:`own_shuffle_copy`): the user's pipeline yields the same order as if
Kepler had never read it. Random ``map`` steps at its end (augmentation with
Keras random layers, whose state every read advances) are passed over: what
they receive is read instead, and said so.
"""

from __future__ import annotations

import inspect
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import tf_internals

# How many batches of a dataset, generator or PyDataset are sampled.
SAMPLE_BATCHES = 8


GENERATOR_NOT_READ = (
    "a generator is not read outside a fit: the batches read would be lost to it. "
    "Pass arrays, or train under %%kepler_fit / ModelInspector, which replays what it reads"
)


class DataProblem(ValueError):
    """The data can't be read as arrays; the message says why."""


@dataclass
class DataView:
    """Arrays standing for one set of data (training or validation).

    ``inputs`` and ``targets`` map names to arrays (``"x"``/``"y"`` for a
    single array, the dict keys for dict data, ``"x0"``, ``"x1"``... for a list
    of inputs). ``complete`` is False when they are a sample of the data.
    """

    kind: str
    inputs: dict[str, np.ndarray] = field(default_factory=dict)
    targets: dict[str, np.ndarray] = field(default_factory=dict)
    complete: bool = True
    n_samples: int | None = None
    note: str = ""
    problem: str | None = None
    sample_weight: np.ndarray | None = None

    @property
    def x(self) -> np.ndarray | None:
        """The first (often the only) input."""
        return next(iter(self.inputs.values()), None)

    @property
    def y(self) -> np.ndarray | None:
        """The first (often the only) target."""
        return next(iter(self.targets.values()), None)

    def split_tail(self, fraction: float) -> tuple[DataView, DataView]:
        """The head and tail that Keras' ``validation_split`` would make."""
        n = self.n_samples or 0
        cut = int(n * (1.0 - fraction))

        def part(s: slice) -> DataView:
            return DataView(
                kind=self.kind,
                inputs={k: v[s] for k, v in self.inputs.items()},
                targets={k: v[s] for k, v in self.targets.items()},
                complete=self.complete,
                n_samples=len(range(*s.indices(n))),
                note=self.note,
            )

        return part(slice(0, cut)), part(slice(cut, n))


def as_array(value: Any, what: str) -> np.ndarray:
    """One array from an array-like, without copying numpy arrays."""
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "to_numpy"):  # pandas
        return value.to_numpy()
    if hasattr(value, "tocsr") and hasattr(value, "toarray"):  # scipy.sparse
        return value
    if hasattr(value, "numpy"):  # eager tensors
        return np.asarray(value.numpy())
    try:
        array = np.asarray(value)
    except ValueError as error:
        raise DataProblem(f"{what} can't be read as one array ({error}); is it a ragged list?") from None
    if array.dtype == object and array.ndim >= 1 and len(array) and isinstance(array.flat[0], (list, tuple)):
        raise DataProblem(f"{what} is a ragged list (rows of different lengths); pad it or use a tf.data pipeline")
    return array


def named_arrays(value: Any, default: str) -> dict[str, np.ndarray]:
    """Inputs or targets as a dict of arrays."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): as_array(v, f"{default}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)) and value and all(_is_array_like(v) for v in value):
        return {f"{default}{i}": as_array(v, f"{default}[{i}]") for i, v in enumerate(value)}
    return {default: as_array(value, default)}


def _is_array_like(value: Any) -> bool:
    return hasattr(value, "shape") and hasattr(value, "dtype") and getattr(value, "ndim", 0) >= 1


def view_arrays(x: Any, y: Any, sample_weight: Any = None) -> DataView:
    """A view of in-memory data (arrays, lists, pandas, sparse, dicts)."""
    try:
        inputs = named_arrays(x, "x")
        targets = named_arrays(y, "y")
    except DataProblem as problem:
        return DataView(kind="arrays", problem=str(problem))
    lengths = {k: v.shape[0] for k, v in {**inputs, **targets}.items() if getattr(v, "ndim", 0) >= 1}
    view = DataView(kind="arrays", inputs=inputs, targets=targets)
    if len(set(lengths.values())) > 1:
        view.problem = "inputs and targets have different numbers of samples: " + ", ".join(
            f"{k}={n}" for k, n in lengths.items()
        )
    view.n_samples = max(lengths.values()) if lengths else 0
    if sample_weight is not None:
        view.sample_weight = np.asarray(sample_weight)
    return view


def view_batches(batches: list[Any], kind: str, note: str, total: int | None) -> DataView:
    """A sampled view made of the first batches of a dataset or generator."""
    xs, ys = [], []
    for batch in batches:
        if isinstance(batch, (tuple, list)) and len(batch) in (2, 3):
            xs.append(batch[0])
            ys.append(batch[1])
        else:
            xs.append(batch)
    try:
        x = _concat([named_arrays(b, "x") for b in xs])
        y = _concat([named_arrays(b, "y") for b in ys]) if ys else {}
    except (DataProblem, ValueError) as problem:
        return DataView(kind=kind, complete=False, problem=f"its batches can't be read as arrays ({problem})")
    n = next(iter(x.values())).shape[0] if x else 0
    return DataView(kind=kind, inputs=x, targets=y, complete=False, n_samples=total, note=f"{note} ({n} samples)")


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if not parts:
        return {}
    return {k: np.concatenate([np.asarray(p[k]) for p in parts]) for k in parts[0]}


def is_generator(x: Any) -> bool:
    return inspect.isgenerator(x) or (isinstance(x, Iterator) and not _is_dataset(x) and not _is_array_like(x))


def _is_dataset(x: Any) -> bool:
    return type(x).__module__.startswith("tensorflow") and hasattr(x, "element_spec")


def is_pydataset(x: Any) -> bool:
    """A ``keras.utils.PyDataset``: batches asked for by index, as often as one likes."""
    try:
        from keras.utils import PyDataset
    except ImportError:  # pragma: no cover - keras is a dependency
        return False
    return isinstance(x, PyDataset)


def describe_fit_data(
    x: Any, y: Any, sample_weight: Any = None, sample_generators: bool = True
) -> tuple[DataView, Any]:
    """The view of ``fit``'s training data, and the ``x`` to hand to ``fit``.

    The returned ``x`` is the original object except for a Python generator,
    which is replaced by one that replays the sampled items first. With
    ``sample_generators=False`` (nothing will train on the replay) a generator
    is not read at all.
    """
    if _is_dataset(x):
        return _view_dataset(x), x
    if is_pydataset(x):
        return _view_pydataset(x), x
    if is_generator(x) and not sample_generators:
        return DataView(kind="generator", complete=False, problem=GENERATOR_NOT_READ), x
    if is_generator(x):
        head = list(itertools.islice(x, SAMPLE_BATCHES))
        view = view_batches(head, "generator", f"first {len(head)} batches of a generator", None)
        return view, _replay(head, x)
    return view_arrays(x, y, sample_weight), x


def _replay(head: list[Any], rest: Iterator[Any]) -> Iterator[Any]:
    yield from head
    yield from rest


def _view_dataset(ds: Any) -> DataView:
    import tensorflow as tf

    cardinality = int(tf.data.experimental.cardinality(ds).numpy())
    total = cardinality if cardinality >= 0 else None
    changes = _changes_when_read(ds)
    before = ""
    if changes and changes != RESHUFFLES:
        inner = _before_random_maps(ds)
        if inner is not None:
            ds, changes = inner, _changes_when_read(inner)
            before = ", before the random map(s) at its end (reading those would advance their random state)"
    source = _sliced_arrays(ds)
    if source is not None:
        view = view_arrays(*source)
        view.kind = "dataset"
        view.note = f"the arrays the tf.data pipeline slices, read without iterating it{before}"
        view.complete = not before  # what the random maps make of them is not seen
        return view
    what = "a tf.data.Dataset"
    if changes == RESHUFFLES:
        # Iterating it would advance its shuffle's seed: a copy with seed generators of its own is read instead.
        copy = own_shuffle_copy(ds)
        if copy is None:
            why = f"not sampled: reading it here would change what fit reads ({changes}, and it can't be copied)"
            return DataView(kind="dataset", complete=False, note=why, problem=why)
        ds, what = copy, "a copy of the shuffled tf.data pipeline"
    elif changes:
        why = f"not sampled: reading it here would change what fit reads ({changes})"
        return DataView(kind="dataset", complete=False, note=why, problem=why)
    try:
        # A fresh iterator: the dataset fit reads is not advanced.
        batches = [_to_numpy(b) for b in ds.take(SAMPLE_BATCHES)]
    except Exception as error:  # noqa: BLE001 - a user pipeline can raise anything
        return DataView(kind="dataset", complete=False, problem=f"the dataset could not be sampled ({error})")
    view = view_batches(batches, "dataset", f"first {len(batches)} batches of {what}{before}", None)
    view.note += f"; {total} batches in all" if total is not None else ""
    return view


# Steps at the end of a pipeline that are passed over to reach what a random augmentation map receives.
PASS_OVER_STEPS = frozenset({"_MapDataset", "_ParallelMapDataset", "_PrefetchDataset", "_OptionsDataset"})


def _before_random_maps(ds: Any) -> Any:
    """What the random ``map`` steps at the end of ``ds`` receive (maps that keep the element's structure and
    dtypes, as an augmentation does), when that part can be read without changing anything; else None.

    ``ds.batch(32).map(augment).prefetch(1)`` gives ``ds.batch(32)``.
    """
    node, passed_map = ds, False
    for _ in range(32):
        if _changes_when_read(node) in (None, RESHUFFLES):
            return node if passed_map else None
        kind = type(node).__name__
        inner = tf_internals.input_dataset(node)
        if kind not in PASS_OVER_STEPS or inner is None or not _same_structure(node.element_spec, inner.element_spec):
            return None
        passed_map = passed_map or "Map" in kind
        node = inner
    return None


def _same_structure(a: Any, b: Any) -> bool:
    import tensorflow as tf

    try:
        tf.nest.assert_same_structure(a, b)
    except (TypeError, ValueError):
        return False
    return all(x.dtype == y.dtype for x, y in zip(tf.nest.flatten(a), tf.nest.flatten(b)))


# Dataset ops that draw their order from a seed generator resource, and which input holds it.
SEED_GENERATOR_INPUT = {"ShuffleDatasetV3": 4, "ShuffleAndRepeatDatasetV2": 5}


def own_shuffle_copy(ds: Any) -> Any:
    """A copy of ``ds`` whose shuffles draw from seed generators of their own, or None.

    The pipeline is serialized (refusing any stateful function) and rebuilt
    with each shuffle's shared seed generator replaced by a fresh one: the
    copy starts from the same seeds, so it yields the order of the user's
    next pass, and reading it advances nothing the user's dataset reads.
    """
    import tensorflow as tf
    from tensorflow.core.framework import graph_pb2
    from tensorflow.python.data.ops import dataset_ops

    try:
        serialized = tf_internals.serialized_graph(ds)
        graph = graph_pb2.GraphDef()
        graph.ParseFromString(serialized.numpy())
        for node in list(graph.node):
            if "Shuffle" in node.op and node.op not in SEED_GENERATOR_INPUT:
                return None  # a shuffle op this version doesn't know how to give its own seeds
            index = SEED_GENERATOR_INPUT.get(node.op)
            if index is not None:
                own = graph.node.add()
                own.name, own.op = f"{node.name}/own_seed_generator", "DummySeedGenerator"
                node.input[index] = own.name
        variant = tf.raw_ops.DatasetFromGraph(graph_def=graph.SerializeToString())
        return dataset_ops._VariantDataset(variant, ds.element_spec)
    except Exception:  # noqa: BLE001 - an unfamiliar pipeline: not sampled
        return None


# Steps that only reorder, group or repeat the samples of their input.
REORDERING_STEPS = frozenset(
    {"_ShuffleDataset", "_BatchDataset", "_ParallelBatchDataset", "_PrefetchDataset", "_RepeatDataset"}
    | {"CacheDataset", "_OptionsDataset"}
)


def _sliced_arrays(ds: Any) -> tuple[Any, Any] | None:
    """``(x, y)`` of a ``from_tensor_slices(...)`` pipeline that only shuffles, batches, repeats or prefetches.

    Read from the source's tensors: nothing is iterated, so no shuffle seed
    advances, and every sample is seen. None for any other pipeline.
    """
    import tensorflow as tf

    node = ds
    while type(node).__name__ in REORDERING_STEPS:
        node = tf_internals.input_dataset(node)
    tensors = tf_internals.slice_tensors(node) if type(node).__name__ == "_TensorSliceDataset" else None
    if tensors is None:
        return None
    try:
        element = _to_numpy(tf.nest.pack_sequence_as(node.element_spec, tensors))
    except Exception:  # noqa: BLE001 - an unfamiliar structure: fall back to sampling
        return None
    if isinstance(element, tuple) and len(element) in (2, 3):
        return element[0], element[1]
    return element, None


def _view_pydataset(ds: Any) -> DataView:
    # fit asks for these batches again: it must get the same random numbers we did.
    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        n = len(ds)
        batches = [ds[i] for i in range(min(n, SAMPLE_BATCHES))]
    except Exception as error:  # noqa: BLE001
        return DataView(kind="pydataset", complete=False, problem=f"the PyDataset could not be sampled ({error})")
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
    return view_batches(batches, "pydataset", f"first {len(batches)} of {n} batches of a PyDataset", None)


# Ops in a dataset's functions that change state kept across passes (variables, RNG
# state, Python code): reading the dataset here would shift what fit then reads.
STATEFUL_DATASET_OPS = frozenset(
    {
        "AssignVariableOp",
        "AssignAddVariableOp",
        "AssignSubVariableOp",
        "RngReadAndSkip",
        "RngSkip",
        "StatefulUniform",
        "StatefulUniformInt",
        "StatefulUniformFullInt",
        "StatefulStandardNormalV2",
        "StatefulTruncatedNormal",
        "StatefulRandomBinomial",
        "PyFunc",
        "PyFuncStateless",
        "EagerPyFunc",
    }
)


def _changes_when_read(ds: Any) -> str | None:
    """Why iterating ``ds`` would change what its next iteration yields, or None.

    A ``shuffle`` that reshuffles each iteration draws its order from a seed
    shared by all iterators, so every read advances it (:data:`RESHUFFLES`,
    returned only when nothing else changes: a copy with its own seeds can
    be read); so do Keras random layers, ``tf.random.Generator`` and Python
    functions in a ``map``.
    """
    pending, seen = [ds], set()
    reshuffles = False
    try:
        while pending:
            node = pending.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            kind = type(node).__name__
            if "Shuffle" in kind and tf_internals.reshuffles_each_iteration(node):
                reshuffles = True
            if kind.lstrip("_").startswith("Random"):
                return "it draws new random numbers on every pass"
            for wrapper in tf_internals.dataset_functions(node):
                graph = wrapper.function.graph.as_graph_def()
                ops = {n.op for n in graph.node}
                ops.update(n.op for f in graph.library.function for n in f.node_def)
                stateful = sorted(ops & STATEFUL_DATASET_OPS)
                if stateful:
                    return f"its functions change random or Python state on every pass ({', '.join(stateful)})"
            pending.extend(tf_internals.dataset_inputs(node))
    except Exception as error:  # noqa: BLE001 - unknown pipeline: don't risk reading it
        return f"its pipeline could not be inspected ({type(error).__name__})"
    return RESHUFFLES if reshuffles else None


RESHUFFLES = "it reshuffles on every pass"


def _to_numpy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _to_numpy(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(_to_numpy(v) for v in value)
    return value.numpy() if hasattr(value, "numpy") else value
