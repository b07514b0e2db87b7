"""The search query language (domain/query.py): every filter, phrases, negation, and the errors a
person sees for a bad query (what is wrong, and where)."""

from __future__ import annotations

from datetime import datetime

import pytest

from banana_studio.domain.query import Filter, QueryError, Word, parse, parse_date
from banana_studio.domain.tags import TagError, normalise_tag, parse_tags

NOW = datetime(2026, 12, 2, 15, 30).timestamp()


def one(text: str) -> Filter:
    q = parse(text, now=NOW)
    assert len(q.filters) == 1 and not q.words, q
    return q.filters[0]


def test_free_text_words_phrases_and_negation() -> None:
    q = parse('red fox "big cat" -owl -"night sky"')
    assert q.words == (Word("red"), Word("fox"), Word("big cat", phrase=True), Word("owl", negated=True),
                       Word("night sky", phrase=True, negated=True))
    assert [w.text for w in q.positive_words] == ["red", "fox", "big cat"]
    assert [w.text for w in q.negative_words] == ["owl", "night sky"]
    assert parse("").empty and parse("   ").empty and parse("- -- …").empty


def test_quoted_text_that_looks_like_a_filter_is_text() -> None:
    assert parse('"style:noir"').words == (Word("style:noir", phrase=True),)
    assert parse('"starred"').words == (Word("starred", phrase=True),)
    assert not parse('"starred"').filters
    assert parse("https://example.com/x").words[0].text == "https://example.com/x"


@pytest.mark.parametrize(("text", "key", "value"), [
    ("project:posters", "project", "posters"), ("project:post*", "project", "post*"),
    ("model:pro", "model", "pro"), ('model:"nano banana"', "model", "nano banana"),
    ("size:2k", "size", "2K"), ("size:4K", "size", "4K"), ("size:512", "size", "512"),
    ("aspect:16:9", "aspect", "16:9"), ("status:FAILED", "status", "failed"),
    ("tag:hero", "tag", "hero"), ('tag:"client x"', "tag", "client x"),
    ("template:portrait", "template", "portrait"), ("has:refs", "has", "refs"), ("has:Images", "has", "images"),
    ("starred", "starred", "1"), ("is:starred", "starred", "1"),
])
def test_each_text_filter(text: str, key: str, value: str) -> None:
    f = one(text)
    assert (f.key, f.value, f.negated) == (key, value, False)


@pytest.mark.parametrize(("text", "op", "value"), [
    ("cost>0.2", ">", 0.2), ("cost<0.2", "<", 0.2), ("cost>=0.25", ">=", 0.25), ("cost<=1", "<=", 1.0),
    ("cost=0.134", "=", 0.134), ("cost:0.5", "=", 0.5), ("cost>$0.2", ">", 0.2), ("COST>0.2", ">", 0.2),
])
def test_cost_comparisons(text: str, op: str, value: float) -> None:
    f = one(text)
    assert (f.key, f.op, f.value) == ("cost", op, value)


def test_dates_after_is_inclusive_before_is_exclusive() -> None:
    after, before = one("after:2026-11-01"), one("before:2026-11-01")
    day = datetime(2026, 11, 1).timestamp()
    assert (after.op, after.value) == (">=", day) and (before.op, before.value) == ("<", day)
    assert one("after:2026-11").value == day
    assert one("after:today").value == datetime(2026, 12, 2).timestamp()
    assert one("after:yesterday").value == datetime(2026, 12, 1).timestamp()
    assert one("after:7d").value == datetime(2026, 11, 25).timestamp()
    assert parse_date("2026-11-01T10:30") == datetime(2026, 11, 1, 10, 30).timestamp()


def test_negated_filters_and_raw_text() -> None:
    f = one('-tag:"client x"')
    assert (f.key, f.value, f.negated, f.raw) == ("tag", "client x", True, '-tag:"client x"')
    assert one("-starred").negated and one("-cost>0.2").negated
    q = parse('fox tag:hero -status:failed cost>0.2')
    assert q.describe() == 'fox tag:hero -status:failed cost>0.2'
    assert [f.key for f in q.of("tag")] == ["tag"]


@pytest.mark.parametrize(("text", "message", "position", "length"), [
    ("fox colour:red", 'Unknown filter "colour:"', 4, 7),
    ("status:bogus", 'Unknown status "bogus": use one of pending, running, done', 7, 5),
    ("size:3K", 'Unknown size "3K": use one of 512, 1K, 2K, 4K', 5, 2),
    ("aspect:wide", '"wide" is not an aspect ratio', 7, 4),
    ("cost>cheap", '"cheap" is not an amount', 0, 10),
    ("cost>", '"(nothing)" is not an amount', 0, 5),
    ("after:last-week", '"last-week" is not a date: write YYYY-MM-DD', 6, 9),
    ("before:2026-13-01", '"2026-13-01" is not a date', 7, 10),
    ("has:magic", '"has:magic" is unknown: use has:refs', 4, 5),
    ("tag:", '"tag:" needs a value, e.g. tag:hero', 0, 4),
    ("is:done", 'only is:starred exists', 3, 4),
    ('fox "open', "A quote is not closed", 4, 5),
])
def test_errors_say_what_and_where(text: str, message: str, position: int, length: int) -> None:
    with pytest.raises(QueryError) as info:
        parse(text)
    err = info.value
    assert message in err.message
    assert (err.position, err.length) == (position, length)
    assert err.pointer(text).splitlines()[1] == " " * position + "^" * length


def test_unknown_filter_suggests_quoting() -> None:
    with pytest.raises(QueryError, match=r'quote it: "colour:red"'):
        parse("colour:red")


def test_tags_are_normalised_and_validated() -> None:
    assert normalise_tag("  client   x ") == "client x"
    assert normalise_tag("#hero") == "hero"
    assert parse_tags("hero, Hero, client x,,") == ["hero", "client x"]
    for bad, why in [("", "empty"), ("-x", "start with '-'"), ("a\x1bb", "control"), ('a"b', "double quote"),
                     ("x" * 65, "at most 64")]:
        with pytest.raises(TagError, match=why):
            normalise_tag(bad)
