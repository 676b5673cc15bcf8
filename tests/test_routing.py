"""Routing of fit: one wrapper, a context variable; safe under nesting, threads and unload.

Real Keras fits on a tiny model; the inspectors are recorders that call the
real fit, so what is asserted is which route caught which fit.
"""

from __future__ import annotations

import threading

import keras
import numpy as np
import pytest

from kepler_nb.interception import routing
from kepler_nb.interception.extension import load_ipython_extension, unload_ipython_extension
from kepler_nb.interception.routing import original_fit, route_fits

X = np.zeros((8, 3), dtype="float32")
Y = np.zeros((8, 1), dtype="float32")


class Recorder:
    """An inspector that notes the fits it was handed and runs them."""

    def __init__(self, label: str, caught: list[str], inner: bool = False) -> None:
        self.label, self.caught, self.inner = label, caught, inner

    def run(self, fit, model, args, kwargs):
        self.caught.append(self.label)
        result = fit(model, *args, **kwargs)
        if self.inner:  # a fit made from inside an inspected fit
            model.fit(X, Y, epochs=1, verbose=0)
        return result


def tiny() -> keras.Model:
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    return model


def fit(model: keras.Model) -> None:
    model.fit(X, Y, epochs=1, verbose=0)


def is_real(method) -> bool:
    return not hasattr(method, "__kepler_original__") and method.__qualname__.endswith("Trainer.fit")


@pytest.fixture
def model():
    return tiny()


def test_a_route_catches_fits_only_while_it_is_active(model):
    caught: list[str] = []
    fit(model)
    with route_fits(lambda m: Recorder("cell", caught)) as inspectors:
        fit(model)
        fit(model)
    fit(model)
    assert caught == ["cell", "cell"] and len(inspectors) == 2
    assert is_real(original_fit())


def test_nested_routes_give_the_outer_route_back(model):
    caught: list[str] = []
    with route_fits(lambda m: Recorder("outer", caught)):
        fit(model)
        with route_fits(lambda m: Recorder("inner", caught)):
            fit(model)
            assert is_real(original_fit())
        fit(model)
        assert is_real(original_fit())
    fit(model)
    assert caught == ["outer", "inner", "outer"]
    assert is_real(original_fit())


def test_a_fit_inside_an_inspected_fit_runs_untouched(model):
    caught: list[str] = []
    with route_fits(lambda m: Recorder("cell", caught, inner=True)):
        fit(model)
    assert caught == ["cell"]


def test_a_route_that_declines_an_instance_lets_its_fit_run(model):
    caught: list[str] = []
    with route_fits(lambda m: None):
        history = model.fit(X, Y, epochs=2, verbose=0)
    assert caught == [] and len(history.epoch) == 2


def test_overlapping_routes_on_two_threads_each_catch_their_own_fits():
    """Thread a's route starts first and ends first; b's fits stay b's; nothing is left routed."""
    caught: list[str] = []
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []
    models = {"a": tiny(), "b": tiny()}

    def a() -> None:
        with route_fits(lambda m: Recorder("a", caught)):
            a_in.set()
            b_in.wait(30)
            fit(models["a"])
        a_out.set()

    def b() -> None:
        a_in.wait(30)
        with route_fits(lambda m: Recorder("b", caught)):
            b_in.set()
            a_out.wait(30)  # a's route has ended while b's is active
            fit(models["b"])

    def guarded(target):
        def run():
            try:
                target()
            except BaseException as error:  # noqa: BLE001 - reported by the test below
                errors.append(error)

        return run

    threads = [threading.Thread(target=guarded(a)), threading.Thread(target=guarded(b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors
    assert sorted(caught) == ["a", "b"]
    fit(models["a"])  # on this thread, outside any route
    assert sorted(caught) == ["a", "b"]
    assert is_real(original_fit())


def test_a_fit_on_another_thread_is_not_caught_by_this_route(model):
    caught: list[str] = []
    with route_fits(lambda m: Recorder("cell", caught)):
        worker = threading.Thread(target=fit, args=(tiny(),))
        worker.start()
        worker.join(120)
        fit(model)  # the control: this thread's fit is caught
    assert caught == ["cell"]


def test_unload_puts_fit_back_and_load_installs_it_once():
    from IPython import get_ipython
    from IPython.testing.globalipapp import start_ipython

    ip = start_ipython() or get_ipython()
    load_ipython_extension(ip)
    load_ipython_extension(ip)  # loading again wraps nothing twice
    assert routing.installed() == [(keras.Model, "fit")]
    assert hasattr(keras.Model.__dict__["fit"], "__kepler_original__")
    assert is_real(original_fit())

    unload_ipython_extension(ip)
    assert "fit" not in keras.Model.__dict__  # Model inherits its fit again
    assert routing.installed() == []
    assert is_real(keras.Model.fit) and is_real(original_fit())

    caught: list[str] = []
    with route_fits(lambda m: Recorder("after", caught)):  # a routed cell installs it again
        fit(tiny())
    assert caught == ["after"]
    load_ipython_extension(ip)


def test_unload_during_a_route_leaves_the_real_fit(model):
    caught: list[str] = []
    with route_fits(lambda m: Recorder("cell", caught)):
        routing.uninstall()
        fit(model)  # no wrapper any more: untouched
        assert is_real(original_fit())
    assert caught == []
    routing.install()


def test_a_wrapper_someone_wrapped_again_stays_but_passes_through(model):
    routing.install(import_frameworks=True)
    ours = keras.Model.__dict__["fit"]

    def theirs(self, *args, **kwargs):
        return ours(self, *args, **kwargs)

    keras.Model.fit = theirs
    try:
        routing.uninstall()
        assert keras.Model.__dict__["fit"] is theirs  # not ours to remove
        caught: list[str] = []
        history = model.fit(X, Y, epochs=1, verbose=0)
        assert caught == [] and len(history.epoch) == 1
    finally:
        del keras.Model.fit
    routing.install()
