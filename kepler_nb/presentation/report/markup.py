"""Text and markup for the reports: numbers as short strings, highlighted source, check docs as HTML.

Everything returned as :class:`~markupsafe.Markup` was escaped on the way in
(Pygments escapes as it highlights; :func:`doc_html` escapes before adding
its few tags), so a template can insert it without escaping it again.
"""

from __future__ import annotations

import json
import math
import re
from typing import TYPE_CHECKING, Any

from markupsafe import Markup, escape

if TYPE_CHECKING:
    from collections.abc import Iterable


def highlight(source: str, language: str = "python") -> Markup:
    """Source code as highlighted, escaped HTML."""
    from pygments import highlight as pygmentize
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import JsonLexer, PythonLexer, TextLexer

    lexer: Any
    if language == "ipython":
        try:
            from IPython.lib.lexers import IPython3Lexer

            lexer = IPython3Lexer()
        except ImportError:
            lexer = PythonLexer()
    else:
        lexer = {"python": PythonLexer, "json": JsonLexer}.get(language, TextLexer)()
    return Markup(pygmentize(source, lexer, HtmlFormatter(cssclass="kp-hl", wrapcode=True)))


def doc_html(text: str) -> Markup:
    """A check's documentation (headings, paragraphs, lists, fenced code, `code`) as safe HTML."""
    out: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []
    code: list[str] | None = None
    language = "python"

    def flush() -> None:
        if paragraph:
            out.append(f"<p>{_inline(' '.join(paragraph))}</p>")
            paragraph.clear()
        if items:
            out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + "</ul>")
            items.clear()

    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            if code is None:
                flush()
                code, language = [], stripped[3:].strip().lower() or "python"
            else:
                out.append(str(highlight("\n".join(code), language if language == "python" else "text")))
                code = None
        elif code is not None:
            code.append(line)
        elif stripped.startswith("#"):
            flush()
            out.append(f'<h5 class="kp-doc-h">{escape(stripped.lstrip("#").strip())}</h5>')
        elif stripped.startswith(("- ", "* ")):
            if paragraph:
                flush()
            items.append(stripped[2:])
        elif not stripped:
            flush()
        elif items:
            items[-1] += " " + stripped
        else:
            paragraph.append(stripped)
    if code is not None:
        out.append(str(highlight("\n".join(code), "python")))
    flush()
    return Markup("\n".join(out))


def _inline(text: str) -> str:
    # Escape first; backticks survive escaping, so the <code> tags are the only markup added.
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(text)))


def fmt(value: Any) -> str:
    """A value as a short readable string: 4 significant digits, thousands separators, ``—`` for nothing."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(fmt(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


def fact_rows(items: Iterable[tuple[str, Any]]) -> list[tuple[str, str]]:
    """Label and value pairs, each value as :func:`fmt` writes it."""
    return [(str(k), fmt(v)) for k, v in items]


def shape_text(shape: Any) -> str:
    """A tensor shape as Python writes a tuple: ``(None, 28, 28)``, ``(10,)``."""
    if not isinstance(shape, (list, tuple)):
        return fmt(shape)
    return "(" + ", ".join("None" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
