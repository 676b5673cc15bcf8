"""Route every ``keras.Model.fit`` call made while a cell runs through an inspector.

``Model.fit`` is replaced on the class for the duration of the cell only,
so fits written in the cell and fits inside functions it calls are both
seen; the original is restored afterwards, even when the cell fails. A fit
started from inside an inspected fit runs untouched.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

_state = threading.local()
_original: Callable | None = None


def original_fit() -> Callable:
    """Keras' own ``Model.fit``, even while it is routed."""
    import keras

    return _original or keras.Model.fit


@contextlib.contextmanager
def route_fits(make_inspector: Callable[[Any], Any]) -> Iterator[list[Any]]:
    """While active, ``model.fit(...)`` becomes ``make_inspector(model).run(...)``.

    Yields the list of inspectors created, one per fit.
    """
    global _original
    import keras

    model_class = keras.Model
    own = model_class.__dict__.get("fit")
    original = model_class.fit
    inspectors: list[Any] = []

    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(_state, "depth", 0):
            return original(self, *args, **kwargs)
        inspector = make_inspector(self)
        inspectors.append(inspector)
        _state.depth = 1
        try:
            return inspector.run(original, self, args, kwargs)
        finally:
            _state.depth = 0

    model_class.fit = fit
    _original = original
    try:
        yield inspectors
    finally:
        _original = None
        if own is None:
            del model_class.fit
        else:
            model_class.fit = own
