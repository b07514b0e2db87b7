"""Reference images are checked completely before they are stored or sent.

Order: the file is a regular file → its size is within :data:`MAX_REFERENCE_BYTES` (before anything
is read) → it decodes completely (HEIF/HEIC with pillow-heif) → it has at most
:data:`MAX_REFERENCE_PIXELS`.  Formats the API does not take are converted to PNG once.  Every
refusal is a :class:`ProjectError` naming the file and the reason.
"""

from __future__ import annotations

import io
import stat
import warnings
from pathlib import Path

from banana_studio.domain.imagetype import (
    API_INPUT_MIMES,
    MAX_REFERENCE_BYTES,
    MAX_REFERENCE_PIXELS,
    heif_available,
    pillow_mime,
    sniff_image_mime,
)
from banana_studio.domain.words import empty_image, folder_not_image, missing_file, unreadable_image
from banana_studio.store.names import ProjectError


def check_size(size: int, label: str) -> None:
    if size > MAX_REFERENCE_BYTES:
        raise ProjectError(f"Reference image {label} is too large ({size / (1024 * 1024):.1f} MB; at most "
                           f"{MAX_REFERENCE_BYTES // (1024 * 1024)} MB).")


def read_reference_file(path: Path) -> bytes:
    """The bytes of a reference file: a regular file within the size limit (checked before reading)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ProjectError(missing_file(path)) from None
    except OSError as exc:
        raise ProjectError(f"Cannot read reference image {path}: {exc.strerror}.") from exc
    if stat.S_ISDIR(st.st_mode):
        raise ProjectError(folder_not_image(path))
    if not stat.S_ISREG(st.st_mode):
        raise ProjectError(f"Reference {path} is not a regular file (a pipe, device or socket); save the "
                           "image to a file and add that.")
    check_size(st.st_size, path.name)
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_REFERENCE_BYTES + 1)
    except OSError as exc:
        raise ProjectError(f"Cannot read reference image {path}: {exc.strerror}.") from exc
    check_size(len(data), path.name)  # it grew while we looked
    return data


def check_reference(data: bytes, label: str) -> tuple[bytes, str]:
    """``(bytes to store, MIME type)`` for a valid reference, else :class:`ProjectError` with the reason."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise ProjectError(empty_image(label))
    check_size(len(data), label)
    sniffed = sniff_image_mime(data)
    if sniffed in ("image/heic", "image/heif") and not heif_available():
        raise ProjectError(f"Reference image {label} is HEIF/HEIC, which needs the pillow-heif package to be "
                           "checked; install it or convert the image to JPEG or PNG.")
    limit_mp = MAX_REFERENCE_PIXELS // 1_000_000
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                fmt = img.format or ""
                if img.width * img.height > MAX_REFERENCE_PIXELS:
                    raise ProjectError(f"Reference image {label} is {img.width}×{img.height} pixels, more than the "
                                       f"{limit_mp} megapixel limit (possible decompression bomb).")
                if fmt == "JPEG":  # decode at 1/8 scale: still catches truncation, far cheaper
                    img.draft(img.mode, (max(1, img.width // 8), max(1, img.height // 8)))
                img.load()
                out_mime = pillow_mime(fmt, sniffed)
                if out_mime is None or out_mime not in API_INPUT_MIMES:
                    # GIF, BMP, TIFF, AVIF...: the API wants PNG/JPEG/WEBP/HEIF, so convert once.
                    buf = io.BytesIO()
                    frame = img.convert("RGBA") if img.mode not in ("RGB", "RGBA", "L", "LA") else img
                    frame.save(buf, format="PNG")
                    data, out_mime = buf.getvalue(), "image/png"
    except ProjectError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ProjectError(f"Reference image {label} has more pixels than the {limit_mp} megapixel limit "
                           "(possible decompression bomb).") from exc
    except UnidentifiedImageError as exc:
        raise ProjectError(unreadable_image(label)) from exc
    except (OSError, SyntaxError, ValueError, RuntimeError) as exc:
        raise ProjectError(f"Reference image {label} is truncated or corrupt ({exc}).") from exc
    return data, out_mime
