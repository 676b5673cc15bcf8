"""The search language of the journal: parsed, never evaluated.

``Journal.search``, ``kepler search``, ``%kepler search`` and the journal
widget's filter all read this one small language::

    val_accuracy > 0.9 and optimizer = adam
    status = finished epochs >= 10 sort val_accuracy desc limit 5
    "dropout" or layer = Conv2D
    project = digits since = 2026-11-01 not tag = baseline
    (lr < 1e-3 or batch_size = 32) and layers > 4

Terms:

* ``FIELD OP VALUE`` with OP one of ``= == != > >= < <= ~`` (``~``: contains).
  Fields are the summary's (``project``, ``name``, ``status``, ``optimizer``,
  ``learning_rate``/``lr``, ``epochs``, ``batch_size``, ``n_params``/``params``,
  ``n_samples``, ``tags``/``tag``, ``codes``/``code``, ``created``...), the
  architecture's (``layer = Conv2D``: some layer is one; ``layers > 4``: the
  number of layers; ``activation = relu``; ``units = 64``), the findings'
  counts (``errors``, ``warnings``), the cell's ``source``, any final
  metric (``val_accuracy``, ``loss``...), and for scikit-learn estimators
  ``estimator`` (any class in it: ``estimator = SVC`` finds a pipeline or a
  search around an SVC) and any parameter by its name or nested name
  (``C > 1``, ``svc__C > 1``). ``loss`` compared with a number is
  the final loss; with a word, the loss function. Numbers may be written
  ``1e-3`` or ``93%``; text compares without regard to case.
* ``since = DATE``, ``before = DATE``: when the run was created. A date is
  ``2026-11-01`` (a time may follow), ``today``, ``yesterday``, or an age
  such as ``3d``, ``12h``, ``2w``, ``30m``.
* A word or ``"quoted text"`` alone: found in the name, project, tags,
  hypothesis, notebook, architecture or the cell's source.
* ``and`` (or nothing), ``or``, ``not``, parentheses; ``not`` binds tightest,
  then ``and``, then ``or``.
* At the end, ``sort [by] FIELD [asc|desc]`` (several, comma-separated;
  ``-FIELD`` is descending; missing values go last) and ``limit N``.

A malformed query raises :class:`QuerySyntaxError`, which says where and
what was expected.
"""

from __future__ import annotations

import heapq
import math
import operator
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

KEYWORDS = ("and", "or", "not", "sort", "limit")
OPERATORS = ("=", "==", "!=", ">", ">=", "<", "<=", "~")
ALIASES = {
    "lr": "learning_rate",
    "tag": "tags",
    "code": "codes",
    "finding": "codes",
    "params": "n_params",
    "parameters": "n_params",
    "layers": "n_layers",
    "samples": "n_samples",
    "classes": "n_classes",
    "model": "model_class",
    "arch": "architecture",
    "cell": "source",
    "date": "created",
    "notebook": "notebook_path",
    "after": "since",
    "until": "before",
}
TEXT_FIELDS = ("name", "project", "hypothesis", "notebook_path", "notebook", "architecture", "model_class")
DATE_FIELDS = ("created", "finished")
PSEUDO_DATES = {"since": (">=", ("=", ">=", ">")), "before": ("<", ("=", "<", "<="))}
AGE_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}

_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?%?")
_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2}([T ]\d{2}(:\d{2}(:\d{2})?)?)?)?)?")
_AGE = re.compile(r"(\d+)([mhdw])")
# Nesting of '(' and 'not' a query may use; deeper ones get a QuerySyntaxError.
MAX_DEPTH = 100
_TOKEN = re.compile(
    r"""(?P<space>\s+)|(?P<lparen>\()|(?P<rparen>\))|(?P<comma>,)|(?P<op>>=|<=|!=|==|=|>|<|~)"""
    r"""|(?P<string>["'])|(?P<word>[^\s()"',=!<>~]+)|(?P<bad>.)""",
    re.S,
)


class QuerySyntaxError(ValueError):
    """A query that does not parse; ``position`` is the 0-based offset of the problem."""

    def __init__(self, query: str, position: int, expected: str) -> None:
        self.query, self.position, self.expected = query, position, expected
        caret = " " * position + "^"
        super().__init__(f"query error at position {position + 1}: {expected}\n  {query}\n  {caret}")


