"""Blocking a busy cell until a widget answers, without blocking the widget.

A dialog must stop its cell (and, under "Run All", every cell queued after
it) until a person clicks. The click reaches the kernel as a ``comm_msg`` on
the shell channel, the same channel the queued cells wait on, and the main
thread is busy running the cell that asked. How the click gets in depends on
ipykernel:

* ipykernel >= 7 runs shell messages for *subshells* on their own threads,
  and (7.4+) routes a comm's messages to the subshell its kernel half last
  spoke from. Kepler opens one subshell of its own and routes its widgets'
  comms there: their messages are handled on that thread while the main
  thread waits, whatever the front end's settings, and the queued cells
  stay queued on the main shell. On 7.0-7.3 the route is the front end's
  (JupyterLab >= 4.4 sends widget messages to a subshell by default).
* ipykernel 6 has one shell thread: the waiting loop itself takes messages
  off the shell channel (jupyter-ui-poll), handles comm messages at once,
  and sets queued ``execute_request``\\ s aside to run after the cell (in
  order, before any request that comes later).

Either way the wait is a plain loop with a deadline, so a dialog nobody
answers ends; ``KeyboardInterrupt`` (the stop button) ends it too.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from . import frontend

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

log = logging.getLogger("kepler")

_subshell: dict[int, str | None] = {}  # id(kernel) -> Kepler's subshell id
_POLL_SECONDS = 0.05


def route_to_kepler_thread(widget: Any) -> bool:
    """Have the front end's messages for ``widget`` handled while the main thread is busy.

    Returns True when the kernel routes them to Kepler's own thread, False
    when they take the kernel's usual way (a front-end subshell, or the
    polling loop of :func:`wait_until` on ipykernel 6).
    """
    kernel = frontend.kernel()
    comm = getattr(widget, "comm", None)
    if kernel is None or comm is None or not hasattr(comm, "_reply_subshell_for"):
        return False
    subshell_id = _kepler_subshell(kernel)
    if subshell_id is None:
        return False
    comm._reply_subshell_for = lambda data, default: subshell_id
    return True


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    """Block until ``condition()`` is true (True) or ``timeout`` seconds pass (False).

    Widget messages keep arriving while it waits (see the module doc).
    """
    deadline = time.monotonic() + max(0.0, timeout)
    if condition():
        return True
    with _polling() as poll:
        while True:
            poll()  # at least once, even with no time to wait
            if condition():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(_POLL_SECONDS, remaining))


@contextlib.contextmanager
def _polling() -> Iterator[Callable[[], None]]:
    """A function that lets pending shell messages in (ipykernel 6), else a no-op."""
    kernel = frontend.kernel()
    if kernel is None or getattr(kernel, "shell_channel_thread", None) is not None or not _has_iteration(kernel):
        yield lambda: None
        return
    from jupyter_ui_poll import ui_events

    def poll_some() -> None:
        _feed_idle_dispatcher(kernel)
        poll(20)

    with ui_events() as poll:
        yield poll_some


async def _nothing() -> None:
    """A message that asks nothing (see :func:`_feed_idle_dispatcher`)."""


def _feed_idle_dispatcher(kernel: Any) -> None:
    """Give ipykernel 6's idle dispatcher an empty message, so it can't take the next real one.

    A cell that jupyter-ui-poll runs after the cell that waited (the cells
    "Run All" queued) runs while the kernel's own dispatcher waits on its
    message queue: the next message put there would go to that waiter, to
    be handled only after the cell, and a waiting dialog would never hear its
    click. Handing the waiter an empty message first leaves the real ones in
    the queue, where the polling loop finds them.
    """
    queue = getattr(kernel, "msg_queue", None)
    getters = getattr(queue, "_getters", None)
    counter = getattr(kernel, "_message_counter", None)
    if queue is None or counter is None or not getters or all(f.done() for f in getters):
        return
    queue.put_nowait((next(counter), _nothing, ()))


def _has_iteration(kernel: Any) -> bool:
    return callable(getattr(kernel, "do_one_iteration", None))


def _kepler_subshell(kernel: Any) -> str | None:
    """Kepler's subshell in this kernel (created once), or None where there are none."""
    key = id(kernel)
    if key in _subshell:
        return _subshell[key]
    thread = getattr(kernel, "shell_channel_thread", None)
    manager = getattr(thread, "manager", None)
    create = getattr(manager, "_create_subshell", None)
    subshell_id = None
    if create is not None:
        done, box = threading.Event(), {}

        def make() -> None:  # subshells are made on the shell channel thread only
            try:
                box["id"] = create()
            except Exception as error:  # noqa: BLE001 - fall back to the kernel's own routing
                box["error"] = error
            finally:
                done.set()

        thread.io_loop.add_callback(make)
        if done.wait(5):
            subshell_id = box.get("id")
            if "error" in box:
                log.warning("could not open a subshell for Kepler's widgets: %s", box["error"])
    _subshell[key] = subshell_id
    return subshell_id


def cell_parent_keeper() -> Callable[[], None]:
    """A function that makes the cell's request the kernel's current one again, to call after a wait.

    On ipykernel 6 the waiting loop (jupyter-ui-poll) handles the widget's
    messages as requests of their own, and puts back as the cell's "shell"
    identity the whole per-channel dict of identities: a text prompt
    (``input()``) asked then fails ("Frame 0 ... does not support the buffer
    interface"). Read before waiting, the cell's own identity and request
    are set back. Elsewhere: a no-op.
    """
    kernel = frontend.kernel()
    identities = getattr(kernel, "_parent_ident", None)
    if kernel is None or not isinstance(identities, dict) or isinstance(identities.get("shell"), dict):
        return lambda: None
    identity, request = identities.get("shell"), frontend.parent_request()

    def restore() -> None:
        if request:
            kernel.set_parent(identity, request, "shell")

    return restore


_busy_depth: dict[int, int] = {}  # id(kernel) -> nesting of reads_busy() blocks


@contextlib.contextmanager
def reads_busy() -> Iterator[None]:
    """Keep the kernel's published state "busy" while the cell inside this block runs.

    Front ends (JupyterLab's status bar, ``kernel.status``) take the state
    from the last IOPub ``status`` message, whatever request it answers.
    Each message a widget sends while the cell runs (a dialog's "ready" or
    click, handled on a subshell on ipykernel 7 or by the waiting loop on
    ipykernel 6) ends with "idle", and the kernel would read idle while a
    dialog waits or the cell trains. Inside this block every such "idle" is
    followed at once by "busy" for the cell's own request. The cell's own
    "idle" comes after the block, as usual.
    """
    kernel = frontend.kernel()
    request = frontend.parent_request()
    cell_id = (request.get("header") or {}).get("msg_id")
    publish = getattr(kernel, "_publish_status", None)
    key = id(kernel)
    if kernel is None or cell_id is None or publish is None or _busy_depth.get(key):
        yield
        return

    def publish_status(status: str, channel: str, parent: Any = None) -> None:
        publish(status, channel, parent)
        if status != "idle" or channel != "shell":
            return
        answered = parent or kernel.get_parent(channel) or {}
        if (answered.get("header") or {}).get("msg_id") != cell_id:
            publish("busy", channel, request)

    _busy_depth[key] = 1
    previous = kernel.__dict__.get("_publish_status")
    kernel._publish_status = publish_status
    try:
        yield
    finally:
        _busy_depth.pop(key, None)
        if previous is not None:
            kernel._publish_status = previous
        else:
            del kernel._publish_status
