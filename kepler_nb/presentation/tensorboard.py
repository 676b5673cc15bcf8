"""Compare experiments in TensorBoard: their recorded curves written as event files.

``%kepler tensorboard 3 7 12`` writes one run folder per experiment under one
log folder, laid out as Keras' TensorBoard callback lays out its logs
(``<run>/train`` and ``<run>/validation``, scalars ``epoch_loss``,
``epoch_accuracy``...), so the runs overlay on the same charts. It then opens
TensorBoard inline where the ``%tensorboard`` magic is available, else prints
the command to start it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from ..journal.journal import Journal

EVENT_FILES = "events.out.tfevents.*"


def write_runs(journal: Journal, ids: Sequence[Any], logdir: str | Path | None = None) -> Path:
    """Write the curves of experiments ``ids`` as TensorBoard event files; return the log folder.

    The default folder is ``KEPLER_HOME/tensorboard/runs-<ids>``. Writing
    again replaces the event files Kepler wrote there before.
    """
    import tensorflow as tf
    from tensorflow.core.framework import summary_pb2

    # What tf.summary.scalar writes, without needing the tensorboard package here.
    scalars = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))
    if not ids:
        raise ValueError("which experiments? Give their ids: %kepler tensorboard 3 7 12")
    summaries = _summaries(journal, ids)
    root = (
        Path(logdir) if logdir else journal.home / "tensorboard" / ("runs-" + "-".join(str(s["id"]) for s in summaries))
    )
    root.mkdir(parents=True, exist_ok=True)
    for summary in summaries:
        history = journal.history(summary["id"])
        run = root / _run_name(summary)
        for part in ("train", "validation"):
            folder = run / part
            for old in folder.glob(EVENT_FILES) if folder.exists() else []:
                old.unlink()
            series = {
                _tag(k): v
                for k, v in history.items()
                if (k.startswith("val_") if part == "validation" else not k.startswith("val_"))
            }
            if not series:
                continue
            writer = tf.summary.create_file_writer(str(folder))
            with writer.as_default():
                for tag, values in series.items():
                    for epoch, value in enumerate(values):
                        if isinstance(value, (int, float)):
                            tf.summary.write(tag, tf.constant(float(value), tf.float32), epoch, metadata=scalars)
            writer.flush()
            writer.close()
    return root


def open_tensorboard(logdir: Path, show: Callable[[str], Any] = print) -> bool:
    """Open TensorBoard inline (the ``%tensorboard`` magic) if possible; else print the command. True if opened."""
    command = f"tensorboard --logdir {_quote(logdir)}"
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        get_ipython = None
    shell = get_ipython() if get_ipython else None
    if shell is not None and getattr(shell, "kernel", None) is not None:
        if shell.find_line_magic("tensorboard") is None and _has_tensorboard():
            shell.run_line_magic("load_ext", "tensorboard")
        if shell.find_line_magic("tensorboard") is not None:
            show(f"Kepler: opening TensorBoard on {logdir}")
            shell.run_line_magic("tensorboard", f"--logdir {_quote(logdir)}")
            return True
    show(f"Kepler: curves written to {logdir}\n  Start TensorBoard with: {command}")
    if not _has_tensorboard():
        show("  (TensorBoard is not installed here: pip install tensorboard)")
    return False


def compare_in_tensorboard(
    journal: Journal, ids: Sequence[Any], logdir: str | Path | None = None, show: Callable[[str], Any] = print
) -> Path:
    """Write the experiments' curves and open (or say how to open) TensorBoard on them."""
    root = write_runs(journal, ids, logdir)
    show(f"Kepler: wrote the curves of {len(ids)} experiment{'s' if len(ids) != 1 else ''} for TensorBoard.")
    open_tensorboard(root, show)
    return root


def _summaries(journal: Journal, ids: Sequence[Any]) -> list[dict[str, Any]]:
    wanted = []
    for i in ids:
        try:
            wanted.append(int(i))
        except (TypeError, ValueError):
            raise ValueError(f"{i!r} is not an experiment id; `kepler list` shows them") from None
    known = {s["id"]: s for s in journal.experiments() if s["id"] in set(wanted)}
    for i in wanted:
        if i not in known:
            journal.get(i)  # raises the journal's own "no experiment with id" error
    return [known[i] for i in wanted]


def _run_name(summary: dict[str, Any]) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(summary.get("name") or ""))[:40].strip("_")
    return f"{summary['id']}-{name}" if name else str(summary["id"])


def _tag(metric: str) -> str:
    base = metric[4:] if metric.startswith("val_") else metric
    return f"epoch_{base}"


def _quote(path: Path) -> str:
    text = str(path)
    return f'"{text}"' if " " in text else text


def _has_tensorboard() -> bool:
    import importlib.util

    return importlib.util.find_spec("tensorboard") is not None
