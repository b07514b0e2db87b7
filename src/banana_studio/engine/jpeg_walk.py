"""Walk a JPEG's marker structure from SOI to EOI without decoding it.

Decoding a 4K JPEG only to learn that it is complete costs 40–80 ms of CPU even at 1/8 scale (every
entropy-coded byte goes through the Huffman decoder).  What a decode finds that matters here is the
same thing the structure shows: a stream that stops early (no EOI), a segment whose length runs past
the end, a frame or scan header that is missing, or bytes that are not a JPEG at all.  A damaged scan
inside a complete stream does not make libjpeg fail either (it warns and fills grey), so the walk
refuses what a decode would refuse, at under a millisecond per megabyte (one compiled pattern does
the scanning of the entropy-coded data).  Pure Python, no Pillow: the caller reads the header with
Pillow for the pixel size.
"""

from __future__ import annotations

import re

_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
"""Start-of-frame markers (baseline, progressive, lossless…); C4 DHT, C8 JPG, CC DAC are not frames."""
_STANDALONE = frozenset(range(0xD0, 0xD8)) | {0x01}
"""RSTn and TEM have no length field."""


def jpeg_structure_problem(data: bytes | bytearray | memoryview) -> str | None:
    """None if ``data`` is a complete JPEG stream (SOI, a frame header, at least one scan, EOI, every
    segment inside the data); otherwise what is wrong, in words."""
    buf = bytes(data) if isinstance(data, memoryview) else data
    n = len(buf)
    if n < 4 or buf[0] != 0xFF or buf[1] != 0xD8:
        return "it does not start like a JPEG"
    pos = 2
    frame = scans = 0
    while True:
        if pos >= n:
            return "it ends before the end-of-image marker (the data is cut short)"
        if buf[pos] != 0xFF:
            return f"byte {pos} should start a marker"
        while pos < n and buf[pos] == 0xFF:  # fill bytes before a marker are allowed
            pos += 1
        if pos >= n:
            return "it ends before the end-of-image marker (the data is cut short)"
        marker = buf[pos]
        pos += 1
        if marker == 0xD9:
            if not frame:
                return "it has no frame header"
            if not scans:
                return "it has no image data (no scan)"
            return None
        if marker in _STANDALONE:
            continue
        if marker in (0x00, 0xD8):
            return f"an unexpected marker at byte {pos - 2}"
        if pos + 2 > n:
            return "it ends inside a segment header (the data is cut short)"
        length = (buf[pos] << 8) | buf[pos + 1]
        if length < 2 or pos + length > n:
            return "a segment runs past the end of the data (the data is cut short)"
        if marker in _SOF:
            frame += 1
        pos += length
        if marker == 0xDA:  # start of scan: entropy-coded data up to the next real marker
            if not frame:
                return "a scan comes before the frame header"
            scans += 1
            pos = _end_of_entropy_data(buf, pos, n)


_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7]")
"""0xFF not followed by 0x00 (a stuffed byte) or RSTn: the first marker after entropy-coded data (fill
bytes included: ``FF FF`` matches at the first one, and the walk skips the fill)."""


def _end_of_entropy_data(buf: bytes | bytearray, pos: int, n: int) -> int:
    """The offset of the first marker after entropy-coded data starting at ``pos`` (``n`` if none):
    inside the data 0xFF is followed by 0x00 (a stuffed byte) or a restart marker RSTn.  A photo's
    4K JPEG stuffs ~130,000 bytes; stepping over them one ``find`` at a time cost ~33 ms, the pattern
    ~6 ms."""
    found = _NEXT_MARKER.search(buf, pos)
    return found.start() if found is not None else n
