"""Plain-text views of findings and experiments, shared by the CLI and ``%kepler``."""

from __future__ import annotations

import json
import re
from typing import Any

from ..checks.finding import Finding

# What must never reach a terminal raw: C0 controls but tab and newline (ESC starts the
# sequences that retitle a terminal or clear it, CR overwrites a line, BEL rings), DEL, C1
# controls (U+0080-U+009F, single-character escape sequences for some terminals), bidi
# marks, embeddings, overrides and isolates (they reorder what is shown: "Trojan Source"),
# and lone surrogates (not printable: writing one raises).
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
UNSAFE_IN_A_FIELD = re.compile(UNSAFE.pattern[:-1] + "\t\n]")


def terminal_safe(text: str, one_line: bool = False) -> str:
    """``text`` with every character that could steer a terminal shown as a visible escape (``\\x1b``, ``\\u202e``).

    ``one_line`` escapes tabs and newlines too: a recorded name can't start a line of its own.
    """
    if text.isprintable():  # every unsafe character is a control, a format character or a surrogate
        return text
    pattern = UNSAFE_IN_A_FIELD if one_line else UNSAFE
    return pattern.sub(_escape, text)


def json_safe(text: str) -> str:
    """JSON text with the same characters written as ``\\uXXXX`` (they can only be inside strings): still JSON."""
    return UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return {9: "\\t", 10: "\\n", 13: "\\r"}.get(code) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


LIST_COLUMNS = ("id", "project", "name", "status", "created", "epochs", "loss", "val_loss", "findings")


SEVERITIES = ("error", "warning", "info")


