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
classes (and module functions) to wrap are looked up when the wrapper is
installed, classes defined later under a target's base class are wrapped
when they are defined, and a route gives each target a *handler* that
decides what a call becomes (:class:`FitHandler` for Keras: one inspector
per fit; scikit-learn's watches fits, predictions, scores and metrics,
:mod:`.estimator_routing`). Routes entered inside one another merge: the
inner route's handlers replace the outer's for their targets only, so a
cell routes Keras and scikit-learn at once.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib
import inspect
import sys
import threading
import types
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping
    from types import ModuleType


class Inspector(Protocol):
    """What a route hands a call to: ``run(fit, instance, args, kwargs)`` returns what ``fit`` returns."""

    def run(self, fit: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any: ...


@dataclass(frozen=True)
class Call:
    """One call of a routed method (or function), as its wrapper caught it."""

    method: str
    original: Callable[..., Any]  # the real method (called with the instance first) or function
    instance: Any  # None for a module function
    args: tuple
    kwargs: dict[str, Any]
    caller: str  # the module of the code that made the call ("__main__" for a cell)

    def proceed(self) -> Any:
        """Make the call as if nothing were routed."""
        if self.instance is None:
            return self.original(*self.args, **self.kwargs)
        return self.original(self.instance, *self.args, **self.kwargs)


class Handler(Protocol):
    """What a route does with the calls of one target: returns what the call returns."""

    def handle(self, call: Call) -> Any: ...


@dataclass(frozen=True)
class Target:
    """A routed framework: ``methods`` of the classes ``classes(module)`` returns, once ``module`` is imported.

    ``own_methods_only`` wraps only the methods a class defines itself (every
    class of a hierarchy is listed); otherwise each method is wrapped on the
    listed class, inherited or not. ``base(module)`` names a class whose
    subclasses defined later are wrapped when they are defined;
    ``functions(module)`` names module functions to wrap, as ``(module, name)``.
    """

    name: str
    module: str
    classes: Callable[[ModuleType], Iterable[type]]
    methods: tuple[str, ...] = ("fit",)
    own_methods_only: bool = False
    base: Callable[[ModuleType], type] | None = None
    functions: Callable[[ModuleType], Iterable[tuple[ModuleType, str]]] | None = None


@dataclass
class _Installed:
    target: Target
    owner: Any  # a class, or a module for a function
    name: str
    own: Any  # the owner's own attribute before installing (None: it inherited the method)
    original: Any
    wrapper: Any


@dataclass
class FitHandler:
    """Each call becomes ``make_inspector(instance).run(...)``; None from it lets the call run untouched."""

    make_inspector: Callable[[Any], Inspector | None]
    inspectors: list[Inspector] = field(default_factory=list)

    def handle(self, call: Call) -> Any:
        __tracebackhide__ = True
        inspector = self.make_inspector(call.instance)
        if inspector is None:  # not one this route inspects
            return call.proceed()
        self.inspectors.append(inspector)
        return inspector.run(call.original, call.instance, call.args, call.kwargs)


@dataclass(frozen=True)
class Route:
    """The handlers of one routed cell (or one grid combination), by target name."""

    handlers: Mapping[str, Handler]


TARGETS: dict[str, Target] = {}
_route: contextvars.ContextVar[Route | None] = contextvars.ContextVar("kepler_route", default=None)
_installed: list[_Installed] = []
_lock = threading.RLock()


def register_target(target: Target) -> None:
    """Route ``target``'s calls too (installed with the others, now if they are installed)."""
    with _lock:
        TARGETS[target.name] = target
        if _installed:
            _install_target(target, import_module=False)


def install(import_frameworks: bool | Iterable[str] = False) -> None:
    """Install the wrappers of every target not yet wrapped (idempotent).

    A target whose framework isn't imported is left for later unless
    ``import_frameworks`` (True, or the names of the targets to import);
    one whose framework isn't installed is skipped.
    """
    with _lock:
        for target in TARGETS.values():
            wanted = import_frameworks if isinstance(import_frameworks, bool) else target.name in import_frameworks
            _install_target(target, import_module=wanted)


def uninstall() -> None:
    """Put every wrapped method back as it was (a wrapper someone else wrapped stays, passing through)."""
    with _lock:
        for entry in reversed(_installed):
            mine = (
                entry.owner.__dict__.get(entry.name) is entry.wrapper
                if isinstance(entry.owner, type)
                else getattr(entry.owner, entry.name, None) is entry.wrapper
            )
            if mine:
                if entry.own is None:
                    delattr(entry.owner, entry.name)
                else:
                    setattr(entry.owner, entry.name, entry.own)
        _installed.clear()


def installed(target: str | None = None) -> list[tuple[Any, str]]:
    """The (class or module, name) pairs wrapped now, of every target or of ``target``."""
    return [(e.owner, e.name) for e in _installed if target is None or e.target.name == target]


def wrapped_functions(target: str) -> dict[int, tuple[Callable[..., Any], Callable[..., Any]]]:
    """``id(original) -> (original, wrapper)`` for the module functions of ``target`` wrapped now."""
    return {
        id(e.original): (e.original, e.wrapper)
        for e in _installed
        if e.target.name == target and not isinstance(e.owner, type)
    }


def original(owner: type, method: str = "fit") -> Callable[..., Any]:
    """The real ``owner.method``, whether or not it is wrapped."""
    for entry in _installed:
        if entry.owner is owner and entry.name == method:
            return entry.original
    found = getattr(owner, method)
    return getattr(found, "__kepler_original__", found)


def original_fit() -> Callable[..., Any]:
    """Keras' own ``Model.fit``, even while it is routed."""
    import keras

    return original(keras.Model, "fit")


@contextlib.contextmanager
def route(handlers: Mapping[str, Handler], import_frameworks: Iterable[str] = ()) -> Iterator[Route]:
    """While active (in this context), each call of a target in ``handlers`` goes to its handler.

    The targets of an enclosing route that ``handlers`` doesn't name stay
    routed as they were; ``import_frameworks`` names targets whose framework
    is imported now if it isn't yet.
    """
    install(import_frameworks=tuple(import_frameworks))
    outer = _route.get()
    current = Route({**(outer.handlers if outer is not None else {}), **handlers})
    token = _route.set(current)
    try:
        yield current
    finally:
        _route.reset(token)


@contextlib.contextmanager
def route_fits(make_inspector: Callable[[Any], Inspector | None]) -> Iterator[list[Inspector]]:
    """While active (in this context), each Keras fit becomes ``make_inspector(model).run(...)``.

    Yields the list of inspectors created, one per call.
    """
    handler = FitHandler(make_inspector)
    with route({"keras": handler}, import_frameworks=("keras",)):
        yield handler.inspectors


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
        _wrap_class(target, owner)
    for namespace, name in target.functions(module) if target.functions else ():
        real = getattr(namespace, name)
        wrapper = _function_wrapper(target.name, name, real)
        setattr(namespace, name, wrapper)
        _installed.append(_Installed(target, namespace, name, real, real, wrapper))
    if target.base is not None:
        _hook_subclasses(target, target.base(module))


def _wrap_class(target: Target, owner: type) -> None:
    for method in target.methods:
        own = owner.__dict__.get(method)
        if target.own_methods_only:
            if own is None or hasattr(own, "__kepler_original__"):  # not its own, or wrapped already
                continue
            if inspect.isfunction(own):
                wrapper: Any = _method_wrapper(target.name, method, own)
            elif hasattr(own, "__get__") and not isinstance(own, (classmethod, staticmethod, property)):
                wrapper = _RoutedDescriptor(own, target.name, method)  # scikit-learn's available_if
            else:
                continue
            real = own
        else:
            real = getattr(owner, method)
            wrapper = _method_wrapper(target.name, method, real)
        setattr(owner, method, wrapper)
        _installed.append(_Installed(target, owner, method, own, real, wrapper))


def _hook_subclasses(target: Target, base: type) -> None:
    """Wrap the classes defined under ``base`` from now on, as they are defined."""
    own = base.__dict__.get("__init_subclass__")

    def init_subclass(cls: type, **kwargs: Any) -> None:
        if own is not None:
            own.__get__(None, cls)(**kwargs)
        else:
            super(base, cls).__init_subclass__(**kwargs)
        with _lock:
            if any(e.wrapper is hook for e in _installed):  # still installed
                for owner in cls.__mro__[:-1]:  # and the mixins it inherits methods from, defined meanwhile
                    _wrap_class(target, owner)

    hook = classmethod(init_subclass)
    base.__init_subclass__ = hook  # type: ignore[assignment]
    _installed.append(_Installed(target, base, "__init_subclass__", own, own, hook))


def _handler(target: str) -> Handler | None:
    current = _route.get()
    return current.handlers.get(target) if current is not None else None


def _method_wrapper(target: str, method: str, real: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(real)
    def routed(self: Any, *args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        handler = _handler(target)
        if handler is None:
            return real(self, *args, **kwargs)
        caller = sys._getframe(1).f_globals.get("__name__", "")
        token = _route.set(None)  # a call made from inside this one runs untouched
        try:
            return handler.handle(Call(method, real, self, args, kwargs, caller))
        finally:
            _route.reset(token)

    routed.__kepler_original__ = real  # type: ignore[attr-defined]
    return routed


def _function_wrapper(target: str, name: str, real: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(real)
    def routed(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        handler = _handler(target)
        if handler is None:
            return real(*args, **kwargs)
        caller = sys._getframe(1).f_globals.get("__name__", "")
        token = _route.set(None)
        try:
            return handler.handle(Call(name, real, None, args, kwargs, caller))
        finally:
            _route.reset(token)

    routed.__kepler_original__ = real  # type: ignore[attr-defined]
    return routed


class _RoutedDescriptor:
    """A method behind a descriptor (scikit-learn's ``available_if``), routed once bound.

    Binding goes through the original descriptor first, so ``hasattr(pipe,
    "predict_proba")`` stays what it was; outside a route the bound method
    is the original's.
    """

    def __init__(self, descriptor: Any, target: str, method: str) -> None:
        self.descriptor, self.target, self.method = descriptor, target, method
        self.__kepler_original__ = descriptor
        functools.update_wrapper(self, descriptor, updated=())

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        bound = self.descriptor.__get__(obj, owner)
        if obj is None or _handler(self.target) is None:
            return bound

        def real(_self: Any, *args: Any, **kwargs: Any) -> Any:
            return bound(*args, **kwargs)

        return types.MethodType(_method_wrapper(self.target, self.method, real), obj)


register_target(Target("keras", "keras", lambda keras: [keras.Model], ("fit",)))
