"""Base64 for the big payloads (images, thought signatures): SIMD-fast when pybase64 is installed.

CPython's ``binascii`` decodes ~100–300 MB/s on this kind of machine: a real 4K answer (a 9 MB image,
two 1 MB drafts, a 2 MB signature; ~17 MB of base64) costs it 60–150 ms of CPU, more than the SDK's own
(Rust) decoder needs for the same answer.  pybase64 (libbase64, AVX2/AVX-512/NEON) does it in a few
milliseconds.  The stdlib stays as the fallback for a platform without its wheel; both are strict:
only the alphabet, padding only at the end, no whitespace.
"""

from __future__ import annotations

import binascii

try:  # pragma: no cover - which branch runs depends on the installation
    import pybase64 as _fast
except ImportError:  # pragma: no cover
    _fast = None

FAST = _fast is not None
"""True when the SIMD decoder is in use."""
_FALLBACK_SLICE = 4 * 64 * 1024
"""Characters the stdlib fallback decodes per call (a multiple of 4): short GIL holds between slices."""
_URLSAFE = bytes.maketrans(b"-_", b"+/")


def decode_strict(value: bytes, *, urlsafe: bool = False) -> bytes:
    """Strict base64 (the standard alphabet, or ``-_`` when ``urlsafe``); raises ``binascii.Error``."""
    if _fast is not None:
        try:
            return _fast.b64decode(value, altchars=b"-_" if urlsafe else None, validate=True)
        except ValueError as exc:  # binascii.Error is a ValueError
            raise binascii.Error(str(exc)) from exc
    if urlsafe:
        value = value.translate(_URLSAFE)
    if len(value) <= _FALLBACK_SLICE:
        return binascii.a2b_base64(value, strict_mode=True)
    if len(value) % 4:
        raise binascii.Error("the base64 length is not a multiple of 4")
    return b"".join(binascii.a2b_base64(value[i:i + _FALLBACK_SLICE], strict_mode=True)
                    for i in range(0, len(value), _FALLBACK_SLICE))


def encode(data: bytes | bytearray | memoryview, *, urlsafe: bool = False) -> bytes:
    """Padded base64 of ``data`` (``-_`` alphabet when ``urlsafe``)."""
    if _fast is not None:
        return _fast.b64encode(data, altchars=b"-_" if urlsafe else None)
    out = binascii.b2a_base64(data, newline=False)
    return out.translate(bytes.maketrans(b"+/", b"-_")) if urlsafe else out
