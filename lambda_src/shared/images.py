"""Recognize an image format from its first bytes (magic numbers), without decoding it.

Shared by the inference functions (SageMaker and Rekognition): both read only the head of an
object with a ranged GetObject and decide from it whether the object is an image the service
accepts. Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass

#: How many leading bytes :func:`sniff` needs (WebP needs 12; 16 leaves room).
SNIFF_BYTES = 16


@dataclass(frozen=True)
class ImageFormat:
    """An image format: a short name for messages and its MIME type."""

    name: str
    content_type: str


JPEG = ImageFormat("JPEG", "image/jpeg")
PNG = ImageFormat("PNG", "image/png")
GIF = ImageFormat("GIF", "image/gif")
BMP = ImageFormat("BMP", "image/bmp")
TIFF = ImageFormat("TIFF", "image/tiff")
WEBP = ImageFormat("WebP", "image/webp")

#: Formats that both SageMaker's image-classification algorithm and Rekognition accept.
JPEG_OR_PNG: frozenset[ImageFormat] = frozenset({JPEG, PNG})

_SIGNATURES: tuple[tuple[bytes, ImageFormat], ...] = (
    (b"\xff\xd8\xff", JPEG),
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"GIF87a", GIF),
    (b"GIF89a", GIF),
    (b"BM", BMP),
    (b"II*\x00", TIFF),
    (b"MM\x00*", TIFF),
)


def sniff(head: bytes) -> ImageFormat | None:
    """The image format whose signature ``head`` starts with, or None if it is not an image.

    ``head`` should hold at least :data:`SNIFF_BYTES` bytes (fewer is fine for a short object).
    """
    for signature, image_format in _SIGNATURES:
        if head.startswith(signature):
            return image_format
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    return None


def describe_bytes(head: bytes) -> str:
    """What an unrecognized object starts with, for an error message (printable, short)."""
    shown = head[:8]
    text = "".join(chr(b) if 32 <= b < 127 else "." for b in shown)
    return f"{shown.hex(' ')} ({text!r})" if shown else "nothing (empty object)"
