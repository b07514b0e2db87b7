"""The search query language, shared by the gallery, the library view, the palette and
``banana-studio history --all``.  A pure parser: text in, a :class:`Query` (or a :class:`QueryError`
that says what is wrong and where) out; the store turns a query into SQL.

Grammar (whitespace separates terms; every term may be negated with a leading ``-``):

* ``fox``, ``"red fox"`` — free text (words match as prefixes, quoted phrases exactly) over prompts,
  labels, tags, thoughts, answer text and grounding titles;
* ``project:NAME`` (``*`` is a wildcard), ``model:pro`` (part of a model id or name), ``size:2K``,
  ``aspect:16:9``, ``status:failed``, ``tag:hero``, ``template:NAME``;
* ``starred`` (also ``is:starred``);
* ``cost>0.2``, ``cost<0.2``, ``cost>=0.2``, ``cost<=0.2``, ``cost=0.2`` (``cost:0.2`` = exactly);
* ``after:2026-11-01`` (from that day on), ``before:2026-11-01`` (up to that day, not including it);
  a date is ``YYYY-MM-DD``, ``YYYY-MM``, ``today``, ``yesterday`` or ``7d`` (days ago);
* ``has:refs`` (also ``images``, ``grounding``, ``thoughts``, ``tags``, ``label``).

Values with spaces are quoted: ``tag:"client x"``.  Text that looks like a filter but is meant as
words is quoted too: ``"style:noir"``.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from banana_studio.domain.safetext import valid_text
from banana_studio.domain.turn import STATUSES

TEXT_FILTERS = ("project", "model", "size", "aspect", "status", "tag", "template")
HAS_VALUES = ("refs", "images", "grounding", "thoughts", "tags", "label")
FILTER_NAMES = (*TEXT_FILTERS, "starred", "cost", "after", "before", "has", "is")
SIZES = ("512", "1K", "2K", "4K")
_COST_RE = re.compile(r"cost(>=|<=|>|<|=|:)(.*)", re.IGNORECASE | re.DOTALL)
_KEY_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*):(.*)", re.DOTALL)
_ASPECT_RE = re.compile(r"\d{1,2}:\d{1,2}")
_DAYS_RE = re.compile(r"(\d{1,4})d", re.IGNORECASE)


class QueryError(ValueError):
    """A query that cannot be run: ``message`` says why, ``position`` where (0-based column)."""

    def __init__(self, message: str, position: int = 0, length: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.position = position
        self.length = max(1, length)

    def pointer(self, query: str) -> str:
        """Two lines: the query and a caret line under the faulty term (for a terminal)."""
        return f"{query}\n{' ' * self.position}{'^' * self.length}"


@dataclass(frozen=True, slots=True)
class Word:
    """Free text: a word (prefix match) or a quoted phrase (exact)."""

    text: str
    phrase: bool = False
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Filter:
    """One filter.  ``key`` is one of :data:`TEXT_FILTERS`, ``starred``, ``has``, ``cost``, ``after``,
    ``before``; ``op`` is ``=`` for text filters, a comparison for ``cost``, ``>=`` / ``<`` for dates;
    ``value`` is the text, the number or the epoch seconds."""

    key: str
    op: str
    value: str | float
    negated: bool = False
    raw: str = ""


@dataclass(frozen=True, slots=True)
class Query:
    source: str
    words: tuple[Word, ...] = ()
    filters: tuple[Filter, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not self.words and not self.filters

    def of(self, key: str) -> list[Filter]:
        return [f for f in self.filters if f.key == key]

    @property
    def positive_words(self) -> list[Word]:
        return [w for w in self.words if not w.negated]

    @property
    def negative_words(self) -> list[Word]:
        return [w for w in self.words if w.negated]

    def describe(self) -> str:
        """A short human description ("2 words · tag:hero · starred") for status lines."""
        parts = [("-" if w.negated else "") + (f'"{w.text}"' if w.phrase else w.text) for w in self.words]
        parts += [f.raw for f in self.filters]
        return " ".join(parts)


def _tokens(text: str) -> list[tuple[str, int, int, bool]]:
    """(token, start, end, was_quoted) with quotes removed; ``key:"a b"`` stays one token."""
    out: list[tuple[str, int, int, bool]] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        start = i
        buf: list[str] = []
        quoted = False
        while i < n and not text[i].isspace():
            if text[i] == '"':
                close = text.find('"', i + 1)
                if close < 0:
                    raise QueryError('A quote is not closed: add the closing ".', i, n - i)
                buf.append(text[i + 1:close])
                quoted = True
                i = close + 1
            else:
                buf.append(text[i])
                i += 1
        out.append(("".join(buf), start, i, quoted))
    return out


def parse_date(value: str, *, now: float | None = None) -> float:
    """The start of the day (local time) a date value names, as epoch seconds; ValueError if none."""
    v = value.strip().lower()
    today = datetime.fromtimestamp(time.time() if now is None else now).replace(
        hour=0, minute=0, second=0, microsecond=0)
    if v == "today":
        return today.timestamp()
    if v == "yesterday":
        return (today - timedelta(days=1)).timestamp()
    m = _DAYS_RE.fullmatch(v)
    if m:
        return (today - timedelta(days=int(m.group(1)))).timestamp()
    for fmt in ("%Y-%m-%d", "%Y-%m", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"):
        try:
            return datetime.strptime(v.upper() if "T" in fmt else v, fmt).timestamp()
        except ValueError:
            continue
    raise ValueError(value)


def _number(raw: str) -> float:
    value = float(raw.strip().lstrip("$"))
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(raw)
    return value


def _filter(key: str, value: str, *, negated: bool, raw: str, pos: int, now: float | None) -> Filter:
    key = key.lower()
    at = pos + len(key) + 1 + (1 if negated else 0)
    if key == "is":
        if value.lower() != "starred":
            raise QueryError(f'"is:{value}" is not a filter: only is:starred exists.', at, len(value) or 1)
        return Filter("starred", "=", "1", negated, raw)
    if not value.strip():
        raise QueryError(f'"{key}:" needs a value, e.g. {_EXAMPLES.get(key, key + ":x")}.', pos, len(raw))
    value = value.strip()
    if key == "status":
        if value.lower() not in STATUSES:
            raise QueryError(f'Unknown status "{value}": use one of {", ".join(STATUSES)}.', at, len(value))
        return Filter(key, "=", value.lower(), negated, raw)
    if key == "size":
        sizes = {s.lower(): s for s in SIZES}
        if value.lower() not in sizes:
            raise QueryError(f'Unknown size "{value}": use one of {", ".join(SIZES)}.', at, len(value))
        return Filter(key, "=", sizes[value.lower()], negated, raw)
    if key == "aspect":
        if not _ASPECT_RE.fullmatch(value):
            raise QueryError(f'"{value}" is not an aspect ratio: write it like 16:9.', at, len(value))
        return Filter(key, "=", value, negated, raw)
    if key == "has":
        if value.lower() not in HAS_VALUES:
            raise QueryError(f'"has:{value}" is unknown: use has:{", has:".join(HAS_VALUES)}.', at, len(value))
        return Filter(key, "=", value.lower(), negated, raw)
    if key in ("after", "before"):
        try:
            when = parse_date(value, now=now)
        except ValueError:
            raise QueryError(f'"{value}" is not a date: write YYYY-MM-DD (e.g. {key}:2026-11-01), YYYY-MM, '
                             "today, yesterday or 7d.", at, len(value)) from None
        return Filter(key, ">=" if key == "after" else "<", when, negated, raw)
    return Filter(key, "=", value, negated, raw)


_EXAMPLES = {"project": "project:posters", "model": "model:pro", "size": "size:2K", "aspect": "aspect:16:9",
             "status": "status:done", "tag": "tag:hero", "template": "template:portrait", "has": "has:refs",
             "after": "after:2026-11-01", "before": "before:2026-11-01", "cost": "cost>0.2"}


def parse(text: str, *, now: float | None = None) -> Query:
    """Parse a query (see the module docstring); raises :class:`QueryError`."""
    text = valid_text(text or "")  # a byte that is not UTF-8 (argv, a pasted name) cannot reach SQLite
    words: list[Word] = []
    filters: list[Filter] = []
    for token, pos, end, quoted in _tokens(text or ""):
        source = text[pos:end]
        negated = token.startswith("-") and len(token) > 1
        body = token[1:] if negated else token
        raw_quoted = quoted and text[pos + (1 if negated else 0)] == '"'
        if raw_quoted:  # "style:noir" / -"red fox": text, never a filter
            if body.strip():
                words.append(Word(body, phrase=True, negated=negated))
            continue
        if body.lower() == "starred":
            filters.append(Filter("starred", "=", "1", negated, source))
            continue
        m = _COST_RE.fullmatch(body)
        if m:
            op = "=" if m.group(1) == ":" else m.group(1)
            try:
                value = _number(m.group(2))
            except ValueError:
                raise QueryError(f'"{m.group(2) or "(nothing)"}" is not an amount: write it like cost>0.2.',
                                 pos, len(token)) from None
            filters.append(Filter("cost", op, value, negated, source))
            continue
        m = _KEY_RE.fullmatch(body)
        if m and not body.lower().startswith(("http:", "https:")):
            key = m.group(1).lower()
            if key not in FILTER_NAMES:
                raise QueryError(
                    f'Unknown filter "{m.group(1)}:". Filters: {" ".join(k + ":" for k in TEXT_FILTERS)} '
                    f'has: after: before: cost> starred. To search for the text itself, quote it: "{body}".',
                    pos, len(m.group(1)) + 1)
            filters.append(_filter(key, m.group(2), negated=negated, raw=source, pos=pos, now=now))
            continue
        if body.startswith("-") or not re.search(r"\w", body):
            continue  # punctuation alone ("-", "--", "…") searches for nothing
        words.append(Word(body, phrase=quoted, negated=negated))
    return Query(text or "", tuple(words), tuple(filters))


__all__ = ["FILTER_NAMES", "HAS_VALUES", "SIZES", "TEXT_FILTERS", "Filter", "Query", "QueryError", "Word",
           "parse", "parse_date"]
