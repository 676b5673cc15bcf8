"""What a record keeps of the user's text, and the credentials kept out of it.

Every string Kepler stores (summary fields and every part: the cell, the
kernel's input history, the notebook snapshot, the environment) passes
through :func:`clean` first:

* values that look like credentials are replaced by ``[redacted: KIND]``:
  private key blocks, cloud and service tokens in their published formats
  (AWS, GitHub, GitLab, Slack, OpenAI/Anthropic-style ``sk-``, Hugging Face,
  Google, Stripe), JSON web tokens, bearer tokens, passwords in URLs, and
  quoted values assigned to names such as ``password``, ``secret``,
  ``token`` or ``api_key`` (``HF_TOKEN = "..."``,
  ``os.environ["WANDB_API_KEY"] = "..."``);
* lone surrogates (what a non-UTF-8 file name decodes to) become visible
  escapes (``\\udce9``), so every stored string is valid UTF-8.

What is stored at all is set in ``KEPLER_HOME/config.toml``::

    [record]
    cell = true            # the source of the cell that ran the fit
    kernel_history = true  # every cell the kernel ran before it (IPython's In)
    notebook = true        # the saved notebook's cells (sources, no outputs)
    environment = true     # versions, devices, host name, working folder, git state
    redact = true          # replace values that look like credentials

A part turned off is not written; the rest of the record is unchanged.
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

# Parts of a record each setting governs (names of Journal.BLOB_PARTS).
PART_SETTINGS = {"cell": "cell", "inputs": "kernel_history", "notebook": "notebook", "environment": "environment"}

_KEY_NAME = (
    r"(?:password|passwd|passphrase|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key"
    r"|auth[_-]?key|credentials?|client[_-]?secret)"
)
# Formats published by each service; a match anywhere in a string is redacted.
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "private key",
        re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.S),
    ),
    ("AWS access key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})")),
    ("GitLab token", re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}")),
    ("Slack token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("API key", re.compile(r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}")),
    ("Hugging Face token", re.compile(r"\bhf_[A-Za-z0-9]{30,}")),
    ("Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}")),
    ("Stripe key", re.compile(r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}")),
    ("JSON web token", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
    ("bearer token", re.compile(r"(?i)(?<=\bbearer )[A-Za-z0-9._~+/-]{16,}=*")),
    ("password in a URL", re.compile(r"(?<=://)[^/\s:@]{1,100}:[^/\s@]{1,200}(?=@)")),
)
# ``api_key = "..."``, ``"token": "..."``, ``os.environ["HF_TOKEN"] = '...'``: the quoted value goes.
ASSIGNMENT = re.compile(
    r"(?i)(?P<key>\b[\w.-]{0,40}?" + _KEY_NAME + r"(?:[_-]?(?:id|value|str))?\b)"
    r"(?P<sep>[\"']?\]?\s*[:=]\s*)(?P<quote>[\"'])(?P<value>[^\"'\n]{4,})(?P=quote)"
)
# The shortest string worth searching: anything shorter can't hold a credential.
MIN_LENGTH = 8
# Something every pattern above needs (found without regard to case, so it finds more, never less): most
# strings have none of these and are passed in one search instead of thirteen.
LIKELY = re.compile(
    r"(?i)PRIVATE KEY|AKIA|ASIA|gh[pousr]_|github_pat_|glpat-|xox|sk-|hf_|AIza|k_(?:live|test)_|eyJ|bearer|://|"
    + _KEY_NAME
)


@dataclass(frozen=True)
class RecordSettings:
    """Which parts of a run are stored, and whether credentials are redacted (``[record]`` in config.toml)."""

    cell: bool = True
    kernel_history: bool = True
    notebook: bool = True
    environment: bool = True
    redact: bool = True

    def keeps(self, part: str) -> bool:
        """Whether the record part ``part`` (``cell``, ``inputs``, ``notebook``...) is stored."""
        setting = PART_SETTINGS.get(part)
        return setting is None or getattr(self, setting)


def load_record_settings(home: Path) -> RecordSettings:
    """``[record]`` of ``home/config.toml``; a missing file or section keeps everything, redacted."""
    path = home / "config.toml"
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return RecordSettings()
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} is not valid TOML ({error}); fix or remove it") from None
    section = config.get("record", {})
    known = RecordSettings.__dataclass_fields__
    if not isinstance(section, dict) or any(k not in known or not isinstance(v, bool) for k, v in section.items()):
        raise ValueError(
            f"{path}: [record] takes true/false for {', '.join(known)}; got {section!r}"
            if isinstance(section, dict)
            else f"{path}: [record] must be a table"
        )
    return RecordSettings(**section)


def redact(text: str) -> str:
    """``text`` with every value that looks like a credential replaced by ``[redacted: KIND]``."""
    if len(text) < MIN_LENGTH:
        return text
    return _redact(text)


@functools.lru_cache(maxsize=4096)  # a notebook's cells come back in every record: each is searched once
def _redact(text: str) -> str:
    if LIKELY.search(text) is None:
        return text
    for kind, pattern in PATTERNS:
        text = pattern.sub(f"[redacted: {kind}]", text)
    return ASSIGNMENT.sub(_redact_assignment, text)


def _redact_assignment(match: re.Match[str]) -> str:
    if match["value"].startswith("[redacted"):
        return match.group()
    return f"{match['key']}{match['sep']}{match['quote']}[redacted: {_kind(match['key'])}]{match['quote']}"


def _kind(key: str) -> str:
    return "password" if re.search(r"(?i)pass", key) else "secret"


def clean_text(text: str, redact_credentials: bool = True) -> str:
    """Valid UTF-8 (lone surrogates escaped), credentials redacted."""
    try:
        text.encode()
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode()
    return redact(text) if redact_credentials else text


def clean(value: Any, redact_credentials: bool = True) -> Any:
    """A JSON-able value with every string (keys too) passed through :func:`clean_text`."""
    if isinstance(value, str):
        return clean_text(value, redact_credentials)
    if isinstance(value, dict):
        return {
            (clean_text(k, redact_credentials) if isinstance(k, str) else k): clean(v, redact_credentials)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [clean(v, redact_credentials) for v in value]
    return value
