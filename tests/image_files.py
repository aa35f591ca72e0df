"""Real image files for tests, built with the standard library (no image library is installed).

A PNG is complete (IHDR, zlib-compressed rows, IEND).
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
