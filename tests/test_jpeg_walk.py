"""The JPEG marker walk refuses what a decode refuses (cut short, not a JPEG, no frame or scan) and
accepts every complete stream Pillow writes (baseline, progressive, optimised, restart markers,
grey, CMYK, with trailing bytes)."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image

from banana_studio.engine.jpeg_walk import jpeg_structure_problem
from banana_studio.engine.verify import check_received_image


def _jpeg(mode: str = "RGB", size: tuple[int, int] = (240, 160), **options: object) -> bytes:
    rng = random.Random(f"{mode}{size}{sorted(options.items())}")
    noise = Image.frombytes("L", (size[0] // 4, size[1] // 4), rng.randbytes(size[0] * size[1] // 16))
    img = noise.resize(size).convert(mode)
    buf = io.BytesIO()
    img.save(buf, "JPEG", **options)
    return buf.getvalue()


VARIANTS = {
    "baseline": _jpeg(),
    "progressive": _jpeg(progressive=True),
    "optimised": _jpeg(optimize=True, quality=95),
    "restart markers": _jpeg(restart_marker_blocks=1),
    "grey": _jpeg("L"),
    "cmyk": _jpeg("CMYK"),
    "4:4:4": _jpeg(subsampling=0),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_complete_streams_pass(name: str) -> None:
    data = VARIANTS[name]
    assert jpeg_structure_problem(data) is None
    assert jpeg_structure_problem(data + b"trailing bytes after EOI") is None
    check = check_received_image(data, "image/png")
    assert check.ok and check.mime_type == "image/jpeg" and (check.width, check.height) == (240, 160)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_cut_is_refused(name: str) -> None:
    """Cut at 60 points (and inside the end marker): the walk never passes a stream without its end —
    a superset of what Pillow's full decode refuses (it pads some cuts with grey and passes them)."""
    data = VARIANTS[name]
    rng = random.Random(name)
    cuts = sorted({rng.randrange(2, len(data) - 2) for _ in range(60)} | {len(data) - 2, len(data) - 1})
    for cut in cuts:
        part = data[:cut]
        assert jpeg_structure_problem(part) is not None, cut
        reason = check_received_image(part, "image/jpeg")
        assert not reason.ok and "JPEG" in reason.reason, cut


def test_not_a_jpeg_and_missing_parts() -> None:
    assert "start" in (jpeg_structure_problem(b"GIF89a....") or "")
    assert "cut short" in (jpeg_structure_problem(b"\xff\xd8\xff\xe0\x00\x10JFIF") or "")
    assert "frame" in (jpeg_structure_problem(b"\xff\xd8\xff\xd9") or "")
    # a segment whose length runs past the data
    assert "past the end" in (jpeg_structure_problem(b"\xff\xd8\xff\xe0\xff\xff" + b"\0" * 10) or "")
    # scan before frame
    assert "before the frame" in (jpeg_structure_problem(b"\xff\xd8\xff\xda\x00\x02\x00\xff\xd9") or "")


def test_a_damaged_middle_with_its_end_marker_is_a_complete_stream() -> None:
    """Flipped bytes inside the scan data: a decode only warns there, and so does not refuse it."""
    data = bytearray(VARIANTS["baseline"])
    for i in range(len(data) // 2, len(data) // 2 + 40):
        if data[i] not in (0xFF, 0x00) and data[i - 1] != 0xFF and data[i] ^ 0x5A != 0xFF:
            data[i] ^= 0x5A
    assert jpeg_structure_problem(bytes(data)) is None


def _next_marker_by_steps(buf: bytes, pos: int) -> int:
    """The definition, one 0xFF at a time: skip FF00 (stuffed) and FF D0-D7 (RSTn); any other FF xx
    starts a marker; a lone FF at the end is no marker."""
    while True:
        i = buf.find(b"\xff", pos)
        if i < 0 or i + 1 >= len(buf):
            return len(buf)
        if buf[i + 1] == 0x00 or 0xD0 <= buf[i + 1] <= 0xD7:
            pos = i + 2
            continue
        return i


def test_the_entropy_scan_finds_the_marker_the_definition_finds() -> None:
    from banana_studio.engine.jpeg_walk import _end_of_entropy_data

    rng = random.Random(13)
    alphabet = [0xFF] * 6 + [0x00] * 3 + list(range(0xD0, 0xDA)) + [0x01, 0x7F, 0xC4, 0xFE]
    for _ in range(4000):
        buf = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
        pos = rng.randint(0, len(buf))
        assert _end_of_entropy_data(buf, pos, len(buf)) == _next_marker_by_steps(buf, pos), (buf.hex(), pos)


def test_a_photo_sized_scan_full_of_stuffed_bytes_is_walked() -> None:
    # ~130,000 stuffed FF00 pairs, as in a 4K photo's JPEG: all skipped, the EOI found after them
    scan = b"\x12\xff\x00\x34\xff\xd3" * 130_000
    data = VARIANTS["baseline"]
    sos = data.rindex(b"\xff\xd9")
    assert jpeg_structure_problem(data[:sos] + scan + data[sos:]) is None
    assert jpeg_structure_problem(data[:sos] + scan) is not None  # cut before its EOI
