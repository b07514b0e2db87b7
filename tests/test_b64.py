"""domain/b64: the SIMD decoder and the stdlib fallback agree with the stdlib, both are strict."""

from __future__ import annotations

import base64
import binascii
import random

import pytest

from banana_studio.domain import b64

SIZES = (0, 1, 2, 3, 4, 100, 196_608, 300_001, 1_000_003)
BAD = (b"ab\\c", b"ab=c", b"a===", b"ab c", b"ab\ncd==", b"YQ==YQ==", b"abcde", b"ab*d", b"\xff\xfe==")


@pytest.fixture(params=["fast", "stdlib"])
def impl(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "stdlib":
        monkeypatch.setattr(b64, "_fast", None)
    return str(request.param)


def test_the_fast_decoder_is_installed() -> None:
    """pybase64 is a dependency: without it a 4K answer costs 60-150 ms more CPU (benchmarks/)."""
    assert b64.FAST


def test_round_trips_match_the_stdlib(impl: str) -> None:
    rng = random.Random(7)
    for n in SIZES:
        raw = rng.randbytes(n)
        std, url = base64.b64encode(raw), base64.urlsafe_b64encode(raw)
        assert b64.encode(raw) == std
        assert b64.encode(memoryview(raw), urlsafe=True) == url
        assert b64.decode_strict(std) == raw
        assert b64.decode_strict(url, urlsafe=True) == raw


def test_strict(impl: str) -> None:
    for bad in BAD:
        with pytest.raises(binascii.Error):
            b64.decode_strict(bad)
    with pytest.raises(binascii.Error):  # the other alphabet
        b64.decode_strict(b"ab-_")
    big = base64.b64encode(bytes(400_000))
    with pytest.raises(binascii.Error):  # a bad character past the first slice of the fallback
        b64.decode_strict(big[:-8] + b"!!!!" + big[-4:])
