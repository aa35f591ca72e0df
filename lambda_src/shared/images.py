"""Recognize an image format from its first bytes (magic numbers), without decoding it.

Shared by the inference functions (SageMaker and Rekognition): both read only the head of an
object with a ranged GetObject and decide from it whether the object is an image the service
accepts. :func:`dimensions` reads a JPEG's or PNG's pixel size from the same head (``ops
manifest`` checks training images with it). Standard library only.
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


#: JPEG markers that start a frame (SOF0-3, 5-7, 9-11, 13-15): they carry the image size.
_JPEG_FRAMES = frozenset(
    {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
)
#: JPEG markers without a length field.
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD9)})
_JPEG_START_OF_SCAN = 0xDA


def dimensions(head: bytes) -> tuple[int, int] | None:
    """(width, height) in pixels of the JPEG or PNG that ``head`` starts, or None when these
    bytes do not tell (not JPEG/PNG, corrupt, or a JPEG whose frame header lies further on,
    after large metadata: try again with more bytes).

    PNG: the IHDR chunk, first after the signature (24 bytes). JPEG: the first frame header
    (SOFn), found by walking the segments from the start.
    """
    found = sniff(head)
    if found == PNG:
        if len(head) < 24 or head[12:16] != b"IHDR":
            return None
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    if found != JPEG:
        return None
    position = 2
    while position + 4 <= len(head):
        if head[position] != 0xFF:
            return None  # not at a marker: corrupt
        marker = head[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in _JPEG_STANDALONE:
            position += 2
            continue
        if marker == _JPEG_START_OF_SCAN:
            return None  # image data before any frame header: corrupt
        length = int.from_bytes(head[position + 2 : position + 4], "big")
        if marker in _JPEG_FRAMES:
            if position + 9 > len(head) or length < 7:
                return None
            height = int.from_bytes(head[position + 5 : position + 7], "big")
            width = int.from_bytes(head[position + 7 : position + 9], "big")
            return width, height
        if length < 2:
            return None
        position += 2 + length
    return None