@dataclass(frozen=True)
class Token:
    kind: str  # lparen rparen comma op string word end
    text: str
    position: int

    @property
    def keyword(self) -> str | None:
        lowered = self.text.lower()
        return lowered if self.kind == "word" and lowered in KEYWORDS else None


def tokenize(query: str) -> list[Token]:
    tokens, position = [], 0
    while position < len(query):
        match = _TOKEN.match(query, position)
        kind = match.lastgroup
        if kind == "string":
            text, end = _read_string(query, position)
            tokens.append(Token("string", text, position))
            position = end
            continue
        if kind == "bad":
            char = query[position]
            expected = "'!=' (not equal)" if char == "!" else "a field, a word, a value or an operator"
            raise QuerySyntaxError(query, position, f"expected {expected}, found {char!r}")
        if kind != "space":
            tokens.append(Token(kind, match.group(), position))
        position = match.end()
    tokens.append(Token("end", "", len(query)))
    return tokens


def _read_string(query: str, start: int) -> tuple[str, int]:
    quote, chars, position = query[start], [], start + 1
    while position < len(query):
        char = query[position]
        if char == "\\" and position + 1 < len(query):
            chars.append(query[position + 1])
            position += 2
            continue
        if char == quote:
            return "".join(chars), position + 1
        chars.append(char)
        position += 1
    raise QuerySyntaxError(query, start, f"expected a closing {quote} for the text that starts here")


# -- the syntax tree, each node a predicate over one record ------------------------------
@dataclass(frozen=True)
class Value:
    text: str
    quoted: bool
    position: int
    number: float | None = None
    boolean: bool | None = None


@dataclass(frozen=True)
class Compare:
    field: str
    op: str
    value: Value
    position: int

    @property
    def cost(self) -> int:
        return 2 if self.field == "source" else 1

    def __post_init__(self) -> None:
        # What the general comparison would do with a stored text or number, decided once per query.
        value, plain = self.value, self.field not in KNOWN_FIELDS and self.field not in DATE_FIELDS
        text_fast = plain and value.boolean is None and (value.number is None or value.quoted)
        number_fast = plain and value.boolean is None and value.number is not None and not value.quoted
        object.__setattr__(self, "_fast", (text_fast, value.text.lower(), number_fast))

    def __call__(self, record: Record) -> bool:
        text_fast, wanted, number_fast = self._fast  # type: ignore[attr-defined]
        if text_fast or number_fast:  # a field stored as it is: one type check, one comparison
            actual = record.summary.get(self.field)
            kind = type(actual)
            op, negate = ("=", True) if self.op == "!=" else (self.op, False)
            if kind is str and text_fast:
                return _compare_text(actual.lower(), op, wanted) is not negate
            if (kind is float or kind is int) and number_fast:
                try:
                    return _compare_numbers(float(actual), op, self.value.number) is not negate
                except (OverflowError, ValueError, TypeError):
                    return negate
        actual = record.get(self.field, self.value)
        if self.op == "!=":
            return not _matches(actual, "=", self.value, self.field)
        return _matches(actual, self.op, self.value, self.field)


@dataclass(frozen=True)
class Text:
    words: str
    position: int
    cost = 2  # may read the cell's source

    def __post_init__(self) -> None:
        object.__setattr__(self, "_needle", self.words.lower())

    def __call__(self, record: Record) -> bool:
        return record.contains(self._needle)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Not:
    inner: Any

    @property
    def cost(self) -> int:
        return self.inner.cost

    def __call__(self, record: Record) -> bool:
        return not self.inner(record)


@dataclass(frozen=True)
class And:
    parts: tuple

    @property
    def cost(self) -> int:
        return max(p.cost for p in self.parts)

    def __call__(self, record: Record) -> bool:
        for part in self.parts:  # noqa: SIM110 - a loop, not all(): this runs once per record of the journal
            if not part(record):
                return False
        return True


@dataclass(frozen=True)
class Or:
    parts: tuple

    @property
    def cost(self) -> int:
        return max(p.cost for p in self.parts)

    def __call__(self, record: Record) -> bool:
        for part in self.parts:  # noqa: SIM110 - as And
            if part(record):
                return True
        return False


