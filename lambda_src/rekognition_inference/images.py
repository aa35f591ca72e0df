"""What DetectCustomLabels accepts from S3, checked before paying for a call.

JPEG or PNG, decided by content (``shared.images``, shared with the SageMaker pipeline), and at
most 15 MB as an S3 object. Pixel limits (64..4096 per side) are reported by the service itself
(ImageTooLargeException, InvalidParameterException), so no image library is needed here.
"""

from __future__ import annotations

from shared import images as formats

#: DetectCustomLabels reads S3 objects up to 15 MB.
MAX_OBJECT_BYTES = 15 * 1024 * 1024
#: How many leading bytes :func:`sniff_format` needs (fetched with a ranged GetObject).
SNIFF_BYTES = formats.SNIFF_BYTES


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
