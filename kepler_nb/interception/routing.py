"""Route the fits a cell makes through an inspector, and nobody else's.

Each routed *target* (a framework's class and method: ``keras.Model.fit``)
gets one pass-through wrapper, installed once: by ``load_ipython_extension``
when the framework is already imported, else by the first routed cell,
which imports it; ``unload_ipython_extension`` removes it. The wrapper looks
at a context variable: outside a route it calls the real method at once;
inside ``route_fits(...)`` it hands the call to that route's inspector.

A context variable, not a class attribute swapped per cell, so that:

- routes nest: an inner route replaces the outer one and gives it back when
  it ends, whatever order other threads end theirs in;
- threads don't share routes: a new thread starts outside any route (Python
  gives it an empty context), so a fit on another thread, or in another
  subshell of the kernel, is not caught by this cell's inspector;
- a fit made from inside an inspected fit runs untouched: the wrapper leaves
  the route while it runs the inspector;
- ``original_fit()`` is always the real method, routed or not, installed or
  not.

A second framework plugs in with ``register_target(Target(...))``: the
classes to wrap are looked up when the wrapper is installed, and the route's
``make_inspector`` decides (from the instance) how each call is inspected.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib
import sys
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from types import ModuleType


class Inspector(Protocol):
    """What a route hands a call to: ``run(fit, instance, args, kwargs)`` returns what ``fit`` returns."""

    def run(self, fit: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any: ...


@dataclass(frozen=True)
class Target:
    """A routed method: ``method`` of the classes ``classes(module)`` returns, ``module`` once imported."""

    name: str
    module: str
    classes: Callable[[ModuleType], Iterable[type]]
    method: str = "fit"


@dataclass
class _Installed:
    target: Target
    owner: type
    own: Any  # the owner's own attribute before installing (None: it inherited the method)
    original: Callable[..., Any]
    wrapper: Callable[..., Any]


class Route:
    """The inspectors of one routed cell (or one grid combination): one per intercepted call."""

    def __init__(self, make_inspector: Callable[[Any], Inspector | None]) -> None:
        self.make_inspector = make_inspector
        self.inspectors: list[Inspector] = []

    def dispatch(self, original: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        __tracebackhide__ = True
        inspector = self.make_inspector(instance)
        if inspector is None:  # not one this route inspects
            return original(instance, *args, **kwargs)
        self.inspectors.append(inspector)
        return inspector.run(original, instance, args, kwargs)


TARGETS: dict[str, Target] = {}
_route: contextvars.ContextVar[Route | None] = contextvars.ContextVar("kepler_route", default=None)
_installed: list[_Installed] = []
_lock = threading.Lock()


def register_target(target: Target) -> None:
    """Route ``target``'s calls too (installed with the others, now if they are installed)."""
    with _lock:
        TARGETS[target.name] = target
        if _installed:
            _install_target(target, import_module=False)


def install(import_frameworks: bool = False) -> None:
    """Install the wrapper on every target not yet wrapped (idempotent).

    A target whose framework isn't imported is left for later unless
    ``import_frameworks``; one whose framework isn't installed is skipped.
    """
    with _lock:
        for target in TARGETS.values():
            _install_target(target, import_module=import_frameworks)


def uninstall() -> None:
    """Put every wrapped method back as it was (a wrapper someone else wrapped stays, passing through)."""
    with _lock:
        for entry in reversed(_installed):
            if entry.owner.__dict__.get(entry.target.method) is entry.wrapper:
                if entry.own is None:
                    delattr(entry.owner, entry.target.method)
                else:
                    setattr(entry.owner, entry.target.method, entry.own)
        _installed.clear()


def installed() -> list[tuple[type, str]]:
    """The (class, method) pairs wrapped now."""
    return [(entry.owner, entry.target.method) for entry in _installed]


def original(owner: type, method: str = "fit") -> Callable[..., Any]:
    """The real ``owner.method``, whether or not it is wrapped."""
    for entry in _installed:
        if entry.owner is owner and entry.target.method == method:
            return entry.original
    found = getattr(owner, method)
    return getattr(found, "__kepler_original__", found)


def original_fit() -> Callable[..., Any]:
    """Keras' own ``Model.fit``, even while it is routed."""
    import keras

    return original(keras.Model, "fit")


@contextlib.contextmanager
def route_fits(make_inspector: Callable[[Any], Inspector | None]) -> Iterator[list[Inspector]]:
    """While active (in this context), each routed call becomes ``make_inspector(instance).run(...)``.

    Yields the list of inspectors created, one per call.
    """
    install(import_frameworks=True)
    route = Route(make_inspector)
    token = _route.set(route)
    try:
        yield route.inspectors
    finally:
        _route.reset(token)


def _install_target(target: Target, import_module: bool) -> None:
    if any(entry.target is target for entry in _installed):
        return
    module = sys.modules.get(target.module)
    if module is None:
        if not import_module:
            return
        try:
            module = importlib.import_module(target.module)
        except ImportError:
            return
    for owner in target.classes(module):
        own = owner.__dict__.get(target.method)
        real = getattr(owner, target.method)
        wrapper = _wrapper(real)
        setattr(owner, target.method, wrapper)
        _installed.append(_Installed(target, owner, own, real, wrapper))


def _wrapper(real: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(real)
    def routed(self: Any, *args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        route = _route.get()
        if route is None:
            return real(self, *args, **kwargs)
        token = _route.set(None)  # a call made from inside this one runs untouched
        try:
            return route.dispatch(real, self, args, kwargs)
        finally:
            _route.reset(token)

    routed.__kepler_original__ = real  # type: ignore[attr-defined]
    return routed


register_target(Target("keras", "keras", lambda keras: [keras.Model], "fit"))