@dataclass(frozen=True)
class SortKey:
    field: str
    descending: bool


@dataclass
class Query:
    """A parsed query: ``where`` (None matches everything), sort keys and a limit."""

    text: str
    where: Any = None
    sort: list[SortKey] = field(default_factory=list)
    limit: int | None = None

    def matches(
        self,
        record: dict[str, Any],
        source: Callable[[dict[str, Any]], str] | None = None,
        contains: Callable[[dict[str, Any], str], bool] | None = None,
    ) -> bool:
        return self.where is None or bool(self.where(Record(record, source, contains)))

    def apply(
        self,
        records: Iterable[dict[str, Any]],
        source: Callable[[dict[str, Any]], str] | None = None,
        convert: Callable[[Any], dict[str, Any]] | None = None,
        contains: Callable[[dict[str, Any], str], bool] | None = None,
    ) -> list[dict[str, Any]]:
        """The matching records, sorted and limited as the query says, each then passed through ``convert``
        (which must not change the fields sorted on).

        ``contains(record, words)`` says whether a record's :func:`record_text` or its lowercased source holds
        ``words`` (a caller may keep what it needs for that between searches)."""
        where = self.where
        if where is None:
            found = list(records)
        else:
            found, record = [], Record({}, source, contains)
            for r in records:  # one Record, pointed at each in turn: a search looks at every record
                record.summary, record._text = r, None
                if where(record):
                    found.append(r)
        # Sorted and limited before converting: a search sorting thousands of matches returns ten.
        for at, key in enumerate(reversed(self.sort)):
            present, missing = [], []
            for r in found:  # each record's value read once
                value = Record(r).get(key.field)
                if value is None:
                    missing.append(r)
                else:
                    present.append((_sort_value(value), r))
            last = at == len(self.sort) - 1
            if last and self.limit is not None and self.limit < len(present):
                # The first few of thousands: a heap, which keeps ties in order as a stable sort would.
                pick = heapq.nlargest if key.descending else heapq.nsmallest
                present = pick(self.limit, present, key=_FIRST)
            else:
                present.sort(key=_FIRST, reverse=key.descending)
            found = [r for _, r in present] + missing
        if self.limit is not None:
            found = found[: self.limit]
        return [convert(r) for r in found] if convert is not None else found

    def fields(self) -> set[str]:
        """Every field the query names."""
        names: set[str] = {k.field for k in self.sort}
        stack = [self.where] if self.where is not None else []
        while stack:
            node = stack.pop()
            if isinstance(node, Compare):
                names.add(node.field)
            elif isinstance(node, Not):
                stack.append(node.inner)
            elif isinstance(node, (And, Or)):
                stack.extend(node.parts)
        return names

    def unknown_fields(self, records: Iterable[dict[str, Any]]) -> list[str]:
        """Fields named by the query that no record has (a typo, most likely)."""
        names = {n for n in self.fields() if n not in KNOWN_FIELDS and n not in PSEUDO_DATES}
        for r in records:
            if not names:
                break
            names = {n for n in names if Record(r).get(n) is None}
        return sorted(names)


_FIRST = operator.itemgetter(0)


def parse(query: str) -> Query:
    """Parse ``query``; raise :class:`QuerySyntaxError` pointing at the first problem."""
    return _Parser(query).parse()


