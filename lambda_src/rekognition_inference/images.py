"""What DetectCustomLabels accepts from S3: at most 15 MB as an object, JPEG or PNG by content.

The size is checked before paying for a call, from what the S3 event says (an empty or
oversized object never reaches the service). The content is not read before the call: each
SDK call costs milliseconds of CPU and a batch is CPU-bound on them, so the service itself is
the check. When it rejects an object, the consumer reads its first bytes (``SNIFF_BYTES``, one
ranged GetObject) to say why: not JPEG/PNG (``unsupported_format``, described by
:func:`describe`) or JPEG/PNG that the service cannot decode (corrupt). Formats are decided by
``shared.images``, shared with the SageMaker pipeline. Pixel limits (64..4096 per side) are
reported by the service itself (ImageTooLargeException, InvalidParameterException), so no image
library is needed here. ``python -m ops classify`` uses the same checks on local files.
"""

from __future__ import annotations

from shared import images as formats

#: DetectCustomLabels reads S3 objects up to 15 MB.
MAX_OBJECT_BYTES = 15 * 1024 * 1024
#: How many leading bytes :func:`sniff_format` needs (a ranged GetObject, when diagnosing).
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
