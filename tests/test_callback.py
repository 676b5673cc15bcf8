"""Kepler's callbacks leave every batch hook alone: no per-batch work, batch callbacks stay asynchronous."""

from __future__ import annotations

import keras
import numpy as np
from keras.src.utils.python_utils import is_default

from kepler import ModelInspector
from kepler_nb.interception.callback import KeplerCallback
from kepler_nb.presentation.live import LiveView

BATCH_HOOKS = [f"on_{stage}batch_{when}" for stage in ("", "train_", "test_", "predict_") for when in ("begin", "end")]


def overridden_batch_hooks(callback: keras.callbacks.Callback) -> list[str]:
    """The batch hooks Keras would call for this callback (it skips those left at their default)."""
    return [hook for hook in BATCH_HOOKS if not is_default(getattr(callback, hook))]


def test_the_callbacks_of_an_inspected_fit_override_no_batch_hook(kepler_home, monkeypatch):
    seen: list[keras.callbacks.Callback] = []
    original = keras.callbacks.CallbackList.__init__

    def spy(self, callbacks=None, *args, **kwargs):
        seen.extend(callbacks or [])
        original(self, callbacks, *args, **kwargs)

    monkeypatch.setattr(keras.callbacks.CallbackList, "__init__", spy)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 4)).astype("float32"), rng.integers(0, 2, 64)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with ModelInspector(model=model) as mi:
        mi.fit(x, y, epochs=2, batch_size=16, validation_split=0.25, verbose=0)
    ours = [cb for cb in seen if type(cb).__module__.startswith("kepler_nb")]
    assert any(isinstance(cb, KeplerCallback) for cb in ours), "the fit did not go through Kepler's callback"
    assert {type(cb).__name__: overridden_batch_hooks(cb) for cb in ours} == {type(cb).__name__: [] for cb in ours}


def test_the_live_view_overrides_no_batch_hook():
    assert [h for h in BATCH_HOOKS if getattr(LiveView, h) is not getattr(keras.callbacks.Callback, h)] == []


def test_a_callback_with_a_batch_hook_is_told_apart():
    class PerBatch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            pass

    assert overridden_batch_hooks(PerBatch()) == ["on_train_batch_end"]
    assert overridden_batch_hooks(keras.callbacks.Callback()) == []