def number(value: Any) -> str:
    """A number as Kepler prints it: 4 significant digits (a float32 0.001 reads ``0.001``); '' for None."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return str(value) if isinstance(value, int) else f"{value:.4g}"


def finding_counts(counts: dict[str, int]) -> str:
    """``"2 errors, 1 warning"``: the one spelling of how many findings of each severity ('' for none)."""
    parts = []
    for severity in SEVERITIES:
        n = int(counts.get(severity) or 0)
        if n:
            parts.append(f"{n} {severity}{'s' if n != 1 else ''}")
    return ", ".join(parts)


def format_finding(finding: Finding) -> str:
    text = finding.line()
    if finding.fix:
        text += f"\n    -> {finding.fix}"
    return text


def experiment_row(summary: dict[str, Any]) -> dict[str, str]:
    final = summary.get("final") or {}
    counts = summary.get("findings") or {}
    epochs = summary.get("epochs_done")
    return {
        "id": str(summary["id"]),
        "project": terminal_safe(str(summary.get("project") or ""), one_line=True),
        "name": terminal_safe(str(summary.get("name") or ""), one_line=True),
        "status": terminal_safe(str(summary.get("status") or ""), one_line=True),
        "created": str(summary.get("created") or "")[:16].replace("T", " "),
        "epochs": "" if epochs is None else f"{epochs}/{summary.get('epochs') or '?'}",
        "loss": number(final.get("loss")),
        "val_loss": number(final.get("val_loss")),
        "findings": finding_counts(counts),
    }


def format_table(summaries: list[dict[str, Any]]) -> str:
    """A fixed-width table of experiments, one per line."""
    if not summaries:
        return "No experiments recorded yet."
    rows = [list(experiment_row(s).values()) for s in summaries]  # in LIST_COLUMNS order
    longest = [max(map(len, column)) for column in zip(*rows, strict=True)]
    widths = [min(40, max(len(c), n)) for c, n in zip(LIST_COLUMNS, longest, strict=True)]
    cut = [i for i, (w, n) in enumerate(zip(widths, longest, strict=True)) if n > w]
    line = "  ".join(f"{{:<{w}}}" for w in widths).format  # one call per row: listings run to 50,000 rows
    lines = [line(*(c.upper() for c in LIST_COLUMNS)).rstrip()]
    for row in rows:
        for i in cut:
            row[i] = _cut(row[i], widths[i])
        lines.append(line(*row).rstrip())
    return "\n".join(lines)


def _estimator_lines(record: dict[str, Any]) -> list[str]:
    """A scikit-learn run: the estimator, its changed parameters, its search and its scores."""
    lines = [
        f"  estimator: {record.get('architecture')} ({record.get('framework')} {record.get('framework_version')}, "
        f"fitted in {record.get('fit_seconds')} s)"
    ]
    tree = (record.get("estimator_description") or {}).get("tree") or {}
    stack = [(tree, "")]
    while stack:
        node, where = stack.pop(0)
        if node.get("params"):
            label = f"{where}{node.get('class')}"
            lines.append(f"  params of {label}: " + ", ".join(f"{k}={v!r}" for k, v in node["params"].items()))
        stack += [(child, f"{where}{child.get('name', '')}: ") for child in node.get("children") or []]
    if record.get("best_params"):
        lines.append(f"  best of {record.get('n_candidates')} candidates: {record['best_params']}")
    for score in record.get("scores") or []:
        rows = "the training rows" if score.get("on_training_data") else "held-out rows"
        lines.append(
            f"  score: {score.get('metric')} {number(score.get('value'))} on {score.get('n_rows')} {rows} "
            f"(fingerprint {score.get('data_fingerprint')})"
        )
    return lines


def format_record(record: dict[str, Any]) -> str:
    """A readable page about one experiment."""

    def field(key: str) -> str:
        return terminal_safe(str(record.get(key)), one_line=True)

    lines = [f"Experiment {record['id']}: {field('name')} ({field('project')}) — {field('status')}"]
    for key in ("created", "finished", "hypothesis", "conclusion", "notebook_path", "error"):
        if record.get(key):
            lines.append(f"  {key}: {field(key)}")
    if record.get("tags"):
        lines.append(f"  tags: {terminal_safe(', '.join(map(str, record['tags'])), one_line=True)}")
    for part, why in (record.get("damaged") or {}).items():
        lines.append(f"  {part}: unreadable, {why}")
    if record.get("framework") not in (None, "keras"):
        lines += _estimator_lines(record)
    else:
        lines.append(f"  model: {record.get('architecture')} ({record.get('n_params')} parameters)")
        compile_info = record.get("compile") or {}
        lines.append(
            f"  compile: optimizer {compile_info.get('optimizer')} (lr {number(compile_info.get('learning_rate'))}), "
            f"loss {compile_info.get('loss')}, metrics {compile_info.get('metrics')}"
        )
    fit = record.get("fit") or {}
    lines.append("  fit: " + ", ".join(f"{k}={number(v)}" for k, v in fit.items() if v not in (None, False, [], 0.0)))
    data = record.get("data") or {}
    if data:
        lines.append(f"  data: {data_line(data)}")
        if data.get("class_counts"):
            lines.append(f"  classes: {data['class_counts']}")
    history = record.get("history") or {}
    if history:
        lines.append("  history:")
        for metric, values in history.items():
            lines.append(f"    {metric}: " + " ".join(number(v) for v in values))
    for finding in record.get("findings") or []:
        try:
            lines.append("  " + format_finding(Finding.from_dict(finding)).replace("\n", "\n  "))
        except (TypeError, ValueError, KeyError, AttributeError):
            lines.append(f"  a finding that can't be read: {finding!r:.200}")
    return terminal_safe("\n".join(lines))


def data_line(data: dict[str, Any]) -> str:
    """``256 samples, 8 features, fingerprint ab12...``; a dataset's unknown sizes are left out, not ``None``."""
    parts = [f"{data[k]} {word}" for k, word in (("n_samples", "samples"), ("n_features", "features")) if data.get(k)]
    if data.get("kind") not in (None, "arrays") and not data.get("n_samples"):
        parts.insert(0, f"a {data['kind']} (size not known before training)")
    if data.get("fingerprint"):
        parts.append(f"fingerprint {data['fingerprint']}")
    return ", ".join(parts) or "not described"


def to_json(value: Any) -> str:
    """Indented JSON, safe to print (see :func:`json_safe`)."""
    return json_safe(json.dumps(value, indent=2, default=str, ensure_ascii=False))


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