def search(
    records: Iterable[dict[str, Any]], query: str, source: Callable[[dict[str, Any]], str] | None = None
) -> list[dict[str, Any]]:
    return parse(query).apply(records, source)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def error(self, expected: str, token: Token | None = None) -> QuerySyntaxError:
        token = token or self.token
        found = "the end of the query" if token.kind == "end" else repr(token.text)
        return QuerySyntaxError(self.text, token.position, f"expected {expected}, found {found}")

    def parse(self) -> Query:
        query = Query(self.text)
        if self.token.kind != "end" and self.token.keyword not in ("sort", "limit"):
            query.where = self.expression()
        while self.token.keyword in ("sort", "limit"):
            keyword = self.advance().text.lower()
            if keyword == "sort":
                if query.sort:
                    raise self.error("one sort clause (list several fields with commas)", self.tokens[self.index - 1])
                query.sort = self.sort_keys()
            else:
                if query.limit is not None:
                    raise self.error("one limit", self.tokens[self.index - 1])
                query.limit = self.limit()
        if self.token.kind != "end":
            if self.token.kind == "rparen":
                raise self.error("a condition, 'sort', 'limit' or the end of the query; this ')' closes no '('")
            raise self.error("'sort', 'limit' or the end of the query")
        return query

    def expression(self) -> Any:
        parts = [self.conjunction()]
        while self.token.keyword == "or":
            self.advance()
            parts.append(self.conjunction(after="'or'"))
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def conjunction(self, after: str | None = None) -> Any:
        parts = [self.unary(after)]
        while True:
            if self.token.keyword == "and":
                self.advance()
                parts.append(self.unary("'and'"))
            elif self.token.kind in ("word", "string", "lparen") and self.token.keyword not in ("or", "sort", "limit"):
                parts.append(self.unary())
            else:
                break
        if len(parts) == 1:
            return parts[0]
        # Cheap conditions first: the cell's source is read only when still needed.
        return And(tuple(sorted(parts, key=lambda p: p.cost)))

    def unary(self, after: str | None = None) -> Any:
        if self.token.keyword == "not":
            self.nest()
            self.advance()
            inner = Not(self.unary("'not'"))
            self.depth -= 1
            return inner
        return self.primary(after)

    def nest(self) -> None:
        """One more level of '(' or 'not'; past MAX_DEPTH, the query's own error (not Python's recursion limit)."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"at most {MAX_DEPTH} nested '(' and 'not' (this query nests deeper)")

    def primary(self, after: str | None) -> Any:
        token = self.token
        what = "a condition" + (f" after {after}" if after else "") + " (a field comparison, a word or '(')"
        if token.kind == "lparen":
            self.nest()
            self.advance()
            if self.token.kind == "rparen":
                raise self.error("a condition inside '( )'")
            inner = self.expression()
            if self.token.kind != "rparen":
                raise self.error(f"')' to close the '(' at position {token.position + 1}")
            self.advance()
            self.depth -= 1
            return inner
        if token.kind == "string":
            self.advance()
            return Text(token.text, token.position)
        if token.kind == "word" and token.keyword is None:
            self.advance()
            if self.token.kind == "op":
                return self.comparison(token)
            return Text(token.text, token.position)
        if token.kind == "op":
            raise self.error(f"a field name before {token.text!r}")
        raise self.error(what)

    def comparison(self, name: Token) -> Compare:
        op = self.advance()
        if not _FIELD.fullmatch(name.text):
            raise QuerySyntaxError(
                self.text, name.position, f"expected a field name before {op.text!r}, found {name.text!r}"
            )
        field_name = ALIASES.get(name.text.lower(), name.text.lower())
        token = self.token
        if token.kind not in ("word", "string"):
            raise self.error(f'a value after {op.text!r} (a number, a word or "quoted text")')
        self.advance()
        value = _value(token)
        operator = "=" if op.text == "==" else op.text
        if field_name in PSEUDO_DATES:
            compare_as, allowed = PSEUDO_DATES[field_name]
            if operator not in allowed:
                raise QuerySyntaxError(
                    self.text,
                    op.position,
                    f"expected '=' after {name.text!r} (e.g. {name.text} = 2026-11-01), found {op.text!r}",
                )
            return Compare("created", compare_as, self.date(token), name.position)
        if field_name in DATE_FIELDS:
            value = self.date(token)
        return Compare(field_name, operator, value, name.position)

    def date(self, token: Token) -> Value:
        text = token.text.strip().lower()
        now = time.time()
        if text in ("today", "yesterday"):
            day = time.localtime(now - (86400 if text == "yesterday" else 0))
            return Value(time.strftime("%Y-%m-%d", day), False, token.position)
        age = _AGE.fullmatch(text)
        if age:
            try:
                moment = time.localtime(now - int(age.group(1)) * AGE_UNITS[age.group(2)])
            except (OverflowError, ValueError, OSError):  # further back than a clock can say
                raise QuerySyntaxError(
                    self.text,
                    token.position,
                    f"expected an age a clock can count back (e.g. 30d), found {token.text!r}",
                ) from None
            return Value(time.strftime("%Y-%m-%dT%H:%M:%S", moment), False, token.position)
        if _DATE.fullmatch(token.text.strip()):
            return Value(token.text.strip().replace(" ", "T"), False, token.position)
        raise QuerySyntaxError(
            self.text,
            token.position,
            "expected a date such as 2026-11-01 (or 2026-11, 2026), today, yesterday, "
            f"or an age such as 3d or 12h, found {token.text!r}",
        )

    def sort_keys(self) -> list[SortKey]:
        if self.token.keyword is None and self.token.kind == "word" and self.token.text.lower() == "by":
            self.advance()
        keys = []
        while True:
            token = self.token
            name = token.text[1:] if token.text.startswith("-") else token.text
            if token.kind != "word" or token.keyword or not _FIELD.fullmatch(name):
                raise self.error("a field to sort by (e.g. sort val_accuracy desc)")
            self.advance()
            descending = token.text.startswith("-")
            if self.token.kind == "word" and self.token.text.lower() in ("asc", "desc"):
                descending = self.advance().text.lower() == "desc"
            keys.append(SortKey(ALIASES.get(name.lower(), name.lower()), descending))
            if self.token.kind != "comma":
                return keys
            self.advance()

    def limit(self) -> int:
        token = self.token
        if token.kind != "word" or not (token.text.isascii() and token.text.isdigit()) or len(token.text) > 18:
            raise self.error("a whole number after 'limit' (e.g. limit 10)")
        self.advance()
        return int(token.text)


def _value(token: Token) -> Value:
    text = token.text
    if token.kind == "string":
        return Value(text, True, token.position)
    number = None
    if _NUMBER.fullmatch(text):
        number = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    boolean = {"true": True, "false": False, "yes": True, "no": False}.get(text.lower())
    return Value(text, False, token.position, number, boolean)


# -- evaluation ------------------------------------------------------------------
class Record:
    """One summary as the query sees it: fields by name, text, and the cell's source on demand."""

    __slots__ = ("summary", "_source", "_text", "_contains")

    def __init__(
        self,
        summary: dict[str, Any],
        source: Callable[[dict[str, Any]], str] | None = None,
        contains: Callable[[dict[str, Any], str], bool] | None = None,
    ) -> None:
        self.summary = summary
        self._source = source
        self._text: str | None = None
        self._contains = contains

    def get(self, name: str, value: Value | None = None) -> Any:
        getter = KNOWN_FIELDS.get(name)
        if getter is not None:
            return getter(self, value)
        summary = self.summary
        if name in summary:
            return summary[name]
        final = summary.get("final") or {}
        value = final.get(name[6:] if name.startswith("final.") else name)
        if value is None and summary.get("params"):
            # A search's best parameters first, then the estimator's own.
            return _param(summary.get("best_params") or {}, name) or _param(summary["params"], name)
        return value

    def contains(self, needle: str) -> bool:
        """Whether the record's text or its cell's source holds ``needle`` (lowercased)."""
        if self._contains is not None:
            return self._contains(self.summary, needle)
        return needle in self.text() or needle in self.source_lower()

    def text(self) -> str:
        if self._text is None:
            self._text = record_text(self.summary)
        return self._text

    def source_lower(self) -> str:
        """The source, lowercased; a source callable with a ``lower`` attribute gives it (cached) itself."""
        lower = getattr(self._source, "lower", None)
        if lower is None:
            return self.source().lower()
        try:
            return lower(self.summary) or ""
        except Exception:  # noqa: BLE001 - a missing blob matches nothing
            return ""

    def source(self) -> str:
        if self._source is None:
            return ""
        try:
            return self._source(self.summary) or ""
        except Exception:  # noqa: BLE001 - a missing blob matches nothing
            return ""


