"""Which experiments the lookup before a fit has to look at, without reading all of them.

The lookup (:func:`kepler_nb.journal.similarity.lookup`) only ever returns
experiments with the run's signature (a duplicate), its architecture
signature (the same model), or inputs of the same shape with as many classes
(a nearby architecture, a transfer candidate). This index keeps the ids of
the experiments under each of these three keys, so a lookup reads those and
not the other tens of thousands. It follows the journal through the
storage's :meth:`~kepler_nb.journal.storage.JournalStorage.changes`: a new or
edited record costs one update, not a rebuild.
"""

from __future__ import annotations

import threading
from typing import Any

from .snapshot import gc_paused

# A record whose keys can't be told (odd values): a candidate of every lookup.
_ANY = ("any",)


class LookupIndex:
    """Ids of a table's documents by signature, architecture signature and problem (input shape, classes)."""

    def __init__(self) -> None:
        self.token: tuple[int, int] | None = None
        self._keys: dict[str, tuple[Any, ...]] = {}  # document id -> the buckets it is in
        self._buckets: dict[Any, set[str]] = {}
        self._mutex = threading.Lock()

    def follow(self, token: tuple[int, int], changed: list[tuple[str, str]] | None, table: str, docs: dict) -> None:
        """Bring the index up to date with ``docs`` (the table's documents by id, as the storage holds them);
        ``changed`` is what the storage said changed since ``self.token`` (None: anything)."""
        with self._mutex, gc_paused():  # a first build makes 150,000 keys and sets: none of them garbage
            if changed is None:
                self._keys.clear()
                self._buckets.clear()
                items: Any = docs.items()
            else:
                items = [(key, docs.get(key)) for name, key in changed if name == table]
            keys, by_bucket = self._keys, self._buckets
            for key, doc in items:
                for bucket in keys.pop(key, ()):
                    ids = by_bucket.get(bucket)
                    if ids is not None:
                        ids.discard(key)
                if doc is not None:
                    buckets = buckets_of(doc)
                    if buckets:
                        keys[key] = buckets
                        for bucket in buckets:
                            ids = by_bucket.get(bucket)
                            if ids is None:
                                by_bucket[bucket] = {key}
                            else:
                                ids.add(key)
            self.token = token

    def candidates(self, target: dict[str, Any]) -> list[str] | None:
        """Ids of every document the lookup for ``target`` could return, in no order (None: any document)."""
        wanted = [_ANY]
        signature, arch = target.get("signature"), target.get("arch_signature")
        try:
            if signature:
                wanted.append(_key("sig", signature))
            if arch:
                wanted.append(_key("arch", arch))
            if target.get("input_shape") is not None:
                wanted.append(_key("problem", list(target["input_shape"]), target.get("n_classes")))
            for bucket in wanted:
                hash(bucket)
        except TypeError:  # odd values in the target: look at everything
            return None
        with self._mutex:
            found: set[str] = set()
            for bucket in wanted:
                found |= self._buckets.get(bucket, set())
        return list(found)


def buckets_of(doc: dict[str, Any]) -> tuple[Any, ...]:
    """The buckets a document is in: none without an architecture signature (the lookup skips those)."""
    arch = doc.get("arch_signature")
    if not arch:
        return ()
    signature, shape, classes = doc.get("signature"), doc.get("input_shape"), doc.get("n_classes")
    if (
        type(arch) is str
        and (signature is None or type(signature) is str)
        and (classes is None or type(classes) is int)
        and (shape is None or (type(shape) is list and all(v is None or type(v) is int for v in shape)))
    ):  # what Kepler writes: the keys _key would make, made directly (a first build reads 50,000 of them)
        if shape is None:
            return (("arch", arch), ("sig", signature)) if signature else (("arch", arch),)
        problem = ("problem", tuple(shape), classes)
        return (("arch", arch), ("sig", signature), problem) if signature else (("arch", arch), problem)
    return general_buckets(doc)


def general_buckets(doc: dict[str, Any]) -> tuple[Any, ...]:
    """:func:`buckets_of` for any values: lists compared as tuples; unhashable ones put a record in every bucket."""
    arch = doc.get("arch_signature")
    if not arch:
        return ()
    try:
        buckets = [_key("arch", arch)]
        if doc.get("signature"):
            buckets.append(_key("sig", doc["signature"]))
        if doc.get("input_shape") is not None:
            buckets.append(_key("problem", doc["input_shape"], doc.get("n_classes")))
        for bucket in buckets:
            hash(bucket)
    except TypeError:
        return (_ANY,)
    return tuple(buckets)


def _key(kind: str, *values: Any) -> tuple[Any, ...]:
    """A hashable key that is equal exactly when the values compare equal (lists as tuples)."""
    return (kind, *(_frozen(v) for v in values))


def _frozen(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        raise TypeError("a dict is not a key")  # its record goes into every lookup instead
    return value
