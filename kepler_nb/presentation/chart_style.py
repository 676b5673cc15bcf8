"""One style for every chart of curves Kepler draws: the live view, the journal sidebar,
"Show their curves" and the HTML reports.

The SVG charts (:mod:`.charts`, drawn by the widgets' JavaScript or as a static
picture) and the matplotlib figures of the reports (:mod:`.report_plots`) both
take from here:

- the palette: one colour per run, in the order the runs are listed (the run
  being trained, or the first one selected, is the first colour). A colour
  always means a run; validation is always the dashed line of its run's colour;
- the order of the metrics: the loss first, then the others as the run logged them;
- the scale: logarithmic when a curve's positive values span at least two
  decades (a loss falling from 20 to 0.1), else linear;
- the ink: text and grid colours. Widgets and inline pictures use the page's
  colour (``currentColor``, JupyterLab's theme variables) on a transparent
  background, so they read in light and dark themes alike.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

# Readable on white and on JupyterLab Dark's #111 (each at least 3:1 against both).
PALETTE = ("#4c6ef5", "#e8590c", "#2f9e44", "#ae3ec9", "#f03e3e", "#0c8599", "#e67700", "#868e96")
VALIDATION_DASH = (5, 3)  # SVG dash pattern; matplotlib's "--" is close to it
LOG_DECADES = 2.0  # a positive curve spanning this many powers of ten is drawn on a log axis
EARLIER_OPACITY = 0.45  # earlier runs drawn behind the current one
# A grey that reads (>= 4:1) on both a white and a near-black page, for pictures that can't follow the theme.
NEUTRAL_INK = "#7c7c7c"


def run_color(index: int) -> str:
    """The colour of the ``index``-th run listed (0: the current or first selected run)."""
    return PALETTE[index % len(PALETTE)]


def base_name(key: str) -> str:
    """``val_accuracy`` -> ``accuracy``: the metric a validation curve belongs to."""
    return key[4:] if key.startswith("val_") and len(key) > 4 else key


def metric_order(keys: Iterable[str]) -> list[str]:
    """The metrics of ``keys`` (without ``val_``), each once: the loss first, then as logged."""
    bases: list[str] = []
    for key in keys:
        base = base_name(key)
        if base not in bases:
            bases.append(base)
    return sorted(bases, key=lambda b: b != "loss")


def finite(values: Iterable[Any]) -> list[float]:
    return [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]


def log_scale(values: Sequence[float]) -> bool:
    """True when every value is positive and they span at least ``LOG_DECADES`` powers of ten."""
    values = finite(values)
    if len(values) < 2 or min(values) <= 0:
        return False
    return math.log10(max(values) / min(values)) >= LOG_DECADES