def record_text(summary: dict[str, Any]) -> str:
    """The lowercased text a word or phrase is looked for in (besides the cell's source)."""
    parts = [str(summary.get(k) or "") for k in TEXT_FIELDS]
    parts += [str(t) for t in summary.get("tags") or []]
    return "\n".join(parts).lower()


def _param(params: dict[str, Any], name: str) -> Any:
    """An estimator's parameter by its name (``c``) or its nested name (``svc__c``), without regard to case."""
    found = [v for k, v in params.items() if k.lower() == name or k.lower().endswith("__" + name)]
    return found[0] if len(found) == 1 else found or None


def _layers(record: Record) -> list[list[Any]]:
    arch = record.summary.get("arch")
    if arch:
        return arch
    # Older records: only the one-line architecture, "Dense(32, sigmoid) > Dense(10)".
    line = record.summary.get("architecture") or ""
    rows = []
    for part in line.split(" > "):
        match = re.fullmatch(r"(\w+)(?:\((.*)\))?", part.strip())
        if match:
            args = [a.strip() for a in (match.group(2) or "").split(",") if a.strip()]
            size = next((a for a in args if _NUMBER.fullmatch(a)), None)
            act = next((a for a in args if not _NUMBER.fullmatch(a)), None)
            rows.append([match.group(1), float(size) if size else None, act, None])
    return rows


