"""``kepler.check``: the pre-training checks, without training."""

from __future__ import annotations

import warnings
from typing import Any

from .checks.context import CheckContext
from .checks.finding import Finding, KeplerWarning
from .checks.preflight import measure
from .checks.runner import run_checks
from .checks.selection import Selection, parse_codes
from .fit.call import FitCall
from .fit.estimator import is_estimator
from .fit.estimator_call import bind_estimator_call
from .interception.routing import original_fit


def check(
    model: Any, x: Any = None, y: Any = None, *, select: str = "", ignore: str = "", **fit_kwargs: Any
) -> list[Finding]:
    """Run every pre-training check on ``model`` (Keras model or estimator) and the data, as ``fit`` would see them.

    Nothing is trained and the model is untouched. Each finding (but the
    skipped checks) is also emitted as a :class:`KeplerWarning`.
    """
    if is_estimator(model):
        call = bind_estimator_call(type(model).fit, model, (x, y), fit_kwargs)
    else:
        call = FitCall.bind(original_fit(), model, (x, y), fit_kwargs, sample_generators=False)
    findings = run_checks(CheckContext(call), Selection(parse_codes(select), parse_codes(ignore)))
    for finding in (f for f in findings if not f.skipped):
        warnings.warn_explicit(KeplerWarning(finding), KeplerWarning, "kepler", 0, module="kepler")
    return findings


def preflight(model: Any, x: Any = None, y: Any = None, **fit_kwargs: Any) -> list[Finding]:
    """Probe ``model`` on a clone before training it: can it overfit one small batch (K601), does it
    learn as well from zeroed inputs (K602)?

    Takes ``model.fit``'s arguments. The model, its weights, its optimizer and
    the random state are untouched; each probe runs within 1,000 steps and
    30 seconds. Each finding (but the skipped checks) is also emitted as a
    :class:`KeplerWarning`.
    """
    call = FitCall.bind(original_fit(), model, (x, y), fit_kwargs, sample_generators=False)
    context = measure(call)
    findings = run_checks(context, Selection(), stages=("preflight",))
    for finding in (f for f in findings if not f.skipped):
        warnings.warn_explicit(KeplerWarning(finding), KeplerWarning, "kepler", 0, module="kepler")
    return findings
