"""What DetectCustomLabels accepts from S3: at most 15 MB as an object, JPEG or PNG by content.

The size is checked before paying for a call, from what the S3 event says (an empty or
oversized object never reaches the service). The content is not read before the call: each
SDK call costs milliseconds of CPU and a batch is CPU-bound on them, so the service itself is
the check. When it rejects an object, the consumer reads its first bytes (``SNIFF_BYTES``, one
ranged GetObject) to say why: not JPEG/PNG (``unsupported_format``, described by
:func:`describe`) or JPEG/PNG that the service cannot decode (corrupt). Formats are decided by
``shared.images``, shared with the SageMaker pipeline. Pixel limits (64..4096 per side) are
reported by the service itself (ImageTooLargeException, InvalidParameterException), so the
consumer reads no pixel size. ``ops classify`` uses the same checks on local files, and ``ops
manifest`` all of them (:func:`problem`, pixel limits included: Custom Labels training takes
the same images) on the images of a training manifest.
"""

from __future__ import annotations

from contracts.limits import REKOGNITION_MAX_OBJECT_BYTES
from shared import images as formats

#: How many leading bytes :func:`sniff_format` needs (a ranged GetObject, when diagnosing).
SNIFF_BYTES = formats.SNIFF_BYTES
#: Smallest and largest side, in pixels, DetectCustomLabels and Custom Labels training accept.
MIN_SIDE_PIXELS = 64
MAX_SIDE_PIXELS = 4096
#: Leading bytes that hold a JPEG's size in all but unusual files (large EXIF, ICC profiles);
#: :data:`LONG_HEADER_BYTES` for those.
HEADER_BYTES = 64 * 1024
LONG_HEADER_BYTES = 1024 * 1024


def sniff_format(head: bytes) -> str | None:
    """``"png"`` or ``"jpeg"`` when DetectCustomLabels accepts the content, else ``None``."""
    found = formats.sniff(head)
    return found.name.lower() if found in formats.JPEG_OR_PNG else None


def describe(head: bytes) -> str:
    """What an unaccepted object is, for its error record."""
    found = formats.sniff(head)
    if found is not None:
        return f"{found.name} image: DetectCustomLabels accepts only JPEG and PNG"
    return f"content starts with {formats.describe_bytes(head)}: neither JPEG nor PNG"


def problem(head: bytes, size: int) -> str | None:
    """Why the service would refuse this image (``head``: its first bytes, ``size``: its
    length), in a few words, or None when it is acceptable: JPEG or PNG by content, 1 byte to
    15 MB, 64 to 4096 pixels per side."""
    if size <= 0:
        return "empty file"
    if size > REKOGNITION_MAX_OBJECT_BYTES:
        return f"{size / (1024 * 1024):.1f} MB: larger than the 15 MB Rekognition reads"
    if sniff_format(head) is None:
        return describe(head)
    pixels = formats.dimensions(head)
    if pixels is None:
        return f"no image size in its first {len(head):,} bytes: corrupt, or unusual metadata"
    width, height = pixels
    if min(width, height) < MIN_SIDE_PIXELS:
        return f"{width}x{height} pixels: smaller than {MIN_SIDE_PIXELS} pixels on a side"
    if max(width, height) > MAX_SIDE_PIXELS:
        return f"{width}x{height} pixels: larger than {MAX_SIDE_PIXELS} pixels on a side"
    return None