def _loss(record: Record, value: Value | None) -> Any:
    if value is not None and value.number is None:
        return record.summary.get("loss")
    return (record.summary.get("final") or {}).get("loss")


def _count(severity: str) -> Callable[[Record, Any], Any]:
    return lambda record, _value: (record.summary.get("findings") or {}).get(severity, 0)


KNOWN_FIELDS: dict[str, Callable[[Record, Any], Any]] = {
    "id": lambda r, _v: r.summary["id"] if "id" in r.summary else getattr(r.summary, "doc_id", None),
    "loss": _loss,
    "layer": lambda r, _v: [row[0] for row in _layers(r)],
    "activation": lambda r, _v: [row[2] for row in _layers(r) if row[2]],
    "units": lambda r, _v: [row[1] for row in _layers(r) if row[1] is not None],
    "n_layers": lambda r, _v: r.summary.get("n_layers", len(_layers(r)) or None),
    "errors": _count("error"),
    "warnings": _count("warning"),
    "infos": _count("info"),
    "source": lambda r, _v: r.source(),
    "tags": lambda r, _v: r.summary.get("tags") or [],
    "codes": lambda r, _v: r.summary.get("codes") or [],
    "estimator": lambda r, _v: r.summary.get("estimators") or r.summary.get("estimator"),
}


def _matches(actual: Any, op: str, value: Value, field_name: str) -> bool:
    try:
        return _compare(actual, op, value, field_name)
    except (OverflowError, ValueError, TypeError):  # a recorded value no comparison can place (10**400, nan...)
        return False


def _compare(actual: Any, op: str, value: Value, field_name: str) -> bool:
    if actual is None:
        return False
    if isinstance(actual, (list, tuple)):
        return any(_matches(a, op, value, field_name) for a in actual)
    if isinstance(actual, bool) or value.boolean is not None and isinstance(actual, (int, float)):
        wanted = value.boolean if value.boolean is not None else value.number
        if wanted is None:
            return _compare_text(str(actual).lower(), op, value.text.lower())
        return _compare_numbers(float(actual), op, float(wanted))
    if value.number is not None and not value.quoted:
        number = _as_number(actual)
        if number is not None:
            return _compare_numbers(number, op, value.number)
    if field_name in DATE_FIELDS and isinstance(actual, str):
        return _compare_text(actual[: len(value.text)], op, value.text)
    return _compare_text(str(actual).lower(), op, value.text.lower())


def _compare_numbers(a: float, op: str, b: float) -> bool:
    # One comparison per call (not a dict of all of them): a search compares every record.
    if op == "=":
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-12)
    if op == "~":
        return _compare_text(f"{a:g}", "~", f"{b:g}")
    return _ordered(a, op, b)


def _compare_text(a: str, op: str, b: str) -> bool:
    if op == "~":
        return b in a
    if op == "=":
        return a == b
    return _ordered(a, op, b)


def _ordered(a: Any, op: str, b: Any) -> bool:
    """``a op b`` for the four orderings (numbers or text alike)."""
    if op == ">":
        return a > b
    if op == ">=":
        return a >= b
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    raise KeyError(op)


def _as_number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and _NUMBER.fullmatch(value):
        return float(value.rstrip("%"))
    return None


def _sort_value(value: Any) -> tuple:
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    number = _as_number(value)
    return (0, number, "") if number is not None else (1, 0.0, str(value).lower())
