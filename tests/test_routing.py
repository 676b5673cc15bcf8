"""Routing of fit: one wrapper, a context variable; safe under nesting, threads and unload.

Real Keras fits on a tiny model and real scikit-learn fits on tiny data; the
inspectors are recorders that call the real fit, so what is asserted is which
route caught which fit.
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
    assert routing.installed("keras") == [(keras.Model, "fit")]
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


# -- scikit-learn estimators: the same registry, the same context variable --------------------
def estimator_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    return x, (x[:, 0] > 0).astype(int)


class EstimatorRecorder(Recorder):
    """An estimator inspector that notes the experiments it was handed, and the scores it was told of."""

    def scored(self, name, value, x, y, watch):
        self.caught.append(f"{self.label} {name}")


def estimator_route(label: str, caught: list[str]):
    from kepler_nb.interception.estimator_routing import route_estimator_fits

    return route_estimator_fits(lambda e: EstimatorRecorder(label, caught))


def is_real_method(cls, name: str = "fit") -> bool:
    return not hasattr(cls.__dict__[name], "__kepler_original__")


def test_estimator_fits_are_caught_only_inside_the_route_and_a_meta_estimator_is_one_experiment():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = estimator_data()
    caught: list[str] = []
    LogisticRegression().fit(x, y)
    with estimator_route("cell", caught) as watch:
        make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y)
        GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=2).fit(x, y)
    LogisticRegression().fit(x, y)
    assert caught == ["cell", "cell"]  # the steps, the candidates and the refit are not experiments
    assert len(watch.inspectors) == 2


def test_nested_estimator_routes_give_the_outer_route_back():
    from sklearn.linear_model import LogisticRegression

    x, y = estimator_data()
    caught: list[str] = []
    with estimator_route("outer", caught):
        LogisticRegression().fit(x, y)
        with estimator_route("inner", caught):
            LogisticRegression().fit(x, y)
        LogisticRegression().fit(x, y)
    LogisticRegression().fit(x, y)
    assert caught == ["outer", "inner", "outer"]
    assert is_real_method(LogisticRegression) is False  # the pass-through wrapper stays installed


def test_a_keras_route_and_an_estimator_route_nest_and_each_keeps_its_own_fits(model):
    from sklearn.linear_model import LogisticRegression

    x, y = estimator_data()
    caught: list[str] = []
    with route_fits(lambda m: Recorder("keras", caught)), estimator_route("sklearn", caught):
        fit(model)
        LogisticRegression().fit(x, y)
        with estimator_route("inner", caught):
            fit(model)  # the inner route replaces only the estimators' handler
            LogisticRegression().fit(x, y)
    assert caught == ["keras", "sklearn", "keras", "inner"]


def test_overlapping_estimator_routes_on_two_threads_each_catch_their_own_fits():
    """Thread a's route starts first and ends first; b's fits stay b's; nothing is left routed."""
    from sklearn.linear_model import LogisticRegression

    x, y = estimator_data()
    caught: list[str] = []
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def a() -> None:
        with estimator_route("a", caught):
            a_in.set()
            b_in.wait(30)
            LogisticRegression().fit(x, y)
        a_out.set()

    def b() -> None:
        a_in.wait(30)
        with estimator_route("b", caught):
            b_in.set()
            a_out.wait(30)  # a's route has ended while b's is active
            LogisticRegression().fit(x, y)

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
    LogisticRegression().fit(x, y)  # on this thread, outside any route
    assert sorted(caught) == ["a", "b"]


def test_an_estimator_fit_on_another_thread_is_not_caught_by_this_route():
    from sklearn.linear_model import LogisticRegression

    x, y = estimator_data()
    caught: list[str] = []
    with estimator_route("cell", caught):
        worker = threading.Thread(target=lambda: LogisticRegression().fit(x, y))
        worker.start()
        worker.join(120)
        LogisticRegression().fit(x, y)  # the control: this thread's fit is caught
    assert caught == ["cell"]


def test_a_score_and_a_metric_of_the_cell_reach_the_route_the_fit_was_caught_by():
    import sklearn.metrics
    from sklearn.linear_model import LogisticRegression

    x, y = estimator_data()
    caught: list[str] = []
    with estimator_route("cell", caught):
        estimator = LogisticRegression().fit(x, y)
        estimator.score(x, y)
        sklearn.metrics.accuracy_score(y, estimator.predict(x))
    estimator.score(x, y)  # outside: nobody told
    assert caught == ["cell", "cell score", "cell accuracy_score"]


def test_unload_puts_every_estimator_method_back_and_classes_defined_later_are_routed():
    from IPython import get_ipython
    from IPython.testing.globalipapp import start_ipython
    from sklearn.base import BaseEstimator
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    ip = start_ipython() or get_ipython()
    load_ipython_extension(ip)
    assert (LogisticRegression, "fit") in routing.installed("sklearn")
    assert not is_real_method(LogisticRegression) and not is_real_method(Pipeline, "predict_proba")

    class Defined(LogisticRegression):  # an estimator class defined after loading: wrapped as defined
        def fit(self, x, y):
            return super().fit(x, y)

    x, y = estimator_data()
    caught: list[str] = []
    with estimator_route("cell", caught):
        Defined().fit(x, y)
    assert caught == ["cell"]
    pipe = Pipeline([("model", LogisticRegression())])
    assert hasattr(pipe, "predict_proba")  # available_if still decides

    unload_ipython_extension(ip)
    assert routing.installed() == []
    assert is_real_method(LogisticRegression) and is_real_method(Defined)
    assert not hasattr(Pipeline.__dict__["predict_proba"], "__kepler_original__")
    assert "__init_subclass__" not in BaseEstimator.__dict__
    import sklearn.metrics

    assert not hasattr(sklearn.metrics.accuracy_score, "__kepler_original__")
    load_ipython_extension(ip)
