"""Who is on the other end of the kernel: a person with widgets, a terminal, or nobody.

Kepler asks questions only where someone can answer them. The signals, in
the order they are trusted:

* no IPython at all (a script): nobody;
* a terminal IPython with a TTY: a person at a text prompt;
* an ipykernel whose current request says ``allow_stdin=False``: a
  headless run (nbclient, papermill, Voilà, CI) that no person watches;
* otherwise a front end is attached; whether it shows widgets is learnt
  from the widgets themselves (their front-end half announces itself when
  it loads, see :mod:`kepler_nb.presentation.waiting`).
"""

from __future__ import annotations

import sys
from typing import Any

# Widget front ends seen in this kernel: a Kepler widget's front-end half announced itself.
_seen_widget_frontend = False


def shell() -> Any | None:
    """The running IPython shell, or None outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def kernel() -> Any | None:
    """The ipykernel kernel this code runs in, or None (terminal IPython, a script)."""
    ip = shell()
    return getattr(ip, "kernel", None) if ip is not None else None


def is_terminal() -> bool:
    """A terminal IPython with a person at the keyboard."""
    ip = shell()
    return ip is not None and type(ip).__name__ == "TerminalInteractiveShell" and sys.stdin.isatty()


def parent_request() -> dict[str, Any]:
    """The request the kernel is answering now (the cell's ``execute_request``), or {}."""
    k = kernel()
    if k is None:
        return {}
    try:
        parent = k.get_parent("shell")
    except TypeError:  # ipykernel < 6.22 takes no channel
        parent = k.get_parent()
    except Exception:  # noqa: BLE001 - no request in flight
        return {}
    return parent or {}


def nobody_can_answer() -> str | None:
    """Why no front end can answer a question here, or None when one may."""
    if shell() is None:
        return "not running in IPython"
    if kernel() is None:
        return None if is_terminal() else "no terminal and no notebook front end"
    request = parent_request()
    if not request.get("header"):
        return "no front end request is being answered"
    if request.get("content", {}).get("allow_stdin") is False:
        return "this headless run allows no input, as under nbclient, papermill or CI"
    return None


def widget_frontend_seen() -> bool:
    """Whether a Kepler widget's front-end half has announced itself in this kernel."""
    return _seen_widget_frontend


def saw_widget_frontend() -> None:
    global _seen_widget_frontend
    _seen_widget_frontend = True
