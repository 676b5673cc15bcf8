"""``%load_ext kepler``."""

from __future__ import annotations

from typing import Any


def load_ipython_extension(ipython: Any) -> None:
    from .magic import KeplerMagics

    ipython.register_magics(KeplerMagics)


def unload_ipython_extension(ipython: Any) -> None:
    pass
