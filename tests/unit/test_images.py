"""Image format sniffing by magic bytes (lambda_src/shared/images.py)."""

from __future__ import annotations

import pytest

from shared import images

PNG_HEAD = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
JPEG_HEAD = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01"


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (JPEG_HEAD, images.JPEG),
        (b"\xff\xd8\xff\xe1\x12\x34Exif", images.JPEG),
        (PNG_HEAD, images.PNG),
        (b"GIF89a\x01\x00", images.GIF),
        (b"GIF87a\x01\x00", images.GIF),
        (b"BM\x36\x00\x00\x00", images.BMP),
        (b"II*\x00\x08\x00", images.TIFF),
        (b"MM\x00*\x00\x08", images.TIFF),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", images.WEBP),
    ],
)
def test_known_signatures_are_recognized(head, expected):
    assert images.sniff(head) == expected


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"\xff\xd8",  # a truncated JPEG marker
        b"%PDF-1.7\n",
        b"hello, world",
        b"RIFF\x24\x00\x00\x00WAVEfmt ",  # RIFF, but audio
        b"\x89PNG\r\n",  # a truncated PNG signature
    ],
)
def test_everything_else_is_not_an_image(head):
    assert images.sniff(head) is None


def test_only_jpeg_and_png_are_accepted_by_both_services():
    assert {images.JPEG, images.PNG} == images.JPEG_OR_PNG
    assert images.GIF not in images.JPEG_OR_PNG
    assert images.JPEG.content_type == "image/jpeg"
    assert images.PNG.content_type == "image/png"


def test_sniff_bytes_covers_the_longest_signature():
    assert images.SNIFF_BYTES >= 12
    assert images.sniff(PNG_HEAD[: images.SNIFF_BYTES]) == images.PNG


def test_describe_bytes_is_short_and_printable():
    assert images.describe_bytes(b"%PDF-1.7\n\x00\x01") == "25 50 44 46 2d 31 2e 37 ('%PDF-1.7')"
    assert images.describe_bytes(b"") == "nothing (empty object)"
    assert "\n" not in images.describe_bytes(b"\n\n\n")
