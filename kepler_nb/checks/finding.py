"""What a check reports: a Finding, also emitted as a KeplerWarning."""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

SEVERITIES = ("error", "warning", "info")
STAGES = ("setup", "model", "data", "training", "environment", "evaluation", "preflight")


@dataclass(frozen=True)
class Finding:
    """One problem found in a run, with the observed values in its message."""

    code: str
    name: str
    severity: str
    stage: str
    message: str
    fix: str = ""
    skipped: bool = False
    details: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)

    def line(self) -> str:
        """``K303 warning data-not-normalized: ...`` (one line, no fix)."""
        return f"{self.code} {self.severity:<7} {self.name}: {self.message}"

    @property
    def rank(self) -> int:
        return SEVERITIES.index(self.severity)


class KeplerWarning(UserWarning):
    """A finding, as a warning: ``warnings`` filters apply (``-W ignore::kepler.KeplerWarning``)."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.line())
        self.finding = finding
        self.code = finding.code


def warning_action(warning: Warning, module: str = "kepler", lineno: int = 0) -> str:
    """The action the ``warnings`` filters give ``warning`` (``"ignore"``, ``"error"``, ``"default"``...).

    Read from ``warnings.filters`` as ``warnings.warn_explicit`` matches
    them, without issuing the warning: nothing process-global changes, so
    other threads' warnings and modules' once-only registries are left
    alone (entering ``warnings.catch_warnings()`` resets those registries,
    and a once-only warning of the user's would show again).
    """
    text, category = str(warning), type(warning)
    for action, message, kind, where, line in warnings.filters:
        if (
            (message is None or message.match(text))
            and issubclass(category, kind)
            and (where is None or where.match(module))
            and (line == 0 or line == lineno)
        ):
            return action
    return warnings.defaultaction


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Most severe first, then by code."""
    return sorted(findings, key=lambda f: (f.skipped, f.rank, f.code))
