"""The live view of a training run: curves per epoch, a compact progress line, findings.

While a fit under ``%%kepler_fit`` trains in a notebook, its output shows one
chart per metric (training and validation) updated at the end of every
epoch, the curves of similar earlier experiments drawn faintly behind, one
progress line (``epoch 3/10 · 0.8 s/epoch · about 6 s left``) and the
findings of the training checks as they appear. When the fit ends the
widget is replaced by the same charts as a static image and one line of
text, which is what the saved notebook keeps.

Keras' own per-batch progress bar is replaced by that line when the fit's
``verbose`` is ``"auto"`` or 1; ``verbose=2`` keeps Keras' one line per
epoch and ``verbose=0`` prints nothing. Where no front end shows widgets
(nbclient, papermill, a front end without widgets) the progress line is
one text output updated in place each epoch, and it ends as the line saying
what was recorded. Outside a notebook kernel (a script, a
terminal IPython) Keras' output is left as it is.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import anywidget
import keras
import numpy as np
import traitlets

from . import assets, charts, frontend, waiting
from .summary import seconds_text

log = logging.getLogger("kepler")

GHOSTS = 5  # earlier runs drawn behind the live curves
HANDSHAKE_SECONDS = 3.0  # how long the first epoch waits for the widget to show, once per kernel
_handshake_failed = False


class LiveWidget(anywidget.AnyWidget):
    _esm = assets.module("charts.js", "live.js")
    _css = assets.css()

    title = traitlets.Unicode().tag(sync=True)
    progress = traitlets.Unicode().tag(sync=True)
    status = traitlets.Unicode("training").tag(sync=True)
    charts = traitlets.List().tag(sync=True)
    legend = traitlets.List().tag(sync=True)
    findings = traitlets.List().tag(sync=True)  # [{"severity", "text"}]
    note = traitlets.Unicode().tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ready = False
        self.created = time.monotonic()
        self.on_msg(self._on_msg)

    def _on_msg(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "ready":
            self.ready = True
            frontend.saw_widget_frontend()
            log.info("live view shown after %.2f s", time.monotonic() - self.created)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle:
            bundle[0]["text/plain"] = f"Kepler: {self.title} {self.progress}".strip()
        return bundle


class LiveView(keras.callbacks.Callback):
    """Feeds the live widget (or the text progress line) from the fit's epochs."""

    def __init__(self, inspector: Any, call: Any, kepler_callback: Any, widget: bool, text: bool) -> None:
        super().__init__()
        self.inspector = inspector
        self.kepler_callback = kepler_callback
        self.text = text
        self.history: dict[str, list[float]] = {}
        self.ghosts = _ghosts(inspector)
        self.epochs = call["epochs"]
        self.started = time.monotonic()
        self.epoch_started = self.started
        self.durations: list[float] = []
        self.shown_findings = 0
        self.widget: LiveWidget | None = None
        self.handle: Any = None
        self.text_handle: Any = None  # the progress line, where no widget shows
        if widget:
            self._show_widget()
        _refresh_journals()  # the run is recorded as running by now

    @classmethod
    def start(cls, inspector: Any, call: Any, kepler_callback: Any) -> LiveView | None:
        """The live view for this fit, or None where Keras' own output is kept (no notebook kernel)."""
        if frontend.kernel() is None:
            return None
        verbose = call["verbose"]
        text = verbose in ("auto", 1, True, None)
        if text:
            call.arguments["verbose"] = 0  # the progress line replaces Keras' progress bar
        widget = frontend.nobody_can_answer() is None
        try:
            return cls(inspector, call, kepler_callback, widget=widget, text=text)
        except Exception:
            log.exception("could not show the live view")
            if text:
                call.arguments["verbose"] = verbose
            return None

    # -- Keras hooks ------------------------------------------------------------------
    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.epochs = self.params.get("epochs") or self.epochs
        self.started = time.monotonic()

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.epoch_started = time.monotonic()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        try:  # whatever goes wrong here is the view's, never the user's training
            self.durations.append(time.monotonic() - self.epoch_started)
            for key, value in (logs or {}).items():
                self.history.setdefault(key, []).append(_number(value))
            line = self.progress_line(epoch)
            if self.widget is not None:
                self._update_widget(line, first=len(self.durations) == 1)
            if self.text and not self._widget_shown():
                self._show_text(f"Kepler: {line}")
        except Exception:
            log.exception("could not update the live view")

    def _show_text(self, line: str) -> None:
        """The progress line, one output updated in place: it ends as the line saying what was recorded."""
        from IPython.display import display

        bundle = {"text/plain": line}
        if self.text_handle is None:
            self.text_handle = display(bundle, raw=True, display_id=True)
        else:
            self.text_handle.update(bundle, raw=True)

    def shows_findings(self) -> bool:
        """Whether the widget is on the page, showing the training findings as they come."""
        return self._widget_shown()

    # -- what it shows ----------------------------------------------------------------
    def progress_line(self, epoch: int) -> str:
        """``epoch 3/10 · 0.8 s/epoch · loss 0.412 · val_loss 0.455 · about 6 s left``."""
        done = epoch + 1
        parts = [f"epoch {done}/{self.epochs}" if self.epochs else f"epoch {done}"]
        per_epoch = sum(self.durations) / len(self.durations) if self.durations else 0.0
        parts.append(f"{seconds_text(per_epoch)}/epoch")
        parts += [f"{k} {charts.format_number(v[-1])}" for k, v in self.history.items() if v and math.isfinite(v[-1])]
        if self.epochs and done < self.epochs:
            parts.append(f"about {seconds_text(per_epoch * (self.epochs - done))} left")
        return " · ".join(parts)

    def end(self, status: str, line: str) -> bool:
        """The fit ended (``finished``, ``failed``, ``interrupted``): leave a static picture and ``line``.

        False when ``line`` is for the caller to show (no widget and no progress line here).
        """
        _refresh_journals()
        if self.text_handle is not None:
            self.text_handle.update({"text/plain": line}, raw=True)
            if self.widget is None:
                return True
        if self.widget is None:
            return False
        try:
            experiment = self.inspector.experiment_id
            drawn = charts.metric_charts(self.history, self.ghosts, self.epochs)
            names = ", ".join(chart["title"] for chart in drawn)
            bundle = charts.picture_bundle(
                drawn, charts.legend_for(drawn), f"[curves of experiment {experiment}: {names}]"
            )
            self.handle.update(bundle, raw=True)
            self.widget.close()
        except Exception:
            log.exception("could not close the live view")
        if self.text_handle is None:
            print(line)
        return True

    def _show_widget(self) -> None:
        from IPython.display import display

        inspector = self.inspector
        name = inspector.options.name or getattr(inspector.model, "name", "") or "model"
        drawn = charts.metric_charts({}, self.ghosts, self.epochs)
        self.widget = LiveWidget(
            title=f"{name} — training",
            progress=f"epoch 0/{self.epochs} · starting",
            charts=drawn,
            legend=charts.legend_for(drawn),
            note=_ghost_note(self.ghosts),
        )
        waiting.route_to_kepler_thread(self.widget)
        self.handle = display(self.widget, display_id=True)

    def _update_widget(self, line: str, first: bool) -> None:
        drawn = charts.metric_charts(self.history, self.ghosts, self.epochs)
        findings = list(self.kepler_callback.findings) if self.kepler_callback is not None else []
        with self.widget.hold_sync():
            self.widget.progress = line
            self.widget.charts = drawn
            self.widget.legend = charts.legend_for(drawn)
            if len(findings) != self.shown_findings:
                self.shown_findings = len(findings)
                self.widget.findings = [{"severity": f.severity, "text": f.line()} for f in findings if not f.skipped]
        if first:
            self._wait_for_widget()

    def _wait_for_widget(self) -> None:
        """Once per kernel at most: give the widget a moment to show before printing text instead."""
        global _handshake_failed
        widget = self.widget
        if widget.ready or _handshake_failed:
            return
        seconds = 0.0 if frontend.widget_frontend_seen() else HANDSHAKE_SECONDS
        if not waiting.wait_until(lambda: widget.ready, seconds) and seconds:
            _handshake_failed = True

    def _widget_shown(self) -> bool:
        if self.widget is None:
            return False
        if not self.widget.ready:
            waiting.wait_until(lambda: self.widget.ready, 0)  # lets its message in on ipykernel 6
        return self.widget.ready


def _refresh_journals() -> None:
    from .journal_widget import refresh_open_journals

    refresh_open_journals()


def _ghosts(inspector: Any) -> list[tuple[str, dict[str, list[float]]]]:
    """Curves of the similar earlier runs the inspector found, for drawing behind this one."""
    ghosts = []
    journal = getattr(inspector, "journal", None)
    for match in (getattr(inspector, "similar", None) or [])[:GHOSTS]:
        try:
            curves = journal.history(match["id"])
        except Exception:  # noqa: BLE001 - a missing run file only means no curve
            continue
        if curves:
            ghosts.append((f"#{match['id']} {match.get('name') or ''}".strip(), curves))
    return ghosts


def _ghost_note(ghosts: list[tuple[str, dict[str, list[float]]]]) -> str:
    if not ghosts:
        return ""
    names = ", ".join(label for label, _ in ghosts)
    return f"Fainter curves, one colour each: similar earlier experiments ({names})."


def _number(value: Any) -> float:
    try:
        return float(np.asarray(value))
    except (TypeError, ValueError):
        return float("nan")
