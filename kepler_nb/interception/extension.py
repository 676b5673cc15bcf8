"""``%load_ext kepler`` and ``%unload_ext kepler``."""

from __future__ import annotations

import logging
import sys
import threading
from typing import TYPE_CHECKING

from . import estimator_routing, routing

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

log = logging.getLogger("kepler")


def load_ipython_extension(ipython: InteractiveShell) -> None:
    """Register the magics; wrap the routed methods of the frameworks already imported (Keras, scikit-learn)."""
    from .magic import KeplerMagics

    ipython.register_magics(KeplerMagics)
    estimator_routing.register_targets()
    routing.install()
    warm_up()


def unload_ipython_extension(ipython: InteractiveShell) -> None:
    """Put the routed fit methods back as they were."""
    routing.uninstall()


def warm_up() -> threading.Thread:
    """Import what the first fit needs on a background thread, while the user writes the next cells.

    The live view's widget library (anywidget, ipywidgets), the check
    catalogue and reading a big journal cost the first fit of a kernel
    0.2-1.5 s otherwise. Only
    packages outside the deep-learning stack are imported here, so that
    this thread never waits on an import the user's cell is making (a
    ``keras``-importing module is imported only once keras is loaded).
    """
    thread = threading.Thread(target=_import_soon, name="kepler-warm-up", daemon=True)
    thread.start()
    return thread


def _import_soon() -> None:
    try:
        from .journals import warm_shared_journal

        # First: it needs no module the user's next cell may be importing (numpy, keras), so it never
        # waits for one, and it is the most work.
        warm_shared_journal()  # read and indexed for the lookup before the first fit

        import anywidget  # noqa: F401 - the live view's widget base

        from ..checks.catalogue import all_checks

        all_checks()  # every check module imported, the catalogue read

        if "keras" in sys.modules:
            from ..presentation import live  # noqa: F401
    except Exception:  # warming up is optional: the fit imports what it needs
        log.debug("warm-up import failed", exc_info=True)
