"""Building the journal record of one fit: what is known before training, and how it ended.

A record is two dicts: the *summary* (small, searched and listed: names,
status, architecture, key settings, finding counts) and the *parts* (large,
kept beside it: model configuration, layers, fit parameters, data
statistics, findings, cell source, notebook snapshot, environment). These
functions only read: the model, the call and the findings are described,
never changed.
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..fit.distribution import describe_distribution
from ..fit.fingerprint import data_statistics
from ..fit.model import describe_compile, describe_layers, model_config, model_summary
from . import notebook

if TYPE_CHECKING:
    from concurrent.futures import Future

    from ..checks.finding import Finding
    from ..fit.call import FitCall
    from .options import RunOptions


def distribution_fields(model: Any) -> dict[str, Any]:
    """``strategy``, ``replicas`` and ``devices`` when the fit is spread over several devices, else nothing."""
    try:
        described = describe_distribution(model)
    except Exception:  # noqa: BLE001 - describing must never break a fit
        return {}
    return {} if described is None else described


def describe_run(
    call: FitCall,
    options: RunOptions,
    project: str,
    findings: list[Finding],
    environment: dict[str, Any],
    fingerprints: tuple[Future[str | None], Future[str | None]] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The summary and parts of a run about to train (its status is set by the caller).

    ``fingerprints`` are those of the training and validation data, started early (``fingerprint_soon``).
    """
    model = call.model
    layers = describe_layers(model)
    compile_info = describe_compile(model)
    train_print, validation_print = fingerprints or (None, None)
    data = data_statistics(call.train, train_print)
    if call.validation is not None:
        data["validation"] = data_statistics(call.validation, validation_print)
    path = notebook.notebook_path(options.user_ns)
    inputs = notebook.kernel_history(options.user_ns)
    summary = {
        "project": project,
        "name": options.name or getattr(model, "name", None) or type(model).__name__,
        "tags": list(options.tags),
        "hypothesis": options.hypothesis,
        "notebook_path": path,
        "model_class": type(model).__name__,
        "architecture": model_summary(layers),
        "n_layers": len(layers),
        "n_params": sum(row["params"] for row in layers),
        "optimizer": compile_info["optimizer"],
        "learning_rate": compile_info["learning_rate"],
        "loss": compile_info["loss"] if isinstance(compile_info["loss"], str) else str(compile_info["loss"]),
        "epochs": call["epochs"],
        "batch_size": call["batch_size"],
        "n_samples": data.get("n_samples"),
        "data_fingerprint": data.get("fingerprint"),
        "findings": finding_counts(findings),
        "codes": finding_codes(findings),
        **distribution_fields(model),
    }
    parts = {
        "model_config": model_config(model),
        "layers": layers,
        "compile": compile_info,
        "fit": call.parameters(),
        "data": data,
        "findings": [f.to_dict() for f in findings],
        "cell": options.cell,
        "notebook": notebook.saved_notebook(path),
        "inputs": notebook.history_notebook(inputs) if inputs else None,
        "environment": environment,
    }
    return summary, parts


def describe_end(
    model: Any,
    history: dict[str, list[float]],
    findings: list[Finding],
    status: str,
    error: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The summary and parts that change when a run ends (``history``: the curves recorded)."""
    layers = describe_layers(model)  # built by now: parameter counts are known
    summary: dict[str, Any] = {
        "status": status,
        "finished": now(),
        "epochs_done": len(next(iter(history.values()), [])),
        "final": {k: v[-1] for k, v in history.items() if v},
        "n_params": sum(row["params"] for row in layers),
        "architecture": model_summary(layers),
        "findings": finding_counts(findings),
        "codes": finding_codes(findings),
    }
    if error:
        summary["error"] = error
    parts = {
        "layers": layers,
        "model_config": model_config(model),
        "findings": [f.to_dict() for f in findings],
    }
    return summary, parts


def default_project(user_ns: dict[str, Any]) -> str:
    """The project of a run that names none: the notebook's name, else ``default``."""
    path = notebook.notebook_path(user_ns)
    return Path(path).stem if path else "default"


def finding_counts(findings: list[Finding]) -> dict[str, int]:
    """How many findings of each severity, skipped checks not counted."""
    counts: dict[str, int] = {}
    for f in findings:
        if not f.skipped:
            counts[f.severity] = counts.get(f.severity, 0) + 1
    return counts


def finding_codes(findings: list[Finding]) -> list[str]:
    return sorted({f.code for f in findings if not f.skipped})


def error_summary(error: BaseException) -> str:
    """The exception in one line, with the last three frames it went through."""
    lines = traceback.format_exception_only(type(error), error)
    frames = traceback.extract_tb(error.__traceback__)[-3:]
    where = "; ".join(f"{Path(f.filename).name}:{f.lineno} in {f.name}" for f in frames)
    return "".join(lines).strip() + (f" (at {where})" if where else "")


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")
