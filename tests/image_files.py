"""Real image files for tests, built with the standard library (no image library is installed).

A PNG is complete (IHDR, zlib-compressed rows, IEND); a JPEG has the segment structure a decoder
walks (SOI, APP0 JFIF, optional APP1 metadata, SOF0 with the size, SOS, entropy bytes, EOI):
enough for any reader of headers.
"""

from __future__ import annotations

import zlib


def png(width: int = 64, height: int = 64) -> bytes:
    """A valid grey 8-bit PNG of the given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    rows = b"".join(b"\x00" + bytes(width) for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def jpeg(width: int = 64, height: int = 64, *, metadata: int = 0, padding: int = 100) -> bytes:
    """A baseline JPEG's segments for a ``width`` x ``height`` image; ``metadata`` bytes of APP1
    segments (EXIF-like) before the frame header push it further into the file."""
    app0 = b"\xff\xe0" + (16).to_bytes(2, "big") + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    segments = b""
    remaining = metadata
    while remaining > 0:
        size = min(remaining, 65533)
        segments += b"\xff\xe1" + (size + 2).to_bytes(2, "big") + bytes(size)
        remaining -= size
    components = b"\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    sof = (
        b"\xff\xc0"
        + (8 + len(components)).to_bytes(2, "big")
        + b"\x08"
        + height.to_bytes(2, "big")
        + width.to_bytes(2, "big")
        + components
    )
    sos = b"\xff\xda" + (12).to_bytes(2, "big") + b"\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00"
    return b"\xff\xd8" + app0 + segments + sof + sos + bytes(padding) + b"\xff\xd9"
